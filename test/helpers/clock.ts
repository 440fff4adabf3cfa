import { jest } from '@jest/globals';

// Every API Jest's modern fake timers can replace, but Date: timers, microtasks, process.hrtime
// and performance stay real, so sockets, timeouts, retries and the database run as usual.
const REAL = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
  'Temporal',
] as const;

/**
 * Stops the wall clock (`Date`, in the test and in the platform it runs in-process) where it is,
 * for code that measures a duration with `Date.now()`: cockatiel's circuit breaker, oidc-provider's
 * `auth_time`, the age of a verification. From then on it moves only by `advance`, so a test is
 * past a duration at once instead of sleeping through it, and nothing it checks can expire while
 * it checks it. `restore` (also safe in an afterEach) puts the real clock back.
 */
export function stopWallClock(): { advance(ms: number): void; restore(): void } {
  jest.useFakeTimers({ doNotFake: [...REAL] });
  return {
    advance: (ms) => jest.setSystemTime(Date.now() + ms),
    restore: () => jest.useRealTimers(),
  };
}
