import type { ClientRegistration, ClientService, GrantLevel } from '../clients/service.js';
import { LEVEL_SCOPES } from '../grants/scopes.js';

/** Scopes of the notary API (client_credentials): reading the audit trail, uploading registrations. */
export const NOTARY_SCOPES = ['audit:read', 'registry:write'] as const;
/** The admin API's scope (client_credentials of an operator client, bound to an operator account). */
export const OPERATOR_SCOPES = ['admin'] as const;
/** Scopes a merchant may ask a person for. */
export const MERCHANT_SCOPES = ['openid', 'offline_access', 'email', 'phone', 'profile', 'realname:check'] as const;

/**
 * How long a process answers oidc-provider's client look-ups from memory. Every token request
 * looks its client up; registrations change only through the operator CLI, the admin API and the
 * console, so another process sees a change (an update, a disabled client, a new secret) at most
 * this late (a new client at once: misses are not kept), and within `settingsCheckInterval` once
 * src/oidc/live-settings.ts sees the registrations change (forget).
 */
const METADATA_TTL_MS = 30_000;

/** The registered clients (src/clients/) as oidc-provider reads them: RFC 7591 names plus ours. */
export class ProviderClients {
  private readonly metadata = new Map<string, { value: Record<string, unknown>; expires: number }>();

  constructor(private readonly clients: ClientService) {
    clients.onChange(() => this.forget());
  }

  /** Drops every kept registration: the next look-up of each reads the database. */
  forget(): void {
    this.metadata.clear();
  }

  /** A client's metadata, kept a while. */
  async find(clientId: string): Promise<Record<string, unknown> | undefined> {
    const kept = this.metadata.get(clientId);
    if (kept && kept.expires > Date.now()) return { ...kept.value };
    const registration = await this.clients.registration(clientId);
    const value = registration && toMetadata(registration);
    if (value) this.metadata.set(clientId, { value, expires: Date.now() + METADATA_TTL_MS });
    else this.metadata.delete(clientId);
    return value && { ...value };
  }
}

function toMetadata(client: ClientRegistration): Record<string, unknown> {
  return {
    ...client.metadata,
    client_id: client.client_id,
    // A FAPI 2.0 client has none: it authenticates with private_key_jwt only.
    ...(client.client_secret ? { client_secret: client.client_secret } : {}),
    client_name: client.name,
    // Which scopes the client may obtain, by kind (oidc-provider refuses any other).
    scope: (client.kind === 'notary'
      ? [...NOTARY_SCOPES]
      : client.kind === 'operator'
        ? [...OPERATOR_SCOPES]
        : [...MERCHANT_SCOPES, ...levelScopes(client.grant_levels)]
    ).join(' '),
    kind: client.kind,
    category: client.category,
    security_level: client.security_level,
    grant_levels: client.grant_levels,
  };
}

/** The grant-level scopes a merchant registered for these levels may ask for. */
function levelScopes(levels: string[]): string[] {
  return levels.flatMap((level) => LEVEL_SCOPES[level as GrantLevel] ?? []);
}
