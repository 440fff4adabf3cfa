import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { lockDataDir } from './lock.js';

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Anything a query can run on: the pool or an open transaction. */
export type Queryable = Knex | Knex.Transaction;

// int8 (bigint) columns hold counters and sequence numbers well below 2^53; read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export interface DbOptions {
  /** postgres:// URL; when absent the embedded PGlite engine is used. */
  databaseUrl?: string;
  /** PGlite data directory, or ':memory:' for a throwaway in-memory database. */
  dataDir: string;
  poolMax?: number;
}

export function engineOf(options: DbOptions): 'postgres' | 'pglite' {
  return options.databaseUrl ? 'postgres' : 'pglite';
}

/** Opens the platform's database: a PostgreSQL pool, or embedded PGlite (one connection). */
export function createDb(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: 'pg',
      connection: options.databaseUrl,
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
    });
  }
  let connection: { filename: string } | Record<string, never> = {};
  if (options.dataDir !== ':memory:') {
    const dir = resolve(options.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    // Held until the process exits; a lock left by a crash is detected by its dead pid.
    process.once('exit', lockDataDir(options.dataDir));
    connection = { filename: dir };
  }
  return knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: connection as Knex.StaticConnectionConfig,
  });
}
