import { createHash } from 'node:crypto';
import { canonicalJson, type AuditLog } from '../../src/audit/log.js';
import type { Db } from '../../src/db/index.js';
import { loopFor, round, summarize } from '../lib/stats.js';
import { benchEvent } from './events.js';

// Audit appends with concurrent writers, each a transaction of `batch` events (1: as a grant or a
// token writes its event), while the platform's integration job (every audit.integrateInterval)
// turns the queue into leaves and Merkle nodes; and the baseline: the same rows as plain INSERTs
// into a table of audit_events' shape (same columns and indexes), with no queue, index check or
// Merkle nodes.

export interface AppendResult {
  writers: number;
  events_per_tx: number;
  events: number;
  per_second: number;
  /** Per transaction. */
  p50_ms: number;
  p99_ms: number;
}

export interface IntegratedAppendResult extends AppendResult {
  /** Events made leaves while the writers wrote, per second: the tree keeping up. */
  integrated_per_second: number;
  /** Events still queued when the writers stopped, and how long integrating them took. */
  backlog: number;
  drain_ms: number;
}

export interface AppendLoad {
  writers: number;
  seconds: number;
  batch: number;
}

export async function measureAppends(
  db: Db,
  log: AuditLog,
  load: AppendLoad & { integrateInterval: number },
): Promise<IntegratedAppendResult> {
  await log.integrateAll();
  const sizeBefore = await log.size();
  const failures: unknown[] = [];
  const stop = log.schedule(load.integrateInterval, (err) => failures.push(err));
  let next = 0;
  let measured: { latencies: number[]; elapsed: number };
  let integrated: number;
  try {
    measured = await loopFor(load.seconds, load.writers, () =>
      db.transaction((tx) => log.append(tx, ...Array.from({ length: load.batch }, () => benchEvent(next++)))),
    );
    integrated = (await log.size()) - sizeBefore;
  } finally {
    await stop();
  }
  if (failures.length) throw new Error(`integrating failed: ${String(failures[0])}`);
  const backlog = await log.queued();
  const drainStarted = performance.now();
  await log.integrateAll();
  const drain_ms = round(performance.now() - drainStarted, 0);
  if ((await log.queued()) !== 0) throw new Error('the queue did not drain');
  return {
    ...appendResult(load, measured.latencies, measured.elapsed),
    integrated_per_second: round(integrated / measured.elapsed, 0),
    backlog,
    drain_ms,
  };
}

const PLAIN_TABLE = 'bench_plain_events';

/** Plain INSERTs of the same rows (leaf text and hash made in JS) into a copy of audit_events' shape. */
export async function measurePlainInserts(db: Db, load: AppendLoad): Promise<AppendResult> {
  // LIKE … INCLUDING ALL copies columns, defaults, constraints and indexes, not triggers.
  await db.raw(`CREATE TABLE ${PLAIN_TABLE} (LIKE audit_events INCLUDING ALL)`);
  try {
    let next = 0;
    const { latencies, elapsed } = await loopFor(load.seconds, load.writers, () =>
      db.transaction(async (tx) => {
        const rows = Array.from({ length: load.batch }, () => plainRow(next++));
        await tx(PLAIN_TABLE).insert(rows);
      }),
    );
    return appendResult(load, latencies, elapsed);
  } finally {
    await db.raw(`DROP TABLE ${PLAIN_TABLE}`);
  }
}

function plainRow(i: number) {
  const event = benchEvent(i);
  const time = new Date();
  const leaf = canonicalJson({ v: 1, leaf_index: i, time: time.toISOString(), ...event });
  return {
    leaf_index: i,
    created_at: time,
    type: event.type,
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? null,
    account_id: event.subjects?.account ?? null,
    person_index: event.subjects?.person ?? null,
    client_id: event.subjects?.client ?? null,
    leaf,
    leaf_hash: createHash('sha256')
      .update(Buffer.from([0]))
      .update(leaf)
      .digest(),
  };
}

function appendResult(load: AppendLoad, latencies: number[], elapsed: number): AppendResult {
  const { p50_ms, p99_ms } = summarize(latencies);
  const events = latencies.length * load.batch;
  return {
    writers: load.writers,
    events_per_tx: load.batch,
    events,
    per_second: round(events / elapsed, 0),
    p50_ms,
    p99_ms,
  };
}
