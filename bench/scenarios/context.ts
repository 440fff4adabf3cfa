import {
  BARE_CLIENT,
  bareName,
  withBareProviders,
  type BareOptions,
  type BareProviders,
} from '../baseline/bare-provider.js';
import { Redis } from 'ioredis';
import { monotonicMicros, type Window } from '../lib/cpu-profile.js';
import type { BenchDatabase, SessionProfile } from '../lib/database.js';
import type { BenchOptions } from '../lib/options.js';
import { cpuMsPerRequest, whileSampling, type Usage } from '../lib/proc.js';
import { fmt, type Report } from '../lib/report.js';
import { runHttpLoad, type LoadResult, type LoadSpec, type LoadTarget } from '../load/http-load.js';
import { heapReport } from '../server/metrics.js';
import type { RunningServer } from '../server/platform.js';
import type { Client, Fixtures } from '../setup/fixtures.js';

/** What a scenario against a running platform server gets. */
export interface ServerScenario {
  options: BenchOptions;
  database: BenchDatabase;
  server: RunningServer;
  fixtures: Fixtures;
  report: Report;
  /** The server processes' resident set and CPU time under each load, for the memory rows. */
  usage: Record<string, Usage>;
  /** When each load ran, to find it in the server's CPU profile. */
  windows: Record<string, Window>;
}

/**
 * Runs the load `work` against the server, sampling its processes' resident set and CPU time
 * (kept under `name`) and noting when it ran.
 */
export async function sampled<T>(scenario: ServerScenario, name: string, work: () => Promise<T>): Promise<T> {
  const fromUs = monotonicMicros();
  const { database, server } = scenario;
  // Where the rate limits count in Redis, its server's CPU is the platform's too.
  const redisPid = scenario.options.redisUrl ? await redisServerPid(scenario.options.redisUrl) : undefined;
  const backends =
    database.postgres && (async () => [...(await database.postgres!.backends()), ...(redisPid ? [redisPid] : [])]);
  const { result, sessions } = await watchingSessions(
    database,
    scenario.report,
    `${name} (${server.layout.name})`,
    () => whileSampling(server.pids, work, backends),
  );
  scenario.windows[name] = { fromUs, toUs: monotonicMicros() };
  // A cluster's /metrics sums its workers: only a single process's heap explains its resident set.
  const heapAfter = server.layout.processes === 1 ? await heapReport(server.urls[0]!) : undefined;
  scenario.usage[name] = {
    ...result.usage,
    ...(heapAfter ? { heapAfter } : {}),
    ...(sessions ? { sessions } : {}),
    ...(redisPid && database.postgres ? { dbLabel: 'PostgreSQL and Redis' } : {}),
  };
  return result.result;
}

/** Runs `work`; on PostgreSQL, notes what the database's sessions waited for meanwhile. */
export async function watchingSessions<T>(
  database: BenchDatabase,
  report: Report,
  name: string,
  work: () => Promise<T>,
): Promise<{ result: T; sessions?: SessionProfile }> {
  if (!database.postgres) return { result: await work() };
  const { result, sessions } = await database.postgres.sessions(work);
  const entries = Object.entries(sessions);
  report.note(
    `${name}: PostgreSQL sessions, average active by wait: ${
      entries.length
        ? entries
            .slice(0, 5)
            .map(([what, n]) => `${what} ${n}`)
            .join(', ')
        : 'none'
    }`,
  );
  return { result, sessions };
}

/** CPU time per request (ms) of the server, and of PostgreSQL, under a load at `perSecond`. */
export function serverCpu(usage: Usage | undefined, perSecond: number, per = 'req'): string {
  if (!usage) return '';
  const db =
    usage.dbCpuSeconds === undefined
      ? ''
      : ` + ${usage.dbLabel ?? 'PostgreSQL'} ${fmt(cpuMsPerRequest(usage, perSecond, usage.dbCpuSeconds))}`;
  return `CPU ${fmt(cpuMsPerRequest(usage, perSecond))}${db} ms/${per}`;
}

/**
 * Connections per target so that each server process gets `options.connections`, whether the
 * layout has one port (a cluster) or one port per process.
 */
export function connectionsPerTarget(options: BenchOptions, processes: number, targets: number): number {
  return Math.ceil((options.connections * processes) / targets);
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** RFC 6749 §2.3.1: client_secret_basic (each part form-urlencoded first). */
export function basicAuth(client: Client): Record<string, string> {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return {
    authorization: `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`,
  };
}

/** Token endpoint load from `client` against `targets` (one per port). */
export function tokenLoad(
  options: BenchOptions,
  client: Client,
  targets: LoadTarget[],
  processes: number,
  extra: Partial<LoadSpec> = {},
): Promise<LoadResult> {
  return runHttpLoad({
    targets,
    method: 'POST',
    path: '/token',
    headers: { ...FORM, ...basicAuth(client) },
    connections: connectionsPerTarget(options, processes, targets.length),
    seconds: options.seconds,
    warmup: options.warmup,
    ...extra,
  });
}

/** "1,234/s (p50 3 ms, p99 12 ms)", with failures when there were any. */
export function describeLoad(result: LoadResult, unit = '/s'): string {
  const failures = result.non2xx + result.errors + result.timeouts;
  const codes = Object.entries(result.statusCodes).filter(([code]) => !code.startsWith('2'));
  return `${result.perSecond.toLocaleString('en-US')}${unit} (p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms)${failures ? `, ${failures} failed${codes.length ? ` [${codes.map(([c, n]) => `${c}×${n}`).join(' ')}]` : ''}` : ''}`;
}

/** The process id of the Redis server at `url` (its INFO), to count its CPU time. */
async function redisServerPid(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1];
    if (!pid) throw new Error(`${url}: INFO names no process_id`);
    return Number(pid);
  } finally {
    redis.disconnect();
  }
}

/** A baseline measured in the same run: a bare provider rung under the same load. */
export interface Rung<R = LoadResult> {
  name: string;
  load: R;
  usage: Usage;
}

/**
 * Starts the bare provider rung `bare` in as many processes as the layout, runs `load` against it
 * while sampling its processes (and its database's backends on PostgreSQL), and stops it.
 */
export async function measureRung<R = LoadResult>(
  scenario: ServerScenario,
  bare: BareOptions,
  load: (providers: BareProviders) => Promise<R>,
): Promise<Rung<R>> {
  const { result, usage } = await withBareProviders(
    scenario.server.layout.processes,
    (providers) => whileSampling(providers.pids, () => load(providers), providers.backends),
    bare,
  );
  return { name: bareName(bare), load: result, usage };
}

/** The adapter rung's options on this run's engine. */
export function adapterRung(scenario: ServerScenario): BareOptions {
  return { engine: scenario.database.engine };
}

/** "bare + adapter 1,234/s (p50 …); CPU 0.5 + PostgreSQL 0.2 ms/req" */
export function describeRung(rung: Rung): string {
  return `${rung.name} ${describeLoad(rung.load)}; ${serverCpu(rung.usage, rung.load.perSecond)}`;
}

/** The bare provider's client, as the load's client. */
export const BARE_LOAD_CLIENT: Client = { clientId: BARE_CLIENT.client_id, clientSecret: BARE_CLIENT.client_secret };
