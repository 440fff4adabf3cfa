import type { Queryable } from '../db/index.js';

export interface OperatorRow {
  account_id: string;
  created_at: Date;
}

/** Makes the account an operator; false when it already was one. */
export async function insertOperator(db: Queryable, accountId: string): Promise<boolean> {
  const inserted = await db('operators')
    .insert({ account_id: accountId })
    .onConflict('account_id')
    .ignore()
    .returning('account_id');
  return inserted.length > 0;
}

/** Ends the account's operator role; false when it had none. */
export async function deleteOperator(db: Queryable, accountId: string): Promise<boolean> {
  return (await db('operators').where({ account_id: accountId }).delete().returning('account_id')).length > 0;
}

export function findOperator(db: Queryable, accountId: string): Promise<OperatorRow | undefined> {
  return db<OperatorRow>('operators').where({ account_id: accountId }).first();
}

export function listOperators(db: Queryable): Promise<OperatorRow[]> {
  return db<OperatorRow>('operators').orderBy('created_at');
}
