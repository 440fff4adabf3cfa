import { measureAppends, measurePlainInserts } from '../audit/appends.js';
import { logPopulation } from '../audit/population.js';
import { fillLog, timeProofs } from '../audit/proofs.js';
import type { BenchDatabase } from '../lib/database.js';
import type { BenchOptions } from '../lib/options.js';
import { fmt, verdict, type Report } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import { withPlatform } from '../setup/fixtures.js';
import { watchingSessions } from './context.js';

// Scenario 5a: audit appends with concurrent writers against plain INSERTs, then proof times as
// the log grows to each size (the events name people and merchants, for the notary's queries).

export async function measureAudit(database: BenchDatabase, options: BenchOptions, report: Report): Promise<void> {
  await withPlatform(database, async ({ db, audit: log, keys, config }) => {
    const load = { writers: options.writers, seconds: options.appendSeconds, batch: 1 };
    const { result: appends } = await watchingSessions(database, report, 'audit appends', () =>
      measureAppends(db, log, { ...load, integrateInterval: config.audit.integrateInterval }),
    );
    const { result: plain } = await watchingSessions(database, report, 'plain INSERTs', () =>
      measurePlainInserts(db, load),
    );
    report.record('audit/appends', { appends, plain_inserts: plain });
    const postgres = database.engine === 'postgres';
    report.add({
      scenario: 'audit appends',
      setting: `${load.writers} writers, 1 event/tx`,
      result: `${fmt(appends.per_second)} events/s (p50 ${appends.p50_ms} ms, p99 ${appends.p99_ms} ms); made leaves meanwhile ${fmt(appends.integrated_per_second)}/s, ${fmt(appends.backlog)} queued at the end (${appends.drain_ms} ms to integrate)`,
      baseline: `plain INSERT ${fmt(plain.per_second)}/s (${fmt((appends.per_second / plain.per_second) * 100)}%)`,
      target: postgres ? `≥ ${fmt(TARGETS.auditAppendsPostgres)}/s on PostgreSQL` : undefined,
      verdict: postgres ? verdict(appends.per_second, '>=', TARGETS.auditAppendsPostgres) : undefined,
    });

    const population = await logPopulation(keys, Math.max(...options.leaves));
    const proofs = [];
    for (const size of options.leaves) {
      const fill = await fillLog(db, log, size, population);
      const times = await timeProofs(log, size, options.proofSamples);
      proofs.push({ ...times, fill_events_per_second: fill.per_second });
      const atTarget = size === 1_000_000;
      report.add({
        scenario: 'proofs',
        setting: `${fmt(size)} leaves`,
        result: `inclusion p50 ${times.inclusion_p50_ms} / p99 ${times.inclusion_p99_ms} ms; consistency p50 ${times.consistency_p50_ms} / p99 ${times.consistency_p99_ms} ms; ${times.inclusion_proof_bytes} B`,
        baseline: fill.appended ? `filled at ${fmt(fill.per_second)} events/s (1000/tx)` : undefined,
        target: atTarget ? `inclusion p99 < ${TARGETS.inclusionP99Ms} ms` : undefined,
        verdict: atTarget ? verdict(times.inclusion_p99_ms, '<', TARGETS.inclusionP99Ms) : undefined,
      });
    }
    report.record('audit/proofs', proofs);
  });
}
