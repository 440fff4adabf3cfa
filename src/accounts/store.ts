import type { Queryable } from '../db/index.js';

export interface AccountRow {
  id: string;
  login: string;
  login_type: 'email' | 'phone';
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

export async function findAccountById(db: Queryable, id: string): Promise<AccountRow | undefined> {
  return db<AccountRow>('accounts').where({ id }).first();
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
