import type { AuditLog } from '../../src/audit/log.js';
import { vacuumQueue } from '../../src/audit/store.js';
import type { Db } from '../../src/db/index.js';
import { round, summarize } from '../lib/stats.js';
import { benchEvent, type Population } from './events.js';

// Growing the log fast (1000 events per transaction through the real append, each batch then
// integrated, the queue vacuumed every 50 batches as the scheduled job would) and timing proofs.

const FILL_BATCH = 1000;

/** Appends events until the log has `target` leaves; returns events appended per second. */
export async function fillLog(
  db: Db,
  log: AuditLog,
  target: number,
  population?: Population,
): Promise<{ appended: number; per_second: number }> {
  const started = performance.now();
  const from = await log.size();
  for (let size = from, batch = 1; size < target; size += FILL_BATCH, batch += 1) {
    const count = Math.min(FILL_BATCH, target - size);
    await db.transaction((tx) =>
      log.append(tx, ...Array.from({ length: count }, (_, k) => benchEvent(size + k, population))),
    );
    await log.integrateAll();
    if (batch % 50 === 0) await vacuumQueue(db);
  }
  await vacuumQueue(db);
  const appended = Math.max(0, target - from);
  return { appended, per_second: round(appended / ((performance.now() - started) / 1000), 0) };
}

export interface ProofTimes {
  leaves: number;
  inclusion_p50_ms: number;
  inclusion_p99_ms: number;
  inclusion_proof_bytes: number;
  consistency_p50_ms: number;
  consistency_p99_ms: number;
}

/** Times `samples` inclusion proofs of random leaves and consistency proofs from random sizes, at `size`. */
export async function timeProofs(log: AuditLog, size: number, samples: number): Promise<ProofTimes> {
  const inclusion: number[] = [];
  const consistency: number[] = [];
  let bytes = 0;
  for (let i = 0; i < samples; i += 1) {
    const t = performance.now();
    const proof = await log.inclusionProof(Math.floor(Math.random() * size), size);
    inclusion.push(performance.now() - t);
    bytes = Math.max(bytes, proof.length * 32);
    const c = performance.now();
    await log.consistencyProof(1 + Math.floor(Math.random() * (size - 1)), size);
    consistency.push(performance.now() - c);
  }
  const inc = summarize(inclusion);
  const con = summarize(consistency);
  return {
    leaves: size,
    inclusion_p50_ms: inc.p50_ms,
    inclusion_p99_ms: inc.p99_ms,
    inclusion_proof_bytes: bytes,
    consistency_p50_ms: con.p50_ms,
    consistency_p99_ms: con.p99_ms,
  };
}
