import { setTimeout as sleep } from 'node:timers/promises';
import { migrationSource } from '../../migrations/index.js';
import type { Db } from './index.js';

/**
 * Applies pending migrations. knex's lock table makes a second process that starts at the same
 * moment fail with MigrationLocked instead of waiting; it waits and retries here, and then finds
 * nothing left to do. Before that lock exists, two processes on an empty database race to create
 * knex's own bookkeeping tables: the loser gets "already exists" (42P07, 42710) or a unique violation on
 * the catalog (23505), and also retries.
 */
export async function migrateLatest(db: Db, options: { timeoutMs?: number } = {}): Promise<string[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      return applied;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const race = (err as Error).name === 'MigrationLocked' || code === '42P07' || code === '42710' || code === '23505';
      if (!race || Date.now() > deadline) throw err;
      await sleep(250 + Math.random() * 250);
    }
  }
}

/** Names of migrations not yet applied (readiness checks use this). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown, Array<{ file?: string } | string>];
  return pending.map((m) => (typeof m === 'string' ? m : String(m.file ?? m)));
}
