import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as oidc from 'openid-client';
import { ENGINE } from '../helpers/db.js';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  personBrowser,
  registerAndSignIn,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

// A person's security page over real HTTP: their sessions (from two browsers), ending one or all
// the others, changing the password, and the security log of sign-ins and changes behind it.

const zh = JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', 'zh-CN.json'), 'utf8')) as Record<
  string,
  string
>;
const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const PASSWORD = 'correct horse battery';
const text = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');
const MAX_FAILURES = 3;
const LOGGED_OUT = `${CALLBACK}/logged-out`;

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

// Sessions live in the database, or in Redis when REDIS_URL is set (src/oidc/redis-sessions.ts).
describe.each([
  ['the database', undefined],
  ['Redis', TEST_REDIS_URL],
])(`account security (${ENGINE}, sessions in %s)`, (_store, redisUrl) => {
  let running: Running;
  let url: (path: string) => string;

  beforeAll(async () => {
    running = await startTestPlatform({
      ...(redisUrl ? { redisUrl } : {}),
      ttl: { session: 3600, sessionAbsolute: 7200 },
      rateLimits: { signIn: { perLogin: { maxFailures: MAX_FAILURES, window: 600, lockDuration: 600 } } },
    });
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** A new account, signed in on its security page from a browser that says it is `userAgent`. */
  async function newPerson(userAgent: string): Promise<{ login: string; agent: UserAgent }> {
    const agent = new UserAgent(undefined, userAgent);
    const login = newLogin();
    const signInPage = await agent.navigate(url('/account/security'));
    const href = /<a href="([^"]*\/register)"/.exec(signInPage.html)![1]!;
    const page = await registerAndSignIn(agent, await agent.navigate(new URL(href, signInPage.url).toString()), {
      login,
      password: PASSWORD,
    });
    expect(page.url).toBe(url('/account/security'));
    return { login, agent };
  }

  /** Signs the account in from another browser; returns that browser on the security page. */
  async function signInElsewhere(login: string, userAgent: string, password = PASSWORD): Promise<UserAgent> {
    const agent = new UserAgent(undefined, userAgent);
    const signInPage = await agent.navigate(url('/account/security'));
    const page = await agent.submit(formAction(signInPage, '/login'), { login, password });
    expect(page.url).toBe(url('/account/security'));
    return agent;
  }

  const securityPage = (agent: UserAgent) => agent.navigate(url('/account/security'));
  /** Each session row's device cell, whether it is this browser, and the address of its end button. */
  const sessionsOn = (page: Page) =>
    [...page.html.matchAll(/<tr>\s*<td>([\s\S]*?)<\/td>[\s\S]*?action="([^"]+\/end)"[\s\S]*?<\/tr>/g)].map((m) => ({
      device: text(m[1]!).trim(),
      current: m[1]!.includes(zh['security.this_session']!),
      end: new URL(m[2]!, page.url).toString(),
    }));
  const isSignedIn = async (agent: UserAgent) => (await securityPage(agent)).url === url('/account/security');
  const kinds = async (login: string) => {
    const account = await running.platform.db('accounts').where({ login }).first();
    return (await running.platform.securityLog.recent(account.id, 100)).map((e) => e.kind).reverse();
  };

  it('lists the sessions of two browsers with their device, and ends the other one', async () => {
    const { login, agent } = await newPerson(CHROME_WINDOWS);
    const other = await signInElsewhere(login, FIREFOX_LINUX);

    const page = await securityPage(agent);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const rows = sessionsOn(page);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.current)!.device).toContain('Chrome on Windows');
    expect(rows.find((r) => !r.current)!.device).toContain('Firefox on Linux');
    expect(text(page.html)).toContain(zh['amr.pwd']);

    // The other browser's session, ended from this one.
    const otherUid = sessionsOn(page).find((row) => !row.current)!.end;
    expect(otherUid).toMatch(/\/account\/sessions\/[A-Za-z0-9_-]+\/end$/);
    const ended = await agent.submit(otherUid, {});
    expect(ended.url).toBe(url('/account/security?session_ended=1'));
    expect(text(ended.html)).toContain(zh['security.session_ended']);
    expect(sessionsOn(ended)).toHaveLength(1);

    expect(await isSignedIn(other)).toBe(false);
    expect(await isSignedIn(agent)).toBe(true);
    expect(await kinds(login)).toEqual(['sign_in', 'sign_in', 'session_ended']);

    // A session uid that is not this account's (or is gone) is not found, and nothing is recorded.
    const again = await agent.submit(otherUid, {});
    expect(again.status).toBe(404);
    expect(await kinds(login)).toEqual(['sign_in', 'sign_in', 'session_ended']);
  });

  it('will not end a session of another account', async () => {
    const alice = await newPerson(CHROME_WINDOWS);
    const bob = await newPerson(FIREFOX_LINUX);
    const bobsEnd = sessionsOn(await securityPage(bob.agent))[0]!.end;
    const bobsUid = /sessions\/([^/]+)\/end$/.exec(bobsEnd)![1]!;
    // Alice's browser posts Bob's session uid; she was never shown that form, so has no token for it.
    await securityPage(alice.agent);
    const f = await alice.agent.navigate(url(`/account/sessions/${bobsUid}/end`), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'x' }).toString(),
    });
    expect(f.status).toBe(403); // no valid token for that form: refused before anything runs
    expect(await isSignedIn(bob.agent)).toBe(true);
    expect(await running.platform.sessions.end((await accountOf(alice.login)).id, bobsUid, {})).toBe(false);
    expect(await isSignedIn(bob.agent)).toBe(true);
  });

  const accountOf = async (login: string) => running.platform.db('accounts').where({ login }).first();

  it('signs out everywhere else with one button', async () => {
    const { login, agent } = await newPerson(CHROME_WINDOWS);
    const others = [await signInElsewhere(login, FIREFOX_LINUX), await signInElsewhere(login, 'curl/8.0')];
    const page = await securityPage(agent);
    // Three sessions; curl is no browser a person would recognise, so its row says so.
    expect(sessionsOn(page).map((r) => r.device.split(' 127.0.0.1')[0])).toEqual(
      expect.arrayContaining(['Chrome on Windows', 'Firefox on Linux', 'Unknown browser']),
    );
    expect(sessionsOn(page)).toHaveLength(3);
    const done = await agent.submit(formAction(page, '/account/sessions/end-others'), {});
    expect(done.url).toBe(url('/account/security?others_ended=2'));
    expect(text(done.html)).toContain(zh['security.others_ended']!.replace('{count}', '2'));
    for (const other of others) expect(await isSignedIn(other)).toBe(false);
    expect(await isSignedIn(agent)).toBe(true);
    expect((await kinds(login)).at(-1)).toBe('other_sessions_ended');
  });

  it('changes the password only with the current one, and signs out every other session', async () => {
    const { login, agent } = await newPerson(CHROME_WINDOWS);
    const other = await signInElsewhere(login, FIREFOX_LINUX);
    const change = async (fields: Record<string, string>) =>
      agent.submit(formAction(await securityPage(agent), '/account/password'), fields);

    const wrong = await change({ current_password: 'not the password', new_password: 'a brand new secret' });
    expect(wrong.status).toBe(401);
    expect(text(wrong.html)).toContain(zh['error.current_password_wrong']);

    const withLogin = await change({ current_password: PASSWORD, new_password: `${login}!x` });
    expect(withLogin.status).toBe(400);
    expect(text(withLogin.html)).toContain(zh['error.password_login']);
    const common = await change({ current_password: PASSWORD, new_password: 'password123' });
    expect(text(common.html)).toContain(zh['error.password_common']);
    const same = await change({ current_password: PASSWORD, new_password: PASSWORD });
    expect(text(same.html)).toContain(zh['error.password_unchanged']);
    const missing = await change({ current_password: PASSWORD });
    expect(missing.status).toBe(400);
    // Nothing changed: the other browser is still signed in, the old password still works.
    expect(await isSignedIn(other)).toBe(true);

    const done = await change({ current_password: PASSWORD, new_password: 'a brand new secret' });
    expect(done.url).toBe(url('/account/security?password_changed=1&others_ended=1'));
    expect(text(done.html)).toContain(zh['security.password_changed']!.replace('{count}', '1'));
    expect(await isSignedIn(other)).toBe(false);
    expect(await isSignedIn(agent)).toBe(true);

    // The old password no longer signs in; the new one does.
    const third = new UserAgent();
    const signInPage = await third.navigate(url('/account'));
    const refused = await third.submit(formAction(signInPage, '/login'), { login, password: PASSWORD });
    expect(refused.status).toBe(401);
    await signInElsewhere(login, FIREFOX_LINUX, 'a brand new secret');

    expect(await kinds(login)).toEqual([
      'sign_in',
      'sign_in',
      'sign_in_failed',
      'password_changed',
      'sign_in_failed',
      'sign_in',
    ]);
  });

  it('records failed sign-ins and the lockout against the account, and shows them to its person', async () => {
    const { login, agent } = await newPerson(CHROME_WINDOWS);
    const attacker = new UserAgent(undefined, FIREFOX_LINUX);
    const signInPage = await attacker.navigate(url('/account'));
    const statuses = [];
    for (let i = 0; i < MAX_FAILURES; i += 1)
      statuses.push(
        (await attacker.submit(formAction(signInPage, '/login'), { login, password: `guess ${i}` })).status,
      );
    // The failure that reaches the limit is answered with the lockout already.
    expect(statuses).toEqual([401, 401, 429]);
    const locked = await attacker.submit(formAction(signInPage, '/login'), { login, password: PASSWORD });
    expect(locked.status).toBe(429);

    const page = await securityPage(agent);
    const activity = text(page.html.slice(page.html.indexOf(zh['security.activity']!)));
    expect(activity).toContain(zh['security.kind.sign_in_failed']);
    expect(activity).toContain(zh['security.kind.sign_in_locked']);
    expect(activity).toContain('Firefox on Linux');
    // Three wrong passwords, the lockout they caused, and the right password refused while locked.
    expect(await kinds(login)).toEqual([
      'sign_in',
      'sign_in_failed',
      'sign_in_failed',
      'sign_in_failed',
      'sign_in_locked',
      'sign_in_locked',
    ]);

    // A login nobody has: the address is recorded for the operator, against no account.
    const before = await running.platform.db('security_events').whereNull('account_id').count({ n: '*' }).first();
    await attacker.submit(formAction(signInPage, '/login'), { login: newLogin(), password: 'whatever it is' });
    const after = await running.platform.db('security_events').whereNull('account_id').count({ n: '*' }).first();
    expect(Number(after!.n)).toBe(Number(before!.n) + 1);
  });

  it('records a sign-out at a merchant-initiated logout and drops the session from the list', async () => {
    const { platform } = running;
    const merchant = await addMerchant(platform, { postLogoutRedirectUris: [LOGGED_OUT] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret!);
    const login = newLogin();
    const browser = personBrowser(CHROME_WINDOWS);
    const start = await startAuthorization(config, { scope: 'openid' });
    const callback = await signInAndConsent(browser, start.url, { login, password: PASSWORD, register: true });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), {
      pkceCodeVerifier: start.verifier,
      expectedState: start.state,
      expectedNonce: start.nonce,
    });
    const account = await accountOf(login);
    expect(await platform.sessions.list(account.id)).toHaveLength(1);

    const logout = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
    });
    const question = await browser.navigate(logout.toString());
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.html)![1]!;
    const done = await browser.submit(formAction(question, '/session/end/confirm'), { xsrf, logout: 'yes' });
    expect(done.url).toBe(LOGGED_OUT);
    expect(await platform.sessions.list(account.id)).toHaveLength(0);
    expect((await kinds(login)).at(-1)).toBe('signed_out');
  });

  it('keeps a session no longer than its absolute lifetime, however recently it was used', async () => {
    const { login, agent } = await newPerson(CHROME_WINDOWS);
    await securityPage(agent);
    const [session] = await running.platform.sessions.list((await accountOf(login)).id);
    const lifetime = (session!.expiresAt.getTime() - session!.signedInAt.getTime()) / 1000;
    expect(lifetime).toBeGreaterThan(3500);
    expect(lifetime).toBeLessThanOrEqual(3600 + 2);
  });

  it('prunes events past their retention', async () => {
    const { login } = await newPerson(CHROME_WINDOWS);
    const account = await accountOf(login);
    const old = new Date(Date.now() - 181 * 86_400_000);
    await running.platform.db('security_events').insert({ account_id: account.id, kind: 'sign_in', at: old });
    expect(await kinds(login)).toEqual(['sign_in', 'sign_in']);
    const pruned = await running.platform.securityLog.prune();
    expect(pruned.events).toBeGreaterThanOrEqual(1);
    expect(await kinds(login)).toEqual(['sign_in']);
  });
});
