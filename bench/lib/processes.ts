import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// Every server and every load generator is its own process, so none shares another's event loop.

export { freePort } from '../../test/helpers/process.js';

export interface Service {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** SIGTERM, then waits for the exit (a CPU profile is written on exit). */
  stop(): Promise<void>;
}

/** Services still running, stopped when the bench exits however it exits (a crash, Ctrl-C). */
const running = new Set<ChildProcess>();
let reaping = false;

function reapOnExit(): void {
  if (reaping) return;
  reaping = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

/** Starts `node [nodeArgs] <entry>` (through tsx for a .ts entry) with exactly `env` (plus PATH and HOME), in `cwd`. */
export function startService(
  entry: string,
  env: Record<string, string>,
  options: { nodeArgs?: string[]; cwd?: string } = {},
): Service {
  // TypeScript entries run through tsx; the platform itself runs compiled, as in production.
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry],
    {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  reapOnExit();
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once `url` answers 200, or fails with the service's output if it exits or times out. */
export async function waitUntilAnswering(url: string, service: Service, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null)
      throw new Error(`${url}: the process exited (${service.child.exitCode}):\n${service.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s:\n${service.output()}`);
}

/**
 * Runs a bench child (`bench/.../*.ts` exporting nothing, reading one IPC message of input and
 * sending one of output) in its own process and returns its output.
 */
export async function runChild<In, Out>(moduleUrl: URL, input: In): Promise<Out> {
  const child = fork(fileURLToPath(moduleUrl), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const answer = new Promise<Out>((resolve, reject) => {
    child.once('message', (message) => {
      const { error, result } = message as { error?: string; result?: Out };
      if (error) reject(new Error(error));
      else resolve(result as Out);
    });
    child.once('exit', (code) => reject(new Error(`${moduleUrl.pathname} exited with ${code} before answering`)));
  });
  child.send(input as object);
  try {
    return await answer;
  } finally {
    if (child.exitCode === null) await once(child, 'exit');
  }
}

/** The child side of `runChild`: receives the input, runs `work`, sends the result and exits. */
export function serveChild<In, Out>(work: (input: In) => Promise<Out>): void {
  // The bench went away (a crash, Ctrl-C): so does its load.
  process.once('disconnect', () => process.exit(1));
  process.once('message', (input) => {
    work(input as In).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1)),
    );
  });
}
