import type { Queryable } from '../db/index.js';

export interface PasswordResetRow {
  id: string;
  account_id: string;
  code_hash: string;
  failures: number;
  created_at: Date;
  expires_at: Date;
  ended_at: Date | null;
}

/** Records a code sent; every earlier code of the account that is still open ends (only the newest works). */
export async function insertReset(
  db: Queryable,
  row: Pick<PasswordResetRow, 'id' | 'account_id' | 'code_hash' | 'expires_at'>,
): Promise<void> {
  await endOpenResets(db, row.account_id);
  await db('password_resets').insert(row);
}

/**
 * The account's open code (the newest, not ended, not expired, failures under `maxFailures`),
 * locked for the caller's transaction so two tries of one code are checked one after the other.
 */
export async function openResetOf(
  db: Queryable,
  accountId: string,
  maxFailures: number,
): Promise<PasswordResetRow | undefined> {
  return db('password_resets')
    .where({ account_id: accountId })
    .whereNull('ended_at')
    .andWhere('expires_at', '>', db.fn.now())
    .andWhere('failures', '<', maxFailures)
    .orderBy('created_at', 'desc')
    .first()
    .forUpdate();
}

/** One more wrong code against the row. */
export async function countFailure(db: Queryable, id: string): Promise<void> {
  await db('password_resets')
    .where({ id })
    .update({ failures: db.raw('failures + 1') });
}

/** Ends every open code of the account (one was used, or the password changed another way). */
export async function endOpenResets(db: Queryable, accountId: string): Promise<void> {
  await db('password_resets').where({ account_id: accountId }).whereNull('ended_at').update({ ended_at: db.fn.now() });
}

/** Removes rows past their expiry (the purge job). */
export async function deleteExpiredResets(db: Queryable, before: Date): Promise<number> {
  return db('password_resets').where('expires_at', '<', before).delete();
}
