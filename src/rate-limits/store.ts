import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/index.js';
import type { Count, CounterStore, Window } from './counters.js';

/** The table of migration 010, shared by every limit (each has its own key prefix). */
const TABLE = 'rate_limits';

/** Runs one statement on a pooled connection of its own (never a request's transaction). */
type RunStatement = (text: string, values: unknown[]) => Promise<void>;

/**
 * Counts in the database, so that every instance sees the same counts: rate-limiter-flexible's
 * RateLimiterPostgres counts hits in `rate_limits` with one `INSERT … ON CONFLICT DO UPDATE …
 * RETURNING` per hit (and one more for the hit that locks); giving a hit back and clearing a key
 * are our own single conditional statements. Everything runs on a connection of its own, never a
 * request's transaction (see limiterStore).
 */
export class DatabaseCounters implements CounterStore {
  readonly kind = 'database';
  private readonly store: ReturnType<typeof limiterStore>;
  private readonly run: RunStatement;
  private readonly limiters = new Map<string, RateLimiterPostgres>();

  constructor(db: Db) {
    this.store = limiterStore(db);
    this.run = runStatement(this.store);
  }

  async hit(window: Window, key: string): Promise<Count> {
    try {
      return counted(await this.limiter(window).consume(key));
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) return counted(outcome);
      throw outcome;
    }
  }

  async peek(window: Window, key: string): Promise<Count | undefined> {
    const state = await this.limiter(window).get(key);
    return state ? counted(state) : undefined;
  }

  async refund(window: Window, key: string): Promise<void> {
    await this.run(
      `UPDATE ${TABLE} SET points = points - 1 WHERE key = $1 AND points > 0 AND points <= $2 AND (expire IS NULL OR expire > $3)`,
      [this.limiter(window).getKey(key), window.points, Date.now()],
    );
  }

  async clear(window: Window, key: string): Promise<void> {
    await this.run(`DELETE FROM ${TABLE} WHERE key = $1 AND points <= $2`, [
      this.limiter(window).getKey(key),
      window.points,
    ]);
  }

  // The database's own readiness is checked with it (src/http/health.ts).
  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  /** The window's limiter, counting in the shared table under its own key prefix. */
  private limiter(window: Window): RateLimiterPostgres {
    let limiter = this.limiters.get(window.prefix);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient: this.store,
        storeType: 'knex',
        tableName: TABLE,
        tableCreated: true,
        keyPrefix: window.prefix,
        points: window.points,
        duration: window.duration,
        blockDuration: window.blockDuration,
        // Expired rows of every limit share the table: one limiter's periodic clean-up is enough.
        clearExpiredByTimeout: this.limiters.size === 0,
      });
      this.limiters.set(window.prefix, limiter);
    }
    return limiter;
  }
}

const counted = (res: RateLimiterRes): Count => ({ count: res.consumedPoints, msBeforeNext: res.msBeforeNext });

/**
 * Our knex pool as RateLimiterPostgres's `knex` store type uses it (`client.acquireConnection()`,
 * then `connection.query({ text, values })` as node-postgres answers it). The pool itself, never
 * the ambient transaction: `db.client` is the pool even inside one (db/transaction.ts). PGlite's
 * one connection answers `query(text, values)` and has no `rowCount`, so it is wrapped to match.
 */
function limiterStore(db: Db) {
  const pool = db.client as Knex.Client & { pglite?: PgliteLike };
  return {
    client: {
      acquireConnection: async () => {
        // Inside a transaction on PGlite this would wait for that transaction forever.
        if ((db as { isTransaction?: boolean }).isTransaction)
          throw new Error('rate limits are counted outside transactions');
        const connection = (await pool.acquireConnection()) as unknown;
        return connection === pool.pglite ? new PgliteConnection(connection as PgliteLike) : connection;
      },
      releaseConnection: (connection: unknown) =>
        pool.releaseConnection(connection instanceof PgliteConnection ? connection.pglite : connection),
    },
  };
}

/** Runs one statement on a connection of the limiter's store, released after. */
function runStatement(store: ReturnType<typeof limiterStore>): RunStatement {
  return async (text, values) => {
    const connection = (await store.client.acquireConnection()) as {
      query(q: { text: string; values: unknown[] }): Promise<unknown>;
    };
    try {
      await connection.query({ text, values });
    } finally {
      await store.client.releaseConnection(connection);
    }
  };
}

interface PgliteLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
}

class PgliteConnection {
  constructor(readonly pglite: PgliteLike) {}

  async query(q: { text: string; values?: unknown[] }) {
    const result = await this.pglite.query(q.text, q.values ?? []);
    return { rows: result.rows, rowCount: Math.max(result.rows.length, result.affectedRows ?? 0) };
  }
}
