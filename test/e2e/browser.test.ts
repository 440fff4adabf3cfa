import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { describeInBrowser, startPlatformAndBrowser, type TestBrowser } from '../helpers/browser.js';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  redeemCode,
  startAuthorization,
  type AuthorizationStart,
} from '../helpers/merchant.js';
import { type startTestPlatform } from '../helpers/platform.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { until } from '../helpers/wait.js';

const messages = (locale: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${locale}.json`), 'utf8')) as Record<
    string,
    string
  >;
const zh = messages('zh-CN');
const en = messages('en');
const MERCHANT = 'Browser Test Shop';

// A real browser (headless Chromium, JavaScript off) walking the sign-in pages, with the merchant
// side played by openid-client.
describeInBrowser('a person in a real browser', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;
  let config: oidc.Configuration;
  let merchant: Awaited<ReturnType<typeof addMerchant>>;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
    ({ running, browser } = await startPlatformAndBrowser(undefined, {
      notifications: { smtp: { host: sink.host, port: sink.port, from: 'no-reply@realname.test' } },
    }));
    merchant = await addMerchant(running.platform, { name: MERCHANT });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await sink?.close();
  });

  /** Nobody listens on the merchant's callback host: answer it in the browser and keep its URL. */
  async function interceptCallback(page: Page) {
    await page.route(`${CALLBACK}**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
    );
  }

  /** Clicks a button that leaves for the merchant; returns the callback URL the browser was sent to. */
  async function clickToCallback(page: Page, button: string): Promise<URL> {
    const request = page.waitForRequest((r) => r.url().startsWith(CALLBACK) && r.isNavigationRequest());
    await page.getByRole('button', { name: button, exact: true }).click();
    return new URL((await request).url());
  }

  async function exchange(callback: URL, start: AuthorizationStart) {
    expect(callback.searchParams.get('code')).toBeTruthy();
    return (await redeemCode(config, callback, start)).claims;
  }

  const lang = (page: Page) => page.locator('html').getAttribute('lang');
  const heading = (page: Page) => page.locator('h1').textContent();

  it('shows zh-CN by default, switches to English, registers, consents and returns a code', async () => {
    // A browser that prefers neither Chinese nor English gets the default language.
    const context = await browser.newContext({ locale: 'fr-FR' });
    try {
      const page = await context.newPage();
      await interceptCallback(page);
      const start = await startAuthorization(config);

      const first = await page.goto(start.url.toString());
      expect(first?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+$/);
      expect(await lang(page)).toBe('zh-CN');
      expect(await heading(page)).toBe(zh['login.title']);
      expect(await page.locator('p.merchant').textContent()).toContain(MERCHANT);

      // The language switch is a plain link, remembered for the next pages.
      await page.getByRole('link', { name: zh['site.switch_language'], exact: true }).click();
      expect(await lang(page)).toBe('en');
      expect(await heading(page)).toBe(en['login.title']);

      await page.getByRole('link', { name: en['login.register_link'], exact: true }).click();
      expect(new URL(page.url()).pathname).toMatch(/\/register$/);
      expect(await lang(page)).toBe('en');
      expect(await heading(page)).toBe(en['register.title']);

      await page.locator('#login').fill(newLogin());
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: en['register.submit'], exact: true }).click();
      // Registered: the sign-in form says so, the login filled in; the password once more.
      expect(await heading(page)).toBe(en['login.title']);
      expect(await page.locator('p[role="status"]').textContent()).toBe(en['register.done']);
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: en['login.submit'], exact: true }).click();

      expect(await lang(page)).toBe('en');
      expect(await heading(page)).toBe(en['consent.title']);
      expect(await page.locator('p.merchant').textContent()).toContain(
        en['consent.merchant_asks']!.replace('{merchant}', MERCHANT),
      );
      expect(await page.locator('ul.scopes li').allTextContents()).toEqual([
        en['scope.openid'],
        en['scope.email'],
        en['scope.offline_access'],
      ]);

      const callback = await clickToCallback(page, en['consent.allow']!);
      expect(callback.origin + callback.pathname).toBe(CALLBACK);
      expect(callback.searchParams.get('state')).toBe(start.state);
      await exchange(callback, start);
    } finally {
      await context.close();
    }
  });

  it('shows a friendly error page for a wrong password, keeps the login, then signs in', async () => {
    const login = newLogin();
    const password = 'a long enough password';
    await running.platform.accounts.register({ login, password });

    // English through Accept-Language alone.
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const page = await context.newPage();
      await interceptCallback(page);
      const start = await startAuthorization(config);
      await page.goto(start.url.toString());
      expect(await lang(page)).toBe('en');
      expect(await heading(page)).toBe(en['login.title']);

      await page.locator('#login').fill(login);
      await page.locator('#password').fill('not the password');
      const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/login'));
      await page.getByRole('button', { name: en['login.submit'], exact: true }).click();
      const response = await posted;
      expect(response.status()).toBe(401);
      expect(response.headers()['content-type']).toMatch(/^text\/html/);

      expect(await lang(page)).toBe('en');
      expect(await heading(page)).toBe(en['login.title']);
      expect(await page.getByRole('alert').textContent()).toBe(en['error.invalid_credentials']);
      expect(await page.locator('#login').inputValue()).toBe(login);
      expect(await page.locator('#password').inputValue()).toBe('');
      expect(await page.locator('body').textContent()).not.toMatch(/^\s*[{[]/);

      // The same form, now with the right password, carries on to consent and the merchant.
      await page.locator('#password').fill(password);
      await page.getByRole('button', { name: en['login.submit'], exact: true }).click();
      expect(await heading(page)).toBe(en['consent.title']);
      await exchange(await clickToCallback(page, en['consent.allow']!), start);
    } finally {
      await context.close();
    }
  });
  it('resets a forgotten password with a mailed code from the sign-in page, and goes back to it', async () => {
    const login = newLogin();
    await running.platform.accounts.register({ login, password: 'the password I forgot' });
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await interceptCallback(page);
      const start = await startAuthorization(config);
      await page.goto(start.url.toString());
      const signInPath = new URL(page.url()).pathname;

      await page.getByRole('link', { name: zh['login.forgot'], exact: true }).click();
      expect(await heading(page)).toBe(zh['reset.title']);
      await page.locator('#login').fill(login);
      await page.getByRole('button', { name: zh['reset.send_code'], exact: true }).click();
      expect(await heading(page)).toBe(zh['reset.code_title']);
      expect(await page.getByRole('status').textContent()).toBe(zh['reset.code_sent']);
      expect(await page.locator('#login').inputValue()).toBe(login);

      const mail = await until(() => sink.received.find((m) => m.to.includes(login)), { what: 'the code mail' });
      const code = /\b(\d{8})\b/.exec(mail.text)![1]!;
      await page.locator('#code').fill(code);
      await page.locator('#new_password').fill('a password I will remember');
      await page.getByRole('button', { name: zh['reset.submit'], exact: true }).click();
      expect(await heading(page)).toBe(zh['reset.done_title']);
      await page.screenshot({ path: join(tmpdir(), 'password-reset-done.zh-CN.png'), fullPage: true });

      // Back to the merchant's sign-in, which goes on with the new password.
      await page.getByRole('link', { name: zh['reset.sign_in'], exact: true }).click();
      expect(new URL(page.url()).pathname).toBe(signInPath);
      await page.locator('#login').fill(login);
      await page.locator('#password').fill('a password I will remember');
      await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();
      expect(await heading(page)).toBe(zh['consent.title']);
      await exchange(await clickToCallback(page, zh['consent.allow']!), start);
    } finally {
      await context.close();
    }
  });

  it('changes the password on the security page, and the other browser is signed out', async () => {
    const login = newLogin();
    const password = 'a long enough password';
    await running.platform.accounts.register({ login, password });
    const here = await browser.newContext({ locale: 'zh-CN' });
    const there = await browser.newContext({ locale: 'en-US' });
    try {
      const signIn = async (page: Page, submit: string) => {
        await page.goto(`${running.issuer}/account/security`);
        await page.locator('#login').fill(login);
        await page.locator('#password').fill(password);
        await page.getByRole('button', { name: submit, exact: true }).click();
        expect(new URL(page.url()).pathname).toBe('/account/security');
      };
      const page = await here.newPage();
      const other = await there.newPage();
      await signIn(page, zh['login.submit']!);
      await signIn(other, en['login.submit']!);

      await page.reload();
      expect(await heading(page)).toBe(zh['security.title']);
      // Both sessions are listed; this one is marked.
      const rows = page.locator('tbody').first().locator('tr');
      expect(await rows.count()).toBe(2);
      expect(await rows.filter({ hasText: zh['security.this_session']! }).count()).toBe(1);
      expect(await rows.first().textContent()).toContain('Chrome on Linux');
      // For a person to look at: the page as drawn, Chinese included.
      await page.screenshot({ path: join(tmpdir(), 'security-page.zh-CN.png'), fullPage: true });

      await page.locator('#current_password').fill(password);
      await page.locator('#new_password').fill('another long password');
      await page.getByRole('button', { name: zh['security.change_password'], exact: true }).click();
      expect(await page.getByRole('status').textContent()).toBe(
        zh['security.password_changed']!.replace('{count}', '1'),
      );
      expect(await rows.count()).toBe(1);

      // The other browser has to sign in again.
      await other.reload();
      expect(new URL(other.url()).pathname).toMatch(/^\/interaction\//);
      expect(await heading(other)).toBe(en['login.title']);
    } finally {
      await here.close();
      await there.close();
    }
  });
});
