import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { createDb, type Db } from '../../src/db/index.js';
import type { Engine } from './options.js';

/** The PostgreSQL server's maintenance database; the bench creates and drops its own next to it. */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A throwaway database: a new PostgreSQL database, or a PGlite data directory on disk (the server
 * runs in another process, so PGlite cannot be in memory; it is opened by one process at a time).
 */
export interface BenchDatabase {
  engine: Engine;
  /** What the platform's configuration takes: `databaseUrl` on PostgreSQL, `dataDir` always. */
  databaseUrl?: string;
  dataDir: string;
  /** Opens a connection pool (PostgreSQL) or the data directory (PGlite: close it before a server starts). */
  open(poolMax?: number): Db;
  /** What the PostgreSQL server can tell about the database's use (PGlite runs inside the server). */
  postgres?: {
    /** Process ids of the server's backends connected to this database. */
    backends(): Promise<number[]>;
    /** What this database's sessions do while `work` runs. */
    sessions<T>(work: () => Promise<T>): Promise<{ result: T; sessions: SessionProfile }>;
  };
  drop(): Promise<void>;
}

/**
 * Average active sessions of a database by what they wait for, sampled from pg_stat_activity every
 * 100 ms ("CPU" when active and waiting for nothing; "Lock:advisory" is the audit append lock of
 * integrations, or a grant's lock;
 * "Client:ClientRead" is a session in a transaction waiting for its client's next statement).
 */
export type SessionProfile = Record<string, number>;

export async function createBenchDatabase(engine: Engine, label: string): Promise<BenchDatabase> {
  if (engine === 'pglite') {
    const dataDir = await mkdtemp(join(tmpdir(), `rn-bench-${label}-`));
    return {
      engine,
      dataDir,
      open: () => createDb({ dataDir }),
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `rn_bench_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return {
    engine,
    databaseUrl,
    dataDir: ':memory:',
    open: (poolMax = 10) => createDb({ databaseUrl, dataDir: ':memory:', poolMax }),
    postgres: {
      backends: async () =>
        (await adminQuery<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ?', [name])).map(
          (r) => r.pid,
        ),
      sessions: (work) => sampleSessions(name, work),
    },
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A statement on the maintenance database (its own short-lived connection, not counted as the bench database's). */
async function adminQuery<Row>(sql: string, bindings: unknown[] = []): Promise<Row[]> {
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  try {
    return (await admin.raw(sql, bindings as never)).rows as Row[];
  } finally {
    await admin.destroy();
  }
}

/** The engine's version: the PostgreSQL server's, or the PGlite package's and its PostgreSQL's. */
export async function engineVersion(engine: Engine): Promise<string> {
  if (engine === 'postgres') {
    const [row] = await adminQuery<{ server_version: string }>('SHOW server_version');
    return `PostgreSQL ${row!.server_version}`;
  }
  const pkg = JSON.parse(await readFile('node_modules/@electric-sql/pglite/package.json', 'utf8')) as {
    version: string;
  };
  const db = createDb({ dataDir: ':memory:' });
  try {
    const { rows } = await db.raw('SHOW server_version');
    return `PGlite ${pkg.version} (PostgreSQL ${rows[0].server_version})`;
  } finally {
    await db.destroy();
  }
}

async function sampleSessions<T>(
  name: string,
  work: () => Promise<T>,
): Promise<{ result: T; sessions: SessionProfile }> {
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 1, max: 1 } });
  const counts = new Map<string, number>();
  let samples = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      const { rows } = await admin.raw(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = ? AND state <> 'idle' AND pid <> pg_backend_pid() GROUP BY 1`,
        [name],
      );
      for (const { what, n } of rows as Array<{ what: string; n: number }>)
        counts.set(what, (counts.get(what) ?? 0) + n);
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    const result = await work();
    return {
      result,
      sessions: Object.fromEntries(
        [...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([what, n]) => [what, Math.round((n / Math.max(1, samples)) * 100) / 100]),
      ),
    };
  } finally {
    running = false;
    await sampler;
    await admin.destroy();
  }
}
