import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BenchDatabase } from '../lib/database.js';
import { freePort, startService, waitUntilAnswering, type Service } from '../lib/processes.js';
import { largestRss } from '../lib/proc.js';
import { generousLimits, hasOption, serverRoot, withSetting } from './config-overlay.js';
import { heapReport, type HeapReport } from './metrics.js';

// The platform under test: the real `src/main.ts` in its own processes, over loopback, configured
// as an operator would (config/test.json overlaid, see config-overlay.ts).

export interface Layout {
  /** As the table shows it. */
  name: string;
  /** Server processes doing the work (one per core is the targets' assumption). */
  processes: number;
  /** `cluster`: one port, node:cluster workers; `ports`: one process per port, load split by the client. */
  mode: 'single' | 'cluster' | 'ports';
}

export interface RunningServer {
  layout: Layout;
  /** Where to send load: one URL per listening port. */
  urls: string[];
  issuer: string;
  /** The processes serving requests (the workers, for a cluster). */
  pids: number[];
  /** Largest resident set of one serving process, idle after start (MiB). */
  idleRssMib: number;
  /** What the idle server says its memory is (its /metrics), when it says. */
  idleHeap?: HeapReport;
  stop(): Promise<void>;
}

/**
 * The layouts to measure on an engine: PGlite is single-process; PostgreSQL two processes (a
 * cluster when the tree has `cluster.workers`, else two ports), then one.
 */
export async function layoutsFor(engine: BenchDatabase['engine']): Promise<Layout[]> {
  const one: Layout = { name: '1 process', processes: 1, mode: 'single' };
  if (engine === 'pglite') return [one];
  const two: Layout = (await hasOption('cluster.workers'))
    ? { name: 'cluster, 2 workers', processes: 2, mode: 'cluster' }
    : { name: '2 processes, 2 ports', processes: 2, mode: 'ports' };
  return [two, one];
}

export interface ServerOptions {
  /** Write a V8 CPU profile of each process here on exit. */
  profileDir?: string;
  /** REDIS_URL: where the servers count rate limits. */
  redisUrl?: string;
}

/** The platform as production runs it: compiled (`npm run build`) into dist/, no tsx. */
const MAIN = resolve('dist/src/main.js');

/**
 * The environment and Node.js flags of `npm run serve` (package.json), so the bench runs what
 * production runs.
 */
function serveCommand(): { env: Record<string, string>; flags: string[] } {
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  const match = /^((?:[A-Z_]+=\S+ )*)node((?: --[\w-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(scripts.serve ?? '');
  if (!match)
    throw new Error(
      `package.json's serve script is not "[VAR=value …] node [--flags] dist/src/main.js": ${scripts.serve}`,
    );
  const env = Object.fromEntries(
    match[1]!
      .trim()
      .split(' ')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  return { env, flags: match[2]!.trim().split(' ').filter(Boolean) };
}

/**
 * Compiles the platform, so the servers run this tree's code as production would (tsx, for one,
 * keeps every module's source and source map: 190 MiB idle against 117 compiled, measured).
 */
export function buildPlatform(): void {
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}

export async function startPlatformServer(
  database: BenchDatabase,
  layout: Layout,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const ports = await Promise.all(Array.from({ length: layout.mode === 'ports' ? layout.processes : 1 }, freePort));
  const issuer = `http://127.0.0.1:${ports[0]}`;
  let settings = await generousLimits();
  if (layout.mode === 'cluster') settings = withSetting(settings, 'cluster.workers', layout.processes);
  const root = await serverRoot(settings);
  const serve = serveCommand();
  const env: Record<string, string> = {
    ...serve.env,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    ISSUER: issuer,
    LOG_LEVEL: 'warn',
    DEMO_MERCHANT: 'false',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : { DATA_DIR: database.dataDir }),
  };
  const nodeArgs = [...serve.flags, ...(options.profileDir ? profileArgs(options.profileDir) : [])];
  const services: Service[] = ports.map((port) =>
    startService(MAIN, { ...env, PORT: String(port) }, { nodeArgs, cwd: root.dir }),
  );
  const stop = async () => {
    await Promise.all(services.map((s) => s.stop()));
    await root.remove();
  };
  try {
    await Promise.all(
      services.map((s, i) => waitUntilAnswering(`http://127.0.0.1:${ports[i]}/.well-known/openid-configuration`, s)),
    );
    const pids =
      layout.mode === 'cluster' ? await workersOf(services[0]!, layout.processes) : services.map((s) => s.pid);
    // Settle (first requests compile templates and routes), then read the idle resident set.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    return {
      layout,
      urls,
      issuer,
      pids,
      idleRssMib: Math.round(largestRss(pids)),
      idleHeap: await heapReport(urls[0]!),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function profileArgs(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', resolve(dir)];
}

/** The cluster primary's worker processes (its children, from /proc), once `count` are up. */
async function workersOf(primary: Service, count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 150 && childrenOf(primary.pid).length < count; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const workers = childrenOf(primary.pid);
  if (workers.length < count)
    throw new Error(`the cluster started ${workers.length} of ${count} workers:\n${primary.output()}`);
  return workers;
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // proc(5) stat: pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
