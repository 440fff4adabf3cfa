import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { describeInBrowser, startPlatformAndBrowser, type TestBrowser } from '../helpers/browser.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import { CALLBACK, discover, newLogin, redeemCode, startAuthorization } from '../helpers/merchant.js';
import { addVerifiedOperator } from '../helpers/operators.js';
import { type startTestPlatform } from '../helpers/platform.js';

const zh = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'zh-CN.json'), 'utf8')) as Record<
  string,
  string
>;
const PASSWORD = 'correct horse battery';

// An operator in a real browser (headless Chromium, JavaScript off) signs into the console at
// /admin through the platform itself (password, then a person-document match), registers a
// merchant there, and that merchant then signs a person in with openid-client.
describeInBrowser(`the operator console in a real browser (${ENGINE})`, () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;
  let operatorLogin: string;

  beforeAll(async () => {
    ({ running, browser } = await startPlatformAndBrowser());
    operatorLogin = newLogin();
    await addVerifiedOperator(running.platform, operatorLogin, PASSWORD);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  const heading = (page: Page) => page.locator('h1').textContent();
  const shot = (page: Page, name: string) =>
    page.screenshot({
      path: join(process.env.SCREENSHOT_DIR ?? tmpdir(), `admin-console-${name}.png`),
      fullPage: true,
    });

  it('lets an operator register a merchant, which then signs a person in', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.goto(`${running.issuer}/admin`);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+$/);
      expect(await heading(page)).toBe(zh['login.title']);
      await page.locator('#login').fill(operatorLogin);
      await page.locator('#password').fill(PASSWORD);
      await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();

      // Only a password on this account: the console asks for a fresh person-document match.
      expect(new URL(page.url()).pathname).toMatch(/\/step-up$/);
      await page.locator('#portrait').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG });
      await page.locator('#document_front').setInputFiles({ name: 'card.jpg', mimeType: 'image/jpeg', buffer: JPEG });
      await page.getByRole('button', { name: zh['step_up.submit'], exact: true }).click();

      expect(page.url()).toBe(`${running.issuer}/admin`);
      expect(await heading(page)).toBe(zh['admin.title']);
      expect(await page.locator('svg.chart').count()).toBe(1);
      await shot(page, 'dashboard');

      await page.getByRole('link', { name: zh['admin.clients'], exact: true }).first().click();
      expect(await heading(page)).toBe(zh['admin.clients']);
      await page.locator('#name').fill('浏览器商户');
      await page.locator('#redirect_uris').fill(CALLBACK);
      await page.getByRole('checkbox', { name: zh['level.result'], exact: true }).check();
      await page.getByRole('button', { name: zh['admin.add_submit'], exact: true }).click();

      expect(await heading(page)).toBe(zh['admin.registered']);
      const clientId = (await page.locator('#client_id').textContent())!;
      const secret = (await page.locator('#client_secret').textContent())!;
      expect(secret.length).toBeGreaterThanOrEqual(43);
      await shot(page, 'secret');

      // The merchant just registered signs a person in.
      const person = newLogin();
      await running.platform.accounts.register({ login: person, password: PASSWORD });
      const config = await discover(running.issuer, clientId, secret);
      const start = await startAuthorization(config);
      const personContext = await browser.newContext({ locale: 'zh-CN' });
      try {
        const personPage = await personContext.newPage();
        await personPage.route(`${CALLBACK}**`, (route) =>
          route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
        );
        await personPage.goto(start.url.toString());
        expect(await personPage.locator('p.merchant').textContent()).toContain('浏览器商户');
        await personPage.locator('#login').fill(person);
        await personPage.locator('#password').fill(PASSWORD);
        await personPage.getByRole('button', { name: zh['login.submit'], exact: true }).click();
        const request = personPage.waitForRequest((r) => r.url().startsWith(CALLBACK) && r.isNavigationRequest());
        await personPage.getByRole('button', { name: zh['consent.allow'], exact: true }).click();
        const callback = new URL((await request).url());
        const { claims } = await redeemCode(config, callback, start);
        expect(claims.sub).toEqual(expect.any(String));
      } finally {
        await personContext.close();
      }
    } finally {
      await context.close();
    }
  });
});
