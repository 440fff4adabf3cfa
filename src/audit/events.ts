import { z } from 'zod';

/**
 * What the audit trail records. Each event type has a strict payload schema: a payload carries
 * references (ids, levels, claim names, counts), never raw identity data such as names or
 * document numbers. A natural person appears only as the blind index in `subjects.person`.
 */

const id = z.string().min(1).max(200);
const level = z.enum(['result', 'credentials', 'dossier']);
const method = z.enum(['document', 'person_match', 'offline_notary', 'phone_three_element']);
const claimNames = z.array(z.string().min(1).max(100)).max(100);

export const EVENT_PAYLOADS = {
  'account.registered': z.object({ login_type: z.enum(['email', 'phone']) }),
  // The person downloaded or viewed everything the platform holds about them (docs/product.md#your-data).
  'account.data_exported': z.object({ format: z.enum(['json', 'html']) }),
  // The person closed their account: every grant revoked (each its own consent.revoked), the
  // account and its personal data deleted, and the person's data key destroyed when no other
  // account is verified as them (`person_erased`). The audit trail itself is not touched.
  'account.closed': z.object({ person_erased: z.boolean(), grants_revoked: z.number().int().min(0) }),
  // An operator disabled the account (src/accounts/disabling.ts): how many sessions and live
  // tokens that ended. The operator's reason is not here: free text has no place in a permanent log.
  'account.disabled': z.object({
    sessions_ended: z.number().int().min(0),
    tokens_revoked: z.number().int().min(0),
  }),
  'account.enabled': z.object({}),
  'identity.verified': z.object({ method, provider: id.optional(), result_id: id.optional() }),
  'identity.verification_failed': z.object({ method, provider: id.optional(), reason: z.string().max(100) }),
  // A consent, at an authorization or on the account page (`via`): the level before
  // (`from_level`, absent on a grant's first level), the level now, the scopes the merchant's next
  // token carries, and how many live tokens of the level before a change of level revoked.
  'consent.granted': z.object({
    grant_id: id,
    from_level: level.optional(),
    level: level.optional(),
    scopes: z.array(z.string().max(100)).max(50),
    via: z.enum(['consent_page', 'account_page']).optional(),
    tokens_revoked: z.number().int().min(0).optional(),
  }),
  // Level 3: a wrong partial-knowledge answer (docs/product.md#grant-levels); `locked_until` when
  // it locked the dossier.
  'consent.reconfirmation_failed': z.object({
    level,
    failures: z.number().int().min(1),
    locked_until: z.string().datetime().optional(),
  }),
  'consent.revoked': z.object({ grant_id: id, by: z.enum(['person', 'operator', 'merchant']) }),
  'token.issued': z.object({
    grant_id: id.optional(),
    level: level.optional(),
    // The access token's scopes (absent from events written before they were recorded).
    scopes: z.array(z.string().max(100)).max(50).optional(),
    token_type: z.string().max(50),
    grant_type: z.string().max(100),
  }),
  'claims.released': z.object({
    grant_id: id.optional(),
    level: level.optional(),
    via: z.enum(['id_token', 'userinfo', 'dossier_document', 'check_api']),
    claims: claimNames,
  }),
  'verification.checked': z.object({ verified: z.boolean(), queries_left: z.number().int().nullable().optional() }),
  'registry.uploaded': z.object({
    registration_id: id,
    document_type: z.string().max(50),
    external_id: z.string().max(200),
  }),
  // A rate limit started refusing a key (once per lockout): which limit, what kind of key, for how
  // long. Never the login or IP itself; an account or client appears only in `subjects`.
  'security.rate_limited': z.object({
    limit: z.enum(['sign_in', 'registration', 'verification', 'check_api', 'token', 'authorization', 'password_reset']),
    key_kind: z.enum(['login', 'ip', 'account', 'client', 'client_ip']),
    retry_after: z.number().int().min(1),
  }),
  // An operator replaced a client's public keys (`client keys`): the key ids now registered inline
  // (empty for a key without one), or the address they are now fetched from.
  'client.keys_replaced': z.object({
    kids: z.array(z.string().max(200)).max(20).optional(),
    jwks_uri: z.string().max(2000).optional(),
    previous_jwks_uri: z.string().max(2000).optional(),
  }),
  // An operator registered a client (`client add`, the admin API, the console): its kind and
  // levels; never its secret.
  'client.registered': z.object({
    kind: z.enum(['merchant', 'notary', 'operator']),
    grant_levels: z.array(level).max(3),
    security_profile: z.enum(['fapi2']).optional(),
  }),
  // An operator changed a registration: which fields (snake_case), and the levels when they changed.
  'client.updated': z.object({
    fields: z
      .array(z.enum(['name', 'redirect_uris', 'levels', 'category', 'security_level']))
      .min(1)
      .max(5),
    grant_levels: z.array(level).max(3).optional(),
  }),
  'client.disabled': z.object({}),
  'client.enabled': z.object({}),
  // A new client secret replaced the old one (the secret itself is shown once, never recorded).
  'client.secret_rotated': z.object({}),
  'client.deleted': z.object({ kind: z.enum(['merchant', 'notary', 'operator']) }),
  // An account was made operator, or stopped being one (`operator add|remove`); `subjects.account` names it.
  'operator.added': z.object({}),
  'operator.removed': z.object({}),
  // An operator rotated platform keys (`keys rotate`): the purpose, the new key ids, how many retired.
  'keys.rotated': z.object({
    purpose: z.enum(['oidc-signing', 'cookie', 'audit-tree-head']),
    kids: z.array(z.string().max(200)).min(1).max(10),
    retired: z.number().int().min(0),
  }),
  // An operator ran the self-check (`selfcheck`): accounts needing attention, reminders queued.
  'reminders.queued': z.object({ checked: z.number().int().min(0), queued: z.number().int().min(0) }),
  // An operator re-verified the whole log (`audit verify`): the outcome, the leaves and heads checked.
  'audit.verified': z.object({
    ok: z.boolean(),
    leaves: z.number().int().min(0),
    heads: z.number().int().min(0),
    kept_heads: z.number().int().min(0),
  }),
  'notary.queried': z.object({
    endpoint: z.string().max(100),
    filters: z.record(z.string(), z.unknown()).optional(),
    results: z.number().int().min(0).optional(),
  }),
} as const;

export type EventType = keyof typeof EVENT_PAYLOADS;
export const EVENT_TYPES = Object.keys(EVENT_PAYLOADS) as EventType[];

export const ACTOR_TYPES = ['account', 'client', 'notary', 'operator', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** An event as a module hands it to the audit log. */
export interface AuditEventInput<T extends EventType = EventType> {
  type: T;
  actor: { type: ActorType; id?: string };
  /** Whom the event concerns; each is searchable. `person` is a blind index (hex). */
  subjects?: { account?: string; person?: string; client?: string };
  payload: z.input<(typeof EVENT_PAYLOADS)[T]>;
}

/** The leaf: what is canonicalized (RFC 8785) and hashed. `v` versions this shape. */
export interface AuditLeaf {
  v: 1;
  leaf_index: number;
  time: string;
  type: EventType;
  actor: { type: ActorType; id?: string };
  subjects: { account?: string; person?: string; client?: string };
  payload: Record<string, unknown>;
}

const subjects = z
  .object({
    account: id.optional(),
    person: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    client: id.optional(),
  })
  .strict();
const actor = z.object({ type: z.enum(ACTOR_TYPES), id: id.optional() }).strict();

/**
 * The payload schemas refusing unknown keys, made once: zod compiles a schema on its first parse,
 * so a `.strict()` per event compiled one per append (a hot spot of the refresh profile).
 */
const STRICT_PAYLOADS = new Map<string, z.ZodObject>(
  Object.entries(EVENT_PAYLOADS).map(([type, schema]) => [type, (schema as z.ZodObject).strict()]),
);

/** Validates an event; a module writing a malformed event is a bug, so this throws. */
export function parseEvent(event: AuditEventInput): Omit<AuditLeaf, 'v' | 'leaf_index' | 'time'> {
  const schema = STRICT_PAYLOADS.get(event.type);
  if (!schema) throw new Error(`unknown audit event type ${String(event.type)}`);
  return {
    type: event.type,
    actor: actor.parse(event.actor),
    subjects: subjects.parse(event.subjects ?? {}),
    payload: schema.parse(event.payload) as Record<string, unknown>,
  };
}
