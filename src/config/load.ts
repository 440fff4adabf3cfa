import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { weakMasterKeyReason } from './master-key.js';
import { configSchema, type Config } from './schema.js';

/** Public, well-known key used only outside production (production refuses to start without its own). */
export const DEVELOPMENT_MASTER_KEY = Buffer.alloc(32, 'development-only-master-key').toString('base64');

/** Where a development or test proxy runs when `trustedProxies` is not set. */
const LOOPBACK = ['127.0.0.0/8', '::1'];

/** Environment variables and the option each one sets. The only place that reads process.env. */
const ENV_OPTIONS: Record<string, string> = {
  NODE_ENV: 'env',
  PORT: 'port',
  HOST: 'host',
  ISSUER: 'issuer',
  TRUST_PROXY: 'trustProxy',
  TRUSTED_PROXIES: 'trustedProxies',
  DATABASE_URL: 'databaseUrl',
  DATA_DIR: 'dataDir',
  DATABASE_POOL_MAX: 'databasePoolMax',
  REDIS_URL: 'redisUrl',
  MASTER_KEY: 'masterKey',
  PREVIOUS_MASTER_KEYS: 'previousMasterKeys',
  DEMO_MERCHANT: 'demoMerchant',
  LOG_LEVEL: 'logLevel',
  ARGON2_MEMORY_COST: 'argon2.memoryCost',
  ARGON2_TIME_COST: 'argon2.timeCost',
  ARGON2_PARALLELISM: 'argon2.parallelism',
  VERIFICATION_PROVIDER: 'verification.provider',
  VERIFICATION_HTTP_URL: 'verification.http.baseUrl',
  VERIFICATION_HTTP_API_KEY: 'verification.http.apiKey',
  METRICS_TOKEN: 'metrics.token',
  SHUTDOWN_TIMEOUT: 'shutdownTimeout',
  SCHEDULED_JOBS: 'scheduledJobs',
  CLUSTER_WORKERS: 'cluster.workers',
  AUDIT_HEADS_DIR: 'audit.headsDir',
  SETTINGS_CHECK_INTERVAL: 'settingsCheckInterval',
  NOTIFICATIONS_SANDBOX: 'notifications.sandbox',
  SMS_HTTP_URL: 'notifications.sms.url',
  SMS_HTTP_API_KEY: 'notifications.sms.apiKey',
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (err) {
    throw new ConfigError([`${path}: not valid JSON (${(err as Error).message})`]);
  }
}

function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object'
        ? merge(prev as Json, value as Json)
        : value;
  }
  return out;
}

function setPath(target: Json, path: string, value: string): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] = { ...((node[key] as Json | undefined) ?? {}) };
    node = node[key] as Json;
  }
  node[keys.at(-1)!] = value;
}

/**
 * Builds the configuration: config/default.json, then config/<env>.json, then environment
 * variables, then `overrides` (tests). Throws ConfigError listing every invalid option.
 */
export function loadConfig(options: { dir?: string; env?: NodeJS.ProcessEnv; overrides?: Json } = {}): Config {
  const env = options.env ?? process.env;
  const dir = options.dir ?? resolve(process.cwd(), 'config');
  const nodeEnv = env.NODE_ENV ?? (options.overrides?.env as string | undefined) ?? 'development';
  let raw = merge(readJson(resolve(dir, 'default.json')), readJson(resolve(dir, `${nodeEnv}.json`)));
  const fromEnv: Json = {};
  for (const [name, option] of Object.entries(ENV_OPTIONS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(fromEnv, option, value);
  }
  raw = merge(merge(raw, fromEnv), options.overrides ?? {});

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const config = parsed.data;
  const problems: string[] = [];
  if (config.env === 'production') {
    if (!config.masterKey) problems.push('masterKey: required in production (MASTER_KEY, base64 of 32 bytes)');
    if (config.masterKey === DEVELOPMENT_MASTER_KEY)
      problems.push('masterKey: the development key cannot be used in production');
    else if (config.masterKey && weakMasterKeyReason(config.masterKey)) {
      problems.push(
        `masterKey: too weak for production (${weakMasterKeyReason(config.masterKey)}); make one with \`openssl rand -base64 32\``,
      );
    }
    if (!config.issuer) problems.push('issuer: required in production (ISSUER, the public https URL)');
    else if (!config.issuer.startsWith('https://'))
      problems.push(
        'issuer: must be an https URL in production (TLS, RFC 9700 §2.6; terminate TLS at a proxy and set trustProxy)',
      );
    // The processes speak plain HTTP: TLS ends at a proxy, whose X-Forwarded-Proto/Host make the
    // endpoint URLs, Secure cookies and HSTS right.
    if (!config.trustProxy)
      problems.push(
        'trustProxy: required in production (TRUST_PROXY=true): the platform serves plain HTTP behind a TLS proxy',
      );
    else if (!config.trustedProxies)
      problems.push(
        'trustedProxies: required in production with trustProxy (TRUSTED_PROXIES, the proxy addresses or CIDR ranges)',
      );
    if (config.demoMerchant) problems.push('demoMerchant: not allowed in production');
    if (config.notifications.sandbox)
      problems.push('notifications.sandbox: not allowed in production (it writes one-time codes to the log)');
    if (config.notifications.sms && !config.notifications.sms.url.startsWith('https://'))
      problems.push('notifications.sms.url: one-time codes travel to the SMS gateway over https only in production');
    if (!config.audit.headsDir.trim())
      problems.push(
        'audit.headsDir: required in production (AUDIT_HEADS_DIR): signed tree heads must be kept where the database cannot rewrite them',
      );
    if (config.verification.provider === 'sandbox')
      problems.push('verification.provider: the sandbox cannot be used in production (set http)');
    if (config.verification.http && !config.verification.http.baseUrl.startsWith('https://')) {
      problems.push(
        'verification.http.baseUrl: identity data travels to the verification service over https only in production',
      );
    }
  }
  if (config.verification.provider === 'http' && !config.verification.http) {
    problems.push(
      'verification.http: required when verification.provider is http (VERIFICATION_HTTP_URL, VERIFICATION_HTTP_API_KEY)',
    );
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    ...config,
    issuer: (config.issuer ?? `http://localhost:${config.port}`).replace(/\/$/, ''),
    masterKey: config.masterKey ?? DEVELOPMENT_MASTER_KEY,
    trustedProxies: config.trustedProxies ?? LOOPBACK,
    demoMerchant: config.demoMerchant ?? config.env === 'development',
    notifications: { ...config.notifications, sandbox: config.notifications.sandbox ?? config.env === 'development' },
  };
}
