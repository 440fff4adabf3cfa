/**
 * Runs `task` every `intervalMs` in the background, never two runs at once (a slow run skips the
 * ticks it overlaps), without keeping the process alive. Returns a stop function.
 */
export function repeat(task: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
