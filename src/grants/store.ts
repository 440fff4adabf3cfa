import type { Queryable } from '../db/index.js';
import { run, statement } from '../db/prepared.js';

// SQL of the levels people chose at consent.

export type Level = 'result' | 'credentials' | 'dossier';

export async function saveChoice(
  db: Queryable,
  row: { account_id: string; client_id: string; category: string; level: Level },
): Promise<void> {
  await db('consent_choices')
    .insert({ ...row, updated_at: db.fn.now() })
    .onConflict(['account_id', 'client_id'])
    .merge(['category', 'level', 'updated_at']);
}

const FIND_CHOICE = statement(
  'consent_choices.find',
  `SELECT level FROM consent_choices
   WHERE account_id = $1 AND (client_id = $2 OR category = $3)
   ORDER BY client_id = $2 DESC, updated_at DESC
   LIMIT 1`,
);

/** The level chosen for this merchant, else the latest chosen for a merchant of its category. */
export async function findChoice(
  db: Queryable,
  accountId: string,
  clientId: string,
  category: string,
): Promise<Level | undefined> {
  return (await run<{ level: Level }>(db, FIND_CHOICE, [accountId, clientId, category])).rows[0]?.level;
}

export interface CredentialRow {
  account_id: string;
  client_id: string;
  username: string;
  password_hash: string;
}

/** Stores a person's credentials for a merchant unless they have some; returns whether stored. */
export async function insertCredentials(db: Queryable, row: CredentialRow): Promise<boolean> {
  const inserted = await db('merchant_credentials')
    .insert(row)
    .onConflict(['account_id', 'client_id'])
    .ignore()
    .returning('username');
  return inserted.length > 0;
}

/** Prepared: every level-2 release reads them (src/db/prepared.ts). */
const CREDENTIALS = statement(
  'merchant_credentials.find',
  'SELECT account_id, client_id, username, password_hash FROM merchant_credentials WHERE account_id = $1 AND client_id = $2',
);

export async function findCredentials(
  db: Queryable,
  accountId: string,
  clientId: string,
): Promise<CredentialRow | undefined> {
  return (await run<CredentialRow>(db, CREDENTIALS, [accountId, clientId])).rows[0];
}

export async function deleteCredentials(db: Queryable, accountId: string, clientId: string): Promise<void> {
  await db('merchant_credentials').where({ account_id: accountId, client_id: clientId }).delete();
}

/** When the account's dossier is locked after too many failed confirmations, if it is. */
export async function partialLockedUntil(db: Queryable, accountId: string): Promise<Date | undefined> {
  const row = await db('partial_confirmations')
    .select('locked_until')
    .where({ account_id: accountId })
    .andWhere('locked_until', '>', db.fn.now())
    .first();
  return row ? new Date(row.locked_until) : undefined;
}

/**
 * Counts one partial-knowledge attempt before its answer is looked at, in one statement, so of N
 * concurrent attempts each gets its own number. Attempts older than `windowSeconds` are
 * forgotten, as is the count once a lock has run out; the `max`-th attempt in a window sets the
 * lock, and attempts while locked go on counting (a lock never resets the count that caused it).
 * An attempt may be evaluated only when its number is at most `max`; a right answer clears the
 * count (clearPartialFailures).
 */
export async function countPartialAttempt(
  db: Queryable,
  accountId: string,
  limits: { max: number; windowSeconds: number; lockSeconds: number },
): Promise<{ attempt: number; lockedUntil?: Date }> {
  const { rows } = await db.raw(
    `INSERT INTO partial_confirmations AS p (account_id, failures, updated_at, locked_until)
     VALUES (:accountId, 1, now(), CASE WHEN 1 >= :max THEN now() + make_interval(secs => :lockSeconds) END)
     ON CONFLICT (account_id) DO UPDATE SET
       failures = CASE
         WHEN p.locked_until IS NOT NULL AND p.locked_until <= now() THEN 1
         WHEN p.locked_until IS NULL AND p.updated_at < now() - make_interval(secs => :windowSeconds) THEN 1
         ELSE p.failures + 1 END,
       locked_until = CASE
         WHEN p.locked_until > now() THEN p.locked_until
         WHEN (CASE
           WHEN p.locked_until IS NOT NULL AND p.locked_until <= now() THEN 1
           WHEN p.locked_until IS NULL AND p.updated_at < now() - make_interval(secs => :windowSeconds) THEN 1
           ELSE p.failures + 1 END) >= :max THEN now() + make_interval(secs => :lockSeconds)
         END,
       updated_at = now()
     RETURNING failures, locked_until`,
    { accountId, max: limits.max, windowSeconds: limits.windowSeconds, lockSeconds: limits.lockSeconds },
  );
  const row = rows[0] as { failures: number | string; locked_until: Date | string | null };
  return { attempt: Number(row.failures), ...(row.locked_until ? { lockedUntil: new Date(row.locked_until) } : {}) };
}

export async function clearPartialFailures(db: Queryable, accountId: string): Promise<void> {
  await db('partial_confirmations').where({ account_id: accountId }).delete();
}
