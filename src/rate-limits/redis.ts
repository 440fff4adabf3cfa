import type { Redis } from 'ioredis';
import type { Count, CounterStore, Window } from './counters.js';

// Counts in Redis, shared by every instance, one round trip per operation: each is a Lua script,
// which Redis runs atomically. A key's window is its time to live (PEXPIRE), so Redis itself
// forgets what has expired.

const PREFIX = 'realname:rate-limit:';

/** KEYS[1] the key; ARGV window ms, points, lock ms. Returns { count, ms to the window's end }. */
const HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if tonumber(ARGV[3]) > 0 and count == tonumber(ARGV[2]) + 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return { count, redis.call('PTTL', KEYS[1]) }`;

/** KEYS[1] the key. Returns { count, ms to the window's end }, or nothing. */
const PEEK = `
local count = redis.call('GET', KEYS[1])
if not count then return nil end
return { tonumber(count), redis.call('PTTL', KEYS[1]) }`;

/** KEYS[1] the key; ARGV points. DECR keeps the key's time to live. */
const REFUND = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 and count <= tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) end`;

/** KEYS[1] the key; ARGV points. */
const CLEAR = `
local count = redis.call('GET', KEYS[1])
if count and tonumber(count) <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end`;

interface Scripts {
  rlHit(key: string, windowMs: number, points: number, lockMs: number): Promise<[number, number]>;
  rlPeek(key: string): Promise<[number, number] | null>;
  rlRefund(key: string, points: number): Promise<unknown>;
  rlClear(key: string, points: number): Promise<unknown>;
}

export class RedisCounters implements CounterStore {
  readonly kind = 'redis';
  private readonly redis: Redis & Scripts;

  /** `redis` is the process's connection (src/db/redis.ts), auto-pipelined: a request's counts leave together. */
  constructor(redis: Redis) {
    redis.defineCommand('rlHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('rlPeek', { numberOfKeys: 1, lua: PEEK });
    redis.defineCommand('rlRefund', { numberOfKeys: 1, lua: REFUND });
    redis.defineCommand('rlClear', { numberOfKeys: 1, lua: CLEAR });
    this.redis = redis as Redis & Scripts;
  }

  async hit(window: Window, key: string): Promise<Count> {
    const [count, ttl] = await this.redis.rlHit(
      `${PREFIX}${window.prefix}:${key}`,
      window.duration * 1000,
      window.points,
      (window.blockDuration ?? 0) * 1000,
    );
    return { count, msBeforeNext: Math.max(0, ttl) };
  }

  async peek(window: Window, key: string): Promise<Count | undefined> {
    const found = await this.redis.rlPeek(`${PREFIX}${window.prefix}:${key}`);
    return found ? { count: found[0], msBeforeNext: Math.max(0, found[1]) } : undefined;
  }

  async refund(window: Window, key: string): Promise<void> {
    await this.redis.rlRefund(`${PREFIX}${window.prefix}:${key}`, window.points);
  }

  async clear(window: Window, key: string): Promise<void> {
    await this.redis.rlClear(`${PREFIX}${window.prefix}:${key}`, window.points);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Nothing of its own to release: the connection is closed by whoever opened it. */
  async close(): Promise<void> {}
}
