import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { describeInBrowser, startPlatformAndBrowser, type TestBrowser } from '../helpers/browser.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import { newLogin } from '../helpers/merchant.js';
import { type startTestPlatform } from '../helpers/platform.js';

const messages = (locale: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${locale}.json`), 'utf8')) as Record<
    string,
    string
  >;
const zh = messages('zh-CN');
const en = messages('en');
const fill = (message: string, params: Record<string, string>) =>
  Object.entries(params).reduce((s, [k, v]) => s.replace(`{${k}}`, v), message);

const ZHANG = { name: '张三', number: '11010519491231002X' };
const LI = { name: '李四', number: '110101199003074477' };

// A person in a real browser (headless Chromium, JavaScript off) signing up on the platform's own
// account pages and verifying their identity through the guided form.
describeInBrowser(`verifying in a real browser (${ENGINE})`, () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let browser: TestBrowser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    ({ running, browser } = await startPlatformAndBrowser());
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  const path = (page: Page) => new URL(page.url()).pathname;
  const lang = (page: Page) => page.locator('html').getAttribute('lang');
  const heading = (page: Page) => page.locator('h1').textContent();
  const body = (page: Page) => page.locator('main').innerText();

  /** Opens /account in a fresh browser, registers through the sign-in page, lands on the status page. */
  async function signUp(): Promise<Page> {
    context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    const first = await page.goto(`${running.issuer}/account`);
    expect(first?.status()).toBe(200);
    expect(path(page)).toMatch(/^\/interaction\/[^/]+$/);
    expect(await heading(page)).toBe(zh['login.title']);

    await page.getByRole('link', { name: zh['login.register_link'], exact: true }).click();
    expect(await heading(page)).toBe(zh['register.title']);
    await page.locator('#login').fill(newLogin());
    await page.locator('#password').fill('correct horse battery');
    await page.getByRole('button', { name: zh['register.submit'], exact: true }).click();
    // Registered: the sign-in form says so, the login filled in; the password once more.
    expect(await heading(page)).toBe(zh['login.title']);
    expect(await page.locator('p[role="status"]').textContent()).toBe(zh['register.done']);
    await page.locator('#password').fill('correct horse battery');
    await page.getByRole('button', { name: zh['login.submit'], exact: true }).click();

    expect(page.url()).toBe(`${running.issuer}/account`);
    expect(await lang(page)).toBe('zh-CN');
    expect(await heading(page)).toBe(zh['account.title']);
    expect(await body(page)).toContain(zh['account.not_verified']);
    return page;
  }

  /** Follows the link to the form and fills it as the person would. */
  async function fillForm(page: Page, person: { name: string; number: string }) {
    await page.getByRole('link', { name: zh['account.verify_now'], exact: true }).click();
    expect(path(page)).toBe('/account/verify');
    expect(await heading(page)).toBe(zh['verify.title']);
    await page.getByLabel(zh['field.document_type']!).selectOption({ label: '居民身份证' });
    await page.getByLabel(zh['field.name']!).fill(person.name);
    await page.getByLabel(zh['field.document_number']!).fill(person.number);
  }

  async function submit(page: Page) {
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/account/verify'));
    await page.getByRole('button', { name: zh['verify.submit'], exact: true }).click();
    return posted;
  }

  it('registers, verifies by document check, sees the verified status, then reads it in English', async () => {
    const page = await signUp();
    await fillForm(page, ZHANG);
    const response = await submit(page);
    expect(response.status()).toBe(303);

    expect(page.url()).toBe(`${running.issuer}/account?verified=1`);
    expect(await heading(page)).toBe(zh['account.title']);
    const shown = await body(page);
    expect(shown).toContain(zh['account.just_verified']);
    expect(shown).toContain(fill(zh['account.verified']!, { method: zh['method.document']! }));
    expect(await page.locator('dd code').textContent()).toBe(`${'*'.repeat(14)}002X`);
    expect(shown).not.toContain(ZHANG.number);
    expect(shown).not.toContain(ZHANG.name);

    await page.getByRole('link', { name: zh['site.switch_language'], exact: true }).click();
    expect(path(page)).toBe('/account');
    expect(await lang(page)).toBe('en');
    expect(await heading(page)).toBe(en['account.title']);
    const english = await body(page);
    expect(english).toContain(fill(en['account.verified']!, { method: en['method.document']! }));
    expect(english).toContain(en['document.cn_resident_id']);
    expect(english).not.toContain(zh['account.title']);

    // The choice is remembered on the next page.
    await page.getByRole('link', { name: en['account.verify_again'], exact: true }).click();
    expect(path(page)).toBe('/account/verify');
    expect(await lang(page)).toBe('en');
    expect(await heading(page)).toBe(en['verify.title']);
  });

  it('verifies by person-document match with photos chosen in the form', async () => {
    const page = await signUp();
    await fillForm(page, LI);
    await page
      .getByLabel(zh['field.portrait']!)
      .setInputFiles({ name: 'face.png', mimeType: 'image/png', buffer: PNG });
    await page
      .getByLabel(zh['field.document_front']!)
      .setInputFiles({ name: 'card.jpg', mimeType: 'image/jpeg', buffer: JPEG });
    const response = await submit(page);
    expect(response.status()).toBe(303);

    expect(page.url()).toBe(`${running.issuer}/account?verified=1`);
    const shown = await body(page);
    expect(shown).toContain(zh['account.just_verified']);
    expect(shown).toContain(fill(zh['account.verified']!, { method: zh['method.person_match']! }));
    expect(await page.locator('dd code').textContent()).toBe(`${'*'.repeat(14)}4477`);
  });

  it('keeps what was typed and says what is wrong when the number is invalid', async () => {
    const page = await signUp();
    await fillForm(page, { name: ZHANG.name, number: '110105194912310021' });
    const response = await submit(page);
    expect(response.status()).toBe(400);
    expect(path(page)).toBe('/account/verify');
    expect(await page.getByRole('alert').textContent()).toBe(zh['verify.error.document_number']);
    expect(await page.getByLabel(zh['field.name']!).inputValue()).toBe(ZHANG.name);
    expect(await page.getByLabel(zh['field.document_number']!).inputValue()).toBe('110105194912310021');
    expect(await page.getByLabel(zh['field.document_type']!).inputValue()).toBe('cn_resident_id');
  });
});
