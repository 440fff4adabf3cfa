// How long each of oidc-provider's tokens, sessions, interactions and grants lives: the `ttl`
// options of the platform's configuration, in seconds.
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { sessionLifetime } from './sessions.js';

export function ttlOptions(ttl: Config['ttl']): Configuration['ttl'] {
  return {
    AccessToken: ttl.accessToken,
    AuthorizationCode: ttl.authorizationCode,
    ClientCredentials: ttl.clientCredentials,
    IdToken: ttl.idToken,
    Interaction: ttl.interaction,
    Session: (_ctx, session) => sessionLifetime(ttl, session.loginTs),
    Grant: ttl.grant,
    RefreshToken: ttl.refreshToken,
  };
}
