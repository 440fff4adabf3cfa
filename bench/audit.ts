import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AuditLog } from '../src/audit/log.js';
import { migrateLatest } from '../src/db/migrate.js';
import { measureAppends, measurePlainInserts } from './audit/appends.js';
import { fillLog, timeProofs } from './audit/proofs.js';
import { createBenchDatabase } from './lib/database.js';
import type { Engine } from './lib/options.js';

// The audit trail alone, without a server (`npm run bench` runs the same pieces in its suite):
// append throughput with concurrent writers (one event per transaction, as a grant writes it, or
// --batch events per transaction) against plain INSERTs of the same rows, and proof cost as the
// log grows to 10^4, 10^5, 10^6 leaves (filled 1000 events per transaction; --max 0 skips them).
// Usage: tsx bench/audit.ts [--engine pglite|postgres] [--max 1000000] [--writers 8] [--batch 1] [--seconds 10]
//        [--integrate-interval 200] (ms between integrations while the writers write, as audit.integrateInterval)

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    max: { type: 'string', default: '1000000' },
    writers: { type: 'string', default: '8' },
    batch: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '10' },
    'integrate-interval': { type: 'string', default: '200' },
  },
});
const engine = values.engine as Engine;
const database = await createBenchDatabase(engine, 'audit');
const db = database.open(Number(values.writers) + 2);
try {
  await migrateLatest(db);
  const log = new AuditLog(db);
  const load = { writers: Number(values.writers), seconds: Number(values.seconds), batch: Number(values.batch) };
  const appends = await measureAppends(db, log, { ...load, integrateInterval: Number(values['integrate-interval']) });
  console.log(`appends (${engine}, ${load.writers} writers, ${load.batch} event/tx): ${JSON.stringify(appends)}`);
  const plain = await measurePlainInserts(db, load);
  console.log(`plain inserts (${engine}): ${JSON.stringify(plain)}`);
  const proofs = [];
  for (const size of [10_000, 100_000, 1_000_000].filter((s) => s <= Number(values.max))) {
    const fill = await fillLog(db, log, size);
    const row = { ...(await timeProofs(log, size, 500)), fill_events_per_second: fill.per_second };
    proofs.push(row);
    console.log(`proofs (${engine}): ${JSON.stringify(row)}`);
  }
  const results = {
    engine,
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      node: process.version,
      memory_gib: Math.round(os.totalmem() / 2 ** 30),
    },
    appends,
    plain_inserts: plain,
    proofs,
  };
  await mkdir('bench/results', { recursive: true });
  const file = `bench/results/audit-${engine}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  await writeFile(file, JSON.stringify(results, null, 2));
  console.log(`written to ${file}`);
} finally {
  await db.destroy();
  await database.drop();
}
