import { migrationSource } from '../../migrations/index.js';
import type { Db } from './index.js';

// Any number for the advisory lock that serializes migrators: it only has to be ours.
const MIGRATION_LOCK = 0x6d696772; // "migr"

/**
 * Applies pending migrations; safe when several processes start at once on one database.
 *
 * knex's own lock is not enough on an empty database: it creates its bookkeeping tables before it
 * locks, so racing processes can fail with "already exists" or even insert two lock rows, after
 * which no one can take the lock. On PostgreSQL a session advisory lock, held on a connection of
 * its own, lets one process migrate while the others wait, then find nothing to do. PGlite is one
 * process per data directory (and one connection), so it needs no lock.
 */
export async function migrateLatest(db: Db): Promise<string[]> {
  if (db.client.config.client !== 'pg') return latest(db);
  const connection = await db.client.acquireConnection();
  try {
    await db.raw('SELECT pg_advisory_lock(?)', [MIGRATION_LOCK]).connection(connection);
    try {
      return await latest(db);
    } finally {
      await db.raw('SELECT pg_advisory_unlock(?)', [MIGRATION_LOCK]).connection(connection);
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

async function latest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Names of migrations not yet applied (readiness checks use this). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown, Array<{ file?: string } | string>];
  return pending.map((m) => (typeof m === 'string' ? m : String(m.file ?? m)));
}
