import type { Queryable } from '../db/index.js';

export interface PasskeyRow {
  id: string;
  account_id: string;
  public_key: Buffer;
  counter: number;
  transports: string[];
  name: string;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

export type ChallengePurpose = 'register' | 'sign_in' | 'second_factor';

export interface ChallengeRow {
  challenge: string;
  purpose: ChallengePurpose;
  account_id: string | null;
  interaction_uid: string | null;
  expires_at: Date;
}

export async function passkeysOfAccount(db: Queryable, accountId: string): Promise<PasskeyRow[]> {
  return db<PasskeyRow>('passkeys')
    .where({ account_id: accountId })
    .orderBy([{ column: 'created_at' }, 'id']);
}

export async function findPasskey(db: Queryable, id: string): Promise<PasskeyRow | undefined> {
  return db<PasskeyRow>('passkeys').where({ id }).first();
}

export async function countPasskeys(db: Queryable, accountId: string): Promise<number> {
  const row = await db('passkeys')
    .where({ account_id: accountId })
    .count<{ count: string | number }>('* as count')
    .first();
  return Number(row?.count ?? 0);
}

/** Inserts a credential; false when its id is registered already (to any account). */
export async function insertPasskey(
  db: Queryable,
  row: Omit<PasskeyRow, 'created_at' | 'last_used_at'>,
): Promise<boolean> {
  const inserted = await db('passkeys')
    .insert({ ...row, transports: JSON.stringify(row.transports) })
    .onConflict('id')
    .ignore()
    .returning('id');
  return inserted.length === 1;
}

/**
 * Records a use: the new counter, backup state and time, only if the stored counter is still the
 * one the assertion was checked against (two assertions racing cannot both move it).
 */
export async function recordPasskeyUse(
  db: Queryable,
  id: string,
  seen: { previousCounter: number; counter: number; backedUp: boolean },
): Promise<boolean> {
  const updated = await db('passkeys')
    .where({ id, counter: seen.previousCounter })
    .update({ counter: seen.counter, backed_up: seen.backedUp, last_used_at: db.fn.now() });
  return updated === 1;
}

export async function renamePasskey(db: Queryable, accountId: string, id: string, name: string): Promise<boolean> {
  return (await db('passkeys').where({ id, account_id: accountId }).update({ name })) === 1;
}

export async function deletePasskey(db: Queryable, accountId: string, id: string): Promise<boolean> {
  // RETURNING rather than the affected-row count, which the PGlite driver does not report for DELETE.
  return (await db('passkeys').where({ id, account_id: accountId }).delete().returning('id')).length === 1;
}

/** Deletes every passkey of the account; returns their ids. */
export async function deletePasskeysOf(db: Queryable, accountId: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await db('passkeys').where({ account_id: accountId }).delete().returning('id');
  return rows.map((row) => row.id);
}

/**
 * Stores a new challenge, replacing any earlier one for the same purpose and holder (so an
 * account or interaction holds at most one of each at a time), and drops expired ones.
 */
export async function replaceChallenge(db: Queryable, row: ChallengeRow, now: Date): Promise<void> {
  await db('passkey_challenges').where('expires_at', '<=', now).delete();
  await db('passkey_challenges')
    .where({ purpose: row.purpose, account_id: row.account_id, interaction_uid: row.interaction_uid })
    .delete();
  await db('passkey_challenges').insert(row);
}

/**
 * Takes a challenge: deletes it and returns it when it exists for this purpose and holder and has
 * not expired. One statement, so of two responses signing the same challenge only one gets it.
 */
export async function takeChallenge(
  db: Queryable,
  challenge: string,
  purpose: ChallengePurpose,
  holder: { accountId?: string; interactionUid?: string },
  now: Date,
): Promise<ChallengeRow | undefined> {
  const query = db<ChallengeRow>('passkey_challenges').where({ challenge, purpose }).andWhere('expires_at', '>', now);
  if (holder.accountId !== undefined) query.andWhere({ account_id: holder.accountId });
  if (holder.interactionUid !== undefined) query.andWhere({ interaction_uid: holder.interactionUid });
  const [row] = await query.delete().returning('*');
  return row;
}

export async function secondFactorOf(db: Queryable, accountId: string): Promise<boolean> {
  const row = await db('passkey_settings').where({ account_id: accountId }).first('second_factor');
  return row?.second_factor === true;
}

export async function setSecondFactor(db: Queryable, accountId: string, on: boolean): Promise<void> {
  await db('passkey_settings')
    .insert({ account_id: accountId, second_factor: on, updated_at: db.fn.now() })
    .onConflict('account_id')
    .merge();
}
