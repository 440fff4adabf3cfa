import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { addMerchant, CALLBACK, discover, newLogin, redeemCode, startAuthorization } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';

const zh = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'zh-CN.json'), 'utf8')) as Record<string, string>;

// A merchant asks for a grant level; a person who has never verified signs up, verifies inside the
// sign-in, chooses the level, and the merchant receives exactly it. Real Chromium, JavaScript off.
describe('choosing a grant level in a real browser', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;

  beforeAll(async () => {
    [running, browser] = await Promise.all([startTestPlatform(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  async function toCallback(page: Page, click: () => Promise<void>): Promise<URL> {
    const request = page.waitForRequest((r) => r.url().startsWith(CALLBACK) && r.isNavigationRequest());
    await click();
    return new URL((await request).url());
  }

  it('signs up, verifies, chooses level 2, keeps the password shown once, and the merchant gets that level', async () => {
    const merchant = await addMerchant(running.platform, { name: '示例商城', levels: ['result', 'credentials'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.route(`${CALLBACK}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }));
      const start = await startAuthorization(config, { scope: 'openid realname realname:credentials' });
      await page.goto(start.url.toString());
      await page.getByRole('link', { name: zh['login.register_link'], exact: true }).click();
      await page.locator('#login').fill(newLogin());
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: zh['register.submit'], exact: true }).click();

      // Not verified yet: the sign-in continues with the guided verification.
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+\/verify$/);
      expect(await page.locator('p.merchant').textContent()).toContain('示例商城');
      await page.locator('#document_type').selectOption('cn_resident_id');
      await page.locator('#name').fill('张三');
      await page.locator('#document_number').fill('11010519491231002X');
      await page.getByRole('button', { name: zh['verify.submit'], exact: true }).click();

      // Back on the consent page of the same request: both levels offered, the least pre-selected.
      expect(await page.locator('h1').textContent()).toBe(zh['consent.title']);
      expect(await page.locator('input[name=level]:checked').getAttribute('value')).toBe('result');
      await page.locator('input[name=level][value=credentials]').check();
      await page.getByRole('button', { name: zh['consent.allow'], exact: true }).click();

      expect(await page.locator('h1').textContent()).toBe(zh['credentials.title']);
      const password = (await page.locator('code.secret').nth(1).textContent())!;
      const callback = await toCallback(page, () => page.locator('a.button').click());
      const { claims } = await redeemCode(config, callback, start);
      expect(claims).toMatchObject({ realname_verified: true, realname_method: 'document', merchant_credentials: { username: expect.stringMatching(/^rn_/) } });
      const { default: argon2 } = await import('argon2');
      expect(await argon2.verify((claims.merchant_credentials as { password_hash: string }).password_hash, password)).toBe(true);
    } finally {
      await context.close();
    }
  });
});
