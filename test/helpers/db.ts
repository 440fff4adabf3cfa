import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { createDb, type Db } from '../../src/db/index.js';

/**
 * The engine under test: embedded PGlite by default, the PostgreSQL server when
 * TEST_DATABASE=postgres (TEST_POSTGRES_URL, default postgres://127.0.0.1:5432/postgres).
 */
export const ENGINE = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'pglite';
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Set on PostgreSQL: a throwaway database of this test file's own. */
  databaseUrl?: string;
  /** ':memory:' on PGlite. */
  dataDir: string;
  /** A directory of its own for the signed tree heads kept outside the database (audit.headsDir). */
  headsDir: string;
  /** Opens a connection (pool) to it; on PGlite there is one shared instance. */
  open(): Db;
  drop(): Promise<void>;
}

/** A fresh, empty database for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const headsDir = mkdtempSync(join(tmpdir(), 'rn-heads-'));
  const removeHeads = () => rmSync(headsDir, { recursive: true, force: true });
  if (ENGINE === 'pglite') {
    let db: Db | undefined;
    return {
      dataDir: ':memory:',
      headsDir,
      open: () => (db ??= createDb({ dataDir: ':memory:' })),
      drop: async () => {
        await db?.destroy();
        removeHeads();
      },
    };
  }
  const name = `rn_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${name}`);
  await admin.destroy();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const pools: Db[] = [];
  return {
    databaseUrl,
    dataDir: ':memory:',
    headsDir,
    open: () => {
      const db = createDb({ databaseUrl, dataDir: ':memory:', poolMax: 5 });
      pools.push(db);
      return db;
    },
    drop: async () => {
      await Promise.all(pools.map((p) => p.destroy()));
      const again = knexFactory({ client: 'pg', connection: ADMIN_URL, pool: { min: 0, max: 1 } });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
      removeHeads();
    },
  };
}
