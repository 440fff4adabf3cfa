import { setTimeout as sleep } from 'node:timers/promises';
import { migrationSource } from '../../migrations/index.js';
import type { Db } from './index.js';

/**
 * Applies pending migrations. knex's lock table makes a second process that starts at the same
 * moment fail with MigrationLocked instead of waiting; it waits and retries here, and then finds
 * nothing left to do.
 */
export async function migrateLatest(db: Db, options: { timeoutMs?: number } = {}): Promise<string[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      return applied;
    } catch (err) {
      if ((err as Error).name !== 'MigrationLocked' || Date.now() > deadline) throw err;
      await sleep(250 + Math.random() * 250);
    }
  }
}

/** Names of migrations not yet applied (readiness checks use this). */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown, Array<{ file?: string } | string>];
  return pending.map((m) => (typeof m === 'string' ? m : String(m.file ?? m)));
}
