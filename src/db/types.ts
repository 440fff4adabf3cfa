import type { Knex } from 'knex';

// The handle types every module uses, apart from the factory (index.ts) and the ambient
// transaction (transaction.ts), which both need them.

export type Db = Knex;
export type Tx = Knex.Transaction;
/** Anything a query can run on: the pool or an open transaction. */
export type Queryable = Knex | Knex.Transaction;
