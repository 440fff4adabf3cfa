import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, Tx } from './types.js';

// A transaction that code called deep inside a library joins: oidc-provider saves its models and
// looks up clients and accounts through our code without a way to pass a transaction, so the
// database handle itself routes queries to the transaction opened around the call.

const current = new AsyncLocalStorage<Tx>();

/** The transaction `inTransaction` opened around the running code, if any. */
export function ambientTransaction(): Tx | undefined {
  return current.getStore();
}

/**
 * Runs `work` in one transaction that every query made during it joins (see below), so a
 * grant oidc-provider saves and the audit event recording it commit together or not at all.
 * The database handle from `createDb` joins it on its own (PGlite has a single connection).
 */
export function inTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>): Promise<T> {
  const outer = current.getStore();
  return (outer ?? db).transaction((tx) => current.run(tx, () => work(tx)));
}

/**
 * The database handle every module gets: inside `inTransaction`, every query made through it runs
 * in that transaction (a `transaction()` inside becomes a savepoint). Required on PGlite, which
 * has one connection: a query outside the open transaction would wait for it forever.
 */
export function joinsAmbientTransaction(db: Db): Db {
  return new Proxy(db, {
    apply(target, thisArg, args) {
      return Reflect.apply((current.getStore() ?? target) as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, property, receiver) {
      const tx = current.getStore();
      // The pool itself is never swapped: closing it or reading its settings means the pool.
      if (!tx || property === 'destroy' || property === 'client') return Reflect.get(target, property, receiver);
      const value = Reflect.get(tx, property);
      return typeof value === 'function' ? value.bind(tx) : value;
    },
  }) as Db;
}

/**
 * Throws when a transaction is open (`inTransaction`), for an operation that promises a
 * transaction of its own: inside a caller's it would become a savepoint, committed only with
 * the caller's transaction.
 */
export function assertNoTransaction(operation: string, reason: string): void {
  if (current.getStore()) throw new Error(`${operation} runs outside transactions: ${reason}`);
}

/**
 * Runs `work` once the open transaction (the outermost one: a savepoint's release is no commit)
 * has committed, or at once outside a transaction; never when it rolls back. For effects outside
 * the database that must follow only a change that took effect (e.g. telling merchants).
 */
export function afterCommit(work: () => void): void {
  let tx = current.getStore();
  if (!tx) return work();
  while (tx.parentTransaction) tx = tx.parentTransaction;
  // The rejection of a rolled-back transaction is its caller's to handle.
  tx.executionPromise.then(work, () => undefined);
}
