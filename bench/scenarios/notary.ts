import type { AuditLog, EventFilter } from '../../src/audit/log.js';
import type { Db } from '../../src/db/index.js';
import { benchMerchant } from '../audit/events.js';
import { logPopulation, type LogPopulation } from '../audit/population.js';
import { fillLog } from '../audit/proofs.js';
import { runHttpLoad, type RequestVariant } from '../load/http-load.js';
import type { BenchDatabase } from '../lib/database.js';
import type { BenchOptions } from '../lib/options.js';
import { whileSampling } from '../lib/proc.js';
import { fmt, verdict, type Report } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import { startPlatformServer, type Layout, type RunningServer, type ServerOptions } from '../server/platform.js';
import { withPlatform, type Client } from '../setup/fixtures.js';
import { basicAuth, describeLoad, FORM, serverCpu, watchingSessions } from './context.js';

// Scenario 5b: the notary API's event search, by person and by merchant, over the large log,
// through HTTP with a notary's client_credentials token (each query is itself audited, as in
// production). Afterwards, the plans of the two searches' SQL (EXPLAIN ANALYZE).

/** Queries in flight at once: an auditor's tool, not a crowd. */
const CONNECTIONS = 4;
/** Different people or merchants asked about, in turn. */
const QUESTIONS = 200;

type Kind = 'person' | 'merchant';

export async function measureNotary(
  database: BenchDatabase,
  notary: Client,
  options: BenchOptions,
  report: Report,
  layout: Layout,
  serverOptions: ServerOptions,
): Promise<void> {
  const leaves = Math.max(...options.leaves);
  const population = await withPlatform(database, async ({ db, audit: log, keys }) => {
    const people = await logPopulation(keys, leaves);
    await fillLog(db, log, leaves, people);
    return people;
  });
  const server = await startPlatformServer(database, layout, serverOptions);
  try {
    const token = await notaryToken(server.issuer, notary);
    for (const kind of ['person', 'merchant'] as const)
      await measureSearch({ kind, token, population, leaves, database, server, options, report });
  } finally {
    await server.stop();
  }
  report.record(
    'notary/plans',
    await withPlatform(database, ({ db, audit: log }) => explainSearches(db, log, population)),
  );
}

interface Search {
  kind: Kind;
  token: string;
  population: LogPopulation;
  leaves: number;
  database: BenchDatabase;
  server: RunningServer;
  options: BenchOptions;
  report: Report;
}

async function measureSearch({
  kind,
  token,
  population,
  leaves,
  database,
  server,
  options,
  report,
}: Search): Promise<void> {
  const variants = questions(kind, population);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const found = await eventsFound(server.urls[0]!, headers, variants[0]!.body!);
  const load = () =>
    runHttpLoad({
      targets: server.urls.map((url) => ({ url, variants })),
      method: 'POST',
      path: '/api/notary/events/search',
      headers,
      connections: Math.max(1, Math.floor(CONNECTIONS / server.urls.length)),
      seconds: options.seconds,
      warmup: options.warmup,
    });
  const backends = database.postgres && (() => database.postgres!.backends());
  const { result: measured } = await watchingSessions(database, report, `notary search by ${kind}`, () =>
    whileSampling(server.pids, load, backends),
  );
  const { result, usage } = measured;
  report.record(`notary/${kind}`, { ...result, usage, events_in_first_answer: found, log_leaves: leaves });
  const atTarget = leaves >= 1_000_000;
  report.add({
    scenario: `notary search by ${kind}`,
    setting: `${fmt(leaves)} events, ${CONNECTIONS} conns, ${server.layout.name}`,
    result: `${describeLoad(result, ' queries/s')}; ${found} events/answer; ${serverCpu(usage, result.perSecond, 'query')}`,
    target: atTarget ? `p99 < ${TARGETS.notaryP99Ms} ms` : `(target at 10^6: p99 < ${TARGETS.notaryP99Ms} ms)`,
    verdict: atTarget ? verdict(result.p99_ms, '<', TARGETS.notaryP99Ms) : undefined,
  });
}

function questions(kind: Kind, population: LogPopulation): RequestVariant[] {
  return Array.from({ length: QUESTIONS }, (_, i) => {
    const k = Math.floor((i * 7919) % (kind === 'person' ? population.numbers.length : population.merchants));
    const query =
      kind === 'person'
        ? { person: { document_type: 'cn_resident_id', document_number: population.numbers[k] } }
        : { merchant: benchMerchant(k) };
    return { body: JSON.stringify(query) };
  });
}

async function notaryToken(issuer: string, notary: Client): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { ...FORM, ...basicAuth(notary) },
    body: 'grant_type=client_credentials&scope=audit%3Aread',
  });
  if (!response.ok) throw new Error(`notary token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** How many events one query returns (a check that the queries find something). */
async function eventsFound(base: string, headers: Record<string, string>, body: string): Promise<number> {
  const response = await fetch(`${base}/api/notary/events/search`, { method: 'POST', headers, body });
  if (!response.ok) throw new Error(`notary search: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { events: unknown[] }).events.length;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the SQL the audit store runs for each search, as it runs it. */
async function explainSearches(db: Db, log: AuditLog, population: LogPopulation): Promise<Record<Kind, string[]>> {
  const plan = async (filter: EventFilter) => {
    let query: { sql: string; bindings: unknown[] } | undefined;
    const capture = (q: { sql: string; bindings: unknown[] }) => (query ??= q);
    db.on('query', capture);
    try {
      await log.search(filter, 51);
    } finally {
      db.off('query', capture);
    }
    // The event carries the driver's SQL ($1, $2, … in order); knex.raw takes `?` placeholders.
    const { rows } = await db.raw(
      `EXPLAIN (ANALYZE, BUFFERS) ${query!.sql.replace(/\$\d+/g, '?')}`,
      query!.bindings as never,
    );
    return (rows as Array<{ 'QUERY PLAN': string }>).map((r) => r['QUERY PLAN']);
  };
  return { person: await plan({ person: population.persons[1] }), merchant: await plan({ client: benchMerchant(1) }) };
}
