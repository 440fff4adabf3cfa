import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { PGlite } from '@electric-sql/pglite';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { lockDataDir } from './lock.js';
import { joinsAmbientTransaction } from './transaction.js';
import type { Db, Queryable } from './types.js';

export type { Db, Queryable, Tx } from './types.js';

// int8 (bigint) columns hold counters and sequence numbers well below 2^53; read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

export interface DbOptions {
  /** postgres:// URL; when absent the embedded PGlite engine is used. */
  databaseUrl?: string;
  /** PGlite data directory, or ':memory:' for a throwaway in-memory database. */
  dataDir: string;
  poolMax?: number;
  /** An open embedded database to use instead of opening `dataDir` (tests start from a snapshot). */
  pglite?: PGlite;
}

/** One round trip to the database, touching no table (the readiness check). */
export async function ping(db: Queryable): Promise<void> {
  await db.raw('select 1');
}

/** Opens the platform's database: a PostgreSQL pool, or embedded PGlite (one connection). */
export function createDb(options: DbOptions): Db {
  return joinsAmbientTransaction(openDb(options));
}

function openDb(options: DbOptions): Db {
  if (options.databaseUrl) {
    return knexFactory({
      client: 'pg',
      connection: options.databaseUrl,
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
    });
  }
  if (options.pglite) {
    return knexFactory({
      client: ClientPgLite as unknown as typeof Knex.Client,
      dialect: 'postgres',
      connection: { pglite: options.pglite } as Knex.StaticConnectionConfig,
    });
  }
  if (options.dataDir === ':memory:') {
    return knexFactory({ client: ClientPgLite as unknown as typeof Knex.Client, dialect: 'postgres', connection: {} });
  }
  const dir = resolve(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  // Held until the database is closed or the process exits; a lock left by a crash is detected
  // by its dead pid.
  const release = lockDataDir(options.dataDir);
  process.once('exit', release);
  const db = knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: { filename: dir } as Knex.StaticConnectionConfig,
  });
  // knex.destroy() ends in client.destroy(); the knex function's own property is read-only.
  const client = db.client as { destroy(callback?: unknown): Promise<void> };
  const destroy = client.destroy.bind(client);
  client.destroy = async (callback?: unknown) => {
    try {
      await destroy(callback);
    } finally {
      process.off('exit', release);
      release();
    }
  };
  return db;
}
