import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startEventReceiver, type EventReceiver } from '../helpers/event-receiver.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';
// Under the merchant's callback, where the test's browser stops.
const LOGGED_OUT = 'http://localhost:8080/callback/bye';
const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout';

// OpenID Connect Back-Channel Logout 1.0: a merchant that registered a backchannel_logout_uri
// receives a logout token when the person signs out here, and when they end that session on their
// security page (which removes the session without going through /session/end).
// Sessions live in the database, or in Redis when REDIS_URL is set (src/oidc/redis-sessions.ts).
describe.each([
  ['the database', undefined],
  ['Redis', TEST_REDIS_URL],
])('back-channel logout (sessions in %s)', (_store, redisUrl) => {
  let running: Running;
  let receiver: EventReceiver;

  beforeAll(async () => {
    running = await startTestPlatform(redisUrl ? { redisUrl } : {});
    receiver = await startEventReceiver();
  });

  afterAll(async () => {
    await running?.stop();
    await receiver?.close();
  });

  beforeEach(() => {
    receiver.received.length = 0;
  });

  /** A person signed in at a merchant that registered a back-channel logout URI; the ID token's sub and sid. */
  async function signedInAtMerchant() {
    const merchant = await addMerchant(running.platform, {
      postLogoutRedirectUris: [LOGGED_OUT],
      backchannelLogoutUri: `${receiver.url}/backchannel-logout`,
    });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const login = newLogin();
    const browser = personBrowser();
    const start = await startAuthorization(config, { scope: 'openid' });
    const callback = await signInAndConsent(browser, start.url, { login, password: PASSWORD, register: true });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), {
      pkceCodeVerifier: start.verifier,
      expectedState: start.state,
      expectedNonce: start.nonce,
    });
    const claims = tokens.claims()!;
    // backchannel_logout_session_required: the ID token names the session.
    expect(claims.sid).toEqual(expect.any(String));
    return { merchant, config, login, browser, tokens, sub: claims.sub, sid: String(claims.sid) };
  }

  /** The one logout token the merchant received, verified against the platform's JWKS. */
  async function logoutToken(clientId: string) {
    const [request] = await receiver.waitFor('/backchannel-logout');
    expect(request!.contentType).toBe('application/x-www-form-urlencoded');
    const token = new URLSearchParams(request!.body).get('logout_token')!;
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${running.issuer}/jwks`)), {
      issuer: running.issuer,
      audience: clientId,
    });
    // Back-Channel Logout 1.0 §2.4: `events` names the logout, and a logout token has no nonce.
    expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT]: {} });
    expect(payload.nonce).toBeUndefined();
    expect(decodeProtectedHeader(token).typ).toBe('logout+jwt');
    return payload;
  }

  it('posts a logout token to the merchant when the person signs out here', async () => {
    const { merchant, config, browser, tokens, sub, sid } = await signedInAtMerchant();
    const logout = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
    });
    const question = await browser.navigate(logout.toString());
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.html)![1]!;
    const done = await browser.submit(formAction(question, '/session/end/confirm'), { xsrf, logout: 'yes' });
    expect(done.url).toBe(LOGGED_OUT);
    expect(await logoutToken(merchant.client_id)).toMatchObject({ sub, sid });
    expect(receiver.on('/backchannel-logout')).toHaveLength(1);
  });

  /** Signs the account in from another browser, on its security page. */
  async function securityPageElsewhere(login: string): Promise<{ agent: UserAgent; page: Page }> {
    const agent = new UserAgent(undefined, 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
    const signInPage = await agent.navigate(`${running.issuer}/account/security`);
    const page = await agent.submit(formAction(signInPage, '/login'), { login, password: PASSWORD });
    expect(page.url).toBe(`${running.issuer}/account/security`);
    return { agent, page };
  }

  it('posts a logout token when the person ends that session on the security page', async () => {
    const { merchant, login, sub, sid } = await signedInAtMerchant();
    const { agent, page } = await securityPageElsewhere(login);
    // Two sessions: this browser's (which signed in to no merchant) and the merchant's.
    expect([...page.html.matchAll(/action="[^"]+\/sessions\/[^"/]+\/end"/g)]).toHaveLength(2);
    // End every session but this one.
    const ended = await agent.submit(formAction(page, '/account/sessions/end-others'), {});
    expect(ended.status).toBe(200);
    expect(await logoutToken(merchant.client_id)).toMatchObject({ sub, sid });
  });

  it('posts a logout token when the person ends exactly that session', async () => {
    const { merchant, login, sub, sid, browser } = await signedInAtMerchant();
    const { agent } = await securityPageElsewhere(login);
    const account = (await running.platform.accounts.findByLogin(login))!;
    await agent.navigate(`${running.issuer}/account/security`);
    const sessions = await running.platform.sessions.list(account.id);
    expect(sessions).toHaveLength(2);
    // The merchant's session is the other browser's (no Firefox there), ended by its own button.
    const atMerchant = sessions.filter((s) => !s.device?.includes('Firefox'));
    expect(atMerchant).toHaveLength(1);
    await agent.submit(`${running.issuer}/account/sessions/${atMerchant[0]!.uid}/end`, {});
    expect(await logoutToken(merchant.client_id)).toMatchObject({ sub, sid });
    // That browser is signed out here too.
    const again = await browser.navigate(`${running.issuer}/account`);
    expect(again.html).toContain('/login"');
  });
});
