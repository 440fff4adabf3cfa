import Router from '@koa/router';
import type { Context } from 'koa';
import { ping, type Db } from '../db/index.js';
import { pendingMigrations } from '../db/migrate.js';
import type { CounterStore } from '../rate-limits/counters.js';

/** How long the database gets to answer a readiness check. */
const DATABASE_TIMEOUT_MS = 2000;

/** What a readiness check found wrong, by check; empty when ready. */
export type ReadinessProblems = Partial<Record<'shutdown' | 'database' | 'migrations' | 'rate_limits', string>>;

/**
 * Liveness and readiness. Live: the process answers HTTP. Ready: it is not shutting down, the
 * database answers, every migration this code knows is applied, and the rate limits' store
 * answers (Redis, when they count there), so a balancer sends it requests. Neither check is audited.
 */
export class Health {
  private draining = false;

  constructor(
    private readonly db: Db,
    private readonly counters: CounterStore,
  ) {}

  /** From now on the process is not ready: a balancer drains it while in-flight requests finish. */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async readinessProblems(): Promise<ReadinessProblems> {
    if (this.draining) return { shutdown: 'shutting down' };
    try {
      await withTimeout(ping(this.db), DATABASE_TIMEOUT_MS);
    } catch (err) {
      // Not the error itself: /readyz is public, and a driver's message names hosts and ports.
      return {
        database: (err as Error).name === 'TimeoutError' ? `no answer within ${DATABASE_TIMEOUT_MS} ms` : 'unreachable',
      };
    }
    const pending = await withTimeout(pendingMigrations(this.db), DATABASE_TIMEOUT_MS).catch(() => undefined);
    if (!pending) return { migrations: 'could not be listed' };
    if (pending.length) return { migrations: `not applied: ${pending.join(', ')}` };
    // Where the rate limits count elsewhere (Redis), a request could not be counted, so not served.
    const counted = await withTimeout(this.counters.ping(), DATABASE_TIMEOUT_MS).then(
      () => true,
      () => false,
    );
    return counted ? {} : { rate_limits: `${this.counters.kind} unreachable` };
  }
}

/** GET /healthz (liveness) and GET /readyz (readiness; 503 problem+json naming what is wrong). */
export function healthRoutes(health: Health): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const problems = await health.readinessProblems();
    if (Object.keys(problems).length === 0) {
      ctx.body = { status: 'ready' };
      return;
    }
    notReady(ctx, problems);
  });
  return router;
}

// Rendered here, not thrown: probes send no Accept header, and the error handler would give them
// an HTML page; a balancer and an operator both read this JSON (RFC 9457).
function notReady(ctx: Context, problems: ReadinessProblems): void {
  ctx.status = 503;
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: 'urn:realname:problem:not-ready',
    title: 'not-ready',
    status: 503,
    detail: `Not ready: ${Object.entries(problems)
      .map(([check, problem]) => `${check} ${problem}`)
      .join('; ')}.`,
    checks: problems,
  };
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** `work`, or a TimeoutError after `ms` (the work itself is not cancelled). */
export function withTimeout<T>(work: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
