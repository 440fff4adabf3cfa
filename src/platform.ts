import type { JWK } from 'jose';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { TreeHeadRefused, type TreeHeads } from './audit/tree-heads.js';
import { buildApp } from './app.js';
import { PLATFORM_CLIENT_ID } from './clients/service.js';
import type { Config } from './config/schema.js';
import { createDb, type Db } from './db/index.js';
import { closeRedis } from './db/redis.js';
import { migrateLatest } from './db/migrate.js';
import { answerDisallowedGrantType, answerProviderFailures } from './http/errors.js';
import { ApiTokens } from './http/client-token.js';
import { Health } from './http/health.js';
import { PlatformMetrics } from './http/metrics.js';
import { Views } from './http/views.js';
import { COOKIE_KEY, OIDC_SIGNING, PAIRWISE_SALT } from './keys/service.js';
import { createLogger } from './logger.js';
import { logoutAtMerchants } from './oidc/backchannel.js';
import { platformApi } from './oidc/features.js';
import { LiveSettings } from './oidc/live-settings.js';
import { buildProvider } from './oidc/provider.js';
import { providerPages } from './oidc/routes.js';
import { TOKEN_ID_KEY, TokenIds } from './oidc/token-ids.js';
import { createServices, type Services } from './services.js';

/** The server: every domain service (see services.ts), and the HTTP application built on them. */
export interface Platform extends Services {
  config: Config;
  db: Db;
  logger: Logger;
  app: Koa;
  provider: Provider;
  /** The client_credentials tokens of the platform's APIs. */
  apiTokens: ApiTokens;
  /** How oidc-provider ids are stored in `oidc_payloads` (tests look rows up by it). */
  tokenIds: TokenIds;
  metrics: PlatformMetrics;
  health: Health;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** An already open database (tests share one between two platform instances). */
  db?: Db;
  logger?: Logger;
}

/** Opens the database, applies migrations, loads or creates keys, and builds the application. */
export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db =
    options.db ??
    createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax });
  try {
    await migrateLatest(db);
    const services = await createServices(config, db, logger);
    const { keys, audit, clients } = services;
    const [signingKeys, cookieKeys, [pairwiseSalt], [tokenIdKey]] = await Promise.all([
      keys.privateJwks(OIDC_SIGNING[0]!.purpose),
      keys.secrets(COOKIE_KEY.purpose),
      keys.secrets(PAIRWISE_SALT.purpose),
      keys.secrets(TOKEN_ID_KEY.purpose),
    ]);
    const tokenIds = new TokenIds(tokenIdKey!);
    const metrics = new PlatformMetrics(
      db,
      audit,
      services.providerCalls,
      { counts: () => services.outbox.securityEventCounts() },
      services.hasher,
    );
    const health = new Health(db, services.counters);
    await checkKeptHeads(services.treeHeads, logger);
    await clients.ensurePlatformClient(PLATFORM_CLIENT_ID, `${config.issuer}/account/callback`);

    const views = new Views();
    const provider = buildProvider({
      config,
      db,
      redis: services.redis,
      accounts: services.accounts,
      clients,
      verifications: services.verifications,
      credentialsOf: (accountId, clientId) => services.grants.credentialsOf(accountId, clientId),
      verifiedClaimsOf: (accountId, method, account, standing) =>
        services.dossier.verifiedClaimsOf(accountId, method, account, standing),
      pages: providerPages(views),
      signingKeys: { keys: signingKeys as never },
      cookieKeys,
      pairwiseSalt: pairwiseSalt!,
      tokenIds,
    });
    answerProviderFailures(provider, logger);
    // Sessions ended outside /session/end sign the person out at merchants too (Back-Channel Logout 1.0).
    provider.on('backchannel.error', (_ctx, err, client) =>
      logger.warn({ err, client: client.clientId }, 'back-channel logout failed'),
    );
    services.liveSessions.onEnded((ended) => {
      void logoutAtMerchants(provider, ended, (err, clientId) =>
        logger.warn({ err, client: clientId }, 'back-channel logout failed'),
      );
    });
    answerDisallowedGrantType(provider);
    // The ES256 key signs the APIs' client_credentials tokens (src/oidc/features.ts `apiTokens`);
    // a rotation reloads it with the other signing keys (LiveSettings).
    let apiKeys = publicEcKeys(signingKeys);
    const apiTokens = new ApiTokens(provider, { audience: platformApi(config.issuer), keys: () => apiKeys });
    // Keys rotated and clients changed by any process take effect here too (`settingsCheckInterval`).
    const live = new LiveSettings({
      provider,
      cookieApps: () => [app],
      keys,
      treeHeads: services.treeHeads,
      clients,
      intervalMs: config.settingsCheckInterval * 1000,
      logger,
      signingKeysLoaded: (loaded) => (apiKeys = publicEcKeys(loaded)),
    });
    await live.start();
    const app: Koa = buildApp({
      liveSettings: live.middleware(),
      config,
      logger,
      views,
      provider,
      apiTokens,
      proofs: services.dpopProofs,
      accounts: services.accounts,
      clients,
      verifications: services.verifications,
      grants: services.grants,
      dossier: services.dossier,
      releases: services.releases,
      limits: services.limits,
      securityLog: services.securityLog,
      sessions: services.sessions,
      passkeys: services.passkeys,
      recovery: services.recovery,
      personalData: services.personalData,
      closure: services.closure,
      cookieKeys,
      metrics,
      health,
      operators: services.operators,
      admin: services.admin,
      notary: {
        issuer: config.issuer,
        tokens: apiTokens,
        proofs: services.dpopProofs,
        audit,
        treeHeads: services.treeHeads,
        keys,
        registry: services.registry,
        blindIndexKey: services.blindIndexKey,
        headInterval: config.audit.headInterval * 1000,
      },
    });
    const close = async () => {
      await services.counters.close();
      if (services.redis) await closeRedis(services.redis);
      if (!options.db) await db.destroy();
    };
    return { ...services, config, db, logger, app, provider, apiTokens, tokenIds, metrics, health, close };
  } catch (err) {
    if (!options.db) await db.destroy();
    throw err;
  }
}

/** The public halves of the EC signing keys. */
function publicEcKeys(signingKeys: JWK[]): JWK[] {
  return (signingKeys as Array<JWK & { d?: string }>)
    .filter((key) => key.kty === 'EC')
    .map(({ d: _private, ...publicKey }) => publicKey);
}

/**
 * At start: a log that contradicts the heads kept outside the database was rewritten behind the
 * triggers (or lost leaves in a restore). The platform still serves, but signs no head until an
 * operator has looked; this is said at start and at every refused signing.
 */
async function checkKeptHeads(treeHeads: TreeHeads, logger: Logger): Promise<void> {
  if (!treeHeads.kept) {
    logger.warn(
      'audit.headsDir is empty: signed tree heads are kept in the database only, where a rewrite of the log can delete them',
    );
    return;
  }
  try {
    await treeHeads.checkKept();
  } catch (err) {
    if (!(err instanceof TreeHeadRefused)) throw err;
    logger.fatal(
      { err, headsDir: treeHeads.kept.dir },
      `AUDIT LOG CONTRADICTS A KEPT TREE HEAD: no tree head will be signed. ${err.message}`,
    );
  }
}
