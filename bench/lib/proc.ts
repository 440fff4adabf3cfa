import { readFileSync } from 'node:fs';
import type { HeapReport } from '../server/metrics.js';

// Resident set and CPU time of server processes, from /proc (proc(5)): VmRSS in
// /proc/<pid>/status, utime + stime in /proc/<pid>/stat. CPU time per request is the measure that
// holds up best on a busy machine: other processes stretch a request's latency, not its CPU time.

const INTERVAL_MS = 200;
/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on Linux. */
const TICKS = 100;

/** A process's resident set in MiB, or undefined once it is gone (or off Linux). */
export function rssMib(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The largest resident set of any one of `pids` right now, in MiB. */
export function largestRss(pids: number[]): number {
  return Math.max(0, ...pids.map((pid) => rssMib(pid) ?? 0));
}

/** CPU seconds (user + system) each process has used so far; gone processes are left out. */
export function cpuByPid(pids: number[]): Map<number, number> {
  const used = new Map<number, number>();
  for (const pid of pids) {
    try {
      // After the last ')' (comm may hold spaces): state is field 3, utime 14 and stime 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      used.set(pid, (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // gone
    }
  }
  return used;
}

export function cpuSeconds(pids: number[]): number {
  return [...cpuByPid(pids).values()].reduce((a, b) => a + b, 0);
}

/**
 * CPU seconds a changing set of processes (a database's backends, which a pool opens as it
 * grows) used between `start()` and `stop()`: a process seen only at the end counts from its start.
 */
export function cpuMeter(pids: () => Promise<number[]>) {
  let before = new Map<number, number>();
  return {
    start: async () => {
      before = cpuByPid(await pids());
    },
    stop: async () => {
      let used = 0;
      for (const [pid, seconds] of cpuByPid([...new Set([...before.keys(), ...(await pids())])]))
        used += seconds - (before.get(pid) ?? 0);
      return used;
    },
  };
}

export interface Usage {
  /** Largest resident set one process reached (MiB). */
  maxRssMib: number;
  /** CPU seconds all the processes used, and over how many wall-clock seconds. */
  cpuSeconds: number;
  seconds: number;
  /** CPU seconds the database server's backends used meanwhile (PostgreSQL). */
  dbCpuSeconds?: number;
  /** What `dbCpuSeconds` counts, as the table names it (default: PostgreSQL). */
  dbLabel?: string;
  /** What the database's sessions were doing meanwhile (PostgreSQL; see database.ts). */
  sessions?: Record<string, number>;
  /** The V8 heap right after the load, by the server's own account (one process only). */
  heapAfter?: HeapReport;
}

/**
 * Runs `work` while sampling the resident set of each of `pids` every 200 ms and counting their
 * CPU time, and that of the database backends `backends` lists.
 */
export async function whileSampling<T>(
  pids: number[],
  work: () => Promise<T>,
  backends?: () => Promise<number[]>,
): Promise<{ result: T; usage: Usage }> {
  let max = largestRss(pids);
  const timer = setInterval(() => {
    max = Math.max(max, largestRss(pids));
  }, INTERVAL_MS);
  const db = backends && cpuMeter(backends);
  await db?.start();
  const cpuBefore = cpuSeconds(pids);
  const started = performance.now();
  try {
    const result = await work();
    const usage: Usage = {
      maxRssMib: Math.round(Math.max(max, largestRss(pids))),
      cpuSeconds: cpuSeconds(pids) - cpuBefore,
      seconds: (performance.now() - started) / 1000,
    };
    if (db) usage.dbCpuSeconds = await db.stop();
    return { result, usage };
  } finally {
    clearInterval(timer);
  }
}

/**
 * CPU time per request (ms, all the processes) at `perSecond`: CPU use over the sampled span
 * (warm-up included, at about the same rate) divided by the rate.
 */
export function cpuMsPerRequest(usage: Usage, perSecond: number, cpuSeconds = usage.cpuSeconds): number {
  return perSecond > 0 ? (cpuSeconds / usage.seconds / perSecond) * 1000 : NaN;
}
