import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AccountDisabling } from './accounts/disabling.js';
import { AdminService } from './admin/service.js';
import { PasswordHasher } from './accounts/password.js';
import { AccountService } from './accounts/service.js';
import { AuditLog } from './audit/log.js';
import { KeptTreeHeads } from './audit/kept-heads.js';
import { AUDIT_TREE_HEAD_KEY, TreeHeads } from './audit/tree-heads.js';
import { ClientService } from './clients/service.js';
import { DpopProofs } from './oidc/dpop-proofs.js';
import type { Config } from './config/schema.js';
import { SecretBox } from './crypto/secret-box.js';
import type { Db } from './db/index.js';
import { connectRedis } from './db/redis.js';
import { DossierService } from './grants/dossier.js';
import { ReleaseAudit } from './grants/releases.js';
import { GrantService } from './grants/service.js';
import { BLIND_INDEX_KEY } from './identity/blind-index.js';
import { ProviderCallTotals } from './identity/provider-calls.js';
import { HttpPhoneCarrier, HttpProvider } from './identity/providers/http.js';
import { PhoneCheckRouter } from './identity/providers/phone.js';
import { SandboxCarrier, SandboxProvider } from './identity/providers/sandbox.js';
import type { PhoneCarrier, VerificationProvider } from './identity/providers/types.js';
import { VerificationService } from './identity/service.js';
import { COOKIE_KEY, KeyService, OIDC_SIGNING, PAIRWISE_SALT } from './keys/service.js';
import { MerchantEvents } from './merchant-events/service.js';
import { Registry } from './notary/registry.js';
import {
  HttpSmsNotifier,
  LogNotifier,
  SandboxNotifier,
  SmtpNotifier,
  type Notifier,
} from './notifications/notifier.js';
import { Outbox } from './notifications/service.js';
import { SetPushNotifier } from './notifications/set-push.js';
import { ProviderAccountTokens, ProviderGrants } from './oidc/grants.js';
import { TOKEN_ID_KEY } from './oidc/token-ids.js';
import { MemoryCounters, type CounterStore } from './rate-limits/counters.js';
import { RedisCounters } from './rate-limits/redis.js';
import { RateLimits } from './rate-limits/service.js';
import { DatabaseCounters } from './rate-limits/store.js';
import { PasswordRecovery } from './recovery/service.js';
import { AccountClosure } from './data-rights/closure.js';
import { PersonalData } from './data-rights/service.js';
import { RedisLiveSessions } from './oidc/redis-sessions.js';
import { ProviderSessions, type EndingSessions } from './oidc/sessions.js';
import { OperatorService } from './operators/service.js';
import { PasskeyService } from './passkeys/service.js';
import { AccountSessions, SecurityLog } from './security/service.js';

// The composition root: every domain service is built here, once, for the server (platform.ts),
// its scheduled jobs (jobs.ts) and the operator CLI alike.

/** Every domain service, wired to one another. */
export interface Services {
  box: SecretBox;
  keys: KeyService;
  /** The key of the blind index of document numbers (src/identity/blind-index.ts). */
  blindIndexKey: string;
  audit: AuditLog;
  treeHeads: TreeHeads;
  hasher: PasswordHasher;
  outbox: Outbox;
  accounts: AccountService;
  /** An operator disabling and enabling accounts (src/accounts/disabling.ts). */
  disabling: AccountDisabling;
  /** The person's security log and session list (src/security/). */
  securityLog: SecurityLog;
  sessions: AccountSessions;
  /** oidc-provider's sessions (rows, or Redis keys) the session list ends; the platform listens for back-channel logout. */
  liveSessions: EndingSessions;
  passkeys: PasskeyService;
  clients: ClientService;
  /** The process's Redis connection when `REDIS_URL` is set (src/db/redis.ts); closed with the platform. */
  redis: Redis | undefined;
  /** Where the rate limits count (see countersFor); closed with the platform. */
  counters: CounterStore;
  limits: RateLimits;
  registry: Registry;
  verifications: VerificationService;
  providerCalls: ProviderCallTotals;
  dossier: DossierService;
  grants: GrantService;
  /** Security Event Tokens to merchants about their grants (src/merchant-events/). */
  merchantEvents: MerchantEvents;
  releases: ReleaseAudit;
  /** DPoP proofs accepted by the platform's own resources (each is used once, RFC 9449 §11.1). */
  dpopProofs: DpopProofs;
  /** Password reset by a one-time code or a new person-document match (src/recovery/). */
  recovery: PasswordRecovery;
  /** A person's rights over their data: the export and closing the account (src/data-rights/). */
  personalData: PersonalData;
  closure: AccountClosure;
  /** The people who run the platform (src/operators/). */
  operators: OperatorService;
  /** What operators do, for the admin API, the console and the CLI alike (src/admin/). */
  admin: AdminService;
}

/** Every key the platform holds, created when missing. */
const PLATFORM_KEYS = [...OIDC_SIGNING, COOKIE_KEY, PAIRWISE_SALT, AUDIT_TREE_HEAD_KEY, BLIND_INDEX_KEY, TOKEN_ID_KEY];

/** Builds every domain service on a migrated database, creating any platform key still missing. */
export async function createServices(config: Config, db: Db, logger: Logger): Promise<Services> {
  const box = SecretBox.fromBase64(config.masterKey, config.previousMasterKeys);
  const keys = new KeyService(db, box);
  await keys.ensure(PLATFORM_KEYS);
  const [blindIndexKey] = await keys.secrets(BLIND_INDEX_KEY.purpose);
  if (!blindIndexKey) throw new Error('no blind-index key: KeyService.ensure made none');
  const audit = new AuditLog(db);
  const kept = config.audit.headsDir.trim() ? new KeptTreeHeads(resolve(config.audit.headsDir)) : undefined;
  const treeHeads = await TreeHeads.load({ db, audit, keys, origin: logOrigin(config.issuer), kept });
  const registry = new Registry({ db, box, audit, blindIndexKey });
  const hasher = new PasswordHasher(config.argon2);
  const outbox = outboxFromConfig(db, box, config, logger);
  const securityLog = new SecurityLog({ db, retentionDays: config.securityLog.retentionDays });
  const redis = config.redisUrl ? connectRedis(config.redisUrl) : undefined;
  const liveSessions: EndingSessions = redis ? new RedisLiveSessions(redis) : new ProviderSessions(db);
  const sessions = new AccountSessions({ db, live: liveSessions, log: securityLog });
  const accounts = new AccountService({
    db,
    hasher,
    audit,
    notices: { outbox, channel: config.notifications.channel },
    security: { log: securityLog, sessions },
  });
  const disabling = new AccountDisabling({
    db,
    audit,
    log: securityLog,
    sessions,
    tokens: new ProviderAccountTokens(db),
  });
  const clients = new ClientService(db, box, audit, { production: config.env === 'production' });
  // The relying party is the issuer: its host is the RP ID, its origin the only one accepted.
  const issuerUrl = new URL(config.issuer);
  const passkeys = new PasskeyService({
    db,
    rpId: issuerUrl.hostname,
    origin: issuerUrl.origin,
    rpName: config.passkeys.rpName,
    challengeSeconds: config.passkeys.challengeTtl,
    log: securityLog,
  });
  const counters = countersFor(config, db, redis);
  const limits = new RateLimits(counters, audit, {
    limits: config.rateLimits,
    checkPerMinute: config.verification.checkRatePerMinute,
    keySecret: blindIndexKey,
  });
  const verifications = new VerificationService({
    db,
    box,
    audit,
    accounts,
    provider: verificationProvider(config),
    phones: phoneCarriers(config),
    registry,
    blindIndexKey,
    costFen: {
      document: Math.round(config.verification.costs.document * 100),
      person_match: Math.round(config.verification.costs.person_match * 100),
      phone_three_element: Math.round(config.verification.costs.phone_three_element * 100),
    },
    validityDays: config.verification.resultValidityDays,
    maxQueries: config.verification.resultMaxQueries,
    countCheck: (clientId) => limits.countCheck(clientId),
  });
  const dossier = new DossierService({
    db,
    audit,
    verifications,
    issuer: config.issuer,
    organizationOf: async (clientId) => (await clients.find(clientId))?.name,
    maxFailures: config.dossier.maxFailures,
    windowSeconds: config.dossier.failureWindow,
    lockSeconds: config.dossier.lockDuration,
  });
  const stored = new ProviderGrants(db);
  const merchantEvents = new MerchantEvents({
    issuer: config.issuer,
    clients,
    keys,
    outbox,
    grantedClients: async (accountId) =>
      (await stored.ofAccount(accountId)).map((grant) => String(grant.payload.clientId)),
  });
  const grants = new GrantService({
    db,
    audit,
    verifications,
    hasher,
    dossier,
    stored,
    changes: merchantEvents,
  });
  const recovery = new PasswordRecovery({
    db,
    accounts,
    verifications,
    passkeys,
    outbox,
    limits,
    log: securityLog,
    box,
    // Its HMACs are domain-separated ("password-reset:…"), as the rate limits' are.
    codeKey: blindIndexKey,
    codeSeconds: config.passwordReset.codeTtl,
    maxCodeFailures: config.passwordReset.maxCodeFailures,
  });
  const operators = new OperatorService({ db, audit, accounts });
  const admin = new AdminService({
    db,
    audit,
    clients,
    keys,
    outbox,
    operators,
    verifications,
    disabling,
    sessions,
    securityLog,
    retiredKeyLifetime: config.retiredKeyLifetime,
    headsDir: config.audit.headsDir,
    notificationChannel: config.notifications.channel,
  });
  return {
    box,
    keys,
    blindIndexKey,
    audit,
    treeHeads,
    hasher,
    outbox,
    securityLog,
    sessions,
    liveSessions,
    passkeys,
    accounts,
    disabling,
    clients,
    redis,
    counters,
    limits,
    registry,
    verifications,
    providerCalls: new ProviderCallTotals(db),
    dossier,
    grants,
    merchantEvents,
    releases: new ReleaseAudit(db, audit, verifications),
    dpopProofs: new DpopProofs(db),
    recovery,
    personalData: new PersonalData({ accounts, verifications, grants, passkeys, securityLog, sessions, audit }),
    closure: new AccountClosure({
      db,
      accounts,
      verifications,
      grants,
      securityLog,
      sessions,
      audit,
      delayDays: config.accountClosure.delayDays,
      merchants: merchantEvents,
    }),
    operators,
    admin,
  };
}

/**
 * Where the rate limits count: Redis when configured (shared by every instance); else in memory
 * on the embedded database, which one process serves; else the database, shared on PostgreSQL.
 */
function countersFor(config: Config, db: Db, redis: Redis | undefined): CounterStore {
  if (redis) return new RedisCounters(redis);
  return config.databaseUrl ? new DatabaseCounters(db) : new MemoryCounters();
}

/** The audit log's name in checkpoints: the issuer without its scheme, then `/audit`. */
function logOrigin(issuer: string): string {
  const url = new URL(issuer);
  return `${url.host}${url.pathname.replace(/\/$/, '')}/audit`;
}

/**
 * The outbox as configured: the log and set channels always, email when an SMTP relay is configured, sms
 * when a gateway is; with the sandbox on, a channel without a transport writes to the log.
 */
function outboxFromConfig(db: Db, box: SecretBox, config: Config, logger: Logger): Outbox {
  const { smtp, sms, sandbox } = config.notifications;
  // Security Event Tokens to merchants' events endpoints: always on, a merchant opts in by registering one.
  const notifiers: Notifier[] = [new LogNotifier(logger), new SetPushNotifier()];
  if (smtp) {
    const auth = smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined;
    notifiers.push(new SmtpNotifier({ host: smtp.host, port: smtp.port, secure: smtp.secure, auth, from: smtp.from }));
  } else if (sandbox) notifiers.push(new SandboxNotifier('email', logger));
  if (sms) notifiers.push(new HttpSmsNotifier({ url: sms.url, apiKey: sms.apiKey }));
  else if (sandbox) notifiers.push(new SandboxNotifier('sms', logger));
  return new Outbox(db, notifiers, {
    issuer: config.issuer,
    maxAttempts: config.notifications.maxAttempts,
    batchSize: config.notifications.batchSize,
    retryBaseMs: config.notifications.retryBase * 1000,
    timeZone: config.notifications.timeZone,
    box,
    onDeliveryError: (err) => logger.error({ err }, 'delivering notifications failed'),
  });
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
