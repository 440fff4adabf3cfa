import type { Account } from '../accounts/service.js';

/**
 * Which claims each scope releases (OIDC Core §5.4). The realname grant-level scopes extend this
 * map; a claim not listed under a granted scope is never released.
 */
export const SCOPE_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  profile: ['updated_at'],
};

/** Every scope the provider knows: the OIDC ones and the notary API's (see ClientService). */
export const SCOPES = ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid'), 'audit:read', 'registry:write', 'realname:check'];

/** The claims an account can assert; oidc-provider filters them by granted scopes and claims. */
export function accountClaims(account: Account, sub: string): { sub: string } & Record<string, unknown> {
  const claims: { sub: string } & Record<string, unknown> = {
    sub,
    updated_at: Math.floor(account.createdAt.getTime() / 1000),
  };
  // The login was proven only as a unique identifier, not by a confirmation message: say so.
  if (account.loginType === 'email') Object.assign(claims, { email: account.login, email_verified: false });
  if (account.loginType === 'phone') Object.assign(claims, { phone_number: account.login, phone_number_verified: false });
  return claims;
}
