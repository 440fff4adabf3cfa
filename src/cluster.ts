import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { createDb } from './db/index.js';
import { migrateLatest } from './db/migrate.js';
import { PlatformError } from './errors.js';
import type { ProcessMetrics } from './http/metrics.js';
import { createLogger } from './logger.js';
import type { Platform } from './platform.js';

// A multi-process start on one host (node:cluster): the primary forks workers, each a whole
// platform on the same PostgreSQL database, sharing the listening socket (the primary hands
// connections out round-robin). The primary serves nothing itself: it migrates once, keeps the
// workers running, forwards SIGTERM, and sums the workers' metrics for /metrics.

/** Restart delays of a worker that keeps dying soon after its start: 0.5 s doubling to 30 s. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before dying is restarted at once, its slot's backoff reset. */
const STABLE_AFTER_MS = 30_000;
/** Consecutive deaths of a slot's workers before they ever listened, after which the cluster gives up. */
const MAX_START_FAILURES = 5;
/** How long the primary waits for each worker's metrics. */
const METRICS_TIMEOUT_MS = 2000;

const METRICS_REQUEST = 'realname:metrics-request';
const METRICS_RESPONSE = 'realname:metrics-response';
const COLLECT_REQUEST = 'realname:collect-request';
const COLLECT_RESPONSE = 'realname:collect-response';

interface Message {
  type: string;
  id: number;
  processes?: ProcessMetrics[];
  metrics?: ProcessMetrics;
}

/** Worker processes to start: 0 means no cluster. */
export function workerCount(config: Config): number {
  return config.cluster.workers === 'auto' ? availableParallelism() : config.cluster.workers;
}

interface Slot {
  index: number;
  worker?: Worker;
  startedAt: number;
  listened: boolean;
  /** Deaths in a row, each before STABLE_AFTER_MS: the restart backoff. */
  failures: number;
  /** Deaths in a row before listening: a start that cannot succeed (configuration, port). */
  startFailures: number;
  restart?: NodeJS.Timeout;
}

/**
 * Runs the cluster's primary until SIGTERM/SIGINT. Only slot 0's worker runs the scheduled jobs
 * (and creates the demo merchant): they are safe to run concurrently, but N copies would only
 * repeat each other's work (docs/operations.md#cluster).
 */
export async function startCluster(config: Config, started: number): Promise<void> {
  if (!config.databaseUrl) {
    throw new ConfigError([
      'cluster.workers: the embedded PGlite database belongs to one process; set DATABASE_URL (PostgreSQL) to run a cluster, or CLUSTER_WORKERS=0',
    ]);
  }
  const logger = createLogger(config.logLevel).child({ role: 'primary' });
  // Once, here: an unreachable database stops the start instead of every worker crash-looping.
  // Two connections: migrateLatest holds its advisory lock on one and migrates on the other.
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }

  const count = workerCount(config);
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    startedAt: 0,
    listened: false,
    failures: 0,
    startFailures: 0,
  }));
  const slotOf = (worker: Worker) => slots.find((s) => s.worker === worker);
  let stopping = false;
  let exitCode = 0;
  let announced = false;

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    slot.startedAt = Date.now();
    slot.listened = false;
    slot.worker = cluster.fork({
      SCHEDULED_JOBS: String(config.scheduledJobs && slot.index === 0),
      DEMO_MERCHANT: String(config.demoMerchant && slot.index === 0),
    });
  };

  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ reason }, 'stopping the workers');
    for (const slot of slots) clearTimeout(slot.restart);
    const running = slots.filter((s) => s.worker);
    if (running.length === 0) process.exit(exitCode);
    for (const slot of running) slot.worker!.process.kill('SIGTERM');
    // Workers bound their own drain by shutdownTimeout; this only catches one that hangs.
    setTimeout(
      () => {
        logger.error('workers did not stop in time; killing them');
        exitCode = 1;
        for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      },
      (config.shutdownTimeout + 15) * 1000,
    ).unref();
  };

  cluster.on('listening', (worker) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.listened = true;
    slot.startFailures = 0;
    if (!announced && slots.every((s) => s.listened)) {
      announced = true;
      announce(config, count, started);
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.worker = undefined;
    if (stopping) {
      // After SIGTERM a worker's exit code is its own shutdown's: 0 when it drained cleanly.
      if (code !== 0) exitCode = 1;
      if (slots.every((s) => !s.worker)) process.exit(exitCode);
      return;
    }
    slot.failures = Date.now() - slot.startedAt >= STABLE_AFTER_MS ? 0 : slot.failures + 1;
    if (!slot.listened) slot.startFailures += 1;
    if (slot.startFailures >= MAX_START_FAILURES) {
      logger.fatal(
        { slot: slot.index, code, signal },
        `workers died ${MAX_START_FAILURES} times in a row before listening; giving up`,
      );
      stop('workers cannot start', 1);
      return;
    }
    const delay = slot.failures === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.failures - 1));
    logger.error(
      { slot: slot.index, workerPid: worker.process.pid, code, signal, restartInMs: delay },
      'a worker died; restarting it',
    );
    slot.restart = setTimeout(() => fork(slot), delay);
  });

  cluster.on('message', (worker, message: Message) => {
    if (message?.type === METRICS_REQUEST) void answerMetricsRequest(worker, message.id);
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  for (const slot of slots) fork(slot);
}

function announce(config: Config, count: number, started: number): void {
  console.log(
    `Real-name authorization platform ready in ${Math.round(performance.now() - started)} ms (cluster: ${count} workers, primary pid ${process.pid})`,
  );
  console.log(`  open:      ${config.issuer}/`);
  console.log(`  discovery: ${config.issuer}/.well-known/openid-configuration`);
  console.log('  database:  PostgreSQL');
}

/** Primary: gathers every worker's process metrics and sends them to the worker that asked. */
async function answerMetricsRequest(requester: Worker, id: number): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
  const processes = await Promise.all(workers.map((w) => collectFrom(w)));
  if (requester.isConnected())
    requester.send({
      type: METRICS_RESPONSE,
      id,
      processes: processes.filter((p): p is ProcessMetrics => !!p),
    } satisfies Message);
}

let nextId = 0;

function collectFrom(worker: Worker): Promise<ProcessMetrics | undefined> {
  const id = nextId++;
  return new Promise((resolve) => {
    // A worker that is shutting down or stuck is left out of this scrape rather than failing it.
    const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS);
    const onMessage = (message: Message) => {
      if (message?.type === COLLECT_RESPONSE && message.id === id) done(message.metrics);
    };
    const done = (metrics: ProcessMetrics | undefined) => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(metrics);
    };
    const onExit = () => done(undefined);
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.send({ type: COLLECT_REQUEST, id } satisfies Message);
  });
}

/**
 * Worker: answers the primary's requests for this process's metrics, and makes /metrics report
 * the sum over all workers (asked of the primary), so any worker a scrape lands on tells the whole
 * cluster.
 */
export function joinCluster(platform: Platform, logger: Logger): void {
  const waiting = new Map<number, (processes: ProcessMetrics[] | undefined) => void>();
  let next = 0;
  process.on('message', (message: Message) => {
    if (message?.type === COLLECT_REQUEST) {
      platform.metrics.processRegistry.getMetricsAsJSON().then(
        (metrics) => process.send?.({ type: COLLECT_RESPONSE, id: message.id, metrics } satisfies Message),
        (err: unknown) => logger.error({ err }, 'collecting metrics for the primary failed'),
      );
    } else if (message?.type === METRICS_RESPONSE) {
      waiting.get(message.id)?.(message.processes);
    }
  });
  platform.metrics.gatherWith(async () => {
    const id = next++;
    const processes = await new Promise<ProcessMetrics[] | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), METRICS_TIMEOUT_MS * 2);
      waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      process.send?.({ type: METRICS_REQUEST, id } satisfies Message);
    }).finally(() => waiting.delete(id));
    if (!processes) throw new PlatformError('metrics-unavailable', 503, 'The cluster primary did not answer.');
    return processes;
  });
}
