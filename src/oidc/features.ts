// Which of oidc-provider's features the platform turns on or off, and why; and who may introspect
// or revoke a token.
import { errors, type Configuration } from 'oidc-provider';
import { securityProfileOf } from '../clients/service.js';
import { normalizeClaimsParameter } from '../grants/ida-request.js';
import type { ProviderPages } from './pages.js';

/**
 * The resource indicator (RFC 8707) of the platform's own APIs (the check, notary and admin APIs):
 * the audience of the client_credentials tokens issued for them.
 */
export function platformApi(issuer: string): string {
  return `${issuer}/api`;
}

export function featureOptions(
  pages: ProviderPages,
  api: { issuer: string; tokenSeconds: number },
): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    // Sender-constrained tokens (RFC 9449), required of FAPI 2.0 clients (`dpop_bound_access_tokens`)
    // and open to any other. Userinfo checks the proof here; the platform's own resources (dossier
    // images, the notary and check APIs) check it in src/http/dpop.ts. No server nonce (§8): a
    // proof's `iat` must be within oidc-provider's window (300 s) and its `jti` is never reused.
    dPoP: { enabled: true },
    // The FAPI 2.0 Security Profile, per client: those registered with `--profile fapi2`. Most of it
    // is their metadata (src/clients/service.ts: PAR, private_key_jwt, DPoP, PS256/ES256); here
    // oidc-provider adds what it checks by profile (client assertion `aud` = the issuer, a
    // redirect_uri in every request).
    fapi: { enabled: true, profile: (_ctx, client) => (client && securityProfileOf(client) ? '2.0' : undefined) },
    // RFC 9126, for every client; required of those registered with
    // `require_pushed_authorization_requests` (FAPI 2.0 §5.3.1.2 (2)).
    pushedAuthorizationRequests: { enabled: true },
    // Userinfo as a JWS (`userinfo_signed_response_alg`), and JWEs of it and of the ID token to a
    // client's own key (`*_encrypted_response_alg`/`enc`), as Singpass Myinfo releases.
    jwtUserinfo: { enabled: true },
    encryption: { enabled: true },
    clientCredentials: { enabled: true },
    // The claims request parameter (OIDC Core §5.5), with IDA's verified_claims requests checked.
    claimsParameter: { enabled: true, assertClaimsParameter: normalizeClaimsParameter as never },
    resourceIndicators: apiTokens(api),
    // A client learns about, and revokes, its own tokens only: a merchant must not be able to probe
    // whether a token another merchant holds is live.
    introspection: { enabled: true, allowedPolicy: ownTokensOnly },
    revocation: { enabled: true, allowedPolicy: revokesOwnTokensOnly },
    // OpenID Connect Back-Channel Logout 1.0: signing out here (`/session/end`) posts a logout token
    // to each merchant of the session that registered a `backchannel_logout_uri`; sessions ended
    // elsewhere (the security page, a password change) go through src/oidc/backchannel.ts.
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: pages.logoutSource,
      postLogoutSuccessSource: pages.postLogoutSuccessSource,
    },
  };
}

/**
 * client_credentials tokens are JWT access tokens (RFC 9068, ES256) for the platform's APIs
 * (`platformApi`): they are checked by their signature (src/http/client-token.ts), so issuing
 * one stores nothing and a call with one reads nothing. The trade-off: such a token cannot be
 * revoked by itself (revocation answers 200 and changes nothing, introspection answers
 * `active: false`); it lives `ttl.clientCredentials` seconds (300 by default), and disabling or
 * deleting its client refuses it (within `settingsCheckInterval` in the other processes). Tokens
 * of the code flow stay opaque and revocable: resource indicators are taken with the
 * client_credentials grant only, where the one resource is implied (RFC 8707 §2 lets a server
 * refuse others with `invalid_target`).
 */
function apiTokens(api: {
  issuer: string;
  tokenSeconds: number;
}): NonNullable<Configuration['features']>['resourceIndicators'] {
  const resource = platformApi(api.issuer);
  return {
    enabled: true,
    defaultResource: async (ctx) => (grantType(ctx) === 'client_credentials' ? resource : undefined),
    useGrantedResource: async () => false,
    getResourceServerInfo: async (ctx, indicator, client) => {
      if (grantType(ctx) !== 'client_credentials' || indicator !== resource)
        throw new errors.InvalidTarget(`the only resource is ${resource}, with the client_credentials grant`);
      return {
        scope: client.scope ?? '',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: api.tokenSeconds,
        jwt: { sign: { alg: 'ES256' } },
      };
    },
  };
}

function grantType(ctx: { oidc: { params?: unknown } }): string | undefined {
  return (ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type;
}

async function ownTokensOnly(
  _ctx: unknown,
  client: { clientId: string },
  token: { clientId?: string },
): Promise<boolean> {
  return token.clientId === client.clientId;
}

/**
 * RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
 * revocation request. If this validation fails, the request is refused and the client is informed
 * of the error". oidc-provider answers 200 when the policy says no, so the refusal is thrown
 * (as its own default policy does for authenticated clients): `invalid_request`, 400.
 */
async function revokesOwnTokensOnly(
  _ctx: unknown,
  client: { clientId: string },
  token: { clientId?: string },
): Promise<boolean> {
  if (token.clientId !== client.clientId)
    throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
  return true;
}
