import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/index.js';
import { NotFound, PlatformError } from '../errors.js';
import { withTimeout } from './health.js';

/** Calls to verification providers by provider, method and outcome, and their cost in fen. */
export interface ProviderCallCount {
  provider: string;
  method: string;
  outcome: string;
  calls: number;
  cost_fen: number;
}

/** Metric values as one process reports them (`Registry.getMetricsAsJSON`). */
export type ProcessMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** The process metrics of every process serving this address: this one, or each cluster worker. */
export type GatherProcessMetrics = (local: Registry) => Promise<ProcessMetrics[]>;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const DATABASE_TIMEOUT_MS = 2000;

/**
 * Prometheus metrics, of two kinds:
 *  - per process (HTTP requests, the database pool, audit appends, Node's defaults): in a cluster
 *    they are summed over the workers, so one scrape of any worker covers all of them;
 *  - read from the database at scrape time (provider calls and their cost, the audit log's size):
 *    every instance reports the same totals, whichever one is scraped; aggregate them with max(),
 *    never sum().
 */
export class PlatformMetrics {
  readonly processRegistry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly duration: Histogram<'route' | 'method' | 'status'>;
  private readonly inFlight: Gauge;
  private gather: GatherProcessMetrics = async (local) => [await local.getMetricsAsJSON()];

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    /** Verification provider calls and their cost (identity's ProviderCallTotals). */
    private readonly providerTotals: { read(): Promise<ProviderCallCount[]> },
    /** Security Event Tokens to merchants by outbox status (the outbox's securityEventCounts). */
    private readonly merchantEvents: { counts(): Promise<Record<string, number>> } = { counts: async () => ({}) },
    /** Password hashes and verifications running and waiting for a slot (accounts' PasswordHasher). */
    passwords?: { readonly load: { running: number; waiting: number } },
  ) {
    const registers = [this.processRegistry];
    collectDefaultMetrics({ register: this.processRegistry });
    const labelNames = ['route', 'method', 'status'] as const;
    this.requests = new Counter({
      name: 'realname_http_requests_total',
      help: 'HTTP requests by route pattern, method and status class.',
      labelNames,
      registers,
    });
    this.duration = new Histogram({
      name: 'realname_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern, method and status class.',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'realname_http_requests_in_flight',
      help: 'HTTP requests being served.',
      registers,
    });
    const auditAppends = new Counter({
      name: 'realname_audit_appends_total',
      help: 'Audit events appended in committed transactions since the processes started.',
      registers,
    });
    audit.onAppended((count) => auditAppends.inc(count));
    const pool = () => (this.db.client as { pool?: TarnPool }).pool;
    new Gauge({
      name: 'realname_db_pool_connections',
      help: 'Database connections by state, summed over cluster workers (PGlite: its one connection).',
      labelNames: ['state'],
      registers,
      collect() {
        const p = pool();
        this.set({ state: 'used' }, p?.numUsed() ?? 0);
        this.set({ state: 'free' }, p?.numFree() ?? 0);
      },
    });
    new Gauge({
      name: 'realname_db_pool_pending_acquires',
      help: 'Queries waiting for a database connection.',
      registers,
      collect() {
        this.set(pool()?.numPendingAcquires() ?? 0);
      },
    });
    new Gauge({
      name: 'realname_argon2_computations',
      help: 'Password hashes and verifications (argon2id) by state: running, or waiting for one of the slots.',
      labelNames: ['state'],
      registers,
      collect() {
        const load = passwords?.load ?? { running: 0, waiting: 0 };
        this.set({ state: 'running' }, load.running);
        this.set({ state: 'waiting' }, load.waiting);
      },
    });
    new Gauge({
      name: 'realname_db_pool_max',
      help: 'Most database connections the pools may open.',
      registers,
      collect() {
        this.set(pool()?.max ?? 0);
      },
    });
  }

  /** Replaces how the processes' metrics are gathered (a cluster worker asks the primary). */
  gatherWith(gather: GatherProcessMetrics): void {
    this.gather = gather;
  }

  /** Times every request; labels are bounded: route patterns, never raw paths. */
  observe() {
    return async (ctx: Context, next: Next) => {
      const end = this.duration.startTimer();
      this.inFlight.inc();
      try {
        await next();
      } finally {
        this.inFlight.dec();
        const labels = {
          route: routeOf(ctx),
          method: METHODS.has(ctx.method) ? ctx.method : 'other',
          status: `${Math.floor(ctx.status / 100)}xx`,
        };
        this.requests.inc(labels);
        end(labels);
      }
    };
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async exposition(): Promise<{ contentType: string; text: string }> {
    const [processes, database] = await Promise.all([this.gather(this.processRegistry), this.readDatabase()]);
    const merged = Registry.merge([AggregatorRegistry.aggregate(processes), database]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  /** The metrics read from the database, in a registry of this scrape's own. */
  private async readDatabase(): Promise<Registry> {
    const read = await withTimeout(
      Promise.all([this.providerTotals.read(), this.audit.size(), this.audit.queued(), this.merchantEvents.counts()]),
      DATABASE_TIMEOUT_MS,
    ).catch(() => undefined);
    const registers = [new Registry()];
    const labelNames = ['provider', 'method', 'outcome'] as const;
    const calls = new Counter({
      name: 'realname_provider_calls_total',
      help: 'Verification provider calls, from the database (all instances).',
      labelNames,
      registers,
    });
    const cost = new Counter({
      name: 'realname_provider_cost_yuan_total',
      help: 'Cost of verification provider calls in yuan, from the database (all instances).',
      labelNames,
      registers,
    });
    const size = new Gauge({
      name: 'realname_audit_log_size',
      help: 'Leaves in the audit log, from the database.',
      registers,
    });
    const queued = new Gauge({
      name: 'realname_audit_queued',
      help: 'Committed audit events waiting to become leaves, from the database.',
      registers,
    });
    const merchantEvents = new Gauge({
      name: 'realname_merchant_events',
      help: 'Security Event Tokens to merchants in the outbox by status (pending, sent, failed), from the database.',
      labelNames: ['status'],
      registers,
    });
    const up = new Gauge({
      name: 'realname_metrics_database_up',
      help: '1 when the database answered this scrape, else 0 (its metrics are then left out).',
      registers,
    });
    up.set(read ? 1 : 0);
    if (read) {
      for (const row of read[0]) {
        const labels = { provider: row.provider, method: row.method, outcome: row.outcome };
        calls.inc(labels, row.calls);
        cost.inc(labels, row.cost_fen / 100);
      }
      size.set(read[1]);
      queued.set(read[2]);
      for (const status of ['pending', 'sent', 'failed']) merchantEvents.set({ status }, read[3][status] ?? 0);
    }
    return registers[0]!;
  }
}

/**
 * The route a request matched, as its pattern: @koa/router (our routers) and oidc-provider's
 * router both leave it in `ctx._matchedRoute` (node_modules/oidc-provider/lib/helpers/router.js,
 * `routes()`). A path nothing matched is one label.
 */
function routeOf(ctx: Context): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

/** GET /metrics, for Prometheus; guarded by `metrics.token` (docs/operations.md#metrics). */
export function metricsRoutes(metrics: PlatformMetrics, config: Pick<Config, 'env' | 'metrics'>): Router {
  const router = new Router();
  const expected = config.metrics.token && digest(config.metrics.token);
  router.get('/metrics', async (ctx) => {
    if (expected) {
      const presented = /^Bearer (.+)$/i.exec(ctx.get('Authorization'))?.[1];
      if (!presented || !timingSafeEqual(digest(presented), expected)) {
        throw new PlatformError('metrics-unauthorized', 401, 'A bearer token is required.', {
          headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
        });
      }
    } else if (config.env === 'production') {
      throw new NotFound(); // not configured: as if there were no such page
    }
    const { contentType, text } = await metrics.exposition();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = text;
  });
  return router;
}

// Equal-length digests, so the comparison takes the same time whatever was presented.
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}
