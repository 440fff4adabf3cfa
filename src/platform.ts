import { resolve } from 'node:path';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { PasswordHasher } from './accounts/password.js';
import { AccountService } from './accounts/service.js';
import { AuditLog } from './audit/log.js';
import { KeptTreeHeads } from './audit/kept-heads.js';
import { AUDIT_TREE_HEAD_KEY, TreeHeadRefused, TreeHeads } from './audit/tree-heads.js';
import { BLIND_INDEX_KEY } from './identity/blind-index.js';
import { HttpPhoneCarrier, HttpProvider } from './identity/providers/http.js';
import { PhoneCheckRouter } from './identity/providers/phone.js';
import { ProviderCallTotals } from './identity/provider-calls.js';
import { SandboxCarrier, SandboxProvider } from './identity/providers/sandbox.js';
import type { PhoneCarrier, VerificationProvider } from './identity/providers/types.js';
import { VerificationService } from './identity/service.js';
import { outboxFromConfig, type Outbox } from './notifications/service.js';
import { GrantService } from './grants/service.js';
import { DossierService } from './grants/dossier.js';
import { ReleaseAudit } from './grants/releases.js';
import { Registry } from './notary/registry.js';
import { buildApp } from './app.js';
import { ClientService, PLATFORM_CLIENT_ID } from './clients/service.js';
import type { Config } from './config/schema.js';
import { SecretBox } from './crypto/secret-box.js';
import { createDb, type Db } from './db/index.js';
import { migrateLatest } from './db/migrate.js';
import { answerDisallowedGrantType, answerProviderFailures } from './http/errors.js';
import { Health } from './http/health.js';
import { PlatformMetrics } from './http/metrics.js';
import { RateLimits } from './rate-limits/service.js';
import { PasskeyService } from './passkeys/service.js';
import { Views } from './http/views.js';
import { COOKIE_KEY, KeyService, OIDC_SIGNING, PAIRWISE_SALT } from './keys/service.js';
import { createLogger } from './logger.js';
import { buildProvider } from './oidc/provider.js';
import { ProviderGrants } from './oidc/grants.js';
import { providerPages } from './oidc/routes.js';
import { TOKEN_ID_KEY, TokenIds } from './oidc/token-ids.js';

export interface Platform {
  config: Config;
  db: Db;
  logger: Logger;
  app: Koa;
  provider: Provider;
  accounts: AccountService;
  clients: ClientService;
  keys: KeyService;
  audit: AuditLog;
  treeHeads: TreeHeads;
  /** How oidc-provider ids are stored in `oidc_payloads` (tests look rows up by it). */
  tokenIds: TokenIds;
  registry: Registry;
  verifications: VerificationService;
  grants: GrantService;
  dossier: DossierService;
  passkeys: PasskeyService;
  outbox: Outbox;
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
    const box = SecretBox.fromBase64(config.masterKey, config.previousMasterKeys);
    const keys = new KeyService(db, box);
    await keys.ensure([...OIDC_SIGNING, COOKIE_KEY, PAIRWISE_SALT, AUDIT_TREE_HEAD_KEY, BLIND_INDEX_KEY, TOKEN_ID_KEY]);
    const [signingKeys, cookieKeys, [pairwiseSalt], [blindIndexKey], [tokenIdKey]] = await Promise.all([
      keys.privateJwks(OIDC_SIGNING[0]!.purpose),
      keys.secrets(COOKIE_KEY.purpose),
      keys.secrets(PAIRWISE_SALT.purpose),
      keys.secrets(BLIND_INDEX_KEY.purpose),
      keys.secrets(TOKEN_ID_KEY.purpose),
    ]);
    const tokenIds = new TokenIds(tokenIdKey!);
    const audit = new AuditLog(db);
    const metrics = new PlatformMetrics(db, audit, new ProviderCallTotals(db));
    metrics.countAuditAppends(audit);
    const health = new Health(db);
    const kept = config.audit.headsDir.trim() ? new KeptTreeHeads(resolve(config.audit.headsDir)) : undefined;
    const treeHeads = await TreeHeads.load(db, audit, keys, logOrigin(config.issuer), kept);
    await checkKeptHeads(treeHeads, logger);
    const registry = new Registry(db, box, audit, blindIndexKey!);

    const views = new Views();
    const hasher = new PasswordHasher(config.argon2);
    const outbox = outboxFromConfig(db, config, logger);
    const accounts = new AccountService(db, hasher, audit, { outbox, channel: config.notifications.channel });
    const clients = new ClientService(db, box);
    await clients.ensurePlatformClient(PLATFORM_CLIENT_ID, `${config.issuer}/account/callback`);
    const limits = new RateLimits(db, audit, {
      limits: config.rateLimits,
      checkPerMinute: config.verification.checkRatePerMinute,
      keySecret: blindIndexKey!,
    });
    const verifications = new VerificationService(
      db,
      box,
      audit,
      accounts,
      verificationProvider(config),
      phoneCarriers(config),
      registry,
      {
        blindIndexKey: blindIndexKey!,
        costFen: {
          document: Math.round(config.verification.costs.document * 100),
          person_match: Math.round(config.verification.costs.person_match * 100),
          phone_three_element: Math.round(config.verification.costs.phone_three_element * 100),
        },
        validityDays: config.verification.resultValidityDays,
        maxQueries: config.verification.resultMaxQueries,
        countCheck: (clientId) => limits.countCheck(clientId),
      },
    );
    const dossier = new DossierService(db, audit, verifications, {
      issuer: config.issuer,
      organizationOf: async (clientId) => (await clients.find(clientId))?.name,
      maxFailures: config.dossier.maxFailures,
      windowSeconds: config.dossier.failureWindow,
      lockSeconds: config.dossier.lockDuration,
    });
    const grants = new GrantService(db, audit, verifications, hasher, dossier, new ProviderGrants(db));
    // The relying party is the issuer: its host is the RP ID, its origin the only one accepted.
    const issuerUrl = new URL(config.issuer);
    const passkeys = new PasskeyService({
      db,
      rpId: issuerUrl.hostname,
      origin: issuerUrl.origin,
      rpName: config.passkeys.rpName,
      challengeSeconds: config.passkeys.challengeTtl,
    });
    const provider = buildProvider({
      config,
      db,
      accounts,
      clients,
      verifications,
      credentialsOf: (accountId, clientId) => grants.credentialsOf(accountId, clientId),
      verifiedClaimsOf: (accountId, method) => dossier.verifiedClaimsOf(accountId, method),
      pages: providerPages(views),
      signingKeys: { keys: signingKeys as never },
      cookieKeys,
      pairwiseSalt: pairwiseSalt!,
      tokenIds,
    });
    answerProviderFailures(provider, logger);
    answerDisallowedGrantType(provider);
    const app = buildApp({
      config,
      logger,
      views,
      provider,
      accounts,
      clients,
      verifications,
      grants,
      dossier,
      passkeys,
      releases: new ReleaseAudit(db, audit, verifications),
      limits,
      cookieKeys,
      metrics,
      health,
      notary: {
        issuer: config.issuer,
        provider,
        audit,
        treeHeads,
        keys,
        registry,
        blindIndexKey: blindIndexKey!,
        headInterval: config.audit.headInterval * 1000,
      },
    });
    const close = async () => {
      if (!options.db) await db.destroy();
    };
    return {
      config,
      db,
      logger,
      app,
      provider,
      accounts,
      clients,
      keys,
      audit,
      treeHeads,
      tokenIds,
      registry,
      verifications,
      grants,
      dossier,
      passkeys,
      outbox,
      metrics,
      health,
      close,
    };
  } catch (err) {
    if (!options.db) await db.destroy();
    throw err;
  }
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

/** The audit log's name in checkpoints: the issuer without its scheme, then `/audit`. */
function logOrigin(issuer: string): string {
  const url = new URL(issuer);
  return `${url.host}${url.pathname.replace(/\/$/, '')}/audit`;
}

/** The configured verification provider: the sandbox outside production, or the HTTP service. */
function verificationProvider(config: Config): VerificationProvider {
  const http = config.verification.http;
  if (config.verification.provider === 'sandbox' || !http) return new SandboxProvider();
  return new HttpProvider({
    name: 'http',
    baseUrl: http.baseUrl,
    apiKey: http.apiKey,
    timeoutMs: http.timeoutMs,
    retries: http.retries,
  });
}

/**
 * The three-element phone check: each number to its carrier's adapter, an aggregator when the
 * carrier is down or unknown. The sandbox has one adapter per carrier; with the HTTP provider the
 * configured service is the aggregator for every carrier.
 */
function phoneCarriers(config: Config): PhoneCarrier {
  const http = config.verification.http;
  if (config.verification.provider === 'sandbox' || !http) {
    const carriers = Object.fromEntries(
      ['china-mobile', 'china-unicom', 'china-telecom', 'china-broadnet'].map((name) => [
        name,
        new SandboxCarrier(name),
      ]),
    );
    return new PhoneCheckRouter({ carriers, fallback: new SandboxCarrier('aggregator') });
  }
  return new PhoneCheckRouter({
    carriers: {},
    fallback: new HttpPhoneCarrier({
      name: 'http-phone',
      baseUrl: http.baseUrl,
      apiKey: http.apiKey,
      timeoutMs: http.timeoutMs,
      retries: http.retries,
    }),
  });
}
