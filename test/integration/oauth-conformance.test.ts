import { jest } from '@jest/globals';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
  startWithMerchant,
} from '../helpers/merchant.js';
import type { startTestPlatform } from '../helpers/platform.js';
import { formAction } from '../helpers/user-agent.js';

const PASSWORD = 'correct horse battery';
// Under the callback's path: the test browser stops at the merchant's site instead of fetching it.
const LOGGED_OUT = `${CALLBACK}/logged-out`;

/** A form POST to one of the provider's endpoints with HTTP Basic client authentication. */
async function postAs(
  issuer: string,
  path: string,
  client: { client_id: string; client_secret: string },
  form: Record<string, string>,
) {
  const response = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

// OAuth and OpenID Connect rules the provider answered differently before (issue "Level 3 as the
// identity-assurance specs say", item 9), each through a real merchant over HTTP.
describe('the OAuth endpoints as the RFCs say', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let merchant: Awaited<ReturnType<typeof addMerchant>>;
  let config: oidc.Configuration;
  const warnings: string[] = [];

  beforeAll(async () => {
    for (const level of ['warn', 'info'] as const) {
      jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        warnings.push(args.map(String).join(' '));
      });
    }
    ({ running, config } = await startWithMerchant());
    merchant = await addMerchant(running.platform, { postLogoutRedirectUris: [LOGGED_OUT] });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await running.stop();
    jest.restoreAllMocks();
  });

  async function signIn(params: Record<string, string> = {}) {
    const start = await startAuthorization(config, { scope: 'openid', ...params });
    const agent = personBrowser();
    const callback = await signInAndConsent(agent, start.url, {
      login: newLogin(),
      password: PASSWORD,
      register: true,
    });
    return { agent, ...(await redeemCode(config, new URL(callback.url), start)) };
  }

  it("refuses to revoke another merchant's token, which stays live (RFC 7009 §2.1)", async () => {
    const { tokens } = await signIn();
    const other = await addMerchant(running.platform, { name: 'Other merchant' });
    const refused = await postAs(running.issuer, '/token/revocation', other, { token: tokens.access_token });
    expect(refused).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' },
    });
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    // Its own merchant still revokes it.
    expect((await postAs(running.issuer, '/token/revocation', merchant, { token: tokens.access_token })).status).toBe(
      200,
    );
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('answers unauthorized_client to a grant type the client is not registered for (RFC 6749 §5.2)', async () => {
    const notary = await running.platform.clients.add({ name: '北京市某公证处', kind: 'notary' });
    const answer = await postAs(running.issuer, '/token', notary, {
      grant_type: 'authorization_code',
      code: 'x',
      redirect_uri: CALLBACK,
      code_verifier: 'x'.repeat(43),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('unauthorized_client');
    // Other invalid_request answers are left alone.
    expect((await postAs(running.issuer, '/token', merchant, { grant_type: 'authorization_code' })).body.error).toBe(
      'invalid_request',
    );
  });

  // RFC 8707: the one resource is the platform's API, implied by the client_credentials grant;
  // the code flow's tokens are for userinfo and take none.
  it('takes a resource indicator with the client_credentials grant only, and refuses others with invalid_target', async () => {
    const start = await startAuthorization(config, { scope: 'openid', resource: 'https://api.example.test/' });
    const refused = new URL((await personBrowser().navigate(start.url.toString())).url);
    expect(refused.searchParams.get('error')).toBe('invalid_target');
    expect(refused.searchParams.get('state')).toBe(start.state);
    const grant = (form: Record<string, string>) =>
      postAs(running.issuer, '/token', merchant, {
        grant_type: 'client_credentials',
        scope: 'realname:check',
        ...form,
      });
    const implied = await grant({});
    const named = await grant({ resource: `${running.issuer}/api` });
    for (const answer of [implied, named]) {
      expect(answer.status).toBe(200);
      expect(decodeJwt(String(answer.body.access_token))).toMatchObject({ aud: `${running.issuer}/api` });
    }
    const other = await grant({ resource: 'https://api.example.test/' });
    expect(other).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(warnings.filter((line) => /resourceIndicators|getResourceServerInfo/.test(line))).toEqual([]);
  });

  it('sends the person back to a registered post_logout_redirect_uri after RP-initiated logout, with state', async () => {
    const { agent, tokens } = await signIn();
    const logout = new URL(`${running.issuer}/session/end`);
    logout.search = new URLSearchParams({
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'bye-123',
    }).toString();
    const question = await agent.navigate(logout.toString());
    expect(question.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.html)![1]!;
    const done = await agent.submit(formAction(question, '/session/end/confirm'), { xsrf, logout: 'yes' });
    expect(done.url).toBe(`${LOGGED_OUT}?state=bye-123`);
    // An unregistered address is refused.
    const { agent: second, tokens: again } = await signIn();
    logout.search = new URLSearchParams({
      id_token_hint: again.id_token!,
      post_logout_redirect_uri: 'http://localhost:8080/elsewhere',
    }).toString();
    const refused = await second.navigate(logout.toString());
    expect(refused.status).toBe(400);
  });

  it('registers post-logout redirect URIs only for merchants, with the redirect URIs rules', async () => {
    await expect(
      running.platform.clients.add({ name: 'n', kind: 'notary', postLogoutRedirectUris: [LOGGED_OUT] }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      addMerchant(running.platform, { postLogoutRedirectUris: ['http://shop.example/bye'] }),
    ).rejects.toMatchObject({ status: 400 });
    expect((await running.platform.clients.find(merchant.client_id))?.post_logout_redirect_uris).toEqual([LOGGED_OUT]);
  });
});
