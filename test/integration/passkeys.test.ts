import type * as oidc from 'openid-client';
import { ACR } from '../../src/oidc/policy.js';
import { SoftAuthenticator } from '../helpers/authenticator.js';
import { stopWallClock } from '../helpers/clock.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  startAuthorization,
  type AuthorizationStart,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type UserAgent } from '../helpers/user-agent.js';

// Passkeys through the real HTTP surface with a software authenticator (test/helpers/authenticator.ts):
// adding one on the account page, signing in with it at a merchant, and every answer that must be
// refused: another origin or RP ID, a replayed or expired challenge, an unknown credential, a
// counter that went back. The browser-side script is exercised in test/e2e/passkeys.test.ts.

const PASSWORD = 'correct horse battery';
type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const attribute = (html: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(html)?.[1];

describe(`passkeys (${ENGINE})`, () => {
  let running: Running;
  let config: oidc.Configuration;
  let url: (path: string) => string;
  let rpId: string;

  beforeAll(async () => {
    running = await startTestPlatform();
    url = (path) => `${running.issuer}${path}`;
    rpId = new URL(running.issuer).hostname;
    const merchant = await addMerchant(running.platform);
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await running?.stop();
  });

  const newAuthenticator = (options: { backupEligible?: boolean } = {}) =>
    new SoftAuthenticator({ origin: running.issuer, rpId, ...options });

  /** A JSON post as public/passkeys.js sends it: the CSRF token in X-CSRF-Token. */
  async function postJson(agent: UserAgent, to: string, csrf: string | undefined, body: unknown) {
    const page = await agent.navigate(to, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf ?? '' },
      body: JSON.stringify(body),
    });
    return { status: page.status, json: page.html ? JSON.parse(page.html) : undefined };
  }

  /** A new account, signed in to its account pages, on the passkeys page. */
  async function signedInPerson() {
    const login = newLogin();
    const { id: accountId } = await running.platform.accounts.register({ login, password: PASSWORD });
    const agent = personBrowser();
    const signIn = await agent.navigate(url('/account/passkeys'));
    const page = await agent.submit(formAction(signIn, '/login'), { login, password: PASSWORD });
    expect(page.url).toBe(url('/account/passkeys'));
    return { agent, login, accountId, page };
  }

  async function addPasskey(agent: UserAgent, authenticator: SoftAuthenticator, name = 'Laptop') {
    const page = await agent.navigate(url('/account/passkeys'));
    const options = await postJson(
      agent,
      url('/account/passkeys/options'),
      attribute(page.html, 'data-options-csrf'),
      {},
    );
    expect(options.status).toBe(200);
    const { response } = authenticator.create(options.json);
    return postJson(agent, url('/account/passkeys'), agent.csrfToken(url('/account/passkeys')), { name, response });
  }

  /** A person with one passkey on `authenticator`. */
  async function personWithPasskey(authenticator = newAuthenticator()) {
    const person = await signedInPerson();
    const added = await addPasskey(person.agent, authenticator);
    expect(added).toEqual({ status: 200, json: { redirect: '/account/passkeys?done=added' } });
    return { ...person, authenticator };
  }

  /** A merchant's authorization in a fresh browser, at the sign-in page, with passkey options fetched. */
  async function passkeySignInPage(params: Record<string, string> = {}, merchant = config) {
    const agent = personBrowser();
    const start = await startAuthorization(merchant, params);
    const page = await agent.navigate(start.url.toString());
    const action = formAction(page, '/passkey');
    const options = await postJson(agent, `${action}/options`, attribute(page.html, 'data-options-csrf'), {});
    expect(options.status).toBe(200);
    expect(options.json).toMatchObject({ rpId, userVerification: 'required' });
    expect(options.json.allowCredentials ?? []).toEqual([]);
    const answer = (response: unknown) => postJson(agent, action, agent.csrfToken(action), { response });
    return { agent, start, page, action, options: options.json, answer };
  }

  /** Follows the address a passkey sign-in answered with, through consent, to the merchant's ID token. */
  async function toIdToken(agent: UserAgent, redirect: string, start: AuthorizationStart, merchant = config) {
    const consent = await agent.navigate(new URL(redirect, running.issuer).toString());
    const callback = await agent.submit(formAction(consent, '/confirm'), {});
    return (await redeemCode(merchant, new URL(callback.url), start)).claims;
  }

  it('adds a passkey, signs in with it alone at a merchant, and says so in amr and acr', async () => {
    const { authenticator } = await personWithPasskey();
    const { agent, start, options, answer } = await passkeySignInPage();
    const signedIn = await answer(authenticator.get(options));
    expect(signedIn.status).toBe(200);
    const claims = await toIdToken(agent, signedIn.json.redirect, start);
    // A device-bound key with user verification: hwk and user; one factor to the platform, no mfa.
    expect(claims).toMatchObject({ acr: ACR.phishingResistant, amr: ['hwk', 'user'] });
  });

  it('reports a synced passkey as swk, and one without user verification is refused on its own', async () => {
    const { authenticator } = await personWithPasskey(newAuthenticator({ backupEligible: true }));
    const unverified = await passkeySignInPage();
    const refused = await unverified.answer(authenticator.get(unverified.options, { userVerified: false }));
    expect(refused).toMatchObject({ status: 401, json: { title: 'passkey-invalid' } });

    const { agent, start, options, answer } = await passkeySignInPage();
    const signedIn = await answer(authenticator.get(options));
    expect(signedIn.status).toBe(200);
    expect(await toIdToken(agent, signedIn.json.redirect, start)).toMatchObject({
      acr: ACR.phishingResistant,
      amr: ['swk', 'user'],
    });
  });

  it('refuses an assertion made for another origin or another RP ID', async () => {
    const { authenticator } = await personWithPasskey();
    const phished = await passkeySignInPage();
    expect(
      await phished.answer(authenticator.get(phished.options, { origin: 'https://rea1name.example' })),
    ).toMatchObject({ status: 401, json: { title: 'passkey-invalid' } });
    const otherRp = await passkeySignInPage();
    expect(await otherRp.answer(authenticator.get(otherRp.options, { rpId: 'rea1name.example' }))).toMatchObject({
      status: 401,
      json: { title: 'passkey-invalid' },
    });
    // Neither started a session: the sign-in page is still what the browser sees.
    expect(new URL((await phished.agent.navigate(phished.start.url.toString())).url).pathname).toMatch(
      /^\/interaction\/[^/]+$/,
    );
  });

  it('refuses a passkey sign-in to a disabled account, with a message the page has, until it is enabled', async () => {
    const { authenticator, accountId } = await personWithPasskey();
    await running.platform.disabling.disable(accountId);
    const refused = await passkeySignInPage();
    expect(attribute(refused.page.html, 'data-msg-account-disabled')).toBe('该账号已被停用，请联系平台运营方。');
    expect(await refused.answer(authenticator.get(refused.options))).toMatchObject({
      status: 403,
      json: { title: 'account-disabled' },
    });
    await running.platform.disabling.enable(accountId);
    const { agent, start, options, answer } = await passkeySignInPage();
    const signedIn = await answer(authenticator.get(options));
    expect(signedIn.status).toBe(200);
    expect(await toIdToken(agent, signedIn.json.redirect, start)).toMatchObject({ acr: ACR.phishingResistant });
  });

  it('refuses a replayed assertion: its challenge is taken once, even by two posts at once', async () => {
    const { authenticator } = await personWithPasskey();
    const first = await passkeySignInPage();
    const assertion = authenticator.get(first.options);
    const [a, b] = await Promise.all([first.answer(assertion), first.answer(assertion)]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
    expect([a, b].find((r) => r.status === 401)!.json.title).toBe('passkey-challenge');
    // The same assertion at another sign-in: that interaction never issued its challenge.
    const second = await passkeySignInPage();
    expect(await second.answer(assertion)).toMatchObject({ status: 401, json: { title: 'passkey-challenge' } });
  });

  it('refuses a passkey this platform does not know', async () => {
    await personWithPasskey();
    const stranger = newAuthenticator();
    stranger.create({ challenge: 'AAAAAAAAAAAAAAAAAAAAAA', user: { id: 'AAAAAAAAAAAAAAAAAAAAAA' } });
    const { options, answer } = await passkeySignInPage();
    expect(await answer(stranger.get(options))).toMatchObject({ status: 401, json: { title: 'passkey-unknown' } });
  });

  it('refuses a counter that went back (a cloned authenticator) and keeps the higher one', async () => {
    const { authenticator } = await personWithPasskey();
    const ok = await passkeySignInPage();
    expect((await ok.answer(authenticator.get(ok.options, { counter: 7 }))).status).toBe(200);
    const cloned = await passkeySignInPage();
    expect(await cloned.answer(authenticator.get(cloned.options, { counter: 3 }))).toMatchObject({
      status: 401,
      json: { title: 'passkey-invalid' },
    });
    const [row] = await running.platform.db('passkeys').where({ id: authenticator.get(ok.options).id });
    expect(Number(row.counter)).toBe(7);
  });

  it('refuses a challenge answered after it expired', async () => {
    const { authenticator } = await personWithPasskey();
    const clock = stopWallClock();
    try {
      const { options, answer } = await passkeySignInPage();
      clock.advance((running.platform.config.passkeys.challengeTtl + 1) * 1000);
      expect(await answer(authenticator.get(options))).toMatchObject({
        status: 401,
        json: { title: 'passkey-challenge' },
      });
    } finally {
      clock.restore();
    }
  });

  it('refuses a registration for another origin, and one answering another account’s challenge', async () => {
    const { agent, accountId } = await signedInPerson();
    const page = await agent.navigate(url('/account/passkeys'));
    const optionsCsrf = attribute(page.html, 'data-options-csrf');
    const options = (await postJson(agent, url('/account/passkeys/options'), optionsCsrf, {})).json;
    const post = (response: unknown) =>
      postJson(agent, url('/account/passkeys'), agent.csrfToken(url('/account/passkeys')), { name: 'x', response });
    expect(
      await post(newAuthenticator().create(options, { origin: 'https://rea1name.example' }).response),
    ).toMatchObject({ status: 400, json: { title: 'passkey-invalid' } });
    // Another person's fresh challenge is not this account's.
    const other = await signedInPerson();
    const otherPage = await other.agent.navigate(url('/account/passkeys'));
    const theirs = (
      await postJson(other.agent, url('/account/passkeys/options'), attribute(otherPage.html, 'data-options-csrf'), {})
    ).json;
    expect(await post(newAuthenticator().create(theirs).response)).toMatchObject({
      status: 400,
      json: { title: 'passkey-challenge' },
    });
    expect(await running.platform.passkeys.list(accountId)).toEqual([]);
  });

  it('asks for the passkey after the password once the person turns that on, and amr says mfa', async () => {
    const { login, agent: accountBrowser, authenticator } = await personWithPasskey();
    await accountBrowser.navigate(url('/account/passkeys'));
    const turnedOn = await accountBrowser.submit(url('/account/passkeys/second-factor'), { second_factor: 'on' });
    expect(turnedOn.url).toBe(url('/account/passkeys?done=second_factor_on'));

    const agent = personBrowser();
    const start = await startAuthorization(config);
    const signIn = await agent.navigate(start.url.toString());
    const second = await agent.submit(formAction(signIn, '/login'), { login, password: PASSWORD });
    expect(second.status).toBe(200);
    const action = formAction(second, '/passkey/second-factor');
    const options = JSON.parse(attribute(second.html, 'data-options-json')!.replace(/&quot;/g, '"'));
    expect(options.allowCredentials).toHaveLength(1);
    // Without the script, the form says a passkey needs JavaScript.
    const noScript = await agent.submit(action, {});
    expect(noScript.status).toBe(400);
    const answered = await postJson(agent, action, agent.csrfToken(action), { response: authenticator.get(options) });
    expect(answered.status).toBe(200);
    expect(await toIdToken(agent, answered.json.redirect, start)).toMatchObject({
      acr: ACR.phishingResistant,
      amr: ['pwd', 'hwk', 'user', 'mfa'],
    });
    // Recorded once, when the passkey completed it, with both factors.
    const account = await running.platform.db('accounts').where({ login }).first();
    const signIns = (await running.platform.securityLog.recent(account.id, 50)).filter((e) => e.kind === 'sign_in');
    expect(signIns.map((e) => e.detail?.amr)).toEqual([['pwd', 'hwk', 'user', 'mfa'], ['pwd']]);
  });

  it('requires a passkey for a merchant registered with requirePasskey, and for acr_values naming the class', async () => {
    const strict = await addMerchant(running.platform, { requirePasskey: true });
    expect(strict.require_passkey).toBe(true);
    const strictConfig = await discover(running.issuer, strict.client_id, strict.client_secret);
    const { login, authenticator } = await personWithPasskey();

    // The password alone is not enough: the passkey page follows.
    const agent = personBrowser();
    const start = await startAuthorization(strictConfig);
    const signIn = await agent.navigate(start.url.toString());
    expect(signIn.html).toContain('data-passkey="sign-in"');
    const second = await agent.submit(formAction(signIn, '/login'), { login, password: PASSWORD });
    expect(formAction(second, '/passkey/second-factor')).toBeTruthy();

    // A passkey alone is.
    const alone = await passkeySignInPage({}, strictConfig);
    const signedIn = await alone.answer(authenticator.get(alone.options));
    expect(await toIdToken(alone.agent, signedIn.json.redirect, alone.start, strictConfig)).toMatchObject({
      acr: ACR.phishingResistant,
    });

    // An account without a passkey: a page says so, and the merchant gets the OIDC error.
    const plainLogin = newLogin();
    await running.platform.accounts.register({ login: plainLogin, password: PASSWORD });
    const plain = personBrowser();
    const asked = await startAuthorization(config, { acr_values: ACR.phishingResistant });
    const missing = await plain.submit(formAction(await plain.navigate(asked.url.toString()), '/login'), {
      login: plainLogin,
      password: PASSWORD,
    });
    expect(missing.status).toBe(403);
    const back = await plain.submit(formAction(missing, '/passkey/missing'), {});
    expect(new URL(back.url).searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  it('keeps the passkey in amr through a step-up when a merchant needs both', async () => {
    const both = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3, requirePasskey: true });
    const bothConfig = await discover(running.issuer, both.client_id, both.client_secret);
    const { accountId, authenticator } = await personWithPasskey();
    await running.platform.verifications.verify(accountId, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '11010519491231002X',
      name: '张三',
    });
    const { agent, start, options, answer } = await passkeySignInPage({ scope: 'openid realname' }, bothConfig);
    const signedIn = await answer(authenticator.get(options));
    const stepUp = await agent.navigate(new URL(signedIn.json.redirect, running.issuer).toString());
    expect(new URL(stepUp.url).pathname).toMatch(/\/step-up$/);
    const photos = new FormData();
    photos.set('portrait', new Blob([PNG], { type: 'image/png' }), 'me.png');
    photos.set('document_front', new Blob([JPEG], { type: 'image/jpeg' }), 'card.jpg');
    const consent = await agent.upload(formAction(stepUp, '/step-up'), photos);
    const callback = await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(bothConfig, new URL(callback.url), start);
    expect(claims).toMatchObject({ acr: ACR.personMatch, amr: ['hwk', 'user', 'face'] });
  });

  it('renames and removes passkeys; removing the last one turns the second factor off and says so', async () => {
    const { agent, accountId, authenticator } = await personWithPasskey();
    const [passkey] = await running.platform.passkeys.list(accountId);
    await agent.navigate(url('/account/passkeys'));
    const renamed = await agent.submit(url(`/account/passkeys/${passkey!.id}/name`), { name: '  Work phone ' });
    expect(renamed.url).toBe(url('/account/passkeys?done=renamed'));
    expect(renamed.html).toContain('Work phone');
    const badName = await agent.submit(url(`/account/passkeys/${passkey!.id}/name`), { name: '   ' });
    expect(badName.status).toBe(400);

    await agent.submit(url('/account/passkeys/second-factor'), { second_factor: 'on' });
    const removed = await agent.submit(url(`/account/passkeys/${passkey!.id}/remove`), {});
    expect(removed.url).toBe(url('/account/passkeys?done=removed_last'));
    expect(await running.platform.passkeys.list(accountId)).toEqual([]);
    expect(await running.platform.passkeys.secondFactorRequired(accountId)).toBe(false);
    // Someone else's passkey id is not found on this account.
    const other = await personWithPasskey();
    const [theirs] = await running.platform.passkeys.list(other.accountId);
    await expect(running.platform.passkeys.remove(accountId, theirs!.id)).rejects.toMatchObject({ status: 404 });
    await expect(running.platform.passkeys.rename(accountId, theirs!.id, 'Mine now')).rejects.toMatchObject({
      status: 404,
    });
    expect(await running.platform.passkeys.list(other.accountId)).toHaveLength(1);
    // The removed passkey no longer signs in.
    const { options, answer } = await passkeySignInPage();
    expect(await answer(authenticator.get(options))).toMatchObject({ status: 401, json: { title: 'passkey-unknown' } });

    // The person's security log holds each change that took effect, and none that was refused.
    const events = (await running.platform.securityLog.recent(accountId, 50)).reverse();
    expect(events.map((e) => [e.kind, e.detail?.on])).toEqual([
      ['sign_in', undefined],
      ['passkey_added', undefined],
      ['passkey_renamed', undefined],
      ['second_factor_changed', true],
      ['passkey_removed', undefined],
      ['second_factor_changed', false],
    ]);
    expect(events.every((e) => e.ip === '127.0.0.1')).toBe(true);
  });

  it('asks for a recent sign-in before passkeys change', async () => {
    const { agent, accountId } = await personWithPasskey();
    const clock = stopWallClock();
    try {
      clock.advance((running.platform.config.passkeys.recentSignIn + 1) * 1000);
      const page = await agent.navigate(url('/account/passkeys'));
      expect(page.html).toContain('reauth=1');
      const stale = await postJson(
        agent,
        url('/account/passkeys/options'),
        attribute(page.html, 'data-options-csrf'),
        {},
      );
      expect(stale).toMatchObject({ status: 401, json: { title: 'reauthentication-required' } });
      const [passkey] = await running.platform.passkeys.list(accountId);
      const refused = await agent.submit(url(`/account/passkeys/${passkey!.id}/remove`), {});
      // Sent to sign in again (prompt=login): the sign-in page, not a removal.
      expect(new URL(refused.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
      expect(await running.platform.passkeys.list(accountId)).toHaveLength(1);
    } finally {
      clock.restore();
    }
  });

  it('refuses a JSON post without the CSRF header, and a malformed credential with problem+json', async () => {
    const { agent } = await signedInPerson();
    expect((await postJson(agent, url('/account/passkeys/options'), undefined, {})).status).toBe(403);
    const { answer } = await passkeySignInPage();
    expect(await answer({ id: 'not base64!', type: 'public-key' })).toMatchObject({
      status: 400,
      json: { title: 'invalid-input' },
    });
  });
});
