import { migrationSource } from '../../migrations/index.js';
import type { Db } from './index.js';

/** Applies pending migrations (knex's lock table keeps concurrent starts from racing). */
export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Names of migrations not yet applied (readiness checks use this). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown, Array<{ file?: string } | string>];
  return pending.map((m) => (typeof m === 'string' ? m : String(m.file ?? m)));
}
