/**
 * Waiting in tests without racing the clock: wait for the thing itself, never for a fixed time.
 * `until` polls a condition that has no event (a row, a statistic, an active handle), returning as
 * soon as it holds; `watchRuns` turns the runs of a background job into events a test can await.
 */

/**
 * Polls `probe` until it returns something other than undefined, null or false, and returns that.
 * The deadline only bounds a failure: a condition that holds ends the wait at the next poll, so it
 * can be generous enough for a loaded machine at no cost to a passing test.
 */
export async function until<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { what, timeoutMs = 10_000, intervalMs = 20 }: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Watches the runs of `object[method]` (an async method a scheduler calls through `this`) from now
 * on. `started` counts the runs begun; `finished(n)` resolves once the n-th run since watching
 * began has settled (fulfilled or rejected: the scheduler reports its errors itself), or rejects
 * after `timeoutMs`. `restore` puts the method back.
 */
export function watchRuns<O extends object, K extends keyof O>(object: O, method: K) {
  const own = Object.getOwnPropertyDescriptor(object, method);
  const original = object[method] as (...args: unknown[]) => Promise<unknown>;
  let started = 0;
  let settled = 0;
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  Object.defineProperty(object, method, {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      started += 1;
      const run = original.apply(object, args);
      const done = () => {
        settled += 1;
        for (const waiter of waiting.filter((w) => w.n <= settled)) {
          waiting.splice(waiting.indexOf(waiter), 1);
          waiter.resolve();
        }
      };
      run.then(done, done);
      return run;
    },
  });
  return {
    get started() {
      return started;
    },
    finished(n: number, timeoutMs = 10_000): Promise<void> {
      if (n <= settled) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`timed out after ${timeoutMs} ms waiting for run ${n} of ${String(method)}`));
        }, timeoutMs);
        waiting.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    restore() {
      if (own) Object.defineProperty(object, method, own);
      else delete (object as Record<PropertyKey, unknown>)[method as PropertyKey];
    },
  };
}

/** `promise`, or a rejection naming `what` if it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
