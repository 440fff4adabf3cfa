import type { Queryable } from '../db/index.js';

/** SQL over `oidc_payloads`, the one table holding every oidc-provider model but Client. */

export interface PayloadRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  expires_at: Date | null;
}

const live = (db: Queryable) => (q: any) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now());

export async function upsertPayload(
  db: Queryable,
  row: { model: string; id: string; payload: object; grantId?: string; uid?: string; userCode?: string; accountId?: string; expiresAt?: Date },
): Promise<void> {
  await db('oidc_payloads')
    .insert({
      model: row.model,
      id: row.id,
      payload: JSON.stringify(row.payload),
      grant_id: row.grantId ?? null,
      uid: row.uid ?? null,
      user_code: row.userCode ?? null,
      account_id: row.accountId ?? null,
      expires_at: row.expiresAt ?? null,
      consumed_at: null,
    })
    .onConflict(['model', 'id'])
    .merge();
}

export function findPayload(db: Queryable, model: string, where: { id?: string; uid?: string; user_code?: string }): Promise<PayloadRow | undefined> {
  return db<PayloadRow>('oidc_payloads')
    .select('payload', 'consumed_at', 'expires_at')
    .where({ model, ...where } as Record<string, string>)
    .andWhere(live(db))
    .first();
}

/**
 * Marks a payload consumed in one conditional UPDATE, so of concurrent callers exactly one wins.
 * Returns `{ consumed: false, grantId }` to the losers (a replay).
 */
export async function consumePayload(db: Queryable, model: string, id: string): Promise<{ consumed: boolean; grantId?: string }> {
  const updated = await db('oidc_payloads').where({ model, id }).whereNull('consumed_at').update({ consumed_at: db.fn.now() });
  if (updated > 0) return { consumed: true };
  const row: { grant_id: string | null } | undefined = await db('oidc_payloads').select('grant_id').where({ model, id }).first();
  return { consumed: false, grantId: row?.grant_id ?? undefined };
}

export async function destroyPayload(db: Queryable, model: string, id: string): Promise<void> {
  await db('oidc_payloads').where({ model, id }).delete();
}

/** The live grants (oidc-provider's Grant model) an account has given, newest first. */
export async function findGrantsOfAccount(db: Queryable, accountId: string): Promise<Array<{ id: string; payload: Record<string, unknown> }>> {
  return db('oidc_payloads')
    .select('id', 'payload')
    .where({ model: 'Grant', account_id: accountId })
    .andWhere(live(db))
    .orderByRaw("(payload->>'iat')::bigint DESC");
}

export async function destroyByGrantId(db: Queryable, grantId: string): Promise<number> {
  return db('oidc_payloads').where({ grant_id: grantId }).delete();
}

/**
 * Deletes up to `limit` rows that expired before `before`; returns how many. Bounded so a purge
 * never holds long locks or a huge transaction, whatever the backlog.
 */
export async function purgeExpired(db: Queryable, before: Date, limit: number): Promise<number> {
  const result = await db.raw(
    `DELETE FROM oidc_payloads WHERE ctid IN (
       SELECT ctid FROM oidc_payloads WHERE expires_at < ? LIMIT ?
     )`,
    [before, limit],
  );
  return result.rowCount ?? result.affectedRows ?? 0;
}

/** Revokes a grant: the grant itself and every token issued under it. */
export async function destroyGrant(db: Queryable, grantId: string): Promise<void> {
  await destroyByGrantId(db, grantId);
  await destroyPayload(db, 'Grant', grantId);
}
