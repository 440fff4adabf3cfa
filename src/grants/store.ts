import type { Queryable } from '../db/index.js';

// SQL of the levels people chose at consent.

export type Level = 'result' | 'credentials' | 'dossier';

export async function saveChoice(db: Queryable, row: { account_id: string; client_id: string; category: string; level: Level }): Promise<void> {
  await db('consent_choices')
    .insert({ ...row, updated_at: db.fn.now() })
    .onConflict(['account_id', 'client_id'])
    .merge(['category', 'level', 'updated_at']);
}

/** The level chosen for this merchant, else the latest chosen for a merchant of its category. */
export async function findChoice(db: Queryable, accountId: string, clientId: string, category: string): Promise<Level | undefined> {
  const own = await db('consent_choices').select('level').where({ account_id: accountId, client_id: clientId }).first();
  if (own) return own.level as Level;
  const same = await db('consent_choices').select('level').where({ account_id: accountId, category }).orderBy('updated_at', 'desc').first();
  return same?.level as Level | undefined;
}

export interface CredentialRow {
  account_id: string;
  client_id: string;
  username: string;
  password_hash: string;
}

/** Stores a person's credentials for a merchant unless they have some; returns whether stored. */
export async function insertCredentials(db: Queryable, row: CredentialRow): Promise<boolean> {
  const inserted = await db('merchant_credentials').insert(row).onConflict(['account_id', 'client_id']).ignore().returning('username');
  return inserted.length > 0;
}

export async function findCredentials(db: Queryable, accountId: string, clientId: string): Promise<CredentialRow | undefined> {
  return db<CredentialRow>('merchant_credentials').where({ account_id: accountId, client_id: clientId }).first();
}
