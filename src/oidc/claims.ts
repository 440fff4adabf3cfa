import type { Account } from '../accounts/service.js';

/**
 * Which claims each scope releases (OIDC Core §5.4). The realname grant-level scopes extend this
 * map; a claim not listed under a granted scope is never released.
 */
/** Level 1 (docs/product.md#grant-levels): the verification result, no identity data. */
export const REALNAME_CLAIMS = ['realname_verified', 'realname_method', 'realname_verified_at', 'realname_person'];

export const SCOPE_CLAIMS: Record<string, string[]> = {
  // Every ID token says how the person authenticated and when (OIDC Core §2): what a merchant's
  // step-up relies on. Userinfo has no such claims, so they never appear there.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  realname: REALNAME_CLAIMS,
  // Level 2: level 1 plus merchant-scoped credentials (docs/product.md#grant-levels).
  'realname:credentials': [...REALNAME_CLAIMS, 'merchant_credentials'],
  // Level 3: level 1 plus the dossier as OIDC4IDA `verified_claims` (docs/product.md#grant-levels).
  'realname:dossier': [...REALNAME_CLAIMS, 'verified_claims'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  profile: ['updated_at'],
};

/** Every scope the provider knows: the OIDC ones and the notary API's (see ClientService). */
export const SCOPES = [
  'openid',
  'offline_access',
  ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid'),
  'audit:read',
  'registry:write',
  'realname:check',
];

/** The scope of each grant level a merchant can be registered for. */
export const LEVEL_SCOPES: Record<'result' | 'credentials' | 'dossier', string> = {
  result: 'realname',
  credentials: 'realname:credentials',
  dossier: 'realname:dossier',
};

/** The grant level a token's scopes hold, if any (a grant holds at most one level scope). */
export function levelOfScopes(scopes: Iterable<string>): 'result' | 'credentials' | 'dossier' | undefined {
  const set = new Set(scopes);
  if (set.has('realname:dossier')) return 'dossier';
  if (set.has('realname:credentials')) return 'credentials';
  if (set.has('realname')) return 'result';
  return undefined;
}

// Claims oidc-provider releases whatever the grant says (its NON_REJECTABLE_CLAIMS and protocol claims).
const PROTOCOL_CLAIMS = ['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'];

/**
 * The claims the given scopes release. What a merchant receives is decided by the scopes the
 * person granted; the claims parameter may narrow it, never add to it.
 */
export function claimsOfScopes(scopes: Iterable<string>): Set<string> {
  const allowed = new Set(PROTOCOL_CLAIMS);
  for (const scope of scopes) for (const claim of SCOPE_CLAIMS[scope] ?? []) allowed.add(claim);
  return allowed;
}

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
