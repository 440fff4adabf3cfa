import { z } from 'zod';
import { isAddressOrRange } from '../ip-ranges.js';

// One schema for the whole platform. Each option: its default and what it is for, in the `/** */`
// comment above it. `npm run docs:config` writes config/default.json and the reference table of
// docs/configuration.md from this file (doc comments included); config/<NODE_ENV>.json and
// environment variables (see load.ts) overlay the defaults. A bad value stops the start naming it.

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().positive();
// A switch from a file (true/false) or the environment (true/false, 1/0, yes/no, on/off); any
// other word is an error rather than a surprise `true` (z.coerce.boolean reads "no" as true).
const SWITCH_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
  on: true,
  off: false,
};
const flag = z.preprocess(
  (value) => (typeof value === 'string' ? (SWITCH_WORDS[value.trim().toLowerCase()] ?? value) : value),
  z.boolean({ error: 'expected true or false (also 1/0, yes/no, on/off)' }),
);

/** At most `max` requests per key within `window` seconds; the next ones are refused until it ends. */
const requestLimit = (defaults: { max: number; window: number }) =>
  z
    .object({
      max: z.coerce.number().int().min(1).max(1_000_000).default(defaults.max),
      window: seconds.default(defaults.window),
    })
    .default(defaults);
/** `maxFailures` failures per key within `window` seconds lock the key for `lockDuration` seconds. */
const failureLimit = (defaults: { maxFailures: number; window: number; lockDuration: number }) =>
  z
    .object({
      maxFailures: z.coerce.number().int().min(1).max(1_000_000).default(defaults.maxFailures),
      window: seconds.default(defaults.window),
      lockDuration: seconds.default(defaults.lockDuration),
    })
    .default(defaults);

export const configSchema = z
  .object({
    /** development | test | production; production refuses development defaults. */
    env: z.enum(['development', 'test', 'production']).default('development'),
    /** TCP port the HTTP server listens on (0 = any free port). */
    port: port.default(3000),
    /** Interface to bind. */
    host: z.string().min(1).default('0.0.0.0'),
    /**
     * Public issuer URL (the `iss` of every token). Every absolute URL the platform writes
     * (discovery's endpoints, redirects) is built on it, whatever Host or X-Forwarded-Host a
     * request carries. Defaults to http://localhost:<port>.
     */
    issuer: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Trust X-Forwarded-For and X-Forwarded-Proto from the proxies in `trustedProxies` (set when
     * running behind a TLS-terminating proxy): the client address for per-address limits is then
     * the last X-Forwarded-For entry, the one the proxy appended.
     */
    trustProxy: flag.default(false),
    /**
     * Addresses or CIDR ranges of the proxies whose X-Forwarded-* headers are believed when
     * `trustProxy` is on (comma-separated in the environment); from any other peer they are
     * dropped. Required in production with `trustProxy`; elsewhere loopback.
     */
    trustedProxies: z
      .preprocess(
        (value) =>
          typeof value === 'string'
            ? value
                .split(',')
                .map((k) => k.trim())
                .filter(Boolean)
            : value,
        z.array(z.string().refine(isAddressOrRange, 'an IP address or CIDR range')).min(1).max(100),
      )
      .optional(),
    /** postgres:// URL of a PostgreSQL server; when empty, embedded PGlite in dataDir is used. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
      .optional(),
    /** Directory for the embedded PGlite database (used when databaseUrl is empty). */
    dataDir: z.string().min(1).default('./data'),
    /** Connection pool size for PostgreSQL (PGlite always has one connection). */
    databasePoolMax: z.coerce.number().int().min(1).max(100).default(10),
    /**
     * redis:// URL of a Redis server shared by every instance: the rate limits count there, and
     * the sign-ins under way and the sessions (oidc-provider's interactions and sessions) are kept
     * there. Without it the rate limits are counted in memory on the embedded database (one
     * process serves it), and in the database on PostgreSQL; interactions and sessions are kept
     * in the database.
     */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
      .optional(),
    /**
     * Master key (base64 of 32 bytes) that encrypts private keys and secrets at rest
     * (AES-256-GCM). Required in production; development and test use a fixed, public key.
     */
    masterKey: z
      .string()
      .regex(/^[A-Za-z0-9+/]{43}=$/, 'base64 of exactly 32 bytes')
      .optional(),
    /**
     * Master keys rotated out, still needed to open what they sealed (comma-separated in the
     * environment). New values are always sealed with `masterKey`.
     */
    previousMasterKeys: z
      .preprocess(
        (value) =>
          typeof value === 'string'
            ? value
                .split(',')
                .map((k) => k.trim())
                .filter(Boolean)
            : value,
        z.array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'base64 of exactly 32 bytes')).max(10),
      )
      .default([]),
    /** argon2id parameters for account passwords (defaults: OWASP minimum m=19456 KiB, t=2, p=1). */
    argon2: z
      .object({
        memoryCost: z.coerce.number().int().min(19456).default(19456),
        timeCost: z.coerce.number().int().min(2).default(2),
        parallelism: z.coerce.number().int().min(1).max(16).default(1),
      })
      .default({ memoryCost: 19456, timeCost: 2, parallelism: 1 }),
    /** Lifetimes of OIDC artifacts, in seconds. */
    ttl: z
      .object({
        accessToken: seconds.default(600),
        /** Tokens of the client_credentials grant (notary API): short-lived. */
        clientCredentials: seconds.max(3600).default(300),
        authorizationCode: seconds.max(600).default(60),
        idToken: seconds.default(600),
        refreshToken: seconds.default(14 * 24 * 3600),
        /** A session ends after this long without use (idle lifetime; OWASP ASVS 5.0 §7.3.1). */
        session: seconds.default(3600),
        /** …and this long after its sign-in, however much it is used (absolute lifetime; ASVS §7.3.2). */
        sessionAbsolute: seconds.default(24 * 3600),
        interaction: seconds.default(3600),
        grant: seconds.default(365 * 24 * 3600),
      })
      .default({
        accessToken: 600,
        clientCredentials: 300,
        authorizationCode: 60,
        idToken: 600,
        refreshToken: 14 * 24 * 3600,
        session: 3600,
        sessionAbsolute: 24 * 3600,
        interaction: 3600,
        grant: 365 * 24 * 3600,
      }),
    /** How long a rotated-out signing key stays published for verification, in seconds. */
    retiredKeyLifetime: seconds.default(14 * 24 * 3600),
    /**
     * How often (seconds, on the next request) each process checks whether keys were rotated or
     * clients changed by another process, and loads them: no restart after `keys rotate`.
     */
    settingsCheckInterval: z.coerce.number().min(0).max(3600).default(5),
    /** Expired OIDC rows are purged every `interval` seconds, `batchSize` rows per statement. */
    purge: z
      .object({
        interval: seconds.default(300),
        batchSize: z.coerce.number().int().min(1).max(100_000).default(1000),
      })
      .default({ interval: 300, batchSize: 1000 }),
    /** The person's security log (sign-ins, password and passkey changes; src/security/). */
    securityLog: z
      .object({
        /** Events older than this many days are removed by the hourly prune. */
        retentionDays: z.coerce.number().int().min(1).max(3650).default(180),
      })
      .default({ retentionDays: 180 }),
    /** Audit trail (docs/notary-api.md). */
    audit: z
      .object({
        /** A new signed tree head every `headInterval` seconds while the log grows. */
        headInterval: seconds.default(5),
        /** Milliseconds between integrations of queued events into the tree (how late a leaf is, at most, plus one batch). */
        integrateInterval: z.coerce.number().int().min(10).max(60_000).default(200),
        /** Directory each signed tree head is appended to as it is made, out of the database's reach ('' = none; required in production). */
        headsDir: z.string().default('./audit-heads'),
      })
      .default({ headInterval: 5, integrateInterval: 200, headsDir: './audit-heads' }),
    /** Identity verification: which provider, what a call costs, how long a result is reused. */
    verification: z
      .object({
        /** `sandbox` (deterministic rules, docs/product.md#sandbox-provider; refused in production) or `http`. */
        provider: z.enum(['sandbox', 'http']).default('sandbox'),
        /** The HTTP provider's service (docs/verification.md#the-http-provider-protocol); required for `http`. */
        http: z
          .object({
            baseUrl: z.url({ protocol: /^https?$/ }),
            apiKey: z.string().min(16),
            timeoutMs: z.coerce.number().int().min(100).max(60_000).default(3000),
            retries: z.coerce.number().int().min(0).max(5).default(2),
          })
          .optional(),
        /** Cost of one provider call in yuan, by method (docs/background.md#result-reuse). */
        costs: z
          .object({
            document: z.coerce.number().min(0).max(1000).default(0.5),
            person_match: z.coerce.number().min(0).max(1000).default(1.5),
            phone_three_element: z.coerce.number().min(0).max(1000).default(0.3),
          })
          .default({ document: 0.5, person_match: 1.5, phone_three_element: 0.3 }),
        /** A passed result is reused for this many days, then the person verifies again. */
        resultValidityDays: z.coerce.number().int().min(1).max(3650).default(365),
        /** A passed result is reused for at most this many merchant queries (0 = no limit). */
        resultMaxQueries: z.coerce.number().int().min(0).max(1_000_000).default(0),
        /** Largest accepted image (portrait, document photo), in bytes. */
        maxImageBytes: z.coerce.number().int().min(10_000).max(20_000_000).default(2_000_000),
        /** Check API calls a merchant may make per minute. */
        checkRatePerMinute: z.coerce.number().int().min(1).max(100_000).default(120),
      })
      .default({
        provider: 'sandbox',
        costs: { document: 0.5, person_match: 1.5, phone_three_element: 0.3 },
        resultValidityDays: 365,
        resultMaxQueries: 0,
        maxImageBytes: 2_000_000,
        checkRatePerMinute: 120,
      }),
    /** Level 3: the partial-knowledge re-confirmation (docs/background.md#partial-knowledge) and its attempt limit. */
    dossier: z
      .object({
        /** Wrong answers allowed within `failureWindow` seconds before the dossier locks. */
        maxFailures: z.coerce.number().int().min(1).max(100).default(5),
        failureWindow: seconds.default(900),
        /** How long a locked dossier stays locked, in seconds. */
        lockDuration: seconds.default(1800),
      })
      .default({ maxFailures: 5, failureWindow: 900, lockDuration: 1800 }),
    /**
     * Rate limits, counted where every instance sees the same count: Redis (`redisUrl`), else
     * the database on PostgreSQL, else memory (docs/operations.md#rate-limits). The check API's limit is `verification.checkRatePerMinute`.
     */
    rateLimits: z
      .object({
        /** Failed sign-ins: per login (normalized) and per client IP; a success clears the login's count. */
        signIn: z
          .object({
            perLogin: failureLimit({ maxFailures: 5, window: 900, lockDuration: 900 }),
            perIp: failureLimit({ maxFailures: 20, window: 60, lockDuration: 60 }),
          })
          .default({
            perLogin: { maxFailures: 5, window: 900, lockDuration: 900 },
            perIp: { maxFailures: 20, window: 60, lockDuration: 60 },
          }),
        /** Registration attempts per client IP. */
        registration: z
          .object({ perIp: requestLimit({ max: 10, window: 3600 }) })
          .default({ perIp: { max: 10, window: 3600 } }),
        /** Verification submissions (verify forms, step-up) per account: each may cost a provider call. */
        verification: z
          .object({ perAccount: requestLimit({ max: 10, window: 3600 }) })
          .default({ perAccount: { max: 10, window: 3600 } }),
        /**
         * The token endpoint. `perClient`: tokens issued to a client (counted after it
         * authenticated, so only the merchant spends it); `failuresPerClientIp`: wrong client
         * authentications of one client_id from one IP (a guesser locks only its own address);
         * `perIp`: every request from one client IP.
         */
        token: z
          .object({
            perClient: requestLimit({ max: 300, window: 60 }),
            failuresPerClientIp: failureLimit({ maxFailures: 10, window: 600, lockDuration: 600 }),
            perIp: requestLimit({ max: 600, window: 60 }),
          })
          .default({
            perClient: { max: 300, window: 60 },
            failuresPerClientIp: { maxFailures: 10, window: 600, lockDuration: 600 },
            perIp: { max: 600, window: 60 },
          }),
        /**
         * Password reset requests (a code sent, or a reset by re-verification), per client IP and
         * per login (normalized, counted whether or not an account has it).
         */
        passwordReset: z
          .object({
            perIp: requestLimit({ max: 10, window: 3600 }),
            perLogin: requestLimit({ max: 5, window: 3600 }),
          })
          .default({ perIp: { max: 10, window: 3600 }, perLogin: { max: 5, window: 3600 } }),
        /** Authorization requests (`/auth`, each stores an interaction for anyone) per client IP. */
        authorization: z
          .object({ perIp: requestLimit({ max: 120, window: 60 }) })
          .default({ perIp: { max: 120, window: 60 } }),
      })
      .default({
        signIn: {
          perLogin: { maxFailures: 5, window: 900, lockDuration: 900 },
          perIp: { maxFailures: 20, window: 60, lockDuration: 60 },
        },
        registration: { perIp: { max: 10, window: 3600 } },
        verification: { perAccount: { max: 10, window: 3600 } },
        token: {
          perClient: { max: 300, window: 60 },
          failuresPerClientIp: { maxFailures: 10, window: 600, lockDuration: 600 },
          perIp: { max: 600, window: 60 },
        },
        passwordReset: { perIp: { max: 10, window: 3600 }, perLogin: { max: 5, window: 3600 } },
        authorization: { perIp: { max: 120, window: 60 } },
      }),
    /** Password reset by a one-time code (docs/operations.md#password-reset-and-the-sms-gateway). */
    passwordReset: z
      .object({
        /** Seconds a code works for. */
        codeTtl: seconds.max(600).default(600),
        /** Wrong codes a code survives; then a new one must be asked for. */
        maxCodeFailures: z.coerce.number().int().min(1).max(20).default(5),
      })
      .default({ codeTtl: 600, maxCodeFailures: 5 }),
    /**
     * Closing an account (docs/product.md#your-data): days between the person's request and the
     * erasure. Grants are revoked at the request; the person may cancel until then. 0 erases at once.
     */
    accountClosure: z
      .object({ delayDays: z.coerce.number().int().min(0).max(90).default(0) })
      .default({ delayDays: 0 }),
    /** Step-up: how recent a person-document match a security-level-3 merchant needs, in seconds. */
    stepUp: z.object({ maxAge: seconds.default(600) }).default({ maxAge: 600 }),
    /** The operator console at /admin (docs/operations.md#the-operator-console). */
    adminConsole: z
      .object({
        /**
         * How old (seconds) an operator's strong sign-in may be: a passkey, or a fresh
         * person-document match for an account with only a password.
         */
        signInMaxAge: seconds.default(3600),
      })
      .default({ signInMaxAge: 3600 }),
    /** Passkeys (WebAuthn): the relying party is the issuer's host and origin (docs/architecture.md#passkeys). */
    passkeys: z
      .object({
        /** The name authenticators show beside a passkey made here. */
        rpName: z.string().trim().min(1).max(100).default('统一实名认证授权平台'),
        /** Seconds a passkey challenge may be answered in. */
        challengeTtl: seconds.default(300),
        /** Seconds after a sign-in during which passkeys and the second factor may be changed; later, sign in again. */
        recentSignIn: seconds.default(900),
      })
      .default({ rpName: '统一实名认证授权平台', challengeTtl: 300, recentSignIn: 900 }),
    /** Verification reminders: the notification outbox the self-check fills (docs/verification.md#reminders). */
    notifications: z
      .object({
        /** Channel reminders go out on; 'log' writes one line per reminder (no mail server). */
        channel: z.enum(['log', 'email']).default('log'),
        /** Seconds between delivery runs. */
        interval: seconds.default(60),
        /** Attempts per message before it is marked failed. */
        maxAttempts: z.coerce.number().int().min(1).max(20).default(5),
        /** Messages sent per delivery run. */
        batchSize: z.coerce.number().int().min(1).max(1000).default(50),
        /** Seconds before the first retry; doubled for each further one (at most 6 h). */
        retryBase: seconds.default(60),
        /** Time zone for dates written in messages. */
        timeZone: z.string().min(1).default('Asia/Shanghai'),
        /**
         * SMS gateway for the sms channel (password reset codes to mobile-number logins), spoken
         * to over HTTP (docs/operations.md#password-reset-and-the-sms-gateway).
         */
        sms: z
          .object({
            url: z.url({ protocol: /^https?$/ }),
            apiKey: z.string().min(1).optional(),
          })
          .optional(),
        /**
         * Write messages of a channel with no transport (email without `smtp`, sms without `sms`)
         * to the log, reset codes included, instead of not sending them. Defaults to on in
         * development only; refused in production.
         */
        sandbox: flag.optional(),
        /** SMTP relay for the email channel. */
        smtp: z
          .object({
            host: z.string().min(1),
            port: port.default(587),
            /** TLS from the start (465); otherwise STARTTLS when offered. */
            secure: flag.default(false),
            user: z.string().optional(),
            password: z.string().optional(),
            from: z.string().min(3),
          })
          .optional(),
      })
      .refine((n) => n.channel !== 'email' || n.smtp, { path: ['smtp'], message: 'required when channel is email' })
      .default({
        channel: 'log',
        interval: 60,
        maxAttempts: 5,
        batchSize: 50,
        retryBase: 60,
        timeZone: 'Asia/Shanghai',
      }),
    /** Largest accepted form or JSON body on the platform's own routes. */
    bodyLimit: z
      .string()
      .regex(/^\d+(b|kb|mb)$/)
      .default('16kb'),
    /** Create (and print) a demo merchant on start; defaults to on in development only. */
    demoMerchant: flag.optional(),
    /** Prometheus metrics at GET /metrics (docs/operations.md#metrics). */
    metrics: z
      .object({
        /** Bearer token a scraper must send. Unset: /metrics is open in development and test, 404 in production. */
        token: z.string().min(16, 'at least 16 characters').optional(),
      })
      .default({}),
    /** Seconds in-flight requests get to finish after SIGTERM/SIGINT before their connections are closed. */
    shutdownTimeout: seconds.max(600).default(10),
    /** Run the scheduled jobs here (expired-row purge, notification delivery, self-check, audit integration, tree heads). */
    scheduledJobs: flag.default(true),
    /** Multi-process start on one machine (PostgreSQL only; docs/operations.md#cluster). */
    cluster: z
      .object({
        /** Worker processes: 0 = one process, no cluster; `auto` = one per core (os.availableParallelism()). */
        workers: z
          .union([z.literal('auto'), z.coerce.number().int().min(0).max(256)], {
            error: 'expected auto or a whole number from 0 to 256',
          })
          .default(0),
      })
      .default({ workers: 0 }),
    /** Log level (pino). */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type Config = z.output<typeof configSchema> & { issuer: string; masterKey: string; trustedProxies: string[] };
