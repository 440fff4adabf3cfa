import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, Queryable, Tx } from './index.js';

// A transaction that code called deep inside a library joins: oidc-provider saves its models
// through our adapter without a way to pass a transaction, so the adapter asks `joined(db)`.

const current = new AsyncLocalStorage<Tx>();

/**
 * Runs `work` in one transaction that adapter writes made during it join (see `joined`), so a
 * grant oidc-provider saves and the audit event recording it commit together or not at all.
 * Inside, query only through `tx` or `joined(db)`: PGlite has a single connection.
 */
export function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction((tx) => current.run(tx, () => work(tx)));
}

/** The transaction opened by `inTransaction` around this call, else `db`. */
export function joined(db: Queryable): Queryable {
  return current.getStore() ?? db;
}
