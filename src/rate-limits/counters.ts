// Where the rate limits count: the counters' contract, and the in-process store. The shared
// stores are in ./store.ts (the database) and ./redis.ts.

/** One limit's window: `points` hits per `duration` seconds; the hit over them locks the key for `blockDuration`. */
export interface Window {
  /** Keeps each limit's keys apart in a shared store. */
  prefix: string;
  points: number;
  duration: number;
  blockDuration?: number;
}

/** A key's count in its current window, and the milliseconds until that window (or lock) ends. */
export interface Count {
  count: number;
  msBeforeNext: number;
}

/**
 * The counting every store does the same, each operation atomic on its own (concurrent hits on
 * one key all count; of N sent at once, exactly `points` see a count within the limit):
 * - `hit` counts one hit, starting a new window of `duration` when the key has none; the hit that
 *   makes the count `points + 1` moves the window's end to `blockDuration` from now (the lock);
 * - `peek` reads a key's count, counting nothing;
 * - `refund` takes one hit off a key whose count is within `points` in an unfinished window;
 * - `clear` forgets a key whose count is within `points`.
 * Neither `refund` nor `clear` can undo a lock: a key over its limit keeps its count.
 */
export interface CounterStore {
  /** What the store is, as logs and the readiness check name it. */
  readonly kind: 'memory' | 'database' | 'redis';
  hit(window: Window, key: string): Promise<Count>;
  peek(window: Window, key: string): Promise<Count | undefined>;
  refund(window: Window, key: string): Promise<void>;
  clear(window: Window, key: string): Promise<void>;
  /** Throws when the store cannot be reached (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  count: number;
  /** Milliseconds since the epoch. */
  expires: number;
}

/** How often expired keys are swept from memory (at the next hit after). */
const SWEEP_MS = 60_000;

/**
 * Counts in this process's memory: no round trip, and exact where one process serves the
 * platform (the embedded database is opened by one process). Counts start again at a restart.
 * Every operation is synchronous, so atomic in the event loop.
 */
export class MemoryCounters implements CounterStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private swept = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async hit(window: Window, key: string): Promise<Count> {
    const now = this.now();
    if (now - this.swept >= SWEEP_MS) this.sweep(now);
    const stored = `${window.prefix}:${key}`;
    let entry = this.live(stored, now);
    if (!entry) {
      entry = { count: 0, expires: now + window.duration * 1000 };
      this.entries.set(stored, entry);
    }
    entry.count += 1;
    if (window.blockDuration && entry.count === window.points + 1) entry.expires = now + window.blockDuration * 1000;
    return { count: entry.count, msBeforeNext: entry.expires - now };
  }

  async peek(window: Window, key: string): Promise<Count | undefined> {
    const now = this.now();
    const entry = this.live(`${window.prefix}:${key}`, now);
    return entry && { count: entry.count, msBeforeNext: entry.expires - now };
  }

  async refund(window: Window, key: string): Promise<void> {
    const entry = this.live(`${window.prefix}:${key}`, this.now());
    if (entry && entry.count > 0 && entry.count <= window.points) entry.count -= 1;
  }

  async clear(window: Window, key: string): Promise<void> {
    const stored = `${window.prefix}:${key}`;
    const entry = this.entries.get(stored);
    if (entry && entry.count <= window.points) this.entries.delete(stored);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** The key's entry unless its window has ended (then it is forgotten). */
  private live(stored: string, now: number): Entry | undefined {
    const entry = this.entries.get(stored);
    if (entry && entry.expires <= now) {
      this.entries.delete(stored);
      return undefined;
    }
    return entry;
  }

  private sweep(now: number): void {
    this.swept = now;
    for (const [stored, entry] of this.entries) if (entry.expires <= now) this.entries.delete(stored);
  }
}
