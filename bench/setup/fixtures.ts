import { randomBytes } from 'node:crypto';
import { PasswordHasher } from '../../src/accounts/password.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { insertCredentials } from '../../src/grants/store.js';
import { ACR, AMR } from '../../src/oidc/policy.js';
import { createPlatform, type Platform } from '../../src/platform.js';
import { JPEG, PNG } from '../../test/helpers/images.js';
import type { BenchDatabase } from '../lib/database.js';
import { personNumber, residentIdNumber } from '../lib/people.js';

// What the HTTP scenarios need in the database before a server starts (PGlite is opened by one
// process at a time): a merchant registered for every level, a notary body, verified people with
// passwords, and a pool of refresh tokens minted through oidc-provider's own models.

export const PASSWORD = 'correct horse battery staple';
export const CALLBACK = 'http://localhost:8080/callback';
/** Level 2, the level refresh tokens are measured at (level 1 gets no refresh token, by design). */
export const REFRESH_SCOPE = 'openid offline_access realname:credentials';

export interface Person {
  login: string;
  accountId: string;
  /** The partial-knowledge answer of a dossier consent: the document number's last six characters. */
  partial: string;
}

export interface Client {
  clientId: string;
  clientSecret: string;
}

export interface Fixtures {
  merchant: Client;
  notary: Client;
  people: Person[];
  /** Unused refresh tokens at level 2, each for one request. */
  refreshTokens: string[];
}

/**
 * The platform's configuration as the bench's servers get it (config/default.json and test.json;
 * the bench passes no argon2 or other tuning through the environment), on `database`.
 */
export function platformConfig(database?: BenchDatabase, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: { NODE_ENV: 'test', LOG_LEVEL: 'warn' },
    overrides: {
      ...(database
        ? { databaseUrl: database.databaseUrl, dataDir: database.dataDir, issuer: 'http://127.0.0.1:1' }
        : {}),
      ...overrides,
    },
  });
}

/** Opens the platform on the bench database in this process, runs `work`, and closes it. */
export async function withPlatform<T>(
  database: BenchDatabase,
  work: (platform: Platform) => Promise<T>,
  overrides: Record<string, unknown> = {},
): Promise<T> {
  const platform = await createPlatform(platformConfig(database, overrides));
  try {
    return await work(platform);
  } finally {
    await platform.close();
  }
}

export async function prepareFixtures(
  database: BenchDatabase,
  counts: { people: number; refreshTokens: number },
): Promise<Fixtures> {
  return withPlatform(database, async (platform) => {
    const merchant = await platform.clients.add({
      name: 'Bench merchant',
      redirectUris: [CALLBACK],
      levels: ['result', 'credentials', 'dossier'],
      category: 'retail',
    });
    const notary = await platform.clients.add({ name: 'Bench notary', kind: 'notary' });
    const hasher = new PasswordHasher(platform.config.argon2);
    const people: Person[] = [];
    for (let i = 0; i < counts.people; i += 1)
      people.push(await verifiedPerson(platform, hasher, merchant.client_id, i));
    const refreshTokens = await mintRefreshTokens(platform, merchant.client_id, people, counts.refreshTokens);
    return {
      merchant: { clientId: merchant.client_id, clientSecret: merchant.client_secret },
      notary: { clientId: notary.client_id, clientSecret: notary.client_secret },
      people,
      refreshTokens,
    };
  });
}

/**
 * A registered person verified by a person-document match (so a dossier has its images), with
 * level-2 credentials at the merchant as a consent would have made them.
 */
async function verifiedPerson(
  platform: Platform,
  hasher: PasswordHasher,
  clientId: string,
  i: number,
): Promise<Person> {
  const login = `person${i}@bench.test`;
  const account = await platform.accounts.register({ login, password: PASSWORD });
  const outcome = await platform.verifications.verify(account.id, {
    method: 'person_match',
    ...personNumber(i),
    portrait: { contentType: 'image/png', data: PNG },
    documentFront: { contentType: 'image/jpeg', data: JPEG },
  });
  if (outcome.status !== 'passed') throw new Error(`bench person ${i} was not verified: ${JSON.stringify(outcome)}`);
  await insertCredentials(platform.db, {
    account_id: account.id,
    client_id: clientId,
    username: `rn_${randomBytes(8).toString('hex')}`,
    password_hash: await hasher.hash(randomBytes(15).toString('base64url')),
  });
  return { login, accountId: account.id, partial: residentIdNumber(i).slice(-6) };
}

/**
 * Refresh tokens as level-2 authorization code grants would have issued them, saved through
 * oidc-provider's models: one grant per token (a rotating refresh token is its grant's one live
 * token, so one chain is one grant), the people taking turns as their owners.
 */
async function mintRefreshTokens(
  platform: Platform,
  clientId: string,
  people: Person[],
  count: number,
): Promise<string[]> {
  const { provider } = platform;
  const client = (await provider.Client.find(clientId))!;
  const authTime = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, async (_, k) => {
      const { accountId } = people[(start + k) % people.length]!;
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope(REFRESH_SCOPE);
      const grantId = await grant.save();
      const token = new provider.RefreshToken({
        client,
        accountId,
        grantId,
        scope: REFRESH_SCOPE,
        gty: 'authorization_code',
        authTime,
        acr: ACR.password,
        amr: [...AMR.password],
        expiresWithSession: false,
      });
      return token.save();
    });
    tokens.push(...(await Promise.all(batch)));
  }
  return tokens;
}
