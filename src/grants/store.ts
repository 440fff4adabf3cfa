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

/** When the account's dossier is locked after too many failed confirmations, if it is. */
export async function partialLockedUntil(db: Queryable, accountId: string): Promise<Date | undefined> {
  const row = await db('partial_confirmations').select('locked_until').where({ account_id: accountId }).andWhere('locked_until', '>', db.fn.now()).first();
  return row ? new Date(row.locked_until) : undefined;
}

/**
 * Counts one failed confirmation. Failures older than `windowSeconds` are forgotten; the
 * `max`-th failure in a window locks the dossier for `lockSeconds` and starts counting anew.
 * One statement, so concurrent failures are all counted.
 */
export async function recordPartialFailure(db: Queryable, accountId: string, limits: { max: number; windowSeconds: number; lockSeconds: number }): Promise<{ failures: number; lockedUntil?: Date }> {
  const { rows } = await db.raw(
    `INSERT INTO partial_confirmations AS p (account_id, failures, updated_at) VALUES (:accountId, 1, now())
     ON CONFLICT (account_id) DO UPDATE SET
       failures = CASE WHEN p.updated_at < now() - make_interval(secs => :windowSeconds) THEN 1 ELSE p.failures + 1 END,
       updated_at = now()
     RETURNING failures`,
    { accountId, windowSeconds: limits.windowSeconds },
  );
  const failures = Number(rows[0].failures);
  if (failures < limits.max) return { failures };
  const [locked] = await db('partial_confirmations')
    .where({ account_id: accountId })
    .update({ failures: 0, locked_until: db.raw('now() + make_interval(secs => ?)', [limits.lockSeconds]) })
    .returning('locked_until');
  return { failures, lockedUntil: new Date((locked as { locked_until: Date }).locked_until) };
}

export async function clearPartialFailures(db: Queryable, accountId: string): Promise<void> {
  await db('partial_confirmations').where({ account_id: accountId }).delete();
}
