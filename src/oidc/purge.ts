import { repeat } from '../repeat.js';
import type { Db } from '../db/index.js';
import { purgeExpired } from './store.js';

/**
 * Removes expired OIDC rows in bounded batches until none are left (or `maxBatches` ran), so the
 * table cannot grow without limit and no single statement runs long. Returns rows removed.
 */
export async function purgeExpiredPayloads(
  db: Db,
  options: { batchSize: number; maxBatches?: number; now?: Date },
): Promise<number> {
  const now = options.now ?? new Date();
  let total = 0;
  for (let batch = 0; batch < (options.maxBatches ?? 1000); batch += 1) {
    const removed = await purgeExpired(db, now, options.batchSize);
    total += removed;
    if (removed < options.batchSize) break;
  }
  return total;
}

/** Runs the purge every `intervalSeconds`; the returned function stops it. */
export function schedulePurge(
  db: Db,
  options: { intervalSeconds: number; batchSize: number; onError: (err: unknown) => void },
): () => Promise<void> {
  return repeat(
    () => purgeExpiredPayloads(db, { batchSize: options.batchSize }),
    options.intervalSeconds * 1000,
    options.onError,
  );
}
