import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ENGINE } from '../helpers/db.js';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';

// Findings 10 and 11 of the attack: registration answered a taken login with 409 "该邮箱或手机号已
// 注册，请直接登录。" and a new one with 303, so anyone could ask who has an account; and it took
// 12345678, password and Passw0rd! as passwords.

const locale = (name: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${name}.json`), 'utf8')) as Record<
    string,
    string
  >;
const zh = locale('zh-CN');
const en = locale('en');
const text = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
const PASSWORD = 'correct horse battery';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

describe(`registration (${ENGINE})`, () => {
  let running: Running;
  let authorizationUrl: () => Promise<URL>;

  beforeAll(async () => {
    running = await startTestPlatform();
    const merchant = await addMerchant(running.platform);
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    authorizationUrl = async () => (await startAuthorization(config)).url;
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** A fresh browser on the registration form of a new authorization request. */
  async function registrationForm(lang = 'zh-CN'): Promise<{ agent: UserAgent; form: Page }> {
    const agent = personBrowser();
    await agent.navigate(`${running.issuer}/?lang=${lang}`);
    const signIn = await agent.navigate((await authorizationUrl()).toString());
    const form = await agent.navigate(formAction(signIn, '/login').replace(/\/login$/, '/register'));
    expect(form.status).toBe(200);
    return { agent, form };
  }

  const register = async (login: string, password: string, lang = 'zh-CN') => {
    const { agent, form } = await registrationForm(lang);
    return { agent, page: await agent.submit(formAction(form, '/register'), { login, password }) };
  };

  /** What a person sees, without what differs between any two browsers: the interaction, the CSRF token, the login typed. */
  const seen = (page: Page, login: string) => ({
    status: page.status,
    html: page.html
      .replace(/\/interaction\/[\w-]+/g, '/interaction/UID')
      .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf"')
      .replace(/data-options-csrf="[^"]*"/g, 'data-options-csrf')
      .replaceAll(login, 'LOGIN'),
  });

  const accounts = async (login: string) =>
    running.platform.db('accounts').where({ login }).select('id', 'password_hash');
  const notices = async (accountId: string) =>
    running.platform
      .db('notification_outbox')
      .where({ account_id: accountId, template: 'registration.attempted' })
      .select('channel', 'recipient');

  it('answers a taken login exactly as a new one, creates nothing, and tells the owner (at most once an hour)', async () => {
    const owner = newLogin();
    const fresh = await register(owner, PASSWORD);
    const [account] = await accounts(owner);
    expect(account).toBeDefined();

    const taken = await register(owner, 'an attacker’s own password');
    const another = newLogin();
    const untaken = await register(another, PASSWORD);
    expect(seen(taken.page, owner)).toEqual(seen(untaken.page, another));
    expect(seen(fresh.page, owner)).toEqual(seen(untaken.page, another));
    expect(taken.page.status).toBe(200);
    expect(text(taken.page.html)).toContain(zh['register.done']);
    expect(taken.page.html).not.toContain(zh['error.password_common']);

    // Nothing changed on the account; its owner has one notice in the outbox (mail is not set up here: the log channel).
    expect(await accounts(owner)).toEqual([account]);
    await register(owner, 'yet another password of theirs');
    expect(await notices(account!.id)).toEqual([{ channel: 'log', recipient: '' }]);
    // The attacker's password does not open the owner's account; the owner's does.
    expect(
      (
        await taken.agent.submit(formAction(taken.page, '/login'), {
          login: owner,
          password: 'an attacker’s own password',
        })
      ).status,
    ).toBe(401);
    expect(
      new URL((await fresh.agent.submit(formAction(fresh.page, '/login'), { login: owner, password: PASSWORD })).url)
        .pathname,
    ).toMatch(/^\/interaction\//);
  });

  it('lets a person with a new login sign in right after and go on to the merchant', async () => {
    const login = newLogin();
    const { agent, page } = await register(login, PASSWORD);
    // The sign-in form, the login filled in.
    expect(page.html).toContain(`value="${login}"`);
    const consent = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    const callback = await agent.submit(formAction(consent, '/confirm'), {});
    expect(callback.url.startsWith(CALLBACK)).toBe(true);
    expect(new URL(callback.url).searchParams.get('code')).toBeTruthy();
    // The shared helper does the same.
    expect(
      (
        await signInAndConsent(personBrowser(), await authorizationUrl(), {
          login: newLogin(),
          password: PASSWORD,
          register: true,
        })
      ).url.startsWith(CALLBACK),
    ).toBe(true);
  });

  it('registers a login once when the same login is sent many times at once, and answers none with a 500', async () => {
    const login = newLogin();
    const forms = await Promise.all(Array.from({ length: 8 }, () => registrationForm()));
    const answers = await Promise.all(
      forms.map(({ agent, form }) => agent.submit(formAction(form, '/register'), { login, password: PASSWORD })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const rows = await accounts(login);
    expect(rows).toHaveLength(1);
    expect(await notices(rows[0]!.id)).toHaveLength(1);
  });

  it.each(['12345678', 'password', 'Passw0rd!'])(
    'refuses the common password %s with a friendly message in both languages, and creates nothing',
    async (password) => {
      for (const [lang, messages] of [
        ['zh-CN', zh],
        ['en', en],
      ] as const) {
        const login = newLogin();
        const { page } = await register(login, password, lang);
        expect(page.status).toBe(400);
        expect(text(page.html)).toContain(messages['error.password_common']);
        expect(await accounts(login)).toEqual([]);
      }
    },
  );
});
