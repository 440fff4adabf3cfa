import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { describeInBrowser, startPlatformAndBrowser, type TestBrowser } from '../helpers/browser.js';
import { addMerchant, CALLBACK, discover, newLogin, redeemCode, startAuthorization } from '../helpers/merchant.js';
import { PNG } from '../helpers/images.js';
import { type startTestPlatform } from '../helpers/platform.js';

const zh = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'zh-CN.json'), 'utf8')) as Record<
  string,
  string
>;

// A merchant asks for a grant level; a person who has never verified signs up, verifies inside the
// sign-in, chooses the level, and the merchant receives exactly it. Real Chromium, JavaScript off.
describeInBrowser('choosing a grant level in a real browser', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;

  beforeAll(async () => {
    ({ running, browser } = await startPlatformAndBrowser());
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
      await page.route(`${CALLBACK}**`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
      );
      const start = await startAuthorization(config, { scope: 'openid realname realname:credentials' });
      await page.goto(start.url.toString());
      await page.getByRole('link', { name: zh['login.register_link'], exact: true }).click();
      await page.locator('#login').fill(newLogin());
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: zh['register.submit'], exact: true }).click();
      // Registered: the sign-in form says so, the login filled in; the password once more.
      expect(await page.locator('h1').textContent()).toBe(zh['login.title']);
      expect(await page.locator('p[role="status"]').textContent()).toBe(zh['register.done']);
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();

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
      expect(claims).toMatchObject({
        realname_verified: true,
        realname_method: 'document',
        merchant_credentials: { username: expect.stringMatching(/^rn_/) },
      });
      const { default: argon2 } = await import('argon2');
      expect(
        await argon2.verify((claims.merchant_credentials as { password_hash: string }).password_hash, password),
      ).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('changes the level both ways at every consent, and lowers it on My account; old tokens stop, new ones carry the level', async () => {
    const merchant = await addMerchant(running.platform, {
      name: '丙商城',
      levels: ['result', 'credentials', 'dossier'],
    });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: 'correct horse battery' });
    const photo = { contentType: 'image/png' as const, data: PNG };
    await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
      portrait: photo,
      documentFront: photo,
    });
    await running.platform.audit.integrateAll();
    const context = await browser.newContext({ locale: 'zh-CN' });
    const scope = 'openid realname realname:credentials realname:dossier offline_access';
    const expected = {
      result: ['openid', 'realname'],
      credentials: ['offline_access', 'openid', 'realname:credentials'],
      dossier: ['offline_access', 'openid', 'realname:dossier'],
    } as const;
    try {
      const page = await context.newPage();
      await page.route(`${CALLBACK}**`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
      );
      let signedIn = false;

      /** One consent at `level`, through the page; returns the merchant's tokens and the password shown. */
      const choose = async (level: keyof typeof expected) => {
        const start = await startAuthorization(config, { scope });
        await page.goto(start.url.toString());
        if (!signedIn) {
          await page.locator('#login').fill(login);
          await page.locator('#password').fill('correct horse battery');
          await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();
          signedIn = true;
        }
        // Every level is offered at every consent, whatever the merchant holds now.
        expect(
          await page
            .locator('input[name=level]')
            .evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value)),
        ).toEqual(['result', 'credentials', 'dossier']);
        await page.locator(`input[name=level][value=${level}]`).check();
        if (level === 'dossier') await page.locator('#partial').fill('074477');
        let password: string | undefined;
        const callback = await toCallback(page, async () => {
          await page.getByRole('button', { name: zh['consent.allow'], exact: true }).click();
          // Coming to level 2, the password is shown once before the merchant gets its hash.
          if (level === 'credentials') {
            expect(await page.locator('h1').textContent()).toBe(zh['credentials.title']);
            password = (await page.locator('code.secret').nth(1).textContent())!;
            await page.locator('a.button').click();
          }
        });
        await page.waitForURL(`${CALLBACK}**`);
        const { tokens, claims } = await redeemCode(config, callback, start);
        expect(tokens.scope?.split(' ').sort()).toEqual(expected[level]);
        return { tokens, claims, password };
      };
      const { default: argon2 } = await import('argon2');
      const hashOf = (claims: Record<string, unknown>) =>
        (claims.merchant_credentials as { password_hash: string }).password_hash;
      const dead = async (before: Awaited<ReturnType<typeof choose>>) => {
        expect((await oidc.tokenIntrospection(config, before.tokens.access_token)).active).toBe(false);
        if (before.tokens.refresh_token)
          await expect(oidc.refreshTokenGrant(config, before.tokens.refresh_token)).rejects.toMatchObject({
            error: 'invalid_grant',
          });
      };

      // Every upgrade and every downgrade between the three levels:
      // result → credentials → dossier → result → dossier → credentials → result.
      const first = await choose('result');
      const second = await choose('credentials');
      expect(await argon2.verify(hashOf(second.claims), second.password!)).toBe(true);
      await dead(first);
      const third = await choose('dossier');
      expect(
        (await oidc.fetchUserInfo(config, third.tokens.access_token, third.claims.sub)).verified_claims,
      ).toBeDefined();
      await dead(second);
      const fourth = await choose('result');
      await dead(third);
      await expect(oidc.fetchUserInfo(config, third.tokens.access_token, third.claims.sub)).rejects.toThrow();
      expect(fourth.tokens.refresh_token).toBeUndefined();
      const fifth = await choose('dossier');
      await dead(fourth);
      const sixth = await choose('credentials');
      expect(await argon2.verify(hashOf(sixth.claims), sixth.password!)).toBe(true);
      expect(
        (await oidc.fetchUserInfo(config, sixth.tokens.access_token, sixth.claims.sub)).verified_claims,
      ).toBeUndefined();
      await dead(fifth);
      const seventh = await choose('result');
      expect(seventh.claims.merchant_credentials).toBeUndefined();
      await dead(sixth);

      // Up to the dossier again, then lowered to the result on My account.
      const eighth = await choose('dossier');
      await page.goto(`${running.issuer}/account`);
      const grant = page.locator('section.grant', { hasText: '丙商城' });
      expect(await grant.textContent()).toContain(zh['level.dossier']);
      await grant.locator('input[name=level][value=result]').check();
      await grant.getByRole('button', { name: zh['account.lower_submit'], exact: true }).click();
      expect(await page.locator('p.ok', { hasText: zh['account.lowered'] }).count()).toBe(1);
      expect(await page.locator('section.grant', { hasText: '丙商城' }).textContent()).toContain(zh['level.result']);
      await dead(eighth);
    } finally {
      await context.close();
    }
  });

  it('pre-selects the dossier by category, asks for the end of the document number, and revokes from My account', async () => {
    const first = await addMerchant(running.platform, {
      name: '甲银行',
      category: 'bank',
      levels: ['result', 'dossier'],
    });
    const second = await addMerchant(running.platform, {
      name: '乙银行',
      category: 'bank',
      levels: ['result', 'dossier'],
    });
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: 'correct horse battery' });
    const photo = { contentType: 'image/png' as const, data: PNG };
    await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
      portrait: photo,
      documentFront: photo,
    });
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.route(`${CALLBACK}**`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
      );

      const firstConfig = await discover(running.issuer, first.client_id, first.client_secret);
      const firstStart = await startAuthorization(firstConfig, { scope: 'openid realname realname:dossier' });
      await page.goto(firstStart.url.toString());
      await page.locator('#login').fill(login);
      await page.locator('#password').fill('correct horse battery');
      await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();
      expect(await page.locator('input[name=level]:checked').getAttribute('value')).toBe('result');
      await page.locator('input[name=level][value=dossier]').check();
      await page.locator('#partial').fill('000000');
      await page.getByRole('button', { name: zh['consent.allow'], exact: true }).click();
      // A wrong answer: the same page, saying so, nothing granted.
      expect(await page.locator('p.error').textContent()).toBe(zh['consent.partial_mismatch']);
      await page.locator('input[name=level][value=dossier]').check();
      await page.locator('#partial').fill('074477');
      const firstCallback = await toCallback(page, () =>
        page.getByRole('button', { name: zh['consent.allow'], exact: true }).click(),
      );
      await page.waitForURL(`${CALLBACK}**`);
      const { tokens } = await redeemCode(firstConfig, firstCallback, firstStart);
      expect(tokens.scope).toBe('openid realname:dossier');

      // Another bank: the dossier is pre-selected from the choice made for the same category.
      const secondConfig = await discover(running.issuer, second.client_id, second.client_secret);
      const secondStart = await startAuthorization(secondConfig, { scope: 'openid realname realname:dossier' });
      await page.goto(secondStart.url.toString());
      expect(await page.locator('input[name=level]:checked').getAttribute('value')).toBe('dossier');
      // Denying ends at the merchant's callback; wait for it, or the next navigation races it.
      const denied = await toCallback(page, () =>
        page.getByRole('button', { name: zh['consent.deny'], exact: true }).click(),
      );
      expect(denied.searchParams.get('error')).toBe('access_denied');
      await page.waitForURL(`${CALLBACK}**`);

      // My account: the grant, its level and its releases; revoking it ends the merchant's access.
      await page.goto(`${running.issuer}/account`);
      const grant = page.locator('section.grant', { hasText: '甲银行' });
      expect(await grant.textContent()).toContain(zh['level.dossier']);
      await grant.getByRole('button', { name: zh['account.revoke'], exact: true }).click();
      expect(await page.locator('p.ok', { hasText: zh['account.revoked'] }).count()).toBe(1);
      expect(await page.locator('body').textContent()).not.toContain('甲银行');
      expect((await oidc.tokenIntrospection(firstConfig, tokens.access_token)).active).toBe(false);
    } finally {
      await context.close();
    }
  });
});
