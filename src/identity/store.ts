import type { Queryable } from '../db/index.js';
import { run, statement } from '../db/prepared.js';

// SQL of persons, verification results, images, provider calls and result queries. The account a
// result belongs to is the accounts domain's (AccountService).

export type VerificationMethod = 'document' | 'person_match' | 'offline_notary' | 'phone_three_element';

export interface PersonRow {
  id: string;
  person_index: string;
  document_type: string;
  name_encrypted: string;
  number_encrypted: string;
  birth_date_encrypted: string | null;
  gender: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface VerificationRow {
  id: string;
  account_id: string;
  person_id: string | null;
  method: VerificationMethod;
  provider: string;
  status: 'passed' | 'failed';
  reason: string | null;
  provider_reference: string | null;
  verified_at: Date;
  expires_at: Date | null;
  max_queries: number | null;
  queries_used: number;
  created_at: Date;
}

export async function findPersonByIndex(db: Queryable, personIndex: string): Promise<PersonRow | undefined> {
  return db<PersonRow>('persons').where({ person_index: personIndex }).first();
}

export async function findPerson(db: Queryable, id: string): Promise<PersonRow | undefined> {
  return db<PersonRow>('persons').where({ id }).first();
}

/** Inserts a person unless one with the same blind index exists; returns the stored row. */
export async function upsertPerson(
  db: Queryable,
  row: Omit<PersonRow, 'created_at' | 'updated_at'>,
): Promise<PersonRow> {
  await db('persons').insert(row).onConflict('person_index').ignore();
  return (await findPersonByIndex(db, row.person_index))!;
}

/**
 * Deletes every verification of the account, with its images and the merchant queries it
 * served; returns the persons they named. Provider calls (costs, no identity data) stay.
 */
export async function deleteVerificationsOfAccount(db: Queryable, accountId: string): Promise<string[]> {
  const rows: Array<{ id: string; person_id: string | null }> = await db('verifications')
    .where({ account_id: accountId })
    .select('id', 'person_id');
  const ids = rows.map((row) => row.id);
  if (ids.length) {
    await db('verification_images').whereIn('verification_id', ids).delete();
    await db('verification_queries').whereIn('verification_id', ids).delete();
    await db('verifications').whereIn('id', ids).delete();
  }
  return [...new Set(rows.map((row) => row.person_id).filter((id): id is string => id !== null))];
}

/** Whether any verification (of any account) still names the person. */
export async function personHasVerifications(db: Queryable, personId: string): Promise<boolean> {
  return (await db('verifications').where({ person_id: personId }).first('id')) !== undefined;
}

/** Deletes the person's row (its sealed identity). */
export async function deletePerson(db: Queryable, personId: string): Promise<void> {
  await db('persons').where({ id: personId }).delete();
}

/** Up to `limit` persons that have no data key yet (sealed before keys existed), locked for the caller's transaction. */
export async function personsWithoutKey(db: Queryable, limit: number): Promise<PersonRow[]> {
  return db<PersonRow>('persons')
    .whereNotExists((q) => q.select(db.raw('1')).from('person_keys').whereRaw('person_keys.person_id = persons.id'))
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked();
}

/** The images of every verification that names the person. */
export async function imagesOfPerson(db: Queryable, personId: string): Promise<ImageRow[]> {
  return db<ImageRow>('verification_images')
    .whereIn('verification_id', db('verifications').where({ person_id: personId }).select('id'))
    .select('verification_images.*');
}

export async function updateImageData(db: Queryable, id: string, dataEncrypted: string): Promise<void> {
  await db('verification_images').where({ id }).update({ data_encrypted: dataEncrypted });
}

/** A person's data key, sealed by the master key; undefined while the person has none. */
export async function findPersonKey(db: Queryable, personId: string): Promise<string | undefined> {
  const row: { wrapped: string } | undefined = await db('person_keys').where({ person_id: personId }).first('wrapped');
  return row?.wrapped;
}

/** Stores a person's data key unless one is there already (a concurrent first use made it). */
export async function insertPersonKey(db: Queryable, personId: string, wrapped: string): Promise<void> {
  await db('person_keys').insert({ person_id: personId, wrapped }).onConflict('person_id').ignore();
}

export async function deletePersonKey(db: Queryable, personId: string): Promise<void> {
  await db('person_keys').where({ person_id: personId }).delete();
}

export async function updatePersonIdentity(
  db: Queryable,
  id: string,
  fields: Pick<PersonRow, 'name_encrypted' | 'number_encrypted' | 'birth_date_encrypted' | 'gender'>,
): Promise<void> {
  await db('persons')
    .where({ id })
    .update({ ...fields, updated_at: db.fn.now() });
}

export async function insertVerification(
  db: Queryable,
  row: Omit<VerificationRow, 'queries_used' | 'created_at'>,
): Promise<void> {
  await db('verifications').insert(row);
}

export async function insertImages(
  db: Queryable,
  rows: Array<{ id: string; verification_id: string; kind: string; content_type: string; data_encrypted: string }>,
): Promise<void> {
  if (rows.length) await db('verification_images').insert(rows);
}

export interface ImageRow {
  id: string;
  verification_id: string;
  kind: 'portrait' | 'document_front';
  content_type: 'image/png' | 'image/jpeg';
  data_encrypted: string;
}

/** The images a verification kept (a person-document match keeps the portrait and the document). */
export async function imagesOfVerification(db: Queryable, verificationId: string): Promise<ImageRow[]> {
  return db<ImageRow>('verification_images').where({ verification_id: verificationId }).orderBy('kind');
}

/** What a dossier release reads besides the result: the person, their wrapped data key, the result's images without their data. */
export interface ReleaseRead {
  person: PersonRow;
  /** The person's data key, sealed under the master key; none for a person with values sealed before keys existed. */
  wrapped: string | null;
  images: Array<Pick<ImageRow, 'id' | 'kind' | 'content_type'>>;
}

/** Prepared: every dossier release reads it (src/db/prepared.ts). */
const RELEASE_READ = statement(
  'persons.release_read',
  `SELECT p.id, p.person_index, p.document_type, p.name_encrypted, p.number_encrypted, p.birth_date_encrypted,
     p.gender, p.created_at, p.updated_at, k.wrapped,
     COALESCE((SELECT json_agg(json_build_object('id', i.id, 'kind', i.kind, 'content_type', i.content_type)
                 ORDER BY i.kind)
               FROM verification_images i WHERE i.verification_id = $2), '[]'::json) AS images
   FROM persons p LEFT JOIN person_keys k ON k.person_id = p.id
   WHERE p.id = $1`,
);

/** The person, their wrapped data key and the images of their result `verificationId`, in one statement. */
export async function releaseRead(
  db: Queryable,
  personId: string,
  verificationId: string,
): Promise<ReleaseRead | undefined> {
  // Both drivers parse json columns: `images` arrives as an array.
  const [row] = (await run<PersonRow & Omit<ReleaseRead, 'person'>>(db, RELEASE_READ, [personId, verificationId])).rows;
  if (!row) return undefined;
  const { wrapped, images, ...person } = row;
  return { person, wrapped, images };
}

/** The sealed data of images, by id. */
export async function imageData(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  const rows: Array<{ id: string; data_encrypted: string }> = await db('verification_images')
    .select('id', 'data_encrypted')
    .whereIn('id', ids);
  return new Map(rows.map((row) => [row.id, row.data_encrypted]));
}

/** One image with the verification it belongs to. */
export async function findImage(
  db: Queryable,
  id: string,
): Promise<(ImageRow & { verification: VerificationRow }) | undefined> {
  const image = await db<ImageRow>('verification_images').where({ id }).first();
  if (!image) return undefined;
  const verification = await db<VerificationRow>('verifications').where({ id: image.verification_id }).first();
  return verification && { ...image, verification };
}

/** Prepared: every release of claims reads the person's results (src/db/prepared.ts). */
const VALID_RESULTS = statement(
  'verifications.valid_results',
  `SELECT id, account_id, person_id, method, provider, status, reason, provider_reference, verified_at, expires_at,
     max_queries, queries_used, created_at
   FROM verifications
   WHERE person_id = $1 AND status = 'passed' AND (expires_at IS NULL OR expires_at > $2)
     AND (max_queries IS NULL OR queries_used < max_queries)
   ORDER BY verified_at DESC`,
);

/** A person's passed results still valid at `now` with queries left, newest first. */
export async function validResults(db: Queryable, personId: string, now: Date): Promise<VerificationRow[]> {
  return (await run<VerificationRow>(db, VALID_RESULTS, [personId, now])).rows;
}

/** The blind index of a person. */
export async function personIndexOf(db: Queryable, personId: string): Promise<string | undefined> {
  const row: { person_index: string } | undefined = await db('persons').where({ id: personId }).first('person_index');
  return row?.person_index;
}

export async function verificationsOfAccount(db: Queryable, accountId: string, limit = 20): Promise<VerificationRow[]> {
  return db<VerificationRow>('verifications')
    .where({ account_id: accountId })
    .orderBy('created_at', 'desc')
    .limit(limit);
}

/**
 * Spends one query of a result, if it has one left: one conditional UPDATE, so concurrent
 * spenders never overdraw. Returns the queries used after spending, or undefined if none was left.
 */
export async function spendQuery(
  db: Queryable,
  verificationId: string,
  clientId: string,
  via: 'token' | 'check_api',
): Promise<number | undefined> {
  const [row] = await db('verifications')
    .where({ id: verificationId })
    .andWhere((q) => q.whereNull('max_queries').orWhereRaw('queries_used < max_queries'))
    .increment('queries_used', 1)
    .returning('queries_used');
  if (!row) return undefined;
  await db('verification_queries').insert({ verification_id: verificationId, client_id: clientId, via });
  return Number((row as { queries_used: number }).queries_used);
}

/** How many queries a client already spent on a result. */
export async function queriesByClient(db: Queryable, verificationId: string, clientId: string): Promise<number> {
  const row = await db('verification_queries')
    .where({ verification_id: verificationId, client_id: clientId })
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** Merchant queries of results (each one a verification not repeated), since `since`. */
export async function countQueries(db: Queryable, since?: Date): Promise<number> {
  const query = db('verification_queries').count({ n: '*' });
  if (since) query.where('created_at', '>=', since);
  const row = await query.first();
  return Number(row?.n ?? 0);
}

export async function insertProviderCall(
  db: Queryable,
  row: {
    provider: string;
    method: string;
    outcome: 'match' | 'mismatch' | 'unavailable';
    cost_fen: number;
    duration_ms: number;
    verification_id?: string;
  },
): Promise<void> {
  await db('provider_calls').insert(row);
}

export interface CostRow {
  provider: string;
  method: string;
  calls: number;
  unavailable: number;
  cost_fen: number;
}

/** Provider calls and their cost, by provider and method, since `since`. */
export async function costTotals(db: Queryable, since?: Date): Promise<CostRow[]> {
  const query = db('provider_calls')
    .select('provider', 'method')
    .count({ calls: '*' })
    .sum({ cost_fen: 'cost_fen' })
    .select(db.raw(`count(*) FILTER (WHERE outcome = 'unavailable') AS unavailable`))
    .groupBy('provider', 'method')
    .orderBy(['provider', 'method']);
  if (since) query.where('created_at', '>=', since);
  const rows = await query;
  return rows.map((r: Record<string, unknown>) => ({
    provider: String(r.provider),
    method: String(r.method),
    calls: Number(r.calls),
    unavailable: Number(r.unavailable),
    cost_fen: Number(r.cost_fen ?? 0),
  }));
}

/** Why the periodic self-check (docs/verification.md#reminders) reminds an account. */
export type ReminderReason = 'missing' | 'failed' | 'expiring';

/**
 * Of the given accounts, those the periodic self-check should remind, in id order: never
 * verified, last attempt failed with no usable result, or a result expiring before `horizon` with
 * no later one. An account's results are its own attempts and its person's results proven by
 * knowledge (a person-document match speaks for the account that did it only).
 */
export async function remindersOf(
  db: Queryable,
  accounts: Array<{ id: string; person_id: string | null }>,
  now: Date,
  horizon: Date,
): Promise<Array<{ account_id: string; reason: ReminderReason; expires_at: Date | null }>> {
  if (accounts.length === 0) return [];
  const { rows } = await db.raw(
    `WITH a (id, person_id) AS (VALUES ${accounts.map(() => '(?::uuid, ?::uuid)').join(', ')}),
     latest AS (
       SELECT DISTINCT ON (a.id) a.id AS account_id, v.status, v.expires_at
       FROM a
       LEFT JOIN verifications v ON v.account_id = a.id OR (v.person_id = a.person_id AND v.method <> 'person_match')
       ORDER BY a.id, (v.status = 'passed' AND (v.expires_at IS NULL OR v.expires_at > ?)) DESC NULLS LAST, v.expires_at DESC NULLS LAST, v.created_at DESC NULLS LAST
     )
     SELECT l.account_id,
       CASE WHEN l.status IS NULL THEN 'missing'
            WHEN l.status = 'failed' OR (l.expires_at IS NOT NULL AND l.expires_at <= ?) THEN 'failed'
            ELSE 'expiring' END AS reason,
       l.expires_at
     FROM latest l
     WHERE l.status IS NULL
        OR l.status = 'failed'
        OR (l.expires_at IS NOT NULL AND l.expires_at <= ?)
     ORDER BY l.account_id`,
    [...accounts.flatMap((account) => [account.id, account.person_id]), now, now, horizon],
  );
  return rows as Array<{ account_id: string; reason: ReminderReason; expires_at: Date | null }>;
}

export interface ProviderCallGroup {
  provider: string;
  method: string;
  outcome: string;
  calls: number;
  cost_fen: number;
  /** The largest id in the group. */
  max_id: number;
}

/**
 * Provider calls with an id above `afterId` (and at most `upToId`), grouped by provider, method and
 * outcome, with the largest id of each group (ProviderCallTotals' watermark).
 */
export async function providerCallGroups(
  db: Queryable,
  afterId: number,
  upToId?: number,
): Promise<ProviderCallGroup[]> {
  const query = db('provider_calls')
    .select('provider', 'method', 'outcome')
    .count({ calls: '*' })
    .sum({ cost_fen: 'cost_fen' })
    .max({ max_id: 'id' })
    .where('id', '>', afterId)
    .groupBy('provider', 'method', 'outcome');
  if (upToId !== undefined) query.andWhere('id', '<=', upToId);
  const rows: Array<Record<string, unknown>> = await query;
  return rows.map((r) => ({
    provider: String(r.provider),
    method: String(r.method),
    outcome: String(r.outcome),
    calls: Number(r.calls),
    cost_fen: Number(r.cost_fen ?? 0),
    max_id: Number(r.max_id),
  }));
}

/** Provider calls per day (UTC), provider and method since `since`: the console's chart. */
export async function dailyCosts(db: Queryable, since: Date): Promise<Array<CostRow & { day: string }>> {
  const rows = await db('provider_calls')
    .select(db.raw(`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`), 'provider', 'method')
    .count({ calls: '*' })
    .sum({ cost_fen: 'cost_fen' })
    .select(db.raw(`count(*) FILTER (WHERE outcome = 'unavailable') AS unavailable`))
    .where('created_at', '>=', since)
    .groupByRaw(`1, provider, method`)
    .orderByRaw(`1, provider, method`);
  return rows.map((r: Record<string, unknown>) => ({
    day: String(r.day),
    provider: String(r.provider),
    method: String(r.method),
    calls: Number(r.calls),
    unavailable: Number(r.unavailable),
    cost_fen: Number(r.cost_fen ?? 0),
  }));
}

/** The latest calls a provider could not answer (timeouts, errors, an open circuit), newest first. */
export async function recentFailures(
  db: Queryable,
  limit: number,
): Promise<Array<{ provider: string; method: string; duration_ms: number; created_at: Date }>> {
  return db('provider_calls')
    .where({ outcome: 'unavailable' })
    .orderBy('created_at', 'desc')
    .limit(limit)
    .select('provider', 'method', 'duration_ms', 'created_at');
}
