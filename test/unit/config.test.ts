import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigError, DEVELOPMENT_MASTER_KEY, loadConfig } from '../../src/config/load.js';
import { weakMasterKeyReason } from '../../src/config/master-key.js';

const REPO_CONFIG = resolve(process.cwd(), 'config');
const tempDirs: string[] = [];

/** A config directory holding exactly the given files (an empty one when no files are given). */
function configDir(files: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'rn-config-'));
  tempDirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Schema defaults only: no files, no environment (never the test runner's own process.env). */
const load = (env: NodeJS.ProcessEnv = {}, overrides?: Record<string, unknown>) =>
  loadConfig({ dir: configDir(), env, overrides });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const productionKey = () => randomBytes(32).toString('base64');

describe('loadConfig defaults', () => {
  it('loads development defaults with no files and no environment', () => {
    const config = load();
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      host: '0.0.0.0',
      issuer: 'http://localhost:3000',
      trustProxy: false,
      dataDir: './data',
      databasePoolMax: 10,
      masterKey: DEVELOPMENT_MASTER_KEY,
      previousMasterKeys: [],
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
      ttl: {
        accessToken: 600,
        clientCredentials: 300,
        authorizationCode: 60,
        idToken: 600,
        refreshToken: 1_209_600,
        session: 3600,
        sessionAbsolute: 86_400,
        interaction: 3600,
        grant: 31_536_000,
      },
      retiredKeyLifetime: 1_209_600,
      purge: { interval: 300, batchSize: 1000 },
      audit: { headInterval: 5 },
      bodyLimit: '16kb',
      demoMerchant: true,
      logLevel: 'info',
    });
    expect(config.databaseUrl).toBeUndefined();
  });

  it('uses a development master key that is valid base64 of 32 bytes', () => {
    expect(Buffer.from(DEVELOPMENT_MASTER_KEY, 'base64')).toHaveLength(32);
    expect(DEVELOPMENT_MASTER_KEY).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('config/default.json mirrors the schema defaults', () => {
    expect(loadConfig({ dir: REPO_CONFIG, env: {} })).toEqual(load());
  });

  it('applies config/test.json when NODE_ENV=test', () => {
    const config = loadConfig({ dir: REPO_CONFIG, env: { NODE_ENV: 'test' } });
    expect(config).toMatchObject({
      env: 'test',
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      demoMerchant: false,
      issuer: 'http://localhost:0',
    });
  });

  it('turns the demo merchant on by default only in development', () => {
    expect(load({ NODE_ENV: 'development' }).demoMerchant).toBe(true);
    expect(load({ NODE_ENV: 'test' }).demoMerchant).toBe(false);
  });
});

describe('loadConfig layering', () => {
  it('overlays config/<env>.json on default.json, deeply', () => {
    const dir = configDir({
      'default.json': { port: 4000, argon2: { memoryCost: 20000, timeCost: 3 } },
      'development.json': { port: 4001, argon2: { timeCost: 4 } },
    });
    const config = loadConfig({ dir, env: {} });
    expect(config.port).toBe(4001);
    expect(config.argon2).toEqual({ memoryCost: 20000, timeCost: 4, parallelism: 1 });
  });

  it('reads each environment variable into its option', () => {
    const masterKey = productionKey();
    const config = load({
      PORT: '8080',
      HOST: '127.0.0.1',
      ISSUER: 'https://id.example.cn',
      TRUST_PROXY: 'true',
      DATABASE_URL: 'postgres://u:p@db:5432/rn',
      DATA_DIR: '/var/lib/rn',
      DATABASE_POOL_MAX: '25',
      MASTER_KEY: masterKey,
      DEMO_MERCHANT: 'false',
      LOG_LEVEL: 'debug',
      ARGON2_MEMORY_COST: '65536',
      ARGON2_TIME_COST: '3',
      ARGON2_PARALLELISM: '4',
    });
    expect(config).toMatchObject({
      env: 'development',
      port: 8080,
      host: '127.0.0.1',
      issuer: 'https://id.example.cn',
      trustProxy: true,
      databaseUrl: 'postgres://u:p@db:5432/rn',
      dataDir: '/var/lib/rn',
      databasePoolMax: 25,
      masterKey,
      demoMerchant: false,
      logLevel: 'debug',
      argon2: { memoryCost: 65536, timeCost: 3, parallelism: 4 },
    });
  });

  it('sets NODE_ENV as the env option', () => {
    expect(load({ NODE_ENV: 'test' }).env).toBe('test');
  });

  it('keeps the other nested defaults when one nested option comes from the environment', () => {
    expect(load({ ARGON2_TIME_COST: '5' }).argon2).toEqual({ memoryCost: 19456, timeCost: 5, parallelism: 1 });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('reads TRUST_PROXY=%s as %s', (value, expected) => {
    expect(load({ TRUST_PROXY: value }).trustProxy).toBe(expected);
  });

  it('reads PORT=0 as port 0 and PORT=1 as port 1 (not as booleans)', () => {
    expect(load({ PORT: '0' }).port).toBe(0);
    expect(load({ PORT: '1' }).port).toBe(1);
  });

  it('reads switches as words, and refuses a word it does not know', () => {
    expect(load({ TRUST_PROXY: 'no' }).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: 'Yes' }).trustProxy).toBe(true);
    expect(load({ TRUST_PROXY: '1' }).trustProxy).toBe(true);
    expect(() => load({ TRUST_PROXY: 'maybe' })).toThrow(/trustProxy/);
  });

  it('keeps "0" and "1" as text for text options', () => {
    expect(load({ DATA_DIR: '1' }).dataDir).toBe('1');
  });

  it('ignores empty environment variables', () => {
    expect(load({ PORT: '', ISSUER: '' })).toMatchObject({ port: 3000, issuer: 'http://localhost:3000' });
  });

  it('lets environment variables beat files and overrides beat environment variables', () => {
    const dir = configDir({ 'default.json': { port: 4000, host: 'file-host' } });
    expect(loadConfig({ dir, env: { PORT: '5000' } })).toMatchObject({ port: 5000, host: 'file-host' });
    expect(loadConfig({ dir, env: { PORT: '5000' }, overrides: { port: 6000 } }).port).toBe(6000);
  });

  it('derives the issuer from the port and strips a trailing slash', () => {
    expect(load({ PORT: '8443' }).issuer).toBe('http://localhost:8443');
    expect(load({ ISSUER: 'https://id.example.cn/' }).issuer).toBe('https://id.example.cn');
  });
});

describe('loadConfig validation', () => {
  it.each([
    [{ PORT: 'abc' }, 'port'],
    [{ PORT: '70000' }, 'port'],
    [{ ISSUER: 'not a url' }, 'issuer'],
    [{ ISSUER: 'ftp://id.example.cn' }, 'issuer'],
    [{ DATABASE_URL: 'mysql://db/rn' }, 'databaseUrl'],
    [{ DATABASE_POOL_MAX: '0' }, 'databasePoolMax'],
    [{ DATABASE_POOL_MAX: '101' }, 'databasePoolMax'],
    [{ MASTER_KEY: 'too-short' }, 'masterKey'],
    [{ MASTER_KEY: randomBytes(16).toString('base64') }, 'masterKey'],
    [{ LOG_LEVEL: 'verbose' }, 'logLevel'],
    [{ NODE_ENV: 'staging' }, 'env'],
  ])('rejects %j naming %s', (env, option) => {
    const error = configError(() => load(env));
    expect(error.name).toBe('ConfigError');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${option}: `));
    expect(error.message).toContain(`- ${option}: `);
  });

  it.each([
    [{ bodyLimit: '16 kilobytes' }, 'bodyLimit'],
    [{ ttl: { authorizationCode: 601 } }, 'ttl.authorizationCode'],
    [{ ttl: { session: 0 } }, 'ttl.session'],
    [{ purge: { batchSize: 0 } }, 'purge.batchSize'],
  ])('rejects the override %j naming %s', (overrides, option) => {
    expect(configError(() => load({}, overrides)).problems).toEqual([
      expect.stringMatching(new RegExp(`^${option.replace('.', '\\.')}: `)),
    ]);
  });

  it('lists every invalid option at once', () => {
    const error = configError(() => load({ PORT: 'abc', LOG_LEVEL: 'loud', ARGON2_TIME_COST: '1' }));
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(['argon2.timeCost', 'logLevel', 'port']);
  });

  it('rejects unknown options', () => {
    expect(configError(() => load({}, { prot: 3000 })).message).toContain('prot');
  });

  it('rejects a config file that is not JSON, naming the file', () => {
    const dir = configDir({ 'default.json': '{ "port": 3000,' });
    expect(configError(() => loadConfig({ dir, env: {} })).message).toContain(join(dir, 'default.json'));
  });
});

describe('loadConfig argon2 minimums', () => {
  it('accepts the OWASP minimum exactly', () => {
    expect(load({ ARGON2_MEMORY_COST: '19456', ARGON2_TIME_COST: '2', ARGON2_PARALLELISM: '1' }).argon2).toEqual({
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
  });

  it.each([
    ['ARGON2_MEMORY_COST', '19455', 'argon2.memoryCost'],
    ['ARGON2_MEMORY_COST', '4096', 'argon2.memoryCost'],
    ['ARGON2_TIME_COST', '1', 'argon2.timeCost'],
    ['ARGON2_PARALLELISM', '0', 'argon2.parallelism'],
    ['ARGON2_PARALLELISM', '17', 'argon2.parallelism'],
    ['ARGON2_TIME_COST', '2.5', 'argon2.timeCost'],
  ])('rejects %s=%s', (name, value, option) => {
    expect(configError(() => load({ [name]: value })).problems).toEqual([
      expect.stringMatching(new RegExp(`^${option.replace('.', '\\.')}: `)),
    ]);
  });

  it('enforces the minimums on file and override values too', () => {
    expect(() => loadConfig({ dir: configDir({ 'default.json': { argon2: { memoryCost: 1024 } } }), env: {} })).toThrow(
      /argon2\.memoryCost/,
    );
    expect(() => load({}, { argon2: { timeCost: 1 } })).toThrow(/argon2\.timeCost/);
  });
});

describe('loadConfig in production', () => {
  // A production start needs a real verification service; every case but the one about it has one.
  const VERIFIER = {
    VERIFICATION_PROVIDER: 'http',
    VERIFICATION_HTTP_URL: 'https://verify.example.cn',
    VERIFICATION_HTTP_API_KEY: 'k'.repeat(32),
  };
  const production = (env: NodeJS.ProcessEnv) =>
    loadConfig({
      dir: REPO_CONFIG,
      env: { NODE_ENV: 'production', TRUST_PROXY: 'true', TRUSTED_PROXIES: '10.1.2.3, fd00::/8', ...VERIFIER, ...env },
    });

  it('starts with its own master key and an issuer', () => {
    const masterKey = productionKey();
    const config = production({ MASTER_KEY: masterKey, ISSUER: 'https://id.example.cn' });
    expect(config).toMatchObject({
      env: 'production',
      masterKey,
      issuer: 'https://id.example.cn',
      demoMerchant: false,
    });
  });

  it('defaults the demo merchant off even without config/production.json', () => {
    const config = loadConfig({
      dir: configDir(),
      env: {
        NODE_ENV: 'production',
        TRUST_PROXY: 'true',
        TRUSTED_PROXIES: '10.1.2.3',
        ...VERIFIER,
        MASTER_KEY: productionKey(),
        ISSUER: 'https://id.example.cn',
      },
    });
    expect(config.demoMerchant).toBe(false);
  });

  it('refuses to start without a master key', () => {
    expect(configError(() => production({ ISSUER: 'https://id.example.cn' })).problems).toEqual([
      expect.stringMatching(/^masterKey: required/),
    ]);
  });

  it('refuses the development master key', () => {
    const error = configError(() =>
      production({ MASTER_KEY: DEVELOPMENT_MASTER_KEY, ISSUER: 'https://id.example.cn' }),
    );
    expect(error.problems).toEqual([expect.stringMatching(/^masterKey: the development key/)]);
  });

  // The attack: an all-zero MASTER_KEY started in production while the development key was refused.
  it.each([
    ['all zero', Buffer.alloc(32)],
    ['one byte repeated', Buffer.alloc(32, 0xa5)],
    ['a short pattern repeated', Buffer.alloc(32, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))],
    ['16 distinct bytes', Buffer.alloc(32, randomBytes(16))],
    ['a counter', Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 200) % 256))],
    ['a padded passphrase', Buffer.alloc(32, 'correct horse battery staple!')],
  ])('refuses a weak master key: %s', (_name, key) => {
    const error = configError(() =>
      production({ MASTER_KEY: key.toString('base64'), ISSUER: 'https://id.example.cn' }),
    );
    expect(error.problems).toEqual([expect.stringMatching(/^masterKey: too weak for production/)]);
  });

  it('accepts random master keys (10,000 of them)', () => {
    for (let i = 0; i < 10_000; i += 1) expect(weakMasterKeyReason(productionKey())).toBeUndefined();
  });

  it('refuses to start without an issuer', () => {
    expect(configError(() => production({ MASTER_KEY: productionKey() })).problems).toEqual([
      expect.stringMatching(/^issuer: required/),
    ]);
  });

  it('refuses the demo merchant', () => {
    const error = configError(() =>
      production({ MASTER_KEY: productionKey(), ISSUER: 'https://id.example.cn', DEMO_MERCHANT: 'true' }),
    );
    expect(error.problems).toEqual([expect.stringMatching(/^demoMerchant: not allowed/)]);
  });

  it('lists every production problem at once', () => {
    const error = configError(() => production({ DEMO_MERCHANT: '1', VERIFICATION_PROVIDER: 'sandbox' }));
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'demoMerchant',
      'issuer',
      'masterKey',
      'verification.provider',
    ]);
  });

  it('refuses the sandbox verification provider, and an http provider without its service', () => {
    const base = { MASTER_KEY: productionKey(), ISSUER: 'https://id.example.cn' };
    expect(configError(() => production({ ...base, VERIFICATION_PROVIDER: 'sandbox' })).problems).toEqual([
      expect.stringMatching(/^verification.provider: the sandbox/),
    ]);
    expect(
      configError(() => production({ ...base, VERIFICATION_HTTP_URL: '', VERIFICATION_HTTP_API_KEY: '' })).problems,
    ).toEqual([expect.stringMatching(/^verification.http: required/)]);
  });

  it('refuses an issuer or a verification service that is not https', () => {
    const base = { MASTER_KEY: productionKey() };
    expect(configError(() => production({ ...base, ISSUER: 'http://id.example.cn' })).problems).toEqual([
      expect.stringMatching(/^issuer: must be an https URL/),
    ]);
    expect(
      configError(() =>
        production({ ...base, ISSUER: 'https://id.example.cn', VERIFICATION_HTTP_URL: 'http://verify.example.cn' }),
      ).problems,
    ).toEqual([expect.stringMatching(/^verification.http.baseUrl: .*https only/)]);
  });

  it('refuses to run without trusting the TLS proxy in front of it', () => {
    const error = configError(() =>
      production({ MASTER_KEY: productionKey(), ISSUER: 'https://id.example.cn', TRUST_PROXY: 'false' }),
    );
    expect(error.problems).toEqual([expect.stringMatching(/^trustProxy: required in production/)]);
  });

  it('trusts forwarded headers only from the proxies it is told of', () => {
    const base = { MASTER_KEY: productionKey(), ISSUER: 'https://id.example.cn' };
    expect(configError(() => production({ ...base, TRUSTED_PROXIES: '' })).problems).toEqual([
      expect.stringMatching(/^trustedProxies: required in production/),
    ]);
    expect(production(base).trustedProxies).toEqual(['10.1.2.3', 'fd00::/8']);
    for (const bad of ['*', '10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/1']) {
      expect(configError(() => production({ ...base, TRUSTED_PROXIES: bad })).problems).toEqual([
        expect.stringMatching(/^trustedProxies\.0: an IP address or CIDR range/),
      ]);
    }
    // Outside production, a proxy on the same host.
    expect(load({ NODE_ENV: 'test', TRUST_PROXY: 'true' }).trustedProxies).toEqual(['127.0.0.0/8', '::1']);
  });

  it('does not apply the production checks outside production', () => {
    expect(() => load({ NODE_ENV: 'test', MASTER_KEY: DEVELOPMENT_MASTER_KEY, DEMO_MERCHANT: 'true' })).not.toThrow();
  });
});
