import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { type startTestPlatform } from '../helpers/platform.js';
import {
  addMerchant,
  CALLBACK,
  OTHER_CALLBACK,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
  startWithMerchant,
} from '../helpers/merchant.js';

// The merchant side of the platform, driven by openid-client (a certified relying party library).
describe('a merchant using openid-client', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let merchant: Awaited<ReturnType<typeof addMerchant>>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ running, merchant, config } = await startWithMerchant());
  });
  afterAll(() => running.stop());

  it('discovers the platform and its pairwise, PKCE-only, code-only configuration', () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(running.issuer);
    expect(metadata.subject_types_supported).toEqual(['pairwise']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    // 'none' serves only the platform's own account pages; merchants are registered for 'code' alone.
    expect(metadata.response_types_supported).toEqual(['code', 'none']);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'phone', 'offline_access']));
  });

  it('logs a newly registered person in with code + PKCE, then uses userinfo, refresh, introspection and revocation', async () => {
    const login = newLogin();
    const start = await startAuthorization(config);
    const callback = await signInAndConsent(personBrowser(), start.url, {
      login,
      password: 'correct horse battery',
      register: true,
    });
    expect(callback.url.startsWith(CALLBACK)).toBe(true);

    const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);

    // The ID token verifies against the published JWKS, independently of openid-client.
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const verified = await jwtVerify(tokens.id_token!, jwks, { issuer: running.issuer, audience: merchant.client_id });
    expect(verified.payload.nonce).toBe(start.nonce);
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toEqual(expect.objectContaining({ sub: claims.sub, email: login, email_verified: false }));

    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()!.sub).toBe(claims.sub);

    const active = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(active).toEqual(expect.objectContaining({ active: true, client_id: merchant.client_id, sub: claims.sub }));

    await oidc.tokenRevocation(config, refreshed.access_token);
    expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
    await expect(oidc.fetchUserInfo(config, refreshed.access_token, claims.sub)).rejects.toThrow();

    // Refresh tokens rotate: the first one was spent by the refresh above.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('gives two merchants different subjects for the same person, and one merchant the same subject each time', async () => {
    const other = await addMerchant(running.platform, { name: 'Other merchant', redirectUris: [OTHER_CALLBACK] });
    const otherConfig = await discover(running.issuer, other.client_id, other.client_secret);
    const person = { login: newLogin(), password: 'another long password' };
    const subjectAt = async (cfg: oidc.Configuration, register: boolean, redirect_uri = CALLBACK) => {
      const start = await startAuthorization(cfg, { scope: 'openid', redirect_uri });
      const callback = await signInAndConsent(personBrowser(), start.url, { ...person, register });
      const tokens = await oidc.authorizationCodeGrant(cfg, new URL(callback.url), {
        pkceCodeVerifier: start.verifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
      });
      return tokens.claims()!.sub;
    };
    const first = await subjectAt(config, true);
    const again = await subjectAt(config, false);
    const elsewhere = await subjectAt(otherConfig, false, OTHER_CALLBACK);
    expect(again).toBe(first);
    expect(elsewhere).not.toBe(first);
  });
});
