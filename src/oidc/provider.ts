import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/index.js';
import type { Account, AccountService } from '../accounts/service.js';
import { securityLevelOf, type ClientService } from '../clients/service.js';
import { adapterFactory } from './adapter.js';
import type { TokenIds } from './token-ids.js';
import { requiredMethod, type VerificationMethod, type VerificationService } from '../identity/service.js';
import { answerVerifiedClaims, normalizeClaimsParameter, verifiedClaimsRequests } from '../grants/ida-request.js';
import { idaDiscovery } from '../grants/ida-vocabulary.js';
import type { VerifiedClaims } from '../grants/verified-claims.js';
import { DOCUMENT_TYPES } from '../identity/document-number.js';
import { claimsOfScopes, levelOfScopes, SCOPE_CLAIMS } from '../grants/scopes.js';
import { accountClaims, realnameClaims, SCOPES } from './claims.js';
import { pairwisePerson, pairwiseSubject } from './pairwise.js';
import { ACR, platformPolicy } from './policy.js';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
type LogoutFeature = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/** The pages oidc-provider renders itself: HTML, built by the HTTP layer (src/oidc/routes.ts). */
export interface ProviderPages {
  /** The page asking whether to log out (OpenID RP-Initiated Logout 1.0). */
  logoutSource: NonNullable<LogoutFeature['logoutSource']>;
  postLogoutSuccessSource: NonNullable<LogoutFeature['postLogoutSuccessSource']>;
  /** The error page of oidc-provider's browser endpoints. */
  renderError: NonNullable<Configuration['renderError']>;
}

export interface ProviderDeps {
  config: Config;
  db: Db;
  accounts: AccountService;
  clients: ClientService;
  verifications: VerificationService;
  /** Level 2: the person's credentials at a merchant. */
  credentialsOf(accountId: string, clientId: string): Promise<{ username: string; password_hash: string } | undefined>;
  /** Level 3: the person's whole dossier, vouched for by a result at least as strong as `method`. */
  verifiedClaimsOf(accountId: string, method: VerificationMethod): Promise<VerifiedClaims | undefined>;
  pages: ProviderPages;
  /** Private signing JWKs, the key used to sign each alg first. */
  signingKeys: Configuration['jwks'];
  /** Cookie signing keys, the current one first. */
  cookieKeys: string[];
  pairwiseSalt: string;
  /** How token, session and interaction ids are stored (keyed hashes; src/oidc/token-ids.ts). */
  tokenIds: TokenIds;
}

/** Builds the OpenID Provider; every option that differs from oidc-provider's default is here. */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config, pages } = deps;
  const configuration: Configuration = {
    adapter: adapterFactory(deps.db, deps.clients, deps.tokenIds),
    jwks: deps.signingKeys,
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    claims: { ...SCOPE_CLAIMS, sid: null, iss: null },
    acrValues: [ACR.password, ACR.personMatch],
    // OIDC4IDA 1.0 §8 and Attachments 1.0 §8: what the dossier's verified_claims can hold.
    discovery: { claim_types_supported: ['normal'], ...idaDiscovery(config.issuer, DOCUMENT_TYPES) },
    // The methods a merchant can be registered with (`client add` sets client_secret_basic; the
    // secret works with _post too). private_key_jwt and the rest come with per-client key
    // registration (a FAPI 2.0 profile is planned); listing them before would advertise what no merchant can use.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    // The claims of granted scopes go in the ID token as well as at userinfo (OIDC Core §5.4
    // allows both): a merchant at level 1 learns the result at sign-in without another call.
    conformIdTokenClaims: false,
    scopes: SCOPES,
    subjectTypes: ['pairwise'],
    // Authorization code only: RFC 9700 §2.1.2 retires the implicit and hybrid flows.
    // (`none` only for the platform's own account pages, which need the session, not a token.)
    responseTypes: ['code', 'none'],
    pairwiseIdentifier: async (_ctx, accountId, client) =>
      pairwiseSubject(deps.pairwiseSalt, String(client.sectorIdentifier ?? client.clientId), accountId),
    clientDefaults: {
      subject_type: 'pairwise',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      properties: ['kind', 'category', 'security_level', 'grant_levels'],
    },
    // RFC 9700 §2.1.1: PKCE for every client, and only S256 (oidc-provider 9 accepts no other).
    pkce: { required: () => true },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    },
    findAccount: async (ctx, id) => {
      const account = await deps.accounts.find(id);
      if (!account) return undefined;
      const client = ctx.oidc.client;
      return {
        accountId: account.id,
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
    },
    features: {
      devInteractions: { enabled: false },
      // Sender-constrained tokens are not offered: the platform's own resources (dossier images,
      // the notary and check APIs) check bearer tokens only, so a DPoP binding would be ignored there.
      dPoP: { enabled: false },
      clientCredentials: { enabled: true },
      // The claims request parameter (OIDC Core §5.5), with IDA's verified_claims requests checked.
      claimsParameter: { enabled: true, assertClaimsParameter: normalizeClaimsParameter as never },
      // RFC 8707 resource indicators are not offered: every resource the platform serves (userinfo,
      // dossier attachments, the check and notary APIs) takes the grant's opaque bearer token, so a
      // `resource` parameter has nothing to bind to; RFC 8707 §2 lets a server without it ignore it.
      resourceIndicators: { enabled: false },
      // A client learns about, and revokes, its own tokens only: a merchant must not be able to probe
      // whether a token another merchant holds is live.
      introspection: { enabled: true, allowedPolicy: ownTokensOnly },
      revocation: { enabled: true, allowedPolicy: revokesOwnTokensOnly },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logoutSource,
        postLogoutSuccessSource: pages.postLogoutSuccessSource,
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: platformPolicy(config.stepUp.maxAge),
    },
    // Level 1 (realname, result only) gets no refresh token: the merchant sends the person back
    // here at each login, so every use of the result is a fresh, audited consent (docs/product.md#grant-levels).
    // Every refresh rotates the refresh token; presenting a spent one revokes the grant (RFC 9700 §4.14.2).
    rotateRefreshToken: () => true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      code.scopes.has('offline_access') &&
      levelOfScopes(code.scopes) !== 'result',
    renderError: pages.renderError,
    ttl: {
      AccessToken: config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      ClientCredentials: config.ttl.clientCredentials,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      Session: config.ttl.session,
      Grant: config.ttl.grant,
      RefreshToken: config.ttl.refreshToken,
    },
  };
  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}

/** What an account asserts to a client at the level of the token's scopes (before scope filtering). */
async function claimsAtLevel(
  deps: ProviderDeps,
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
  const { result, personId } = await deps.verifications.standingOf(sub, method);
  const credentials = level === 'credentials' ? await deps.credentialsOf(sub, client.clientId) : undefined;
  // The scope alone releases the dossier at userinfo; the claims parameter, where it names
  // verified_claims, decides in which members and what of it (normalizeClaimsParameter). ID
  // tokens travel through browsers and logs more often: none without asking there.
  const requests = verifiedClaimsRequests((requested as Record<string, unknown> | undefined)?.verified_claims);
  const wanted = requests === undefined ? use === 'userinfo' : requests.length > 0;
  const dossier = level === 'dossier' && result && wanted ? await deps.verifiedClaimsOf(sub, method) : undefined;
  const verified = dossier && answerVerifiedClaims(dossier, requests);
  return {
    ...claims,
    ...realnameClaims(result, personId && pairwisePerson(deps.pairwiseSalt, sector, personId)),
    ...(credentials ? { merchant_credentials: credentials } : {}),
    ...(verified ? { verified_claims: verified } : {}),
  };
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
