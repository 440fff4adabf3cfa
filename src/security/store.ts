import type { Queryable } from '../db/index.js';

/** SQL over `security_events` and `account_sessions` (migration 015). */

export interface SecurityEventRow {
  id: string;
  account_id: string | null;
  kind: string;
  ip: string | null;
  device: string | null;
  detail: Record<string, unknown> | null;
  at: Date;
}

export interface AccountSessionRow {
  uid: string;
  account_id: string;
  ip: string | null;
  device: string | null;
  amr: string[];
  signed_in_at: Date;
  last_used_at: Date;
  expires_at: Date;
  ended_at: Date | null;
}

export async function insertSecurityEvent(
  db: Queryable,
  row: Pick<SecurityEventRow, 'account_id' | 'kind' | 'ip' | 'device' | 'detail'>,
): Promise<void> {
  await db('security_events').insert({ ...row, detail: row.detail ? JSON.stringify(row.detail) : null });
}

/** An account's events, newest first. */
export function securityEventsOf(db: Queryable, accountId: string, limit: number): Promise<SecurityEventRow[]> {
  return db<SecurityEventRow>('security_events')
    .where({ account_id: accountId })
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit);
}

/** Every account's events since `since`, oldest first, as the operator reads them. */
export function securityEventsSince(
  db: Queryable,
  filter: { since: Date; accountId?: string },
  limit: number,
): Promise<SecurityEventRow[]> {
  const query = db<SecurityEventRow>('security_events').where('at', '>=', filter.since);
  if (filter.accountId) query.andWhere({ account_id: filter.accountId });
  return query.orderBy([{ column: 'at' }, { column: 'id' }]).limit(limit);
}

/** Removes events from before `before`, at most `limit` at a time; returns how many went. */
export async function deleteSecurityEventsBefore(db: Queryable, before: Date, limit: number): Promise<number> {
  // Counted from RETURNING: knex's delete count is the driver's, and PGlite's is not a number.
  const removed = await db('security_events')
    .whereIn('id', db('security_events').select('id').where('at', '<', before).limit(limit))
    .delete()
    .returning('id');
  return removed.length;
}

/**
 * Records a session as seen now: a new one with its sign-in, a known one with its new last use
 * and expiry. A session ended here stays ended.
 */
export async function upsertAccountSession(db: Queryable, row: Omit<AccountSessionRow, 'ended_at'>): Promise<void> {
  await db('account_sessions')
    .insert({ ...row, amr: JSON.stringify(row.amr) })
    .onConflict('uid')
    .merge(['last_used_at', 'expires_at']);
}

/** An account's sessions that have not ended or expired, the most recently used first. */
export function liveSessionsOf(db: Queryable, accountId: string, now: Date): Promise<AccountSessionRow[]> {
  return db<AccountSessionRow>('account_sessions')
    .where({ account_id: accountId })
    .whereNull('ended_at')
    .andWhere('expires_at', '>', now)
    .orderBy('last_used_at', 'desc');
}

/** Marks sessions of the account ended: `uids` only, or every one but `except`. Returns those ended. */
export async function endAccountSessions(
  db: Queryable,
  accountId: string,
  which: { uids: string[] } | { except?: string },
  now: Date,
): Promise<Array<Pick<AccountSessionRow, 'uid' | 'device'>>> {
  const query = db('account_sessions').where({ account_id: accountId }).whereNull('ended_at');
  if ('uids' in which) query.whereIn('uid', which.uids);
  else if (which.except) query.whereNot({ uid: which.except });
  return (await query.update({ ended_at: now }).returning(['uid', 'device'])) as Array<
    Pick<AccountSessionRow, 'uid' | 'device'>
  >;
}

/** Removes session rows that expired or ended before `before`; returns how many went. */
/** Deletes every security event and session row of the account (it is being closed). */
export async function deleteAllOfAccount(db: Queryable, accountId: string): Promise<void> {
  await db('security_events').where({ account_id: accountId }).delete();
  await db('account_sessions').where({ account_id: accountId }).delete();
}

export async function deleteAccountSessionsBefore(db: Queryable, before: Date, limit: number): Promise<number> {
  const removed = await db('account_sessions')
    .whereIn(
      'uid',
      db('account_sessions')
        .select('uid')
        .where('expires_at', '<', before)
        .orWhere('ended_at', '<', before)
        .limit(limit),
    )
    .delete()
    .returning('uid');
  return removed.length;
}
