// What the admin API (and the CLI, which sends the same requests with or without `--url`) accepts:
// zod schemas under the API's snake_case names. The client rules themselves (URLs, levels,
// profiles, keys) are checked by src/clients/service.ts, once, whichever way a request comes in.
import { z } from 'zod';
import { text } from '../validation.js';

const url = text(2000);
const encryption = z.object({ alg: text(50), enc: text(50).optional() }).strict();
/** A number, or its digits as text (the CLI's options): ClientService checks the range. */
const count = z.union([z.number().int(), text(20)]);
/** A JWK Set: ClientService checks it (public keys only, the algorithms the profile allows). */
const jwks = z.unknown();

/** POST /api/admin/clients (`client add`). */
export const clientAddBody = z
  .object({
    name: text(200),
    kind: text(20).optional(),
    redirect_uris: z.array(url).max(20).optional(),
    post_logout_redirect_uris: z.array(url).max(20).optional(),
    levels: z.array(text(20)).max(3).optional(),
    category: text(100).optional(),
    security_level: count.optional(),
    result_max_age_days: count.optional(),
    result_max_queries: count.optional(),
    require_passkey: z.boolean().optional(),
    events_endpoint: url.optional(),
    backchannel_logout_uri: url.optional(),
    profile: text(20).optional(),
    /** The client's public keys (RFC 7591 §2 `jwks`): a JWK Set. */
    jwks: jwks.optional(),
    jwks_uri: url.optional(),
    id_token_alg: text(20).optional(),
    userinfo_alg: text(20).optional(),
    userinfo_encryption: encryption.optional(),
    id_token_encryption: encryption.optional(),
  })
  .strict();
export type ClientAddBody = z.input<typeof clientAddBody>;

/** PATCH /api/admin/clients/{client_id} (`client update`): at least one field. */
export const clientUpdateBody = z
  .object({
    name: text(200).optional(),
    redirect_uris: z.array(url).max(20).optional(),
    levels: z.array(text(20)).max(3).optional(),
    category: text(100).optional(),
    security_level: count.optional(),
  })
  .strict();
export type ClientUpdateBody = z.input<typeof clientUpdateBody>;

/** PUT /api/admin/clients/{client_id}/keys (`client keys`): one of the two. */
export const clientKeysBody = z
  .object({
    jwks: jwks.optional(),
    jwks_uri: url.optional(),
  })
  .strict();
export type ClientKeysBody = z.input<typeof clientKeysBody>;

/** A client id in a path. */
export const clientIdParam = text(200).min(1);

/** The key purposes an operator may rotate; the pairwise salt is not one (every `sub` would change). */
export const ROTATABLE_PURPOSES = ['oidc-signing', 'cookie', 'audit-tree-head'] as const;

/** POST /api/admin/keys/rotate (`keys rotate`). */
export const keysRotateBody = z.object({ purpose: z.enum(ROTATABLE_PURPOSES).default('oidc-signing') }).strict();
export type KeysRotateBody = z.input<typeof keysRotateBody>;

/** GET /api/admin/costs (`costs`): `since` a day, `YYYY-MM-DD`. */
export const costsQuery = z
  .object({
    since: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date like 2026-11-01')
      .refine((v) => !Number.isNaN(Date.parse(v)), 'a date like 2026-11-01')
      .optional(),
  })
  .strict();
export type CostsQuery = z.input<typeof costsQuery>;

/** POST /api/admin/selfcheck (`selfcheck`). */
export const selfcheckBody = z
  .object({
    expiring_within_days: z.coerce.number().int().min(1).max(3650).default(30),
    deliver: z.boolean().default(false),
  })
  .strict();
export type SelfcheckBody = z.input<typeof selfcheckBody>;

/**
 * POST /api/admin/audit/verify (`audit verify`): besides the heads the platform keeps in
 * `audit.headsDir`, a notary's copies (the text of each file, as `audit.headsDir` holds them) and
 * the tree-head keys held outside the database.
 */
export const auditVerifyBody = z
  .object({
    heads: z
      .array(z.object({ source: text(500), text: z.string().max(10_000_000) }).strict())
      .max(100)
      .default([]),
    keys: z.object({ keys: z.array(z.record(z.string(), z.unknown())).max(100) }).optional(),
  })
  .strict();
export type AuditVerifyBody = z.input<typeof auditVerifyBody>;

/** POST /api/admin/operators (`operator add`). */
export const operatorBody = z.object({ login: text(320).min(1) }).strict();

/** POST /api/admin/accounts/disable (`account disable`): the operator's note, no personal data. */
export const accountDisableBody = z.object({ login: text(320).min(1), reason: z.string().optional() }).strict();

/** POST /api/admin/security-log (`security log`): one account's or all, since a day (7 days ago by default). */
export const securityLogBody = z
  .object({
    login: text(320).min(1).optional(),
    since: costsQuery.shape.since,
  })
  .strict();

/** GET /api/admin/security-events (`events list`): `failed=true` for those given up on. */
export const securityEventsQuery = z.object({ failed: z.enum(['true', 'false']).optional() }).strict();
