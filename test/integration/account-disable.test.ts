import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as oidc from 'openid-client';
import { accountDisable, accountEnable } from '../../src/cli/account.js';
import type { CliContext } from '../../src/cli/context.js';
import type { Options } from '../../src/cli/options.js';
import { ENGINE } from '../helpers/db.js';
import {
  CALLBACK,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
  startWithMerchant,
} from '../helpers/merchant.js';
import type { startTestPlatform } from '../helpers/platform.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';

// An operator disables an account (OWASP ASVS 5.0 §7.4.2) and enables it again: over real HTTP,
// a person signed in at the platform and at a merchant holding their refresh token. The commands
// run in this process on the platform's own database (PGlite allows one process); cli.test.ts
// runs them as the operator does, in a process of their own.

const zh = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'zh-CN.json'), 'utf8')) as Record<
  string,
  string
>;
const en = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'en.json'), 'utf8')) as Record<
  string,
  string
>;
const PASSWORD = 'correct horse battery';
const text = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');

describe(`disabling an account (${ENGINE})`, () => {
  let running: Awaited<ReturnType<typeof startTestPlatform>>;
  let config: oidc.Configuration;
  let url: (path: string) => string;

  beforeAll(async () => {
    ({ running, config } = await startWithMerchant());
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** An operator command, run on the platform's services; returns what it printed with --json. */
  async function operator(
    command: (ctx: CliContext, options: Options) => Promise<void>,
    options: Options,
  ): Promise<Record<string, unknown>> {
    const printed: Array<Record<string, unknown>> = [];
    const { platform } = running;
    await command(
      {
        json: true,
        print: (r) => printed.push(r),
        admin: async () => platform.admin,
        auditVerifier: async () => platform.admin,
        local: async () => ({ config: platform.config, db: platform.db, services: async () => platform }),
        close: async () => {},
      },
      options,
    );
    expect(printed).toHaveLength(1);
    return printed[0]!;
  }

  /** A person registered through a merchant's authorization, with the merchant's tokens. */
  async function personAtMerchant() {
    const login = newLogin();
    const browser = personBrowser();
    const start = await startAuthorization(config);
    const callback = await signInAndConsent(browser, start.url, { login, password: PASSWORD, register: true });
    expect(callback.url.startsWith(CALLBACK)).toBe(true);
    const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const account = await running.platform.accounts.findByLogin(login);
    return { login, browser, tokens, sub: claims.sub, accountId: account!.id };
  }

  const userinfoStatus = async (accessToken: string) =>
    (await fetch(url('/me'), { headers: { authorization: `Bearer ${accessToken}` } })).status;
  const signInPageOf = async (browser: UserAgent) => browser.navigate(url('/account'));
  const isSignInPage = (page: Page) => /^\/interaction\/[^/]+$/.test(new URL(page.url).pathname);
  const auditEvents = async (accountId: string) => {
    await running.platform.audit.integrateAll();
    const rows = await running.platform.db('audit_events').where({ account_id: accountId }).orderBy('leaf_index');
    return rows.map(
      (row: { leaf: string }) => JSON.parse(row.leaf) as { type: string; actor: unknown; payload: unknown },
    );
  };
  const securityKinds = async (accountId: string) =>
    (await running.platform.securityLog.recent(accountId, 100)).map((e) => e.kind).reverse();

  it('ends the sessions and tokens of a disabled account, refuses its sign-in, and lets it in again once enabled', async () => {
    const person = await personAtMerchant();
    expect((await signInPageOf(person.browser)).url).toBe(url('/account'));
    expect(await userinfoStatus(person.tokens.access_token)).toBe(200);

    const disabled = await operator(accountDisable, { login: person.login, reason: 'ticket 4711' });
    expect(disabled).toEqual({
      account: person.accountId,
      disabled: true,
      changed: true,
      sessions_ended: expect.any(Number),
      tokens_revoked: 2,
    });

    // Nothing is left that acts for the person: no session, no token, no code; the grant stays.
    const rows = await running.platform.db('oidc_payloads').where({ account_id: person.accountId }).select('model');
    expect(rows.map((row: { model: string }) => row.model)).toEqual(['Grant']);
    expect(await userinfoStatus(person.tokens.access_token)).toBe(401);
    await expect(oidc.refreshTokenGrant(config, person.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await oidc.tokenIntrospection(config, person.tokens.access_token)).active).toBe(false);

    // The account page asks to sign in again; the right password is told the account is disabled,
    // a wrong one gets the same answer as ever.
    const signIn = await signInPageOf(person.browser);
    expect(isSignInPage(signIn)).toBe(true);
    const wrong = await person.browser.submit(formAction(signIn, '/login'), {
      login: person.login,
      password: 'not the password',
    });
    expect(wrong.status).toBe(401);
    expect(text(wrong.html)).toContain(zh['error.invalid_credentials']);
    expect(text(wrong.html)).not.toContain(zh['error.account_disabled']);
    const refused = await person.browser.submit(formAction(wrong, '/login'), {
      login: person.login,
      password: PASSWORD,
    });
    expect(refused.status).toBe(403);
    expect(text(refused.html)).toContain(zh['error.account_disabled']);
    const english = await person.browser.navigate(`${signIn.url}?lang=en`);
    const refusedEn = await person.browser.submit(formAction(english, '/login'), {
      login: person.login,
      password: PASSWORD,
    });
    expect(text(refusedEn.html)).toContain(en['error.account_disabled']);

    // Audited with the operator as actor; the reason stays out of the permanent trail.
    const disabledEvents = (await auditEvents(person.accountId)).filter((e) => e.type === 'account.disabled');
    expect(disabledEvents).toEqual([
      expect.objectContaining({
        actor: { type: 'operator' },
        payload: { sessions_ended: expect.any(Number), tokens_revoked: 2 },
      }),
    ]);
    expect(JSON.stringify(disabledEvents)).not.toContain('4711');
    expect(await securityKinds(person.accountId)).toEqual(
      expect.arrayContaining(['account_disabled', 'sign_in_failed', 'sign_in_while_disabled']),
    );

    // Disabling again changes and records nothing.
    const before = {
      audit: (await auditEvents(person.accountId)).length,
      log: (await securityKinds(person.accountId)).length,
    };
    expect(await operator(accountDisable, { login: person.login })).toEqual({
      account: person.accountId,
      disabled: true,
      changed: false,
    });
    expect((await auditEvents(person.accountId)).length).toBe(before.audit);
    expect((await securityKinds(person.accountId)).length).toBe(before.log);

    // Enabled: the person signs in on the same page and is back on their account page, where the
    // security activity lists what happened.
    expect(await operator(accountEnable, { login: person.login })).toEqual({
      account: person.accountId,
      disabled: false,
      changed: true,
    });
    const back = await person.browser.submit(formAction(refusedEn, '/login'), {
      login: person.login,
      password: PASSWORD,
    });
    expect(back.url).toBe(url('/account'));
    const activity = text((await person.browser.navigate(url('/account/security?lang=zh-CN'))).html);
    for (const kind of ['account_disabled', 'account_enabled', 'sign_in_while_disabled'])
      expect(activity).toContain(zh[`security.kind.${kind}`]);
    expect((await auditEvents(person.accountId)).map((e) => e.type)).toEqual(
      expect.arrayContaining(['account.disabled', 'account.enabled']),
    );

    // The merchant's grant was kept (the account page lists it), and the merchant signs the person in again.
    expect(text((await person.browser.navigate(url('/account'))).html)).toContain('Test merchant');
    const start = await startAuthorization(config);
    const callback = await signInAndConsent(person.browser, start.url, { login: person.login, password: PASSWORD });
    const { tokens } = await redeemCode(config, new URL(callback.url), start);
    expect(await userinfoStatus(tokens.access_token)).toBe(200);
  });

  it('asks a session of an account marked disabled to sign in, and refuses userinfo and refresh', async () => {
    // The mark alone, as if a session or token had been made while the operator's command ran.
    const person = await personAtMerchant();
    await running.platform.db('accounts').where({ id: person.accountId }).update({ disabled_at: new Date() });
    // The merchant sends the person back: their session is no sign-in for a disabled account.
    const start = await startAuthorization(config);
    const merchantPage = await person.browser.navigate(start.url.toString());
    expect(isSignInPage(merchantPage)).toBe(true);
    const refused = await person.browser.submit(formAction(merchantPage, '/login'), {
      login: person.login,
      password: PASSWORD,
    });
    expect(refused.status).toBe(403);
    expect(text(refused.html)).toContain(zh['error.account_disabled']);
    expect(await userinfoStatus(person.tokens.access_token)).toBe(401);
    await expect(oidc.refreshTokenGrant(config, person.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(isSignInPage(await signInPageOf(person.browser))).toBe(true);
    const sessions = await running.platform
      .db('oidc_payloads')
      .where({ model: 'Session', account_id: person.accountId });
    expect(sessions).toEqual([]);
  });

  it('names an unknown login instead of disabling anything', async () => {
    await expect(operator(accountDisable, { login: 'nobody@example.test' })).rejects.toThrow(
      'No account has the login nobody@example.test',
    );
    await expect(operator(accountEnable, { login: 'nobody@example.test' })).rejects.toThrow(
      'No account has the login nobody@example.test',
    );
  });
});
