import type { Account } from '../accounts/service.js';
import { SCOPE_CLAIMS } from '../grants/scopes.js';

/** Every scope the provider knows: the OIDC ones, the grant levels', the notary API's and the admin API's (see ./clients.ts). */
export const SCOPES = [
  'openid',
  'offline_access',
  ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid'),
  'audit:read',
  'registry:write',
  'realname:check',
  'admin',
];

/** The claims an account can assert; oidc-provider filters them by granted scopes and claims. */
export function accountClaims(account: Account, sub: string): { sub: string } & Record<string, unknown> {
  const claims: { sub: string } & Record<string, unknown> = {
    sub,
    updated_at: Math.floor(account.createdAt.getTime() / 1000),
  };
  // The login was proven only as a unique identifier, not by a confirmation message: say so.
  if (account.loginType === 'email') Object.assign(claims, { email: account.login, email_verified: false });
  if (account.loginType === 'phone')
    Object.assign(claims, { phone_number: account.login, phone_number_verified: false });
  return claims;
}

/** The realname claims of a person's verification result at one merchant. */
export function realnameClaims(
  result: { method: string; verifiedAt: Date } | undefined,
  person: string | undefined,
): Record<string, unknown> {
  if (!result || !person) return { realname_verified: false };
  return {
    realname_verified: true,
    realname_method: result.method,
    realname_verified_at: Math.floor(result.verifiedAt.getTime() / 1000),
    realname_person: person,
  };
}
