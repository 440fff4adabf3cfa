import type { Queryable } from '../db/index.js';
import { run, statement } from '../db/prepared.js';

export interface AccountRow {
  id: string;
  login: string;
  login_type: 'email' | 'phone';
  password_hash: string;
  created_at: Date;
  updated_at: Date;
  /** When a closure the person asked for erases the account; null unless one is waiting. */
  closing_at: Date | null;
  /** Set while an operator has the account disabled (migration 017). */
  disabled_at: Date | null;
  disabled_reason: string | null;
  /** The person the account is verified as; null until it is linked to one. */
  person_id: string | null;
}

const ACCOUNT_COLUMNS =
  'id, login, login_type, password_hash, created_at, updated_at, closing_at, disabled_at, disabled_reason, person_id';
/** Prepared: every token request and userinfo call reads its account (src/db/prepared.ts). */
const BY_ID = statement('accounts.find_by_id', `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`);

export async function findAccountById(db: Queryable, id: string): Promise<AccountRow | undefined> {
  return (await run<AccountRow>(db, BY_ID, [id])).rows[0];
}

export async function findAccountByLogin(db: Queryable, login: string): Promise<AccountRow | undefined> {
  return db<AccountRow>('accounts').where({ login }).first();
}

/** Inserts an account; returns false when the login is taken (no exception, no partial row). */
export async function insertAccount(
  db: Queryable,
  row: Pick<AccountRow, 'id' | 'login' | 'login_type' | 'password_hash'>,
): Promise<boolean> {
  const inserted = await db('accounts').insert(row).onConflict('login').ignore().returning('id');
  return inserted.length === 1;
}

export async function updatePasswordHash(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db('accounts').where({ id }).update({ password_hash: passwordHash, updated_at: db.fn.now() });
}

/** Sets or clears when the account is to be closed. */
export async function setClosingAt(db: Queryable, id: string, at: Date | null): Promise<void> {
  await db('accounts').where({ id }).update({ closing_at: at, updated_at: db.fn.now() });
}

/** Accounts whose closure is due at `now`, oldest first, at most `limit`. */
export async function closuresDue(db: Queryable, now: Date, limit: number): Promise<string[]> {
  const rows: Array<{ id: string }> = await db('accounts')
    .where('closing_at', '<=', now)
    .orderBy('closing_at')
    .limit(limit)
    .select('id');
  return rows.map((row) => row.id);
}

/** Deletes the account; its outbox messages, grants' choices, credentials, passkeys and reset codes go with it (ON DELETE CASCADE). */
export async function deleteAccount(db: Queryable, id: string): Promise<boolean> {
  return (await db('accounts').where({ id }).delete().returning('id')).length === 1;
}

/** Unlinks the account from its person (before the person is erased). */
export async function unlinkPerson(db: Queryable, accountId: string): Promise<void> {
  await db('accounts').where({ id: accountId }).update({ person_id: null, updated_at: db.fn.now() });
}

/** How many accounts other than `exceptAccountId` are linked to the person. */
export async function otherAccountsOfPerson(db: Queryable, personId: string, exceptAccountId: string): Promise<number> {
  const row = await db('accounts')
    .where({ person_id: personId })
    .andWhereNot({ id: exceptAccountId })
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** Marks the account disabled unless it is already; returns whether it changed. */
export async function disableAccount(db: Queryable, id: string, reason: string | null): Promise<boolean> {
  const updated = await db('accounts')
    .where({ id })
    .whereNull('disabled_at')
    .update({ disabled_at: db.fn.now(), disabled_reason: reason, updated_at: db.fn.now() });
  return updated > 0;
}

/** Clears the account's disabled mark; returns whether it was disabled. */
export async function enableAccount(db: Queryable, id: string): Promise<boolean> {
  const updated = await db('accounts')
    .where({ id })
    .whereNotNull('disabled_at')
    .update({ disabled_at: null, disabled_reason: null, updated_at: db.fn.now() });
  return updated > 0;
}

/** The person an account is verified as: null while it has none, undefined when there is no such account. */
export async function personOfAccount(db: Queryable, accountId: string): Promise<string | null | undefined> {
  const row: { person_id: string | null } | undefined = await db('accounts')
    .select('person_id')
    .where({ id: accountId })
    .first();
  return row?.person_id;
}

/** Links an account to a person; only an unlinked account (or the same link) changes. */
export async function linkPerson(db: Queryable, accountId: string, personId: string): Promise<boolean> {
  const updated = await db('accounts')
    .where({ id: accountId })
    .andWhere((q) => q.whereNull('person_id').orWhere({ person_id: personId }))
    .update({ person_id: personId });
  return updated > 0;
}

export interface LinkedAccountRow {
  id: string;
  login: string;
  login_type: 'email' | 'phone';
  person_id: string | null;
}

/** Up to `limit` accounts in id order, after `afterId` when given, with the person each is linked to. */
export async function accountsInIdOrder(
  db: Queryable,
  afterId: string | undefined,
  limit: number,
): Promise<LinkedAccountRow[]> {
  const query = db<LinkedAccountRow>('accounts')
    .select('id', 'login', 'login_type', 'person_id')
    .orderBy('id')
    .limit(limit);
  if (afterId !== undefined) query.where('id', '>', afterId);
  return query;
}
