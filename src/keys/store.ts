import type { Queryable } from '../db/index.js';

export interface KeyRow {
  kid: string;
  purpose: string;
  alg: string;
  public_jwk: Record<string, unknown> | null;
  secret_encrypted: string;
  status: 'active' | 'retired';
  created_at: Date;
  retired_at: Date | null;
  expires_at: Date | null;
}

/** Active keys first (newest first), then retired keys still within their verification window. */
export function findUsableKeys(db: Queryable, purpose: string): Promise<KeyRow[]> {
  return db<KeyRow>('platform_keys')
    .where({ purpose })
    .andWhere((q) => q.where({ status: 'active' }).orWhere('expires_at', '>', db.fn.now()))
    .orderByRaw(`CASE status WHEN 'active' THEN 0 ELSE 1 END, created_at DESC, kid`);
}

/** Every key of a purpose ever made, retired or not (for verifying old signatures). */
export function findAllKeys(db: Queryable, purpose: string): Promise<KeyRow[]> {
  return db<KeyRow>('platform_keys')
    .where({ purpose })
    .orderByRaw(`CASE status WHEN 'active' THEN 0 ELSE 1 END, created_at DESC, kid`);
}

export function findActiveKeys(db: Queryable, purpose: string): Promise<KeyRow[]> {
  return db<KeyRow>('platform_keys').where({ purpose, status: 'active' }).orderBy('created_at', 'desc');
}

export async function insertKey(
  db: Queryable,
  row: Omit<KeyRow, 'created_at' | 'retired_at' | 'expires_at'>,
): Promise<void> {
  await db('platform_keys').insert({ ...row, public_jwk: row.public_jwk ? JSON.stringify(row.public_jwk) : null });
}

export async function retireKeys(db: Queryable, purpose: string, alg: string, expiresAt: Date): Promise<number> {
  return db('platform_keys')
    .where({ purpose, alg, status: 'active' })
    .update({ status: 'retired', retired_at: db.fn.now(), expires_at: expiresAt });
}

/** Serializes key creation across processes sharing the database (first start, rotation). */
export async function lockKeys(tx: Queryable): Promise<void> {
  await tx.raw(`SELECT pg_advisory_xact_lock(hashtext('platform_keys'))`);
}

/** The active keys' ids of these purposes, in one string: it changes when any of them rotates. */
export async function activeKeysGeneration(db: Queryable, purposes: string[]): Promise<string> {
  const rows = await db<KeyRow>('platform_keys')
    .whereIn('purpose', purposes)
    .andWhere({ status: 'active' })
    .orderBy('kid')
    .select('kid');
  return rows.map((row) => row.kid).join(',');
}
