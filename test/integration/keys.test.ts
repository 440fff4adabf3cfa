import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { KeyService, OIDC_SIGNING } from '../../src/keys/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

async function signIn(running: RunningPlatform, merchant: { client_id: string; client_secret: string }) {
  const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  const start = await startAuthorization(config, { scope: 'openid' });
  const callback = await signInAndConsent(personBrowser(), start.url, {
    login: newLogin(),
    password: 'key rotation pw',
    register: true,
  });
  return oidc.authorizationCodeGrant(config, new URL(callback.url), {
    pkceCodeVerifier: start.verifier,
    expectedState: start.state,
    expectedNonce: start.nonce,
  });
}

async function jwksOf(running: RunningPlatform): Promise<JSONWebKeySet> {
  return (await fetch(`${running.issuer}/jwks`)).json() as Promise<JSONWebKeySet>;
}

describe('platform keys', () => {
  let database: TestDatabase;
  let first: RunningPlatform;

  beforeAll(async () => {
    database = await createTestDatabase();
    first = await startPlatform(database);
  });
  afterAll(async () => {
    await first.stop();
    await database.drop();
  });

  it('stores private keys only encrypted, and publishes only public parts', async () => {
    const rows = await first.platform.db('platform_keys').select();
    expect(rows.map((r) => `${r.purpose}:${r.alg}`).sort()).toEqual([
      'audit-tree-head:EdDSA',
      'blind-index:secret',
      'cookie:secret',
      'oidc-signing:ES256',
      'oidc-signing:RS256',
      'oidc-token-id:secret',
      'pairwise-salt:secret',
    ]);
    const privateJwks = await first.platform.keys.privateJwks('oidc-signing');
    for (const row of rows) {
      expect(row.secret_encrypted).toMatch(/^v1\./);
      for (const jwk of privateJwks) expect(row.secret_encrypted).not.toContain(String(jwk.d));
      if (row.public_jwk) expect(row.public_jwk).not.toHaveProperty('d');
    }
    const published = await jwksOf(first);
    expect(published.keys).toHaveLength(2);
    for (const key of published.keys) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(secret);
    }
  });

  it('creates each key once when several processes ensure them at the same moment', async () => {
    const box = SecretBox.fromBase64(first.platform.config.masterKey);
    await Promise.all([1, 2, 3].map(() => new KeyService(database.open(), box).ensure(OIDC_SIGNING)));
    const active = await first.platform.db('platform_keys').where({ purpose: 'oidc-signing', status: 'active' });
    expect(active).toHaveLength(2);
  });

  it('refuses to start with a different master key instead of serving undecryptable keys', async () => {
    const wrongKey = randomBytes(32).toString('base64');
    await expect(startPlatform(database, { masterKey: wrongKey })).rejects.toThrow(/unknown key id/);
  });

  it('signs with the new key after rotation and keeps the old one published for verification', async () => {
    const merchant = await addMerchant(first.platform);
    const before = await signIn(first, merchant);
    const oldKid = decodeProtectedHeader(before.id_token!).kid;

    const rotated = await first.platform.keys.rotate(OIDC_SIGNING[0]!, 3600);
    expect(rotated.retired).toBe(1);
    const second = await startPlatform(database);
    try {
      const after = await signIn(second, merchant);
      const newKid = decodeProtectedHeader(after.id_token!).kid;
      expect(newKid).toBe(rotated.kid);
      expect(newKid).not.toBe(oldKid);

      const jwks = await jwksOf(second);
      expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
      // A token signed before the rotation still verifies against what is published now.
      await expect(
        jwtVerify(before.id_token!, createLocalJWKSet(jwks), { issuer: first.issuer }),
      ).resolves.toBeDefined();

      // Once its verification window has passed, the retired key is no longer published.
      await first.platform
        .db('platform_keys')
        .where({ kid: oldKid })
        .update({ expires_at: new Date(Date.now() - 1000) });
      const third = await startPlatform(database);
      try {
        expect((await jwksOf(third)).keys.map((k) => k.kid)).not.toContain(oldKid);
      } finally {
        await third.stop();
      }
    } finally {
      await second.stop();
    }
  });
});
