import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexFactory from 'knex';
import { createDb, type Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';

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

/**
 * A fresh database for one test file; drop() removes it. On PGlite it starts from a snapshot of
 * a migrated database (made once per set of migrations, see migratedSnapshot) unless `empty`:
 * initdb and the migrations took about 3 of the 4 seconds a test file spent starting.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const headsDir = mkdtempSync(join(tmpdir(), 'rn-heads-'));
  const removeHeads = () => rmSync(headsDir, { recursive: true, force: true });
  if (ENGINE === 'pglite') {
    const snapshot = options.empty ? undefined : await migratedSnapshot();
    let db: Db | undefined;
    return {
      dataDir: ':memory:',
      headsDir,
      open: () =>
        (db ??= snapshot
          ? createDb({ dataDir: ':memory:', pglite: new PGlite({ loadDataDir: snapshot }) })
          : createDb({ dataDir: ':memory:' })),
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

/**
 * A migrated, otherwise empty PGlite data directory, as a tarball in the system's temporary
 * directory, named by a hash of the migrations' sources and PGlite's version: made by the first
 * test file that needs it, reused by every later one (and every later run) until a migration or
 * PGlite changes. Written to a temporary name and renamed, so parallel workers never read half.
 */
async function migratedSnapshot(): Promise<Blob> {
  const dir = resolve(process.cwd(), 'migrations');
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) hash.update(file).update(readFileSync(join(dir, file)));
  hash.update(
    JSON.parse(readFileSync(resolve(process.cwd(), 'node_modules/@electric-sql/pglite/package.json'), 'utf8')).version,
  );
  const path = join(tmpdir(), `rn-pglite-migrated-${hash.digest('hex').slice(0, 16)}.tar.gz`);
  try {
    return new Blob([readFileSync(path)]);
  } catch {
    const pglite = new PGlite();
    const db = createDb({ dataDir: ':memory:', pglite });
    try {
      await migrateLatest(db);
      const tarball = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
      const partial = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(partial, tarball);
      renameSync(partial, path);
      return new Blob([tarball]);
    } finally {
      await db.destroy();
    }
  }
}
