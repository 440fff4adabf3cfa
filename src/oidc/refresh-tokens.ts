// Which grants get a refresh token, and rotating it at every use.
import type { Configuration } from 'oidc-provider';
import { levelOfScopes } from '../grants/scopes.js';

export function refreshTokenOptions(): Pick<Configuration, 'rotateRefreshToken' | 'issueRefreshToken'> {
  return {
    // Level 1 (realname, result only) gets no refresh token: the merchant sends the person back
    // here at each login, so every use of the result is a fresh, audited consent (docs/product.md#grant-levels).
    // Every refresh rotates the refresh token; presenting a spent one revokes the grant (RFC 9700 §4.14.2).
    rotateRefreshToken: () => true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      code.scopes.has('offline_access') &&
      levelOfScopes(code.scopes) !== 'result',
  };
}
