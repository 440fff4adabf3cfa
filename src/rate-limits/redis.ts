import { Redis } from 'ioredis';
import type { Count, CounterStore, Window } from './counters.js';

// Counts in Redis, shared by every instance, one round trip per operation: each is a Lua script,
// which Redis runs atomically. A key's window is its time to live (PEXPIRE), so Redis itself
// forgets what has expired.

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

  constructor(url: string) {
    const redis = new Redis(url, {
      // A request waits for its count at most one reconnection: a limit that cannot be counted
      // refuses the request (an error) rather than letting it through uncounted.
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // Connects at the first count: the CLI and the jobs build the same services and count nothing.
      lazyConnect: true,
      keyPrefix: 'realname:rate-limit:',
      // The counts a request makes at once (countAll) leave in one write and one round trip.
      enableAutoPipelining: true,
    });
    redis.defineCommand('rlHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('rlPeek', { numberOfKeys: 1, lua: PEEK });
    redis.defineCommand('rlRefund', { numberOfKeys: 1, lua: REFUND });
    redis.defineCommand('rlClear', { numberOfKeys: 1, lua: CLEAR });
    // Errors reach the requests that counted; a connection's own events are not worth a crash.
    redis.on('error', () => undefined);
    this.redis = redis as Redis & Scripts;
  }

  async hit(window: Window, key: string): Promise<Count> {
    const [count, ttl] = await this.redis.rlHit(
      `${window.prefix}:${key}`,
      window.duration * 1000,
      window.points,
      (window.blockDuration ?? 0) * 1000,
    );
    return { count, msBeforeNext: Math.max(0, ttl) };
  }

  async peek(window: Window, key: string): Promise<Count | undefined> {
    const found = await this.redis.rlPeek(`${window.prefix}:${key}`);
    return found ? { count: found[0], msBeforeNext: Math.max(0, found[1]) } : undefined;
  }

  async refund(window: Window, key: string): Promise<void> {
    await this.redis.rlRefund(`${window.prefix}:${key}`, window.points);
  }

  async clear(window: Window, key: string): Promise<void> {
    await this.redis.rlClear(`${window.prefix}:${key}`, window.points);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    // A connection that is not up (never made, or being retried) is dropped with its retries.
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }
}
