import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { bulkhead, type BulkheadPolicy } from 'cockatiel';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * How many argon2 computations run at once: one per core, and never the whole libuv thread pool
 * (4 threads unless UV_THREADPOOL_SIZE says otherwise), which also serves file reads, DNS
 * look-ups and crypto's asynchronous calls. More at once would not finish sooner on the cores
 * there are; each holds `memoryCost` (19 MiB by default) while it runs.
 */
export function argon2Slots(
  cores = availableParallelism(),
  threadPool = Number(process.env.UV_THREADPOOL_SIZE) || 4,
): number {
  return Math.max(1, Math.min(cores, threadPool - 1));
}

/** Waiting hashes and verifications are not capped here: the sign-in rate limits bound them. */
const QUEUE = Number.MAX_SAFE_INTEGER;

/**
 * Passwords are hashed with argon2id (RFC 9106 §4 recommends the id variant). Hashes and
 * verifications beyond `argon2Slots()` wait their turn, first come first served.
 */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  private readonly slots: BulkheadPolicy;

  constructor(
    private readonly params: Argon2Params,
    private readonly capacity = argon2Slots(),
  ) {
    this.slots = bulkhead(capacity, QUEUE);
  }

  hash(password: string): Promise<string> {
    return this.slots.execute(() => argon2.hash(password, { type: argon2.argon2id, ...this.params }));
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.slots.execute(() => argon2.verify(hash, password));
  }

  /**
   * Spends the same time as a real verification, for logins that match no account, so response
   * time does not reveal which logins exist.
   */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash('no account has this password');
    await this.verify(await this.dummy, password);
    return false;
  }

  /** How many hashes and verifications are running, and how many wait for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.capacity - this.slots.executionSlots, waiting: QUEUE - this.slots.queueSlots };
  }

  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, { ...this.params });
  }
}
