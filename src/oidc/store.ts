import type { Queryable } from '../db/index.js';
import { run, statement } from '../db/prepared.js';

/** SQL over `oidc_payloads`, the one table holding every oidc-provider model but Client. */

export interface PayloadRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  expires_at: Date | null;
}

/** A row not yet expired. */
const LIVE = '(expires_at IS NULL OR expires_at > CURRENT_TIMESTAMP)';

const UPSERT = statement(
  'oidc_payloads.upsert',
  `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, expires_at, consumed_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)
   ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
     uid = excluded.uid, user_code = excluded.user_code, account_id = excluded.account_id,
     expires_at = excluded.expires_at, consumed_at = NULL`,
);

export async function upsertPayload(
  db: Queryable,
  row: {
    model: string;
    id: string;
    payload: object;
    grantId?: string;
    uid?: string;
    userCode?: string;
    accountId?: string;
    expiresAt?: Date;
  },
): Promise<void> {
  await run(db, UPSERT, [
    row.model,
    row.id,
    JSON.stringify(row.payload),
    row.grantId ?? null,
    row.uid ?? null,
    row.userCode ?? null,
    row.accountId ?? null,
    row.expiresAt ?? null,
  ]);
}

/**
 * Inserts a row unless one with its model and id exists, in one statement (no find-then-write
 * race); true when this call inserted it.
 */
export async function insertPayloadOnce(
  db: Queryable,
  row: { model: string; id: string; payload: object; expiresAt: Date },
): Promise<boolean> {
  const inserted = await db('oidc_payloads')
    .insert({
      model: row.model,
      id: row.id,
      payload: JSON.stringify(row.payload),
      expires_at: row.expiresAt,
      consumed_at: null,
    })
    .onConflict(['model', 'id'])
    .ignore()
    .returning('id');
  return inserted.length === 1;
}

/** A payload by one of its three keys: the statements oidc-provider's look-ups run. */
const FIND = {
  id: statement(
    'oidc_payloads.find_by_id',
    `SELECT payload, consumed_at, expires_at FROM oidc_payloads WHERE model = $1 AND id = $2 AND ${LIVE}`,
  ),
  uid: statement(
    'oidc_payloads.find_by_uid',
    `SELECT payload, consumed_at, expires_at FROM oidc_payloads WHERE model = $1 AND uid = $2 AND ${LIVE} LIMIT 1`,
  ),
  user_code: statement(
    'oidc_payloads.find_by_user_code',
    `SELECT payload, consumed_at, expires_at FROM oidc_payloads WHERE model = $1 AND user_code = $2 AND ${LIVE} LIMIT 1`,
  ),
};

export async function findPayload(
  db: Queryable,
  model: string,
  where: { id: string } | { uid: string } | { user_code: string },
): Promise<PayloadRow | undefined> {
  const [key, value] = Object.entries(where)[0] as [keyof typeof FIND, string];
  return (await run<PayloadRow>(db, FIND[key], [model, value])).rows[0];
}

/** The class key of the per-grant advisory locks (two-int key space, apart from the audit lock's). */
const GRANT_LOCK = 0x6772616e; // "gran"

const CONSUME = statement(
  'oidc_payloads.consume',
  `UPDATE oidc_payloads SET consumed_at = CURRENT_TIMESTAMP WHERE model = $1 AND id = $2 AND consumed_at IS NULL`,
);
/**
 * The same, in a transaction, taking the grant's lock in the statement: the lock is a condition
 * of the WHERE clause, evaluated on the row as the UPDATE's scan found it, before the UPDATE
 * waits for a concurrent writer's row lock.
 */
const CONSUME_LOCKING_GRANT = statement(
  'oidc_payloads.consume_locking_grant',
  `UPDATE oidc_payloads SET consumed_at = CURRENT_TIMESTAMP
   WHERE model = $1 AND id = $2 AND consumed_at IS NULL
     AND (grant_id IS NULL OR pg_advisory_xact_lock(${GRANT_LOCK}, hashtext(grant_id)) IS NOT NULL)`,
);

/**
 * Marks a payload consumed in one conditional UPDATE, so of concurrent callers exactly one wins.
 * Returns `{ consumed: false, grantId }` to the losers (a replay).
 *
 * Inside a transaction the grant's lock (see destroyByGrantId) is taken before the row's: a
 * losing UPDATE keeps the row locked to the end of its transaction (READ COMMITTED locks the
 * newest version of a concurrently changed row before re-checking the WHERE, PostgreSQL docs
 * §13.2.1), so a loser that took the grant's lock only afterwards, to revoke the grant, could
 * wait for a deleter that waits for that row. The winner's one statement does both; a loser
 * then reads the grant under its lock (taken again: the lock is re-entrant).
 */
export async function consumePayload(
  db: Queryable,
  model: string,
  id: string,
): Promise<{ consumed: boolean; grantId?: string }> {
  const { rowCount } = await run(db, db.isTransaction ? CONSUME_LOCKING_GRANT : CONSUME, [model, id]);
  if (rowCount > 0) return { consumed: true };
  const query = db('oidc_payloads').select('grant_id').where({ model, id }).whereNotNull('grant_id');
  if (db.isTransaction) query.select(db.raw('pg_advisory_xact_lock(?, hashtext(grant_id))', [GRANT_LOCK]));
  return { consumed: false, grantId: ((await query.first()) as { grant_id: string } | undefined)?.grant_id };
}

const DESTROY = statement('oidc_payloads.destroy', 'DELETE FROM oidc_payloads WHERE model = $1 AND id = $2');

export async function destroyPayload(db: Queryable, model: string, id: string): Promise<void> {
  // A Grant row is deleted under the grant's lock, like the rest of its rows (destroyByGrantId).
  if (model === 'Grant') await lockGrant(db, id);
  await run(db, DESTROY, [model, id]);
}

/** The live grants (oidc-provider's Grant model) an account has given, newest first. */
export async function findGrantsOfAccount(
  db: Queryable,
  accountId: string,
): Promise<Array<{ id: string; payload: Record<string, unknown> }>> {
  return db('oidc_payloads')
    .select('id', 'payload')
    .where({ model: 'Grant', account_id: accountId })
    .andWhereRaw(LIVE)
    .orderByRaw("(payload->>'iat')::bigint DESC");
}

/**
 * Deletes every row of a grant. Inside a transaction, deleters of one grant first take a lock on
 * it, held to their commit: a replayed code's revocation runs several such DELETEs in one
 * transaction (oidc-provider's revoke, one per model), and two of them, each holding rows the
 * other wanted, deadlocked with a redemption waiting on the code's row (seen on PostgreSQL).
 */
export async function destroyByGrantId(db: Queryable, grantId: string): Promise<void> {
  await lockGrant(db, grantId);
  await db('oidc_payloads').where({ grant_id: grantId }).delete();
}

/** The models that are credentials issued under a grant (not the Grant, Session or Interaction). */
const TOKEN_MODELS = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
];

/**
 * Deletes every token issued under a grant, keeping the grant (its level changed). Returns how
 * many live access and refresh tokens stopped working.
 */
export async function revokeTokensOfGrant(db: Queryable, grantId: string): Promise<number> {
  await lockGrant(db, grantId);
  const deleted = (await db('oidc_payloads')
    .where({ grant_id: grantId })
    .whereIn('model', TOKEN_MODELS)
    .delete()
    .returning(['model', 'consumed_at', 'expires_at'])) as DeletedToken[];
  return liveTokens(deleted);
}

/**
 * Deletes every token issued to the account (its account id, or a grant of its), keeping its
 * grants; returns how many live access and refresh tokens stopped working. The account's grants
 * are locked first, in id order, as every deleter of a grant's rows does (destroyByGrantId): a
 * refresh racing this waits, then finds its token gone.
 */
export async function revokeTokensOfAccount(db: Queryable, accountId: string): Promise<number> {
  const grantIds = (await db('oidc_payloads')
    .where({ model: 'Grant', account_id: accountId })
    .orderBy('id')
    .pluck('id')) as string[];
  for (const grantId of grantIds) await lockGrant(db, grantId);
  const deleted = (await db('oidc_payloads')
    .whereIn('model', TOKEN_MODELS)
    .andWhere((q) => q.where({ account_id: accountId }).orWhereIn('grant_id', grantIds))
    .delete()
    .returning(['model', 'consumed_at', 'expires_at'])) as DeletedToken[];
  return liveTokens(deleted);
}

type DeletedToken = { model: string; consumed_at: Date | null; expires_at: Date | null };

/** Of deleted token rows, the access and refresh tokens that were still usable. */
function liveTokens(deleted: DeletedToken[]): number {
  const now = Date.now();
  return deleted.filter(
    (row) =>
      (row.model === 'AccessToken' || row.model === 'RefreshToken') &&
      !row.consumed_at &&
      (!row.expires_at || new Date(row.expires_at).getTime() > now),
  ).length;
}

/** Takes the grant's lock to the end of the transaction; outside one there is nothing to hold. */
async function lockGrant(db: Queryable, grantId: string): Promise<void> {
  if (db.isTransaction) await db.raw('SELECT pg_advisory_xact_lock(?, hashtext(?))', [GRANT_LOCK, grantId]);
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

/**
 * Removes an account's Session rows: those with the given uids, or all but the one with uid
 * `except`. Returns the payloads of those that were still live (for back-channel logout).
 */
export async function destroySessions(
  db: Queryable,
  accountId: string,
  which: { uids: string[] } | { except?: string },
): Promise<Array<Record<string, unknown>>> {
  const query = db('oidc_payloads').where({ model: 'Session', account_id: accountId });
  if ('uids' in which) query.whereIn('uid', which.uids);
  else if (which.except) query.where((q) => q.whereNot({ uid: which.except! }).orWhereNull('uid'));
  const removed: Array<{ payload: Record<string, unknown>; expires_at: Date | null }> = await query
    .delete()
    .returning(['payload', 'expires_at']);
  const now = Date.now();
  return removed.filter((row) => !row.expires_at || row.expires_at.getTime() > now).map((row) => row.payload);
}
