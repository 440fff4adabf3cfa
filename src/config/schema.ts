import { z } from 'zod';

// One schema for the whole platform. Each option: its default and what it is for.
// `config/default.json` mirrors these defaults; `config/<NODE_ENV>.json` and environment
// variables (see load.ts) overlay them. A bad value stops the start naming the option.

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().positive();
// A switch from a file (true/false) or the environment (true/false, 1/0, yes/no, on/off); any
// other word is an error rather than a surprise `true` (z.coerce.boolean reads "no" as true).
const SWITCH_WORDS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false };
const flag = z.preprocess(
  (value) => (typeof value === 'string' ? (SWITCH_WORDS[value.trim().toLowerCase()] ?? value) : value),
  z.boolean({ error: 'expected true or false (also 1/0, yes/no, on/off)' }),
);

export const configSchema = z
  .object({
    /** development | test | production; production refuses development defaults. */
    env: z.enum(['development', 'test', 'production']).default('development'),
    /** TCP port the HTTP server listens on (0 = any free port). */
    port: port.default(3000),
    /** Interface to bind. */
    host: z.string().min(1).default('0.0.0.0'),
    /** Public issuer URL; every OIDC URL derives from it. Defaults to http://localhost:<port>. */
    issuer: z.url({ protocol: /^https?$/ }).optional(),
    /** Trust X-Forwarded-* headers (set when running behind a TLS-terminating proxy). */
    trustProxy: flag.default(false),
    /** postgres:// URL of a PostgreSQL server; when empty, embedded PGlite in dataDir is used. */
    databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL').optional(),
    /** Directory for the embedded PGlite database (used when databaseUrl is empty). */
    dataDir: z.string().min(1).default('./data'),
    /** Connection pool size for PostgreSQL (PGlite always has one connection). */
    databasePoolMax: z.coerce.number().int().min(1).max(100).default(10),
    /**
     * Master key (base64 of 32 bytes) that encrypts private keys and secrets at rest
     * (AES-256-GCM). Required in production; development and test use a fixed, public key.
     */
    masterKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'base64 of exactly 32 bytes').optional(),
    /**
     * Master keys rotated out, still needed to open what they sealed (comma-separated in the
     * environment). New values are always sealed with `masterKey`.
     */
    previousMasterKeys: z
      .preprocess(
        (value) => (typeof value === 'string' ? value.split(',').map((k) => k.trim()).filter(Boolean) : value),
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
        session: seconds.default(24 * 3600),
        interaction: seconds.default(3600),
        grant: seconds.default(365 * 24 * 3600),
      })
      .default({
        accessToken: 600,
        clientCredentials: 300,
        authorizationCode: 60,
        idToken: 600,
        refreshToken: 14 * 24 * 3600,
        session: 24 * 3600,
        interaction: 3600,
        grant: 365 * 24 * 3600,
      }),
    /** How long a rotated-out signing key stays published for verification, in seconds. */
    retiredKeyLifetime: seconds.default(14 * 24 * 3600),
    /** Expired OIDC rows are purged every `interval` seconds, `batchSize` rows per statement. */
    purge: z
      .object({
        interval: seconds.default(300),
        batchSize: z.coerce.number().int().min(1).max(100_000).default(1000),
      })
      .default({ interval: 300, batchSize: 1000 }),
    /** Audit trail: a new signed tree head every `headInterval` seconds while the log grows. */
    audit: z.object({ headInterval: seconds.default(5) }).default({ headInterval: 5 }),
    /** Identity verification: which provider, what a call costs, how long a result is reused. */
    verification: z
      .object({
        /** `sandbox` (deterministic rules, see README; refused in production) or `http`. */
        provider: z.enum(['sandbox', 'http']).default('sandbox'),
        /** The HTTP provider's service (see README "Provider protocol"); required when provider is http. */
        http: z
          .object({
            baseUrl: z.url({ protocol: /^https?$/ }),
            apiKey: z.string().min(16),
            timeoutMs: z.coerce.number().int().min(100).max(60_000).default(3000),
            retries: z.coerce.number().int().min(0).max(5).default(2),
          })
          .optional(),
        /** Cost of one provider call in yuan, by method (seed 000 quotes 0.5 yuan). */
        costs: z
          .object({
            document: z.coerce.number().min(0).max(1000).default(0.5),
            person_match: z.coerce.number().min(0).max(1000).default(1.5),
            phone_three_element: z.coerce.number().min(0).max(1000).default(0.3),
          })
          .default({ document: 0.5, person_match: 1.5, phone_three_element: 0.3 }),
        /** A passed result is reused for this many days, then the person verifies again. */
        resultValidityDays: z.coerce.number().int().min(1).max(3650).default(365),
        /** ...and for at most this many merchant queries (0 = no limit). */
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
    /** Verification reminders (notification outbox; seed 002's self-check). */
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
      .default({ channel: 'log', interval: 60, maxAttempts: 5, batchSize: 50, retryBase: 60, timeZone: 'Asia/Shanghai' }),
    /** Largest accepted form or JSON body on the platform's own routes. */
    bodyLimit: z.string().regex(/^\d+(b|kb|mb)$/).default('16kb'),
    /** Create (and print) a demo merchant on start; defaults to on in development only. */
    demoMerchant: flag.optional(),
    /** Log level (pino). */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema> & { issuer: string; masterKey: string };
