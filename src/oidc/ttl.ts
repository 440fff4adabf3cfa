// How long each of oidc-provider's tokens, sessions, interactions and grants lives: the `ttl`
// options of the platform's configuration, in seconds.
import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/schema.js';

export function ttlOptions(ttl: Config['ttl']): Configuration['ttl'] {
  return {
    AccessToken: ttl.accessToken,
    AuthorizationCode: ttl.authorizationCode,
    ClientCredentials: ttl.clientCredentials,
    IdToken: ttl.idToken,
    Interaction: ttl.interaction,
    Session: ttl.session,
    Grant: ttl.grant,
    RefreshToken: ttl.refreshToken,
  };
}
