import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as oidc from 'openid-client';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  registerAndSignIn,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { CSRF_FIELD, formAction, formActions, type UserAgent, type Page } from '../helpers/user-agent.js';

// Cross-site request forgery over real HTTP: every form the platform renders carries a token tied
// to this browser's cookie and to the form's address; a post without it (or with another
// browser's, or another form's) is refused with 403 before anything is read or written.

const messages = (locale: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${locale}.json`), 'utf8')) as Record<
    string,
    string
  >;
const en = messages('en');
const zh = messages('zh-CN');
const PASSWORD = 'correct horse battery';
const FORM = 'application/x-www-form-urlencoded';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

type Running = Awaited<ReturnType<typeof startTestPlatform>>;
type Merchant = Awaited<ReturnType<typeof addMerchant>>;

/** Each post form on the page: its path and the `_csrf` it carries (undefined: none). */
const postForms = (page: Page) =>
  [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
    .filter(([, attributes]) => /method="post"/.test(attributes!))
    .map(([, attributes, content]) => ({
      path: new URL(/action="([^"]+)"/.exec(attributes!)![1]!, page.url).pathname,
      csrf: new RegExp(`<input type="hidden" name="${CSRF_FIELD}" value="([^"]*)">`).exec(content!)?.[1],
    }));
const tokenOn = (page: Page, suffix: string) => postForms(page).find((f) => f.path.endsWith(suffix))!.csrf!;

describe(`CSRF protection (${ENGINE})`, () => {
  let running: Running;
  let merchant: Merchant;
  let config: oidc.Configuration;
  const url = (path: string) => `${running.issuer}${path}`;

  beforeAll(async () => {
    running = await startTestPlatform();
    merchant = await addMerchant(running.platform, { levels: ['result'] });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await running?.stop();
  });

  const count = async (table: string, where: Record<string, unknown> = {}) =>
    Number((await running.platform.db(table).where(where).count({ n: '*' }).first())!.n);
  /** What a forged post could change: accounts, OIDC state (sessions, grants, interactions), verifications. */
  const written = async () => ({
    accounts: await count('accounts'),
    payloads: await running.platform
      .db('oidc_payloads')
      .select('model', 'id', 'payload', 'consumed_at')
      .orderBy(['model', 'id']),
    verifications: await count('verifications'),
    providerCalls: await count('provider_calls'),
  });

  /** Posts exactly these fields (no token added), as a forged cross-site form would. */
  const forge = (
    agent: UserAgent,
    target: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ) =>
    agent.navigate(target, {
      method: 'POST',
      headers: { 'content-type': FORM, 'accept-language': 'en', ...headers },
      body: new URLSearchParams(fields).toString(),
    });

  function expectRefusedPage(page: Page, locale: Record<string, string> = en) {
    expect({ status: page.status, type: page.headers.get('content-type') }).toEqual({
      status: 403,
      type: expect.stringMatching(/^text\/html/),
    });
    expect(page.html).toContain(`role="alert">${locale['problem.csrf-failed']}<`);
  }

  /** A person verified by document check, who can sign in with `login`. */
  async function verifiedPerson() {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '11010519491231002X',
      name: '张三',
    });
    return { login };
  }

  /** A fresh browser at the sign-in page of a new authorization request. */
  async function atSignIn(cfg = config) {
    const agent = personBrowser();
    const page = await agent.navigate((await startAuthorization(cfg, { scope: 'openid realname' })).url.toString());
    expect(page.status).toBe(200);
    return { agent, page };
  }

  const photos = (csrf?: string) => {
    const form = new FormData();
    if (csrf) form.set(CSRF_FIELD, csrf);
    form.set('portrait', new Blob([PNG], { type: 'image/png' }), 'me.png');
    form.set('document_front', new Blob([JPEG], { type: 'image/jpeg' }), 'card.jpg');
    return form;
  };
  const documentForm = (csrf?: string) => {
    const form = new FormData();
    if (csrf) form.set(CSRF_FIELD, csrf);
    form.set('document_type', 'cn_resident_id');
    form.set('name', '王五');
    form.set('document_number', '440524198001010013');
    return form;
  };

  it('puts a token in every post form: sign-in, passkey, registration, verification, consent, step-up and the account pages', async () => {
    const pages: Page[] = [];
    // Registration → verification inside the sign-in → consent.
    const { agent, page: signIn } = await atSignIn();
    pages.push(signIn);
    const register = await agent.navigate(
      new URL(new URL(formAction(signIn, '/login')).pathname.replace(/\/login$/, '/register'), signIn.url).toString(),
    );
    pages.push(register);
    const verify = await registerAndSignIn(agent, register, { login: newLogin(), password: PASSWORD });
    expect(new URL(verify.url).pathname).toMatch(/\/verify$/);
    pages.push(verify);
    const consent = await agent.upload(formAction(verify, '/verify'), documentForm());
    pages.push(consent);
    await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    // The account pages: the grant's revoke button and the verification form.
    const account = await agent.navigate(url('/account'));
    expect(formActions(account).some((a) => a.endsWith('/revoke'))).toBe(true);
    pages.push(account, await agent.navigate(url('/account/verify')), await agent.navigate(url('/account/passkeys')));
    // Step-up, for a security-level-3 merchant.
    const strict = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3 });
    const { login } = await verifiedPerson();
    const { agent: other, page: otherSignIn } = await atSignIn(
      await discover(running.issuer, strict.client_id, strict.client_secret),
    );
    const stepUp = await other.submit(formAction(otherSignIn, '/login'), { login, password: PASSWORD });
    expect(new URL(stepUp.url).pathname).toMatch(/\/step-up$/);
    pages.push(stepUp);

    const forms = pages.flatMap(postForms);
    expect(
      forms
        .map((f) =>
          f.path.replace(/^\/interaction\/[^/]+/, '/interaction/:uid').replace(/\/grants\/[^/]+/, '/grants/:id'),
        )
        .sort(),
    ).toEqual([
      '/account/grants/:id/revoke',
      '/account/passkeys',
      '/account/verify',
      '/interaction/:uid/abort',
      '/interaction/:uid/abort',
      '/interaction/:uid/abort',
      '/interaction/:uid/confirm',
      '/interaction/:uid/login',
      '/interaction/:uid/passkey',
      '/interaction/:uid/register',
      '/interaction/:uid/step-up',
      '/interaction/:uid/verify',
    ]);
    for (const form of forms) expect(form.csrf).toMatch(TOKEN);
    // One browser: one token per form address, the same each time the form is shown.
    const mine = forms.filter((f) => !f.path.endsWith('/step-up') && !f.path.endsWith('/abort'));
    expect(new Set(mine.map((f) => f.csrf)).size).toBe(mine.length);
    expect(tokenOn(await agent.navigate(url('/account/verify')), '/account/verify')).toBe(
      forms.find((f) => f.path === '/account/verify')!.csrf,
    );
  });

  it('sets the secret in a signed, HttpOnly, SameSite=Lax cookie (not Secure over plain HTTP) only with a form', async () => {
    const home = await fetch(url('/'));
    expect(home.headers.getSetCookie().filter((c) => c.startsWith('rn_csrf'))).toEqual([]);
    const { page } = await atSignIn();
    const cookies = page.headers.getSetCookie().filter((c) => c.startsWith('rn_csrf'));
    expect(cookies.map((c) => c.split('=')[0])).toEqual(['rn_csrf', 'rn_csrf.sig']);
    for (const cookie of cookies) {
      expect(cookie.toLowerCase()).toMatch(/; path=\/;.*samesite=lax; httponly$/);
      expect(cookie.toLowerCase()).not.toContain('secure');
    }
    // The token is derived from the secret, never the secret itself.
    expect(cookies[0]).not.toContain(tokenOn(page, '/login'));
  });

  it("refuses a sign-in posted without the token with a 403 page in the person's language, and signs nobody in", async () => {
    const { login } = await verifiedPerson();
    for (const [language, locale] of [
      ['en', en],
      ['zh-CN', zh],
    ] as const) {
      const { agent, page } = await atSignIn();
      const before = await written();
      const refused = await forge(
        agent,
        formAction(page, '/login'),
        { login, password: PASSWORD },
        { 'accept-language': language },
      );
      expectRefusedPage(refused, locale);
      expect(refused.html).not.toContain(PASSWORD);
      expect(await written()).toEqual(before);
      // The person goes back, and the form (with its token) works.
      expect(
        new URL((await agent.submit(formAction(page, '/login'), { login, password: PASSWORD })).url).pathname,
      ).toMatch(/^\/interaction\/[^/]+$/);
    }
  });

  it('answers problem+json csrf-failed to a client that accepts JSON', async () => {
    const { agent, page } = await atSignIn();
    const refused = await forge(
      agent,
      formAction(page, '/login'),
      { login: newLogin(), password: PASSWORD },
      { accept: 'application/json' },
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(refused.html)).toEqual({
      type: 'urn:realname:problem:csrf-failed',
      title: 'csrf-failed',
      status: 403,
      detail: expect.any(String),
    });
  });

  it("refuses another browser's token, another form's token, a token in the query, and a browser whose cookie is gone", async () => {
    const { login } = await verifiedPerson();
    const { agent, page } = await atSignIn();
    const target = formAction(page, '/login');
    // An attacker's own browser gets a valid token, for the attacker's cookie only.
    const attacker = await atSignIn();
    const theirs = tokenOn(attacker.page, '/login');
    const mine = tokenOn(page, '/login');
    const before = await written();
    expectRefusedPage(await forge(agent, target, { [CSRF_FIELD]: theirs, login, password: PASSWORD }));
    expectRefusedPage(await forge(agent, target, { [CSRF_FIELD]: tokenOn(page, '/abort'), login, password: PASSWORD }));
    expectRefusedPage(await forge(agent, `${target}?${CSRF_FIELD}=${mine}`, { login, password: PASSWORD }));
    expectRefusedPage(
      await forge(agent, target, {
        [CSRF_FIELD]: `${mine.slice(0, -1)}${mine.endsWith('A') ? 'B' : 'A'}`,
        login,
        password: PASSWORD,
      }),
    );
    expect(await written()).toEqual(before);

    // The cookie expired while the form was open: refused; reloading the page makes it work again.
    await agent.jar.setCookie('rn_csrf=; Path=/; Max-Age=0', url('/'));
    await agent.jar.setCookie('rn_csrf.sig=; Path=/; Max-Age=0', url('/'));
    expectRefusedPage(await agent.submit(target, { login, password: PASSWORD }), zh);
    expect(await written()).toEqual(before);
    const reloaded = await agent.navigate(page.url);
    expect(tokenOn(reloaded, '/login')).not.toBe(mine);
    expect((await agent.submit(formAction(reloaded, '/login'), { login, password: PASSWORD })).status).toBe(200);
  });

  it('refuses registration without the token and creates no account', async () => {
    const { agent, page } = await atSignIn();
    const registerPage = await agent.navigate(
      new URL(new URL(formAction(page, '/login')).pathname.replace(/\/login$/, '/register'), page.url).toString(),
    );
    const login = newLogin();
    const before = await written();
    expectRefusedPage(await forge(agent, formAction(registerPage, '/register'), { login, password: PASSWORD }));
    expect(await written()).toEqual(before);
    expect(await count('accounts', { login })).toBe(0);
  });

  it('refuses consent and cancelling without the token; the interaction goes on with it', async () => {
    const { login } = await verifiedPerson();
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    const consent = await agent.submit(formAction(await agent.navigate(start.url.toString()), '/login'), {
      login,
      password: PASSWORD,
    });
    const before = await written();
    expectRefusedPage(await forge(agent, formAction(consent, '/confirm'), { level: 'result' }));
    expectRefusedPage(await forge(agent, formAction(consent, '/abort'), {}));
    expect(await written()).toEqual(before);
    const callback = await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    expect((await redeemCode(config, new URL(callback.url), start)).claims.realname_verified).toBe(true);
  });

  it('refuses a multipart verification without the token, inside the sign-in and on the account page, before calling the provider', async () => {
    const { agent, page: signIn } = await atSignIn();
    const register = await agent.navigate(
      new URL(new URL(formAction(signIn, '/login')).pathname.replace(/\/login$/, '/register'), signIn.url).toString(),
    );
    const verify = await registerAndSignIn(agent, register, { login: newLogin(), password: PASSWORD });
    const target = formAction(verify, '/verify');
    const accountForm = await agent.navigate(url('/account/verify'));
    const before = await written();
    expectRefusedPage(
      await agent.navigate(target, { method: 'POST', headers: { 'accept-language': 'en' }, body: documentForm() }),
    );
    // With files, and with the token of the account page's form (another address).
    const withPhotos = documentForm(tokenOn(accountForm, '/account/verify'));
    withPhotos.set('portrait', new Blob([PNG], { type: 'image/png' }), 'me.png');
    expectRefusedPage(
      await agent.navigate(target, { method: 'POST', headers: { 'accept-language': 'en' }, body: withPhotos }),
    );
    expectRefusedPage(
      await agent.navigate(url('/account/verify'), {
        method: 'POST',
        headers: { 'accept-language': 'en' },
        body: documentForm(),
      }),
    );
    // A urlencoded post to the upload address is no way around it.
    expectRefusedPage(
      await forge(agent, url('/account/verify'), {
        document_type: 'cn_resident_id',
        name: '王五',
        document_number: '440524198001010013',
      }),
    );
    expect(await written()).toEqual(before);
    // The real form, token included, verifies.
    expect((await agent.upload(url('/account/verify'), documentForm())).url).toBe(url('/account?verified=1'));
  });

  it('refuses a step-up without the token before calling the provider', async () => {
    const strict = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3 });
    const { login } = await verifiedPerson();
    const { agent, page } = await atSignIn(await discover(running.issuer, strict.client_id, strict.client_secret));
    const stepUp = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    const before = await written();
    expectRefusedPage(
      await agent.navigate(formAction(stepUp, '/step-up'), {
        method: 'POST',
        headers: { 'accept-language': 'en' },
        body: photos(),
      }),
    );
    expectRefusedPage(
      await agent.navigate(formAction(stepUp, '/step-up'), {
        method: 'POST',
        headers: { 'accept-language': 'en' },
        body: photos(tokenOn(stepUp, '/abort')),
      }),
    );
    expect(await written()).toEqual(before);
    const consent = await agent.upload(formAction(stepUp, '/step-up'), photos());
    expect(formActions(consent).some((a) => a.endsWith('/confirm'))).toBe(true);
  });

  it('refuses revoking a grant without the token, and keeps the grant', async () => {
    const { login } = await verifiedPerson();
    const agent = personBrowser();
    const callback = await signInAndConsent(
      agent,
      (await startAuthorization(config, { scope: 'openid realname' })).url,
      { login, password: PASSWORD, level: 'result' },
    );
    expect(new URL(callback.url).searchParams.get('code')).toBeTruthy();
    const account = await agent.navigate(url('/account?lang=en'));
    const revokeButtons = async () =>
      formActions(await agent.navigate(url('/account'))).filter((a) => a.endsWith('/revoke'));
    expect(await revokeButtons()).toHaveLength(1);
    expectRefusedPage(await forge(agent, formAction(account, '/revoke'), {}));
    expect(await revokeButtons()).toHaveLength(1);
    expect((await agent.submit(formAction(account, '/revoke'), {})).html).toContain(en['account.revoked']);
    expect(await revokeButtons()).toHaveLength(0);
  });

  it("leaves oidc-provider's logout form to its own xsrf check", async () => {
    const { login } = await verifiedPerson();
    const agent = personBrowser();
    await signInAndConsent(agent, (await startAuthorization(config, { scope: 'openid realname' })).url, {
      login,
      password: PASSWORD,
      level: 'result',
    });
    const question = await agent.navigate(url('/session/end?lang=en'));
    const confirm = formAction(question, '/session/end/confirm');
    expect(question.html).toMatch(/name="xsrf" value="[^"]+"/);
    expect(question.html).not.toContain(CSRF_FIELD);
    // Without oidc-provider's xsrf the logout is refused by oidc-provider; with it, it goes through.
    expect((await forge(agent, confirm, { logout: 'yes' })).status).toBe(400);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.html)![1]!;
    const done = await agent.submit(confirm, { xsrf, logout: 'yes' });
    expect(done.status).toBe(200);
    expect(done.html).toContain(en['logout.done_title']);
    expect((await agent.navigate(url('/account'))).url).toMatch(/\/interaction\/[^/]+$/);
  });

  it('asks no token of the token endpoint or the bearer-token APIs', async () => {
    const token = (await oidc.clientCredentialsGrant(config, { scope: 'realname:check' })).access_token;
    const response = await fetch(url('/api/verifications/check'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ document_type: 'cn_resident_id', document_number: '11010519491231002X', name: '张三' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { verified: boolean }).verified).toBe(true);
  });
});
