/**
 * Runs `task` every `intervalMs` in the background, never two runs at once (a slow run skips the
 * ticks it overlaps), without keeping the process alive. The returned stop function cancels the
 * next runs and resolves once a run in progress has finished, so nothing touches the database
 * after its owner closed it.
 */
export function repeat(
  task: () => Promise<unknown>,
  intervalMs: number,
  onError: (err: unknown) => void,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .then(() => undefined, onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
