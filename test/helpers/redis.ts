/** The Redis server the tests of the shared rate-limit store use (the machine's own, as CI's). */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
