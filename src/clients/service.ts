import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { InvalidInput } from '../errors.js';
import { findClient, insertClient, listClients, upsertClient, type ClientRow } from './store.js';

/** Grant levels a merchant may be allowed to ask for (docs/product.md#grant-levels). */
export const GRANT_LEVELS = ['result', 'credentials', 'dossier'] as const;
export type GrantLevel = (typeof GRANT_LEVELS)[number];

export const DEMO_CLIENT_ID = 'demo-merchant';
/** The platform's own account pages, a first-party client (see ensurePlatformClient). */
export const PLATFORM_CLIENT_ID = 'platform-account';

/** The security level (1–3) in an OIDC client's metadata, as oidc/clients.ts gives it to oidc-provider. */
export function securityLevelOf(client: object): number {
  return Number((client as { security_level?: number }).security_level ?? 1);
}

/** Whether a merchant is registered to accept only sign-ins with a passkey (`--require-passkey`). */
export function requiresPasskey(client: object): boolean {
  return (client as { require_passkey?: unknown }).require_passkey === true;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** RFC 6749 §3.1.2: absolute URI without fragment; plain http only for loopback (RFC 8252 §7.3). */
const redirectUri = z.string().refine((value) => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.hash || value.includes('#')) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}, 'an absolute https URL without fragment (http only for localhost)');

/**
 * An endpoint the platform calls itself (a merchant's events endpoint, its back-channel logout
 * URI): absolute, no fragment (OIDC Back-Channel Logout 1.0 §2.2), https, or http for loopback
 * (a merchant on the same machine in development; refused in production by ClientService.add).
 */
const pushEndpoint = z
  .string()
  .max(2000)
  .refine((value) => {
    if (!URL.canParse(value) || value.includes('#')) return false;
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  }, 'an absolute https URL without fragment (http only for localhost outside production)');

export const newClientSchema = z.object({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(['merchant', 'notary']).default('merchant'),
  redirectUris: z.array(redirectUri).max(20).default([]),
  /** Where RP-initiated logout may send the person back (OpenID RP-Initiated Logout 1.0 §3). */
  postLogoutRedirectUris: z.array(redirectUri).max(20).default([]),
  levels: z.array(z.enum(GRANT_LEVELS)).min(1).default(['result']),
  category: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[\p{L}\p{N}_ .-]+$/u)
    .default('general'),
  securityLevel: z.coerce.number().int().min(1).max(3).default(1),
  /** The merchant accepts only results verified within this many days (docs/verification.md#reuse). */
  resultMaxAgeDays: z.coerce.number().int().min(1).max(3650).optional(),
  /** The merchant spends at most this many queries of one result. */
  resultMaxQueries: z.coerce.number().int().min(1).max(1_000_000).optional(),
  /** Every sign-in for this merchant must use a passkey (acr `urn:realname:acr:phishing_resistant`). */
  requirePasskey: z.boolean().default(false),
  /** Where Security Event Tokens about this merchant's grants are pushed (RFC 8935; src/merchant-events/). */
  eventsEndpoint: pushEndpoint.optional(),
  /** Where logout tokens are posted (OpenID Connect Back-Channel Logout 1.0 §2.2). */
  backchannelLogoutUri: pushEndpoint.optional(),
});
export type NewClient = z.input<typeof newClientSchema>;

export interface ClientInfo {
  client_id: string;
  name: string;
  kind: 'merchant' | 'notary';
  category: string;
  security_level: number;
  grant_levels: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  result_max_age_days: number | null;
  result_max_queries: number | null;
  require_passkey: boolean;
  /** Where SETs are pushed, if the merchant registered an events endpoint. */
  events_endpoint: string | null;
  backchannel_logout_uri: string | null;
  created_at: Date;
}

export interface RegisteredClient extends ClientInfo {
  client_secret: string;
}

/** What the OpenID Provider reads of a registration (src/oidc/clients.ts shapes it for oidc-provider). */
export interface ClientRegistration {
  client_id: string;
  client_secret: string;
  name: string;
  kind: 'merchant' | 'notary';
  category: string;
  security_level: number;
  grant_levels: string[];
  /** Its OAuth metadata under RFC 7591 names (redirect_uris, grant_types, response_types, …). */
  metadata: Record<string, unknown>;
}

export class ClientService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    /** In production the endpoints the platform calls must be https, loopback included. */
    private readonly options: { production?: boolean } = {},
  ) {}

  /** Registers a merchant (authorization code + PKCE) or a notary body (client_credentials). */
  async add(input: NewClient, options: { clientId?: string } = {}): Promise<RegisteredClient> {
    const parsed = newClientSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidInput(
        parsed.error.issues.map((i) => ({ field: i.path.join('.'), code: i.code, message: i.message })),
      );
    }
    const client = parsed.data;
    if (client.kind === 'merchant' && client.redirectUris.length === 0) {
      throw new InvalidInput([
        { field: 'redirectUris', code: 'required', message: 'a merchant needs at least one redirect URI' },
      ]);
    }
    if (client.kind === 'notary' && client.postLogoutRedirectUris.length) {
      throw new InvalidInput([
        {
          field: 'postLogoutRedirectUris',
          code: 'not_allowed',
          message: 'a notary body signs no one in, so it has no post-logout redirect URI',
        },
      ]);
    }
    const endpoints = (['eventsEndpoint', 'backchannelLogoutUri'] as const).filter((field) => client[field]);
    for (const field of endpoints) {
      if (client.kind === 'notary')
        throw new InvalidInput([{ field, code: 'not_allowed', message: 'a notary body holds no grants or sessions' }]);
      if (this.options.production && new URL(client[field]!).protocol !== 'https:')
        throw new InvalidInput([{ field, code: 'https_required', message: 'an https URL is required in production' }]);
    }
    // Pairwise subjects are per sector, the redirect URIs' host (OIDC Core §8.1); several hosts
    // would need a sector_identifier_uri document, which this platform does not fetch.
    if (new Set(client.redirectUris.map((uri) => new URL(uri).host)).size > 1) {
      throw new InvalidInput([
        { field: 'redirectUris', code: 'sector_mismatch', message: 'all redirect URIs must share one host' },
      ]);
    }
    const clientId = options.clientId ?? randomBytes(16).toString('base64url');
    const clientSecret = randomBytes(32).toString('base64url');
    const metadata =
      client.kind === 'merchant'
        ? {
            redirect_uris: client.redirectUris,
            ...(client.postLogoutRedirectUris.length
              ? { post_logout_redirect_uris: client.postLogoutRedirectUris }
              : {}),
            // client_credentials: for the check API (scope realname:check).
            grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
            response_types: ['code'],
            ...(client.requirePasskey ? { require_passkey: true } : {}),
            ...(client.eventsEndpoint ? { events_endpoint: client.eventsEndpoint } : {}),
            // With `sid` in the logout token (and the ID token), the merchant ends exactly the
            // session that signed out here (Back-Channel Logout 1.0 §2.4).
            ...(client.backchannelLogoutUri
              ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }
              : {}),
          }
        : { redirect_uris: [], grant_types: ['client_credentials'], response_types: [] };
    const row = {
      client_id: clientId,
      client_secret_encrypted: this.box.seal(clientSecret, secretContext(clientId)),
      name: client.name,
      kind: client.kind,
      category: client.category,
      security_level: client.securityLevel as 1 | 2 | 3,
      grant_levels: client.levels,
      metadata,
      result_max_age_days: client.resultMaxAgeDays ?? null,
      result_max_queries: client.resultMaxQueries ?? null,
    };
    await inTransaction(this.db, async (tx) => insertClient(tx, row));
    return { ...toInfo({ ...row, created_at: new Date() }), client_secret: clientSecret };
  }

  /** The development demo merchant, created on first use; prints-friendly id and secret. */
  async ensureDemo(redirectUri: string): Promise<RegisteredClient> {
    const existing = await findClient(this.db, DEMO_CLIENT_ID);
    if (existing) {
      return {
        ...toInfo(existing),
        client_secret: this.box.openText(existing.client_secret_encrypted, secretContext(DEMO_CLIENT_ID)),
      };
    }
    const demo = {
      name: 'Demo merchant',
      redirectUris: [redirectUri],
      levels: [...GRANT_LEVELS],
      category: 'demo',
      // The example merchant's receiving routes, beside its callback (examples/merchant/).
      eventsEndpoint: new URL('/events', redirectUri).toString(),
      backchannelLogoutUri: new URL('/backchannel-logout', redirectUri).toString(),
    };
    return this.add(demo, { clientId: DEMO_CLIENT_ID });
  }

  /**
   * The platform's own account pages as a first-party client (`response_type=none`: it needs the
   * person's session, never a token), registered or brought up to date with the issuer on start.
   */
  async ensurePlatformClient(clientId: string, redirectUri: string): Promise<void> {
    await upsertClient(this.db, {
      client_id: clientId,
      client_secret_encrypted: this.box.seal(randomBytes(32).toString('base64url'), secretContext(clientId)),
      name: 'Real-name platform account',
      kind: 'merchant',
      category: 'platform',
      security_level: 1,
      grant_levels: ['result'],
      // It never calls the token endpoint; its (unused) secret makes it a client_secret_basic client,
      // the only kind discovery advertises besides client_secret_post.
      metadata: { redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['none'] },
      result_max_age_days: null,
      result_max_queries: null,
    });
  }

  async list(): Promise<ClientInfo[]> {
    return (await listClients(this.db)).map(toInfo);
  }

  /** A registration with its secret opened, for the OpenID Provider. */
  async registration(clientId: string): Promise<ClientRegistration | undefined> {
    const row = await findClient(this.db, clientId);
    if (!row) return undefined;
    return {
      client_id: row.client_id,
      client_secret: this.box.openText(row.client_secret_encrypted, secretContext(row.client_id)),
      name: row.name,
      kind: row.kind,
      category: row.category,
      security_level: row.security_level,
      grant_levels: row.grant_levels,
      metadata: row.metadata,
    };
  }

  /** A client's kind and reuse limits, for the platform's own APIs. */
  async find(clientId: string): Promise<ClientInfo | undefined> {
    const row = await findClient(this.db, clientId);
    return row && toInfo(row);
  }
}

function secretContext(clientId: string): string {
  return `clients:client_secret:${clientId}`;
}

function toInfo(row: ClientRow): ClientInfo {
  return {
    client_id: row.client_id,
    name: row.name,
    kind: row.kind,
    category: row.category,
    security_level: row.security_level,
    grant_levels: row.grant_levels,
    redirect_uris: (row.metadata.redirect_uris as string[] | undefined) ?? [],
    post_logout_redirect_uris: (row.metadata.post_logout_redirect_uris as string[] | undefined) ?? [],
    result_max_age_days: row.result_max_age_days ?? null,
    result_max_queries: row.result_max_queries ?? null,
    require_passkey: requiresPasskey(row.metadata),
    events_endpoint: (row.metadata.events_endpoint as string | undefined) ?? null,
    backchannel_logout_uri: (row.metadata.backchannel_logout_uri as string | undefined) ?? null,
    created_at: row.created_at,
  };
}
