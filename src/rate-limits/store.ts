import type { Knex } from 'knex';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { Db } from '../db/index.js';

/** The table of migration 010, shared by every limit (each has its own key prefix). */
const TABLE = 'rate_limits';

/** Runs one statement on a pooled connection of its own (never a request's transaction). */
type RunStatement = (text: string, values: unknown[]) => Promise<void>;

/**
 * The SQL of the rate limits: rate-limiter-flexible's RateLimiterPostgres counts hits in
 * `rate_limits`; giving a hit back and clearing a key are our own single conditional statements.
 * Everything runs on a connection of its own, never a request's transaction (see limiterStore).
 */
export class RateLimitStore {
  private readonly store: ReturnType<typeof limiterStore>;
  private readonly run: RunStatement;

  constructor(db: Db) {
    this.store = limiterStore(db);
    this.run = runStatement(this.store);
  }

  /** A limiter counting in the shared table under its own key prefix. */
  limiter(options: {
    keyPrefix: string;
    clearExpiredByTimeout: boolean;
    points: number;
    duration: number;
    blockDuration?: number;
  }): RateLimiterPostgres {
    return new RateLimiterPostgres({
      storeClient: this.store,
      storeType: 'knex',
      tableName: TABLE,
      tableCreated: true,
      ...options,
    });
  }

  /** Takes one hit off a stored key whose count is within `points` and whose window has not ended at `now`. */
  async refund(storedKey: string, points: number, now: number): Promise<void> {
    await this.run(
      `UPDATE ${TABLE} SET points = points - 1 WHERE key = $1 AND points > 0 AND points <= $2 AND (expire IS NULL OR expire > $3)`,
      [storedKey, points, now],
    );
  }

  /** Deletes a stored key's row if its count is within `points`. */
  async clear(storedKey: string, points: number): Promise<void> {
    await this.run(`DELETE FROM ${TABLE} WHERE key = $1 AND points <= $2`, [storedKey, points]);
  }
}

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
