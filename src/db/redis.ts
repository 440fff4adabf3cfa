import { Redis } from 'ioredis';

// The one Redis connection of a process, when `REDIS_URL` is set: the rate limits count there
// (src/rate-limits/redis.ts) and oidc-provider's interactions are kept there
// (src/oidc/adapter.ts). Each user prefixes its own keys.

export function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    // A request waits for Redis at most one reconnection: a limit that cannot be counted refuses
    // the request (an error) rather than letting it through uncounted, and an interaction that
    // cannot be read is a failed step the person can take again.
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Connects at the first command: the CLI and the jobs build the same services and send none.
    lazyConnect: true,
    // The commands a request sends at once (its counts) leave in one write and one round trip.
    enableAutoPipelining: true,
  });
  // Errors reach the requests that sent commands; a connection's own events are not worth a crash.
  redis.on('error', () => undefined);
  return redis;
}

export async function closeRedis(redis: Redis): Promise<void> {
  // A connection that is not up (never made, or being retried) is dropped with its retries.
  if (redis.status === 'ready') await redis.quit();
  else redis.disconnect();
}
