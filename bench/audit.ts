import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { AuditLog } from '../src/audit/log.js';
import type { AuditEventInput } from '../src/audit/events.js';
import { createDb, type Db } from '../src/db/index.js';
import { migrateLatest } from '../src/db/migrate.js';

// Audit trail benchmark: append throughput with concurrent writers (one event per transaction,
// as a grant writes it), and proof cost as the log grows to 10^4, 10^5, 10^6 leaves.
// Usage: tsx bench/audit.ts [--engine pglite|postgres] [--max 1000000] [--writers 8] [--seconds 10]

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    max: { type: 'string', default: '1000000' },
    writers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
  },
});
const ADMIN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const event = (i: number): AuditEventInput => ({
  type: 'consent.granted',
  actor: { type: 'account', id: `acc-${i % 5000}` },
  subjects: { account: `acc-${i % 5000}`, client: `merchant-${i % 50}` },
  payload: { grant_id: `grant-${i}`, level: 'result', scopes: ['openid', 'realname'] },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function openDb(): Promise<{ db: Db; drop: () => Promise<void> }> {
  if (values.engine === 'pglite') {
    const db = createDb({ dataDir: ':memory:' });
    return { db, drop: () => db.destroy() };
  }
  const name = `rn_bench_${Date.now().toString(36)}`;
  const admin = knexFactory({ client: 'pg', connection: ADMIN });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  const db = createDb({ databaseUrl: url.toString(), dataDir: ':memory:', poolMax: Number(values.writers) + 2 });
  return {
    db,
    drop: async () => {
      await db.destroy();
      await admin.raw(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}

async function main() {
  const { db, drop } = await openDb();
  const results: Record<string, unknown> = {
    engine: values.engine,
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, memory_gib: Math.round(os.totalmem() / 2 ** 30) },
  };
  try {
    await migrateLatest(db);
    const log = new AuditLog(db);

    // Appends: each writer loops one-event transactions for the time given.
    const writers = Number(values.writers);
    const until = Date.now() + Number(values.seconds) * 1000;
    const latencies: number[] = [];
    let n = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (Date.now() < until) {
          const t = performance.now();
          await db.transaction((tx) => log.append(tx, event(n++)));
          latencies.push(performance.now() - t);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    results.appends = {
      writers,
      events: latencies.length,
      per_second: Math.round(latencies.length / elapsed),
      p50_ms: +percentile(latencies, 50).toFixed(2),
      p99_ms: +percentile(latencies, 99).toFixed(2),
    };
    console.log(`appends (${values.engine}, ${writers} writers, 1 event/tx): ${JSON.stringify(results.appends)}`);

    // Proofs at growing sizes; the log is filled in batches of 1000 events per transaction.
    const sizes = [10_000, 100_000, 1_000_000].filter((s) => s <= Number(values.max));
    const proofs: unknown[] = [];
    for (const target of sizes) {
      const fillStart = performance.now();
      for (let size = await log.size(); size < target; size = await log.size()) {
        const batch = Math.min(1000, target - size);
        await db.transaction((tx) => log.append(tx, ...Array.from({ length: batch }, (_, i) => event(size + i))));
      }
      const fillSeconds = (performance.now() - fillStart) / 1000;
      const timings: number[] = [];
      const consistency: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 500; i += 1) {
        const index = Math.floor(Math.random() * target);
        const t = performance.now();
        const proof = await log.inclusionProof(index, target);
        timings.push(performance.now() - t);
        bytes = Math.max(bytes, proof.length * 32);
        const m = 1 + Math.floor(Math.random() * (target - 1));
        const c = performance.now();
        await log.consistencyProof(m, target);
        consistency.push(performance.now() - c);
      }
      timings.sort((a, b) => a - b);
      consistency.sort((a, b) => a - b);
      const row = {
        leaves: target,
        fill_events_per_second: Math.round((target - (proofs.length ? sizes[proofs.length - 1]! : 0)) / fillSeconds),
        inclusion_p50_ms: +percentile(timings, 50).toFixed(2),
        inclusion_p99_ms: +percentile(timings, 99).toFixed(2),
        inclusion_proof_bytes: bytes,
        consistency_p50_ms: +percentile(consistency, 50).toFixed(2),
        consistency_p99_ms: +percentile(consistency, 99).toFixed(2),
      };
      proofs.push(row);
      console.log(`proofs (${values.engine}): ${JSON.stringify(row)}`);
    }
    results.proofs = proofs;
    await mkdir('bench/results', { recursive: true });
    const file = `bench/results/audit-${values.engine}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    await writeFile(file, JSON.stringify(results, null, 2));
    console.log(`written to ${file}`);
  } finally {
    await drop();
  }
}

await main();
