import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import type { AuditLog } from '../audit/log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import {
  ENCRYPTION_ALGS,
  ENCRYPTION_ENCS,
  FAPI_ID_TOKEN_ALGS,
  parseClientJwks,
  USERINFO_SIGNING_ALGS,
  type ClientJwks,
} from './keys.js';
import {
  clientsGeneration,
  deleteClient,
  findClient,
  insertClient,
  listClients,
  updateClient,
  updateClientMetadata,
  upsertClient,
  type ClientRow,
} from './store.js';

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

/** Security profiles a client may be registered under (`--profile`); none means today's defaults. */
export const SECURITY_PROFILES = ['fapi2'] as const;
export type SecurityProfile = (typeof SECURITY_PROFILES)[number];

/** The client's security profile, from its metadata (`security_profile`). */
export function securityProfileOf(client: object): SecurityProfile | undefined {
  const profile = (client as { security_profile?: unknown }).security_profile;
  return profile === 'fapi2' ? profile : undefined;
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
/** Where a client publishes its keys: https, or http on loopback (a developer's machine, the tests). */
const jwksUri = z.string().refine((value) => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return !url.hash && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
}, 'an absolute https URL without fragment (http only for localhost)');

/** A JWE a client asks for (RFC 7516): key management and content encryption. */
const encryption = z.object({ alg: z.enum(ENCRYPTION_ALGS), enc: z.enum(ENCRYPTION_ENCS).default('A256GCM') });

const clientName = z.string().trim().min(1).max(200);
const category = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[\p{L}\p{N}_ .-]+$/u);
const securityLevel = z.coerce.number().int().min(1).max(3);

export const newClientSchema = z.object({
  name: clientName,
  kind: z.enum(['merchant', 'notary']).default('merchant'),
  redirectUris: z.array(redirectUri).max(20).default([]),
  /** Where RP-initiated logout may send the person back (OpenID RP-Initiated Logout 1.0 §3). */
  postLogoutRedirectUris: z.array(redirectUri).max(20).default([]),
  levels: z.array(z.enum(GRANT_LEVELS)).min(1).default(['result']),
  category: category.default('general'),
  securityLevel: securityLevel.default(1),
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
  /**
   * `fapi2`: the FAPI 2.0 Security Profile (docs/integrating.md#fapi-20): pushed authorization
   * requests, private_key_jwt, DPoP-bound tokens, PS256/ES256 ID tokens, codes of 60 s at most.
   */
  profile: z.enum(SECURITY_PROFILES).optional(),
  /** The client's public keys (RFC 7591 §2 `jwks`), for private_key_jwt and encrypted answers. */
  jwks: z.unknown().optional(),
  /** …or where it publishes them (`jwks_uri`), fetched and cached by oidc-provider. */
  jwksUri: jwksUri.optional(),
  idTokenSigningAlg: z.enum(['RS256', ...FAPI_ID_TOKEN_ALGS]).optional(),
  /** Userinfo as a JWS (OIDC Core §5.3.2) signed with this algorithm. */
  userinfoSigningAlg: z.enum(USERINFO_SIGNING_ALGS).optional(),
  /** Userinfo as a JWE around that JWS, to one of the client's keys. */
  userinfoEncryption: encryption.optional(),
  /** ID tokens as a JWE around the JWS (OIDC Core §10.2). */
  idTokenEncryption: encryption.optional(),
});
export type NewClient = z.input<typeof newClientSchema>;
type ParsedClient = z.output<typeof newClientSchema>;

/** What an operator may change of a registration (`client update`, PATCH /api/admin/clients/{id}). */
export const clientChangesSchema = z
  .object({
    name: clientName.optional(),
    redirectUris: z.array(redirectUri).min(1).max(20).optional(),
    levels: z.array(z.enum(GRANT_LEVELS)).min(1).optional(),
    category: category.optional(),
    securityLevel: securityLevel.optional(),
  })
  .strict();
export type ClientChanges = z.input<typeof clientChangesSchema>;

/** Who registers or changes a client: an operator (its account when known), or the platform itself. */
export type ClientActor = { type: 'operator'; id?: string } | { type: 'system' };

export interface ClientInfo {
  client_id: string;
  name: string;
  kind: 'merchant' | 'notary' | 'operator';
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
  /** `fapi2`, or absent for a client with the platform's defaults. */
  security_profile?: SecurityProfile;
  /** Where the client's keys are published, or how many it registered inline. */
  jwks_uri?: string;
  jwks_keys?: number;
  /** While disabled, the client can neither sign anyone in nor obtain or use a token. */
  disabled: boolean;
  /** The operator account an operator client acts for. */
  operator_account?: string;
  created_at: Date;
}

/** A client registered with a secret; a FAPI 2.0 client has none (it signs in with its keys). */
export interface RegisteredClient extends ClientInfo {
  client_secret: string;
}

/** What the OpenID Provider reads of a registration (src/oidc/clients.ts shapes it for oidc-provider). */
export interface ClientRegistration {
  client_id: string;
  client_secret: string;
  name: string;
  kind: 'merchant' | 'notary' | 'operator';
  category: string;
  security_level: number;
  grant_levels: string[];
  /** Its OAuth metadata under RFC 7591 names (redirect_uris, grant_types, response_types, …). */
  metadata: Record<string, unknown>;
}

export class ClientService {
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly audit: AuditLog,
    /** In production the endpoints the platform calls must be https, loopback included. */
    private readonly options: { production?: boolean } = {},
  ) {}

  /** Calls `listener` after every change this process makes to a registration (src/oidc/clients.ts forgets its copies). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** What changes whenever any process changes a registration (see clientsGeneration). */
  generation(): Promise<string> {
    return clientsGeneration(this.db);
  }

  /** Tells this process's listeners that registrations changed (here, or in another process). */
  changed(): void {
    for (const listener of this.listeners) listener();
  }

  /**
   * Registers a merchant (authorization code + PKCE) or a notary body (client_credentials), with a
   * secret, or under the FAPI 2.0 profile with its keys and no secret.
   */
  async add(input: NewClient & { profile: SecurityProfile }, options?: AddOptions): Promise<ClientInfo>;
  async add(input: NewClient, options?: AddOptions): Promise<RegisteredClient>;
  async add(input: NewClient, options: AddOptions = {}): Promise<ClientInfo | RegisteredClient> {
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
    const keys = keyMetadata(client);
    const clientId = options.clientId ?? newClientId();
    // A FAPI 2.0 client has no secret (FAPI 2.0 §5.3.2.1: private_key_jwt or mTLS only); the
    // column keeps a sealed empty value, and the provider is given none (src/oidc/clients.ts).
    const clientSecret = client.profile ? '' : randomBytes(32).toString('base64url');
    const metadata = {
      ...(client.kind === 'merchant'
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
        : { redirect_uris: [], grant_types: ['client_credentials'], response_types: [] }),
      ...keys,
    };
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
    await inTransaction(this.db, async (tx) => {
      await insertClient(tx, row);
      await this.audit.append(tx, registeredEvent(row, options.actor ?? { type: 'operator' }));
    });
    const info = toInfo({ ...row, created_at: new Date() });
    return client.profile ? info : { ...info, client_secret: clientSecret };
  }

  /**
   * Replaces a client's public keys (key rotation of a client registered with `jwks`, or a move to
   * or from `jwks_uri`), checked as at registration, with a `client.keys_replaced` event in the
   * same transaction. Processes see the new keys within the client cache's lifetime
   * (src/oidc/clients.ts).
   */
  async replaceKeys(
    clientId: string,
    keys: { jwks?: unknown; jwksUri?: string },
    actor: { type: 'operator'; id?: string } = { type: 'operator' },
  ): Promise<ClientInfo> {
    const row = await findClient(this.db, clientId);
    if (!row) throw new NotFound(`No client ${clientId}.`);
    if ((keys.jwks === undefined) === (keys.jwksUri === undefined)) {
      throw new InvalidInput([{ field: 'jwks', code: 'one_of', message: 'give either --jwks or --jwks-uri' }]);
    }
    const uri = keys.jwksUri === undefined ? undefined : jwksUri.safeParse(keys.jwksUri);
    if (uri && !uri.success) {
      throw new InvalidInput([{ field: 'jwksUri', code: 'invalid', message: uri.error.issues[0]!.message }]);
    }
    const profile = securityProfileOf(row.metadata);
    const jwks =
      keys.jwks === undefined
        ? undefined
        : parseClientJwks(keys.jwks, { fapi: profile === 'fapi2', encryptionAlgs: encryptionAlgsOf(row.metadata) });
    const { jwks: _jwks, jwks_uri: previousUri, ...rest } = row.metadata;
    const metadata = { ...rest, ...(jwks ? { jwks } : { jwks_uri: uri!.data }) };
    await inTransaction(this.db, async (tx) => {
      await updateClientMetadata(tx, clientId, metadata);
      await this.audit.append(tx, {
        type: 'client.keys_replaced',
        actor,
        subjects: { client: clientId },
        payload: {
          ...(jwks ? { kids: jwks.keys.map((key) => key.kid ?? '') } : { jwks_uri: uri!.data }),
          ...(previousUri ? { previous_jwks_uri: previousUri as string } : {}),
        },
      });
    });
    this.changed();
    return toInfo({ ...row, metadata });
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
    return this.add(demo, { clientId: DEMO_CLIENT_ID, actor: { type: 'system' } });
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

  /**
   * An operator's own client for the admin API (`operator credentials LOGIN`): client_credentials
   * with the scope `admin`, bound to the operator's account (docs/operations.md#operators).
   */
  async addOperatorClient(accountId: string, login: string, actor: ClientActor): Promise<RegisteredClient> {
    const clientId = `op-${randomBytes(12).toString('base64url')}`;
    const clientSecret = randomBytes(32).toString('base64url');
    const row = {
      client_id: clientId,
      client_secret_encrypted: this.box.seal(clientSecret, secretContext(clientId)),
      name: `operator ${login}`.slice(0, 200),
      kind: 'operator' as const,
      category: 'operator',
      security_level: 1 as const,
      grant_levels: [],
      metadata: { redirect_uris: [], grant_types: ['client_credentials'], response_types: [] },
      result_max_age_days: null,
      result_max_queries: null,
      operator_account_id: accountId,
    };
    await inTransaction(this.db, async (tx) => {
      await insertClient(tx, row);
      await this.audit.append(tx, registeredEvent(row, actor));
    });
    return { ...toInfo({ ...row, created_at: new Date() }), client_secret: clientSecret };
  }

  /** A registration, or NotFound. */
  async show(clientId: string): Promise<ClientInfo> {
    return toInfo(await this.existing(clientId));
  }

  /**
   * Changes a registration's name, redirect URIs, levels, category or security level, checked as
   * at registration, with a `client.updated` event naming the fields in the same transaction.
   * Other processes see the change within the client cache's lifetime (src/oidc/clients.ts).
   */
  async update(clientId: string, input: ClientChanges, actor: ClientActor): Promise<ClientInfo> {
    const row = await this.changeable(clientId);
    const parsed = clientChangesSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidInput(
        parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', code: i.code, message: i.message })),
      );
    }
    const changes = parsed.data;
    const fields = Object.keys(changes).filter((k) => changes[k as keyof typeof changes] !== undefined);
    if (fields.length === 0) {
      throw new InvalidInput([{ field: '(body)', code: 'required', message: 'name at least one field to change' }]);
    }
    if (row.kind !== 'merchant' && (changes.redirectUris || changes.levels || changes.securityLevel)) {
      throw new InvalidInput([
        {
          field: changes.redirectUris ? 'redirectUris' : changes.levels ? 'levels' : 'securityLevel',
          code: 'not_allowed',
          message: `a ${row.kind} client signs no one in: it has no redirect URIs, levels or security level`,
        },
      ]);
    }
    if (changes.redirectUris && new Set(changes.redirectUris.map((uri) => new URL(uri).host)).size > 1) {
      throw new InvalidInput([
        { field: 'redirectUris', code: 'sector_mismatch', message: 'all redirect URIs must share one host' },
      ]);
    }
    // The pairwise sector is the redirect URIs' host (OIDC Core §8.1): moving the merchant to
    // another host would give every person a new `sub` there.
    const host = (row.metadata.redirect_uris as string[] | undefined)?.[0];
    if (changes.redirectUris && host && new URL(changes.redirectUris[0]!).host !== new URL(host).host) {
      throw new InvalidInput([
        {
          field: 'redirectUris',
          code: 'sector_mismatch',
          message: `the redirect URIs must stay on ${new URL(host).host}: its pairwise subjects depend on it`,
        },
      ]);
    }
    const updated: ClientRow = {
      ...row,
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.levels ? { grant_levels: changes.levels } : {}),
      ...(changes.category !== undefined ? { category: changes.category } : {}),
      ...(changes.securityLevel !== undefined ? { security_level: changes.securityLevel as 1 | 2 | 3 } : {}),
      metadata: changes.redirectUris ? { ...row.metadata, redirect_uris: changes.redirectUris } : row.metadata,
    };
    await inTransaction(this.db, async (tx) => {
      await updateClient(tx, clientId, {
        name: updated.name,
        grant_levels: updated.grant_levels,
        category: updated.category,
        security_level: updated.security_level,
        metadata: updated.metadata,
      });
      await this.audit.append(tx, {
        type: 'client.updated',
        actor,
        subjects: { client: clientId },
        payload: {
          fields: fields.map(snakeCase) as never,
          ...(changes.levels ? { grant_levels: changes.levels } : {}),
        },
      });
    });
    this.changed();
    return toInfo(updated);
  }

  /**
   * Disables (or enables again) a client: while disabled oidc-provider finds no such client, so it
   * signs no one in and its tokens are refused. `changed` is false when it already was so.
   */
  async setDisabled(
    clientId: string,
    disabled: boolean,
    actor: ClientActor,
  ): Promise<{ client_id: string; disabled: boolean; changed: boolean }> {
    const row = await this.changeable(clientId);
    const changed = Boolean(row.disabled_at) !== disabled;
    if (changed) {
      await inTransaction(this.db, async (tx) => {
        await updateClient(tx, clientId, { disabled_at: disabled ? new Date() : null });
        await this.audit.append(tx, {
          type: disabled ? 'client.disabled' : 'client.enabled',
          actor,
          subjects: { client: clientId },
          payload: {},
        });
      });
      this.changed();
    }
    return { client_id: clientId, disabled, changed };
  }

  /** A new secret for the client, returned once (only its sealed form is kept); the old one stops working. */
  async rotateSecret(clientId: string, actor: ClientActor): Promise<{ client_id: string; client_secret: string }> {
    const row = await this.changeable(clientId);
    if (securityProfileOf(row.metadata)) {
      throw new Conflict('no-client-secret', 'A FAPI 2.0 client signs in with its keys and has no secret to rotate.');
    }
    const clientSecret = randomBytes(32).toString('base64url');
    await inTransaction(this.db, async (tx) => {
      await updateClient(tx, clientId, {
        client_secret_encrypted: this.box.seal(clientSecret, secretContext(clientId)),
      });
      await this.audit.append(tx, {
        type: 'client.secret_rotated',
        actor,
        subjects: { client: clientId },
        payload: {},
      });
    });
    this.changed();
    return { client_id: clientId, client_secret: clientSecret };
  }

  /**
   * Deletes a registration. A notary body that uploaded registrations is still named by them: it
   * cannot be deleted (409), only disabled. The audit trail keeps everything the client did.
   */
  async delete(clientId: string, actor: ClientActor): Promise<{ client_id: string; deleted: true }> {
    const row = await this.changeable(clientId);
    try {
      await inTransaction(this.db, async (tx) => {
        await this.audit.append(tx, {
          type: 'client.deleted',
          actor,
          subjects: { client: clientId },
          payload: { kind: row.kind },
        });
        // Deleted meanwhile by another operator: the event rolls back with nothing to record.
        if (!(await deleteClient(tx, clientId))) throw new NotFound(`No client ${clientId}.`);
      });
    } catch (err) {
      // PostgreSQL foreign_key_violation: rows of another domain still name the client.
      if ((err as { code?: string }).code === '23503') {
        throw new Conflict('client-in-use', `Records still name ${clientId}; disable it instead.`);
      }
      throw err;
    }
    this.changed();
    return { client_id: clientId, deleted: true };
  }

  private async existing(clientId: string): Promise<ClientRow> {
    const row = await findClient(this.db, clientId);
    if (!row) throw new NotFound(`No client ${clientId}.`);
    return row;
  }

  /** A client an operator may change: any but the platform's own account pages. */
  private async changeable(clientId: string): Promise<ClientRow> {
    if (clientId === PLATFORM_CLIENT_ID) {
      throw new Conflict('platform-client', "The platform's own account client is managed by the platform itself.");
    }
    return this.existing(clientId);
  }

  /** A registration with its secret opened, for the OpenID Provider. */
  async registration(clientId: string): Promise<ClientRegistration | undefined> {
    const row = await findClient(this.db, clientId);
    if (!row || row.disabled_at) return undefined;
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

/**
 * The key, signing and encryption metadata of a registration (RFC 7591 §2, OIDC Dynamic Client
 * Registration §2), and under `fapi2` everything FAPI 2.0 asks of the client.
 */
function keyMetadata(client: ParsedClient): Record<string, unknown> {
  const fapi = client.profile === 'fapi2';
  const encryptions = [client.userinfoEncryption, client.idTokenEncryption].filter((e) => e !== undefined);
  if (client.jwks !== undefined && client.jwksUri !== undefined) {
    throw new InvalidInput([{ field: 'jwks', code: 'one_of', message: 'give either jwks or jwks_uri, not both' }]);
  }
  if ((fapi || encryptions.length) && client.jwks === undefined && client.jwksUri === undefined) {
    throw new InvalidInput([
      {
        field: 'jwks',
        code: 'required',
        message: fapi
          ? 'a FAPI 2.0 client needs its public keys (jwks or jwks_uri)'
          : 'encryption needs the client keys',
      },
    ]);
  }
  if (fapi && client.idTokenSigningAlg === 'RS256') {
    throw new InvalidInput([
      { field: 'idTokenSigningAlg', code: 'not_fapi', message: `FAPI 2.0 allows ${FAPI_ID_TOKEN_ALGS.join(', ')}` },
    ]);
  }
  const jwks: ClientJwks | undefined =
    client.jwks === undefined
      ? undefined
      : parseClientJwks(client.jwks, { fapi, encryptionAlgs: encryptions.map((e) => e.alg) });
  return {
    ...(jwks ? { jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.idTokenSigningAlg || fapi ? { id_token_signed_response_alg: client.idTokenSigningAlg ?? 'PS256' } : {}),
    ...(client.userinfoSigningAlg ? { userinfo_signed_response_alg: client.userinfoSigningAlg } : {}),
    ...(client.userinfoEncryption
      ? {
          userinfo_encrypted_response_alg: client.userinfoEncryption.alg,
          userinfo_encrypted_response_enc: client.userinfoEncryption.enc,
        }
      : {}),
    ...(client.idTokenEncryption
      ? {
          id_token_encrypted_response_alg: client.idTokenEncryption.alg,
          id_token_encrypted_response_enc: client.idTokenEncryption.enc,
        }
      : {}),
    ...(fapi
      ? {
          security_profile: 'fapi2',
          // FAPI 2.0 §5.3.2.1: client authentication with private_key_jwt (mTLS is not offered).
          token_endpoint_auth_method: 'private_key_jwt',
          // FAPI 2.0 §5.3.2.2 (2): pushed authorization requests only (RFC 9126 §6).
          require_pushed_authorization_requests: true,
          // FAPI 2.0 §5.3.2.1 (7): sender-constrained access tokens, with DPoP (RFC 9449 §5.2).
          dpop_bound_access_tokens: true,
        }
      : {}),
  };
}

/** The key management algorithms a registration encrypts to, each needing a key in its JWKS. */
function encryptionAlgsOf(metadata: Record<string, unknown>): string[] {
  return [metadata.userinfo_encrypted_response_alg, metadata.id_token_encrypted_response_alg].filter(
    (alg): alg is string => typeof alg === 'string',
  );
}

interface AddOptions {
  clientId?: string;
  /** Who registers it, for its `client.registered` event (an operator by default). */
  actor?: ClientActor;
}

/** The `client.registered` event of a new registration: its kind and levels, never its secret. */
function registeredEvent(row: Pick<ClientRow, 'client_id' | 'kind' | 'grant_levels' | 'metadata'>, actor: ClientActor) {
  return {
    type: 'client.registered' as const,
    actor,
    subjects: { client: row.client_id },
    payload: {
      kind: row.kind,
      grant_levels: row.grant_levels as GrantLevel[],
      ...(securityProfileOf(row.metadata) ? { security_profile: securityProfileOf(row.metadata) } : {}),
    },
  };
}

function snakeCase(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
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
    ...(securityProfileOf(row.metadata) ? { security_profile: securityProfileOf(row.metadata) } : {}),
    ...(typeof row.metadata.jwks_uri === 'string' ? { jwks_uri: row.metadata.jwks_uri } : {}),
    ...(row.metadata.jwks ? { jwks_keys: (row.metadata.jwks as ClientJwks).keys.length } : {}),
    disabled: Boolean(row.disabled_at),
    ...(row.operator_account_id ? { operator_account: row.operator_account_id } : {}),
    created_at: row.created_at,
  };
}

/**
 * A new client id: 128 random bits, base64url, never starting with `-` (an id `-…` after
 * `--client-id` on a command line reads as an option) or `_`.
 */
function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
