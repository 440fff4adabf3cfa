// How oidc-provider finds an account and the claims it asserts: only the claims of the token's
// scopes, at the grant level those scopes hold.
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Account, AccountService } from '../accounts/service.js';
import { securityLevelOf } from '../clients/service.js';
import { answerVerifiedClaims, verifiedClaimsRequests } from '../grants/ida-request.js';
import { claimsOfScopes, levelOfScopes } from '../grants/scopes.js';
import type { VerifiedClaims } from '../grants/verified-claims.js';
import {
  requiredMethod,
  type Standing,
  type VerificationMethod,
  type VerificationService,
} from '../identity/service.js';
import { accountClaims, realnameClaims } from './claims.js';
import { pairwisePerson } from './pairwise.js';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/** Where an account's claims come from. */
export interface AccountClaimsDeps {
  accounts: AccountService;
  verifications: VerificationService;
  /** Level 2: the person's credentials at a merchant. */
  credentialsOf(accountId: string, clientId: string): Promise<{ username: string; password_hash: string } | undefined>;
  /** Level 3: the person's whole dossier, vouched for by a result at least as strong as `method`. */
  verifiedClaimsOf(
    accountId: string,
    method: VerificationMethod,
    account?: Pick<Account, 'id' | 'personId'>,
    standing?: Standing,
  ): Promise<VerifiedClaims | undefined>;
  pairwiseSalt: string;
}

/** oidc-provider's `findAccount`. */
export function accountFinder(deps: AccountClaimsDeps): NonNullable<Configuration['findAccount']> {
  return async (ctx, id) => {
    const account = await deps.accounts.find(id);
    // A disabled account is no account to oidc-provider: userinfo answers 401, a refresh
    // invalid_grant, and a session left over asks to sign in (OWASP ASVS 5.0 §7.4.2).
    if (!account || account.disabledAt) return undefined;
    const client = ctx.oidc.client;
    return {
      accountId: account.id,
      // Read by the release audit (src/grants/routes.ts) from oidc-provider's Account entity.
      account,
      // Only claims of the token's scopes, whatever the claims parameter asked for (the grant
      // refuses such requests at consent; this holds even for a grant saved before that rule).
      claims: async (use, scope, requested) => {
        const scopes = String(scope ?? '')
          .split(' ')
          .filter(Boolean);
        const claims = await claimsAtLevel(deps, { account, sub: id, client, use, scopes, requested });
        const allowed = claimsOfScopes(scopes);
        return Object.fromEntries(Object.entries(claims).filter(([name]) => allowed.has(name))) as typeof claims;
      },
    };
  };
}

/** What an account asserts to a client at the level of the token's scopes (before scope filtering). */
async function claimsAtLevel(
  deps: AccountClaimsDeps,
  {
    account,
    sub,
    client,
    use,
    scopes,
    requested,
  }: { account: Account; sub: string; client: Client | undefined; use: string; scopes: string[]; requested: unknown },
): Promise<{ sub: string } & Record<string, unknown>> {
  const claims = accountClaims(account, sub);
  const level = client && levelOfScopes(scopes);
  if (!client || !level) return claims;
  // The result must be as strong as this merchant's security level needs (docs/product.md#step-up).
  const method = requiredMethod(securityLevelOf(client));
  const sector = String(client.sectorIdentifier ?? client.clientId);
  const standing = await deps.verifications.standingOf(sub, method, account);
  const { result, personId } = standing;
  const credentials = level === 'credentials' ? await deps.credentialsOf(sub, client.clientId) : undefined;
  // The scope alone releases the dossier at userinfo; the claims parameter, where it names
  // verified_claims, decides in which members and what of it (normalizeClaimsParameter). ID
  // tokens travel through browsers and logs more often: none without asking there.
  const requests = verifiedClaimsRequests((requested as Record<string, unknown> | undefined)?.verified_claims);
  const wanted = requests === undefined ? use === 'userinfo' : requests.length > 0;
  const dossier =
    level === 'dossier' && result && wanted ? await deps.verifiedClaimsOf(sub, method, account, standing) : undefined;
  const verified = dossier && answerVerifiedClaims(dossier, requests);
  return {
    ...claims,
    ...realnameClaims(result, personId && pairwisePerson(deps.pairwiseSalt, sector, personId)),
    ...(credentials ? { merchant_credentials: credentials } : {}),
    ...(verified ? { verified_claims: verified } : {}),
  };
}
