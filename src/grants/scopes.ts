// The grant levels' scopes and the claims each scope releases: what a grant (oidc-provider's Grant,
// ./oidc-grant.ts) holds is decided in these terms, and the provider (src/oidc/) is configured with
// them.

/** Level 1 (docs/product.md#grant-levels): the verification result, no identity data. */
export const REALNAME_CLAIMS = ['realname_verified', 'realname_method', 'realname_verified_at', 'realname_person'];

/**
 * Which claims each scope releases (OIDC Core §5.4). The realname grant-level scopes extend this
 * map; a claim not listed under a granted scope is never released.
 */
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
