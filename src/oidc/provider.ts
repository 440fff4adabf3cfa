// Builds the OpenID Provider from the configuration pieces beside it, one module per concern.
import type { Redis } from 'ioredis';
import Provider, { type Configuration } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/index.js';
import type { ClientService } from '../clients/service.js';
import { adapterFactory } from './adapter.js';
import { claimOptions } from './claims-config.js';
import { clientOptions } from './clients-config.js';
import { cookieOptions } from './cookies.js';
import { featureOptions } from './features.js';
import { accountFinder, type AccountClaimsDeps } from './find-account.js';
import { interactionOptions } from './interactions-config.js';
import type { ProviderPages } from './pages.js';
import { refreshTokenOptions } from './refresh-tokens.js';
import { recordReleasedClaims } from './released-claims.js';
import type { TokenIds } from './token-ids.js';
import { ttlOptions } from './ttl.js';

export interface ProviderDeps extends AccountClaimsDeps {
  config: Config;
  db: Db;
  /** Where Interactions are kept when `REDIS_URL` is set (src/oidc/adapter.ts); else the database. */
  redis: Redis | undefined;
  clients: ClientService;
  pages: ProviderPages;
  /** Private signing JWKs, the key used to sign each alg first. */
  signingKeys: Configuration['jwks'];
  /** Cookie signing keys, the current one first. */
  cookieKeys: string[];
  /** How token, session and interaction ids are stored (keyed hashes; src/oidc/token-ids.ts). */
  tokenIds: TokenIds;
}

/**
 * Builds the OpenID Provider. Every option that differs from oidc-provider's default is set here
 * or in the module it is taken from.
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config, pages } = deps;
  const configuration: Configuration = {
    adapter: adapterFactory(
      deps.db,
      deps.clients,
      deps.tokenIds,
      deps.redis && { redis: deps.redis, longestSession: config.ttl.sessionAbsolute },
    ),
    jwks: { keys: (deps.signingKeys?.keys ?? []).map(forEveryRsaAlg) },
    cookies: cookieOptions(deps.cookieKeys),
    ...claimOptions(config.issuer, deps.pairwiseSalt),
    ...clientOptions(),
    findAccount: accountFinder(deps),
    features: featureOptions(pages, { issuer: config.issuer, tokenSeconds: config.ttl.clientCredentials }),
    ...interactionOptions(config.stepUp.maxAge),
    ...refreshTokenOptions(),
    renderError: pages.renderError,
    ttl: ttlOptions(config.ttl),
  };
  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  recordReleasedClaims(provider);
  return provider;
}

/**
 * An RSA signing key serves RS256 and PS256 (the FAPI 2.0 clients' ID tokens, FAPI 2.0 §5.4.1):
 * oidc-provider restricts a key with an `alg` to that alg (lib/helpers/keystore.js selectForSign),
 * so the RSA keys are handed over without one.
 */
export function forEveryRsaAlg(key: object): object {
  if ((key as { kty?: string }).kty !== 'RSA') return key;
  const { alg: _alg, ...rest } = key as { alg?: string };
  return rest;
}
