import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import {
  compactDecrypt,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { stopWallClock } from '../helpers/clock.js';
import { JPEG, PNG } from '../helpers/images.js';
import { CALLBACK, newLogin, personBrowser, signInAndConsent } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';
const ZHANG = { documentType: 'cn_resident_id', documentNumber: '11010519491231002X', name: '张三' };

/** A client's key pair: the private key it signs (or decrypts) with, the public JWK it registers. */
async function keyPair(alg: string, use: 'sig' | 'enc', options: { crv?: string } = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: randomUUID(), use, alg };
  return { privateKey, jwk };
}

/** A DPoP proof made by hand (RFC 9449 §4.2), for the refusals openid-client would never send. */
async function proof(
  key: oidc.CryptoKeyPair,
  claims: { htm: string; htu: string; ath?: string; iat?: number; jti?: string },
): Promise<string> {
  const jwk = await exportJWK(key.publicKey as CryptoKey);
  return new SignJWT({ jti: claims.jti ?? randomUUID(), htm: claims.htm, htu: claims.htu, ath: claims.ath })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
    .setIssuedAt(claims.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey as CryptoKey);
}

const athOf = (token: string) => createHash('sha256').update(token).digest('base64url');

// The FAPI 2.0 Security Profile per client (`client add --profile fapi2`), driven by openid-client
// as the merchant and the notary: PAR, private_key_jwt, DPoP at the token endpoint, at userinfo and
// at the platform's own resources, signed and encrypted userinfo and ID tokens, and the refusals.
describe('a FAPI 2.0 client', () => {
  let running: Running;
  let signing: Awaited<ReturnType<typeof keyPair>>;
  let encryption: Awaited<ReturnType<typeof keyPair>>;
  let merchantId: string;
  let config: oidc.Configuration;
  let dpopKey: oidc.CryptoKeyPair;
  let dpop: oidc.DPoPHandle;
  let login: string;

  beforeAll(async () => {
    // The platform's own code lifetime is longer: a FAPI client's is cut to 60 s whatever it is.
    running = await startTestPlatform({ ttl: { authorizationCode: 600 } });
    signing = await keyPair('ES256', 'sig');
    encryption = await keyPair('ECDH-ES', 'enc', { crv: 'P-256' });
    const merchant = await running.platform.clients.add({
      name: 'FAPI bank',
      redirectUris: [CALLBACK],
      levels: ['result', 'credentials', 'dossier'],
      profile: 'fapi2',
      jwks: { keys: [signing.jwk, encryption.jwk] },
      userinfoSigningAlg: 'PS256',
      userinfoEncryption: { alg: 'ECDH-ES', enc: 'A256GCM' },
      idTokenEncryption: { alg: 'ECDH-ES', enc: 'A256GCM' },
    });
    expect(merchant).not.toHaveProperty('client_secret');
    merchantId = merchant.client_id;
    config = await fapiConfig(merchantId, signing.privateKey, {
      id_token_signed_response_alg: 'PS256',
      userinfo_signed_response_alg: 'PS256',
    });
    oidc.enableDecryptingResponses(config, ['A256GCM'], {
      key: encryption.privateKey as CryptoKey,
      kid: encryption.jwk.kid,
      alg: 'ECDH-ES',
    });
    dpopKey = await oidc.randomDPoPKeyPair('ES256');
    dpop = oidc.getDPoPHandle(config, dpopKey);

    login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    const outcome = await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      ...ZHANG,
      portrait: { contentType: 'image/png', data: PNG },
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });
    expect(outcome.status).toBe('passed');
    await running.platform.audit.integrateAll();
  });

  afterAll(async () => {
    await running.stop();
  });

  /** openid-client configured as a private_key_jwt client of the platform. */
  function fapiConfig(clientId: string, key: CryptoKey | CryptoKey, metadata = {}) {
    return oidc.discovery(
      new URL(running.issuer),
      clientId,
      { token_endpoint_auth_method: 'private_key_jwt', ...metadata },
      oidc.PrivateKeyJwt(key as CryptoKey),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  /** A pushed authorization request (RFC 9126) with PKCE, bound to the DPoP key, then the person's consent. */
  async function authorize(scope: string, choice: { level: string; partial?: string }) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: CALLBACK,
        scope,
        prompt: 'consent',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      },
      { DPoP: dpop },
    );
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const agent = personBrowser();
    let page = await signInAndConsent(agent, url, { login, password: PASSWORD, ...choice });
    // The credentials level shows the generated password once, then the person goes on.
    if (choice.level === 'credentials') {
      expect(page.html).toMatch(/<code class="secret">/);
      page = await agent.navigate(/class="button" href="([^"]+)"/.exec(page.html)![1]!.replaceAll('&amp;', '&'));
    }
    const callback = new URL(page.url);
    // RFC 9207: the issuer is named in the authorization response.
    expect(callback.searchParams.get('iss')).toBe(running.issuer);
    return { callback, checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce } };
  }

  async function signIn(scope: string, choice: { level: string; partial?: string }) {
    const { callback, checks } = await authorize(scope, choice);
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    return tokens;
  }

  /** The userinfo answer as sent: a JWE to the merchant's key around a PS256 JWS of the platform. */
  async function rawUserinfo(accessToken: string) {
    const response = await oidc.fetchProtectedResource(
      config,
      accessToken,
      new URL(config.serverMetadata().userinfo_endpoint!),
      'GET',
      undefined,
      undefined,
      { DPoP: dpop },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jwe = await response.text();
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: encryption.jwk.kid });
    const { plaintext } = await compactDecrypt(jwe, encryption.privateKey);
    const jws = new TextDecoder().decode(plaintext);
    expect(decodeProtectedHeader(jws).alg).toBe('PS256');
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(jws, jwks, { issuer: running.issuer, audience: merchantId });
    return payload;
  }

  it('is advertised by discovery: PAR, private_key_jwt, DPoP, the FAPI algorithms, encryption, iss', () => {
    const metadata = config.serverMetadata() as Record<string, unknown>;
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${running.issuer}/request`);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt']));
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(['PS256', 'ES256', 'EdDSA', 'Ed25519']);
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['PS256', 'ES256', 'EdDSA', 'Ed25519']);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['PS256', 'ES256']));
    expect(metadata.userinfo_signing_alg_values_supported).toEqual(expect.arrayContaining(['PS256']));
    expect(metadata.userinfo_encryption_alg_values_supported).toEqual(expect.arrayContaining(['ECDH-ES']));
    expect(metadata.id_token_encryption_enc_values_supported).toEqual(expect.arrayContaining(['A256GCM']));
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  });

  it('signs a person in at the result level and releases userinfo signed and encrypted', async () => {
    const tokens = await signIn('openid realname', { level: 'result' });
    // The ID token came encrypted to the merchant's key, around a PS256 signature.
    expect(tokens.id_token!.split('.')).toHaveLength(5);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: running.issuer, aud: merchantId, realname_verified: true });
    expect(tokens.refresh_token).toBeUndefined();

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop });
    expect(userinfo).toMatchObject({ sub: claims.sub, realname_verified: true, realname_method: 'person_match' });
    const raw = await rawUserinfo(tokens.access_token);
    expect(raw).toMatchObject({ sub: claims.sub, realname_verified: true });
    expect(raw).not.toHaveProperty('verified_claims');

    // The audit trail names the claims released inside the JWEs.
    await running.platform.audit.integrateAll();
    const released = (
      await running.platform.db('audit_events').where({ client_id: merchantId }).orderBy('leaf_index')
    ).map((e: { leaf: string }) => JSON.parse(e.leaf) as { type: string; payload: Record<string, unknown> });
    const userinfoEvents = released.filter((e) => e.type === 'claims.released' && e.payload.via === 'userinfo');
    expect(userinfoEvents.length).toBeGreaterThan(0);
    expect(userinfoEvents.at(-1)!.payload.claims).toEqual(expect.arrayContaining(['realname_verified']));
    const idTokenEvent = released.find((e) => e.type === 'claims.released' && e.payload.via === 'id_token');
    expect(idTokenEvent!.payload.claims).toEqual(expect.arrayContaining(['realname_verified']));
  });

  it('signs a person in at the credentials level and refreshes with a DPoP proof', async () => {
    const tokens = await signIn('openid realname:credentials offline_access', { level: 'credentials' });
    const sub = tokens.claims()!.sub;
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP: dpop });
    expect(userinfo.merchant_credentials).toMatchObject({ username: expect.any(String) });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: dpop });
    expect(refreshed.token_type).toBe('dpop');
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(await oidc.fetchUserInfo(config, refreshed.access_token, sub, { DPoP: dpop })).toMatchObject({ sub });
  });

  it('signs a person in at the dossier level and serves an attachment only with a proof for that request', async () => {
    const tokens = await signIn('openid realname:dossier offline_access', { level: 'dossier', partial: '31002x' });
    const raw = await rawUserinfo(tokens.access_token);
    const verified = raw.verified_claims as {
      verification: { evidence: Array<{ attachments: Array<{ url: string }> }> };
    };
    const url = verified.verification.evidence[0]!.attachments[0]!.url;

    const served = await oidc.fetchProtectedResource(
      config,
      tokens.access_token,
      new URL(url),
      'GET',
      undefined,
      undefined,
      {
        DPoP: dpop,
      },
    );
    expect(served.status).toBe(200);
    const image = Buffer.from(await served.arrayBuffer());
    expect(image.equals(PNG) || image.equals(JPEG)).toBe(true);

    // RFC 9449 §7.2: a DPoP-bound token is not a bearer token.
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
    const userinfoAsBearer = await fetch(config.serverMetadata().userinfo_endpoint!, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(userinfoAsBearer.status).toBe(401);

    const present = (dpopProof: string) =>
      fetch(url, { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: dpopProof } });
    const ath = athOf(tokens.access_token);
    const refusals = {
      'another method': await proof(dpopKey, { htm: 'POST', htu: url, ath }),
      'another URL': await proof(dpopKey, {
        htm: 'GET',
        htu: `${running.issuer}/api/dossier/attachments/${randomUUID()}`,
        ath,
      }),
      'another token': await proof(dpopKey, { htm: 'GET', htu: url, ath: athOf('another token') }),
      'another key': await proof(await oidc.randomDPoPKeyPair('ES256'), { htm: 'GET', htu: url, ath }),
      'an old proof': await proof(dpopKey, { htm: 'GET', htu: url, ath, iat: Math.floor(Date.now() / 1000) - 600 }),
    };
    for (const [why, dpopProof] of Object.entries(refusals)) {
      const response = await present(dpopProof);
      expect([why, response.status]).toEqual([why, 401]);
      expect([why, response.headers.get('www-authenticate')]).toEqual([
        why,
        expect.stringMatching(/error="invalid_dpop_proof"/),
      ]);
    }
    const withoutProof = await fetch(url, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(withoutProof.status).toBe(401);

    // A proof is used once (RFC 9449 §11.1).
    const once = await proof(dpopKey, { htm: 'GET', htu: url, ath });
    expect((await present(once)).status).toBe(200);
    const replayed = await present(once);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/);
  });

  it('lets a FAPI 2.0 notary body read the log with a DPoP-bound token, and not as a bearer', async () => {
    // Ed25519, named by its fully-specified JOSE algorithm (RFC 9864), as openid-client signs.
    const notaryKey = await keyPair('Ed25519', 'sig');
    const notary = await running.platform.clients.add({
      name: 'FAPI notary',
      kind: 'notary',
      profile: 'fapi2',
      jwks: { keys: [notaryKey.jwk] },
    });
    const notaryConfig = await fapiConfig(notary.client_id, notaryKey.privateKey);
    const notaryDpop = oidc.getDPoPHandle(notaryConfig, await oidc.randomDPoPKeyPair('ES256'));
    const { access_token, token_type } = await oidc.clientCredentialsGrant(
      notaryConfig,
      { scope: 'audit:read' },
      { DPoP: notaryDpop },
    );
    expect(token_type).toBe('dpop');
    const head = new URL(`${running.issuer}/api/notary/tree-head`);
    const read = await oidc.fetchProtectedResource(notaryConfig, access_token, head, 'GET', undefined, undefined, {
      DPoP: notaryDpop,
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ tree_size: expect.any(Number), signature: expect.any(String) });

    const asBearer = await fetch(head, { headers: { authorization: `Bearer ${access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
    // Without a proof, the token endpoint issues it nothing (dpop_bound_access_tokens).
    await expect(oidc.clientCredentialsGrant(notaryConfig, { scope: 'audit:read' })).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('lets a FAPI 2.0 merchant use the check API with a DPoP-bound token only with its proof', async () => {
    const check = new URL(`${running.issuer}/api/verifications/check`);
    const { access_token } = await oidc.clientCredentialsGrant(config, { scope: 'realname:check' }, { DPoP: dpop });
    const body = JSON.stringify({
      document_type: ZHANG.documentType,
      document_number: ZHANG.documentNumber,
      name: ZHANG.name,
    });
    const headers = new Headers({ 'content-type': 'application/json' });
    const checked = await oidc.fetchProtectedResource(config, access_token, check, 'POST', body, headers, {
      DPoP: dpop,
    });
    expect(checked.status).toBe(200);
    expect(await checked.json()).toMatchObject({ verified: true, method: 'person_match' });

    const asBearer = await fetch(check, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body,
    });
    expect(asBearer.status).toBe(401);
    // A proof made for GET does not open a POST.
    const forGet = await proof(dpopKey, { htm: 'GET', htu: check.href, ath: athOf(access_token) });
    const wrongMethod = await fetch(check, {
      method: 'POST',
      headers: { authorization: `DPoP ${access_token}`, dpop: forGet, 'content-type': 'application/json' },
      body,
    });
    expect(wrongMethod.status).toBe(401);
    expect(wrongMethod.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/);
  });

  it('fetches the keys of a client registered with a jwks_uri', async () => {
    const published = await keyPair('ES256', 'sig');
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [published.jwk] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      const notary = await running.platform.clients.add({
        name: 'Published keys',
        kind: 'notary',
        profile: 'fapi2',
        jwksUri,
      });
      expect(notary.jwks_uri).toBe(jwksUri);
      const notaryConfig = await fapiConfig(notary.client_id, published.privateKey);
      const notaryDpop = oidc.getDPoPHandle(notaryConfig, await oidc.randomDPoPKeyPair('ES256'));
      const token = await oidc.clientCredentialsGrant(notaryConfig, { scope: 'audit:read' }, { DPoP: notaryDpop });
      expect(token.token_type).toBe('dpop');
      // A key the URI does not publish signs nothing.
      const stranger = await keyPair('ES256', 'sig');
      const strangerConfig = await fapiConfig(notary.client_id, stranger.privateKey);
      await expect(
        oidc.clientCredentialsGrant(strangerConfig, { scope: 'audit:read' }, { DPoP: notaryDpop }),
      ).rejects.toMatchObject({ error: 'invalid_client' });
    } finally {
      server.close();
    }
  });

  it('takes a replaced key within the client cache lifetime, refuses the old one, and audits the change', async () => {
    const before = await keyPair('ES256', 'sig');
    const after = await keyPair('ES256', 'sig');
    const notary = await running.platform.clients.add({
      name: 'Rotating notary',
      kind: 'notary',
      profile: 'fapi2',
      jwks: { keys: [before.jwk] },
    });
    const grant = async (key: CryptoKey) => {
      const keyConfig = await fapiConfig(notary.client_id, key);
      const keyDpop = oidc.getDPoPHandle(keyConfig, await oidc.randomDPoPKeyPair('ES256'));
      return oidc.clientCredentialsGrant(keyConfig, { scope: 'audit:read' }, { DPoP: keyDpop });
    };
    expect((await grant(before.privateKey)).token_type).toBe('dpop');

    await running.platform.clients.replaceKeys(notary.client_id, { jwks: { keys: [after.jwk] } });
    const clock = stopWallClock();
    try {
      clock.advance(31_000); // past the client cache (src/oidc/clients.ts)
      expect((await grant(after.privateKey)).token_type).toBe('dpop');
      await expect(grant(before.privateKey)).rejects.toMatchObject({ error: 'invalid_client' });
    } finally {
      clock.restore();
    }

    await running.platform.audit.integrateAll();
    const [event] = await running.platform
      .db('audit_events')
      .where({ client_id: notary.client_id, type: 'client.keys_replaced' });
    expect(JSON.parse(event.leaf)).toMatchObject({
      actor: { type: 'operator' },
      subjects: { client: notary.client_id },
      payload: { kids: [after.jwk.kid] },
    });
    // Keys are checked as at registration: an RS256-only set is refused, and nothing changes.
    const rs256 = await keyPair('RS256', 'sig');
    await expect(
      running.platform.clients.replaceKeys(notary.client_id, { jwks: { keys: [rs256.jwk] } }),
    ).rejects.toMatchObject({ extra: { errors: [expect.objectContaining({ code: 'no_fapi_signing_key' })] } });
    expect((await running.platform.clients.find(notary.client_id))!.jwks_keys).toBe(1);
  });

  it('refuses a plain authorization request without PAR', async () => {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid realname',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    });
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    const error = location ? new URL(location).searchParams.get('error') : await response.text();
    expect(error).toMatch(/invalid_request/);
    expect(location ? new URL(location).searchParams.get('error_description') : error).toMatch(/pushed authorization/i);
  });

  it('refuses a client secret', async () => {
    const withSecret = await oidc.discovery(new URL(running.issuer), merchantId, 'a guessed secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    await expect(
      oidc.clientCredentialsGrant(
        withSecret,
        { scope: 'realname:check' },
        { DPoP: oidc.getDPoPHandle(withSecret, dpopKey) },
      ),
    ).rejects.toMatchObject({ error: 'invalid_client' });
  });

  it('refuses an RS256-only client at registration, and a client assertion signed with RS256', async () => {
    const rs256 = await keyPair('RS256', 'sig');
    await expect(
      running.platform.clients.add({
        name: 'RS256 bank',
        redirectUris: [CALLBACK],
        profile: 'fapi2',
        jwks: { keys: [rs256.jwk] },
      }),
    ).rejects.toMatchObject({ extra: { errors: [expect.objectContaining({ code: 'no_fapi_signing_key' })] } });
    await expect(
      running.platform.clients.add({
        name: 'RS256 ID tokens',
        redirectUris: [CALLBACK],
        profile: 'fapi2',
        jwks: { keys: [signing.jwk] },
        idTokenSigningAlg: 'RS256',
      }),
    ).rejects.toMatchObject({ extra: { errors: [expect.objectContaining({ code: 'not_fapi' })] } });

    // An RSA key registered without `alg` may sign PS256; signing the assertion with RS256 fails.
    const { alg: _alg, ...anyRsaAlg } = rs256.jwk;
    const rsa = await running.platform.clients.add({
      name: 'RSA bank',
      redirectUris: [CALLBACK],
      profile: 'fapi2',
      jwks: { keys: [anyRsaAlg] },
    });
    const rsaConfig = await fapiConfig(rsa.client_id, rs256.privateKey);
    await expect(
      oidc.clientCredentialsGrant(
        rsaConfig,
        { scope: 'realname:check' },
        { DPoP: oidc.getDPoPHandle(rsaConfig, dpopKey) },
      ),
    ).rejects.toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a code older than 60 seconds', async () => {
    const { callback, checks } = await authorize('openid realname', { level: 'result' });
    const clock = stopWallClock();
    try {
      clock.advance(61_000);
      await expect(
        oidc.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: dpop }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      clock.restore();
    }
  });
});
