// How long each of oidc-provider's tokens, sessions, interactions and grants lives: the `ttl`
// options of the platform's configuration, in seconds.
import type { Configuration } from 'oidc-provider';
import { securityProfileOf } from '../clients/service.js';
import type { Config } from '../config/schema.js';
import { sessionLifetime } from './sessions.js';

/** The longest an authorization code of a FAPI 2.0 client lives, in seconds. */
export const FAPI_CODE_TTL = 60;

export function ttlOptions(ttl: Config['ttl']): Configuration['ttl'] {
  return {
    AccessToken: ttl.accessToken,
    // FAPI 2.0 §5.3.2.1 (9): an authorization code lives at most 60 s.
    AuthorizationCode: (_ctx, _code, client) =>
      securityProfileOf(client) === 'fapi2' ? Math.min(ttl.authorizationCode, FAPI_CODE_TTL) : ttl.authorizationCode,
    ClientCredentials: ttl.clientCredentials,
    IdToken: ttl.idToken,
    Interaction: ttl.interaction,
    Session: (_ctx, session) => sessionLifetime(ttl, session.loginTs),
    Grant: ttl.grant,
    RefreshToken: ttl.refreshToken,
  };
}
