import { randomUUID } from 'node:crypto';
import { Health } from '../../src/http/health.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { MemoryCounters, type CounterStore, type Window } from '../../src/rate-limits/counters.js';
import { closeRedis, connectRedis } from '../../src/db/redis.js';
import { RedisCounters } from '../../src/rate-limits/redis.js';
import { DatabaseCounters } from '../../src/rate-limits/store.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

// The counters' contract (src/rate-limits/counters.ts), the same for each store the rate limits
// may count in: this process's memory, the database (this run's engine) and Redis.

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.open();
  await migrateLatest(db); // also opens it before any test, so it is never closed while still opening
});

afterAll(async () => {
  await database.drop();
});

/** Each store and what closes it after its tests (Redis: the connection, which the platform owns). */
const stores: Array<[string, () => { counters: CounterStore; close(): Promise<void> }]> = [
  ['memory', () => closing(new MemoryCounters())],
  [`the database (${ENGINE})`, () => closing(new DatabaseCounters(db))],
  [
    'Redis',
    () => {
      const redis = connectRedis(TEST_REDIS_URL);
      return { counters: new RedisCounters(redis), close: () => closeRedis(redis) };
    },
  ],
];

function closing(counters: CounterStore) {
  return { counters, close: () => counters.close() };
}

describe.each(stores)('rate-limit counters in %s', (_name, open) => {
  let counters: CounterStore;
  let close: () => Promise<void>;
  /** A window of its own for each test: keys never meet another test's or another run's. */
  const window = (w: Omit<Window, 'prefix'>): Window => ({ prefix: `test:${randomUUID()}`, ...w });

  beforeAll(() => {
    ({ counters, close } = open());
  });

  afterAll(async () => {
    await close();
  });

  it('counts hits sent at once exactly, each once', async () => {
    const w = window({ points: 5, duration: 60 });
    const counts = await Promise.all(Array.from({ length: 12 }, () => counters.hit(w, 'key')));
    expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(counts.filter((c) => c.count <= w.points)).toHaveLength(5);
    for (const { msBeforeNext } of counts) {
      expect(msBeforeNext).toBeGreaterThan(55_000);
      expect(msBeforeNext).toBeLessThanOrEqual(60_000);
    }
    expect((await counters.peek(w, 'key'))?.count).toBe(12);
    expect(await counters.peek(w, 'other key')).toBeUndefined();
  });

  it('locks a key for the block duration at the hit over the limit', async () => {
    const w = window({ points: 2, duration: 60, blockDuration: 900 });
    await counters.hit(w, 'key');
    await counters.hit(w, 'key');
    const over = await counters.hit(w, 'key');
    expect(over.count).toBe(3);
    expect(over.msBeforeNext).toBeGreaterThan(895_000);
    // A refund or a clear does not lift the lock; later hits stay over the limit until it ends.
    await counters.refund(w, 'key');
    await counters.clear(w, 'key');
    const after = await counters.hit(w, 'key');
    expect(after.count).toBe(4);
    expect(after.msBeforeNext).toBeGreaterThan(895_000);
  });

  it('gives a hit back and forgets a key within the limit', async () => {
    const w = window({ points: 3, duration: 60 });
    await counters.hit(w, 'key');
    await counters.hit(w, 'key');
    await counters.refund(w, 'key');
    expect((await counters.peek(w, 'key'))?.count).toBe(1);
    await counters.refund(w, 'key');
    await counters.refund(w, 'key');
    expect((await counters.peek(w, 'key'))?.count ?? 0).toBe(0);
    await counters.hit(w, 'key');
    await counters.clear(w, 'key');
    expect(await counters.peek(w, 'key')).toBeUndefined();
    // A refund of a key never counted changes nothing.
    await counters.refund(w, 'never');
    expect(await counters.peek(w, 'never')).toBeUndefined();
  });

  it('starts a new window when the last one ended', async () => {
    const w = window({ points: 1, duration: 1 });
    await counters.hit(w, 'key');
    expect((await counters.hit(w, 'key')).count).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await counters.hit(w, 'key')).count).toBe(1);
  });
});

describe('Redis as the rate limits’ store', () => {
  it('makes an instance not ready while Redis cannot be reached', async () => {
    const redis = connectRedis('redis://127.0.0.1:1');
    const counters = new RedisCounters(redis);
    try {
      expect(await new Health(db, counters).readinessProblems()).toEqual({ rate_limits: 'redis unreachable' });
      // A count that cannot be made refuses the request (an error), never lets it through uncounted.
      await expect(counters.hit({ prefix: 'test', points: 1, duration: 60 }, 'key')).rejects.toThrow();
    } finally {
      await closeRedis(redis);
    }
  });
});
