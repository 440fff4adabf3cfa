import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as oidc from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { ACR } from '../../src/oidc/policy.js';
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

const en = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'en.json'), 'utf8')) as Record<
  string,
  string
>;
const PASSWORD = 'correct horse battery';

// Passkeys in real Chromium with JavaScript on (public/passkeys.js) and a virtual authenticator
// through the DevTools protocol's WebAuthn domain: adding one on the account page, signing in with
// it alone and after the password at a merchant (openid-client), renaming and removing it, and a
// merchant that requires one. The issuer is http://localhost:<port>: WebAuthn takes no IP address
// as RP ID, and localhost is a secure context without TLS.
describeInBrowser('passkeys in a real browser', () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;
  let config: oidc.Configuration;
  let strictConfig: oidc.Configuration;

  beforeAll(async () => {
    ({ running, browser } = await startPlatformAndBrowser(undefined, { issuerHost: 'localhost' }));
    const merchant = await addMerchant(running.platform, { name: 'Passkey Shop' });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const strict = await addMerchant(running.platform, { name: 'Strict Shop', requirePasskey: true });
    strictConfig = await discover(running.issuer, strict.client_id, strict.client_secret);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  interface Device {
    context: BrowserContext;
    page: Page;
    cdp: CDPSession;
    authenticatorId: string;
  }

  /** A browser with JavaScript on and a virtual platform authenticator that verifies its user. */
  async function device(options: { backupEligible?: boolean } = {}): Promise<Device> {
    const context = await browser.newContext({ locale: 'en-US', javaScriptEnabled: true });
    const page = await context.newPage();
    await page.route(`${CALLBACK}**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
    );
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
        defaultBackupEligibility: options.backupEligible ?? false,
        defaultBackupState: options.backupEligible ?? false,
      },
    });
    return { context, page, cdp, authenticatorId };
  }

  const credentialsOf = async (d: Device) =>
    (await d.cdp.send('WebAuthn.getCredentials', { authenticatorId: d.authenticatorId })).credentials;
  type Credential = Awaited<ReturnType<typeof credentialsOf>>[number];

  /** Another browser holding the same passkeys (as a synced passkey or a moved security key would). */
  async function deviceWith(credentials: Credential[], options: { backupEligible?: boolean } = {}) {
    const d = await device(options);
    for (const credential of credentials)
      await d.cdp.send('WebAuthn.addCredential', { authenticatorId: d.authenticatorId, credential });
    return d;
  }

  const heading = (page: Page) => page.locator('h1').textContent();
  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

  /** A new account, signed in on its passkeys page, with one passkey added through the page's script. */
  async function personWithPasskey(options: { backupEligible?: boolean } = {}) {
    const login = newLogin();
    const { id: accountId } = await running.platform.accounts.register({ login, password: PASSWORD });
    const d = await device(options);
    await d.page.goto(`${running.issuer}/account/passkeys`);
    await d.page.locator('#login').fill(login);
    await d.page.locator('#password').fill(PASSWORD);
    await button(d.page, en['login.submit']!).click();
    expect(await heading(d.page)).toBe(en['passkeys.title']);
    expect(await d.page.locator('main').textContent()).toContain(en['passkeys.none']);

    await d.page.locator('#passkey-name').fill('My laptop');
    await button(d.page, en['passkeys.add_submit']!).click();
    await d.page.waitForURL(/\?done=added$/);
    expect(await d.page.locator('p[role="status"]').textContent()).toBe(en['passkeys.done.added']);
    expect(await d.page.locator('section.passkey-item h3').allTextContents()).toEqual(['My laptop']);
    const credentials = await credentialsOf(d);
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    return { login, accountId, device: d, credentials };
  }

  /** Clicks through consent to the merchant's callback and redeems the code there. */
  async function consentAndRedeem(page: Page, start: AuthorizationStart, merchant = config) {
    // The passkey script navigates on its own once the server has answered.
    await page.locator('h1', { hasText: en['consent.title'] }).waitFor();
    const request = page.waitForRequest((r) => r.url().startsWith(CALLBACK) && r.isNavigationRequest());
    await button(page, en['consent.allow']!).click();
    const callback = new URL((await request).url());
    // The page has arrived at the merchant: a navigation started next does not race this one.
    await page.waitForURL((url) => url.toString().startsWith(CALLBACK));
    return (await redeemCode(merchant, callback, start)).claims;
  }

  it('adds a passkey on the account page and signs in with it alone at a merchant: acr and amr say so', async () => {
    const { device: first, credentials } = await personWithPasskey();
    const other = await deviceWith(credentials);
    try {
      const start = await startAuthorization(config);
      await other.page.goto(start.url.toString());
      expect(await heading(other.page)).toBe(en['login.title']);
      // Nothing typed: the authenticator offers its discoverable passkey.
      await button(other.page, en['passkey.sign_in']!).click();
      const claims = await consentAndRedeem(other.page, start);
      expect(claims).toMatchObject({ acr: ACR.phishingResistant, amr: ['hwk', 'user'] });
      // The account page shows when it was last used.
      await first.page.reload();
      expect(await first.page.locator('section.passkey-item .hint').textContent()).toContain('last used');
    } finally {
      await first.context.close();
      await other.context.close();
    }
  });

  it('asks for the passkey after the password once turned on; renames; removing the last turns it off', async () => {
    const { login, device: account, credentials } = await personWithPasskey();
    const other = await deviceWith(credentials);
    try {
      await button(account.page, en['passkeys.turn_on']!).click();
      await account.page.waitForURL(/\?done=second_factor_on$/);
      expect(await account.page.locator('main').textContent()).toContain(en['passkeys.last_turns_off']);

      const start = await startAuthorization(config);
      await other.page.goto(start.url.toString());
      await other.page.locator('#login').fill(login);
      await other.page.locator('#password').fill(PASSWORD);
      await button(other.page, en['login.submit']!).click();
      expect(await heading(other.page)).toBe(en['passkey.second.title']);
      await button(other.page, en['passkey.second.submit']!).click();
      const claims = await consentAndRedeem(other.page, start);
      expect(claims).toMatchObject({ acr: ACR.phishingResistant, amr: ['pwd', 'hwk', 'user', 'mfa'] });

      await account.page.locator('#name-1').fill('Work phone');
      await button(account.page, en['passkeys.rename']!).click();
      await account.page.waitForURL(/\?done=renamed$/);
      expect(await account.page.locator('section.passkey-item h3').allTextContents()).toEqual(['Work phone']);

      await button(account.page, en['passkeys.remove']!).click();
      await account.page.waitForURL(/\?done=removed_last$/);
      expect(await account.page.locator('p[role="status"]').textContent()).toBe(en['passkeys.done.removed_last']);
      expect(await account.page.locator('main').textContent()).toContain(en['passkeys.second_factor_needs_passkey']);

      // The removed passkey no longer signs in, and the page says why.
      // Signed in already in this browser: prompt=login shows the sign-in page again.
      const again = await startAuthorization(config, { prompt: 'login' });
      await other.page.goto(again.url.toString());
      await button(other.page, en['passkey.sign_in']!).click();
      await other.page.locator('[data-passkey-error]:not([hidden])').waitFor();
      expect(await other.page.locator('[data-passkey-error]').textContent()).toBe(en['problem.passkey-unknown']);
    } finally {
      await account.context.close();
      await other.context.close();
    }
  });

  it('signs a synced passkey in at a merchant that requires passkeys, as swk', async () => {
    const { device: d } = await personWithPasskey({ backupEligible: true });
    try {
      const start = await startAuthorization(strictConfig);
      await d.page.goto(start.url.toString());
      expect(await d.page.locator('p.notice').textContent()).toBe(en['login.passkey_required']);
      await button(d.page, en['passkey.sign_in']!).click();
      const claims = await consentAndRedeem(d.page, start, strictConfig);
      expect(claims).toMatchObject({ acr: ACR.phishingResistant, amr: ['swk', 'user'] });
    } finally {
      await d.context.close();
    }
  });
});
