import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { PLATFORM_CLIENT_ID } from '../../src/clients/service.js';
import { PlatformError } from '../../src/errors.js';
import { purgeExpiredPayloads } from '../../src/oidc/purge.js';
import { RateLimits } from '../../src/rate-limits/service.js';
import { ENGINE } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { addMerchant, discover, newLogin, startAuthorization } from '../helpers/merchant.js';
import { startPlatform, startTestPlatform, type RunningPlatform } from '../helpers/platform.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';
import { within } from '../helpers/wait.js';

// Rate limits over real HTTP: failed sign-ins per login and per IP, registrations per
// IP, verification submissions per account, check API calls per merchant and token requests per
// client and per IP. Each test uses its own client IPs (X-Forwarded-For, trusted here), so the
// limits of one test do not reach the next.

const locale = (name: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${name}.json`), 'utf8')) as Record<
    string,
    string
  >;
const zh = locale('zh-CN');
const en = locale('en');
const message = (messages: Record<string, string>, key: string, params: Record<string, string> = {}) =>
  Object.entries(params).reduce((s, [k, v]) => s.replace(`{${k}}`, v), messages[key]!);
/** The page's text as a person reads it (nunjucks escapes a few characters). */
const text = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

const PASSWORD = 'correct horse battery';
const OVERRIDES = {
  trustProxy: true,
  verification: { checkRatePerMinute: 2 },
  rateLimits: {
    signIn: {
      perLogin: { maxFailures: 3, window: 900, lockDuration: 900 },
      perIp: { maxFailures: 5, window: 60, lockDuration: 60 },
    },
    registration: { perIp: { max: 2, window: 3600 } },
    verification: { perAccount: { max: 2, window: 3600 } },
    token: {
      perClient: { max: 3, window: 60 },
      failuresPerClientIp: { maxFailures: 3, window: 60, lockDuration: 60 },
      perIp: { max: 12, window: 60 },
    },
  },
};

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

describe(`rate limits (${ENGINE})`, () => {
  let running: Running;
  let url: (path: string) => string;

  beforeAll(async () => {
    running = await startTestPlatform(OVERRIDES);
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
  });

  const lockouts = async () =>
    (await running.platform.audit.integrateAll(),
    await running.platform.audit.search({ types: ['security.rate_limited'] }, 1000)).map(
      (row) =>
        JSON.parse((row as unknown as { leaf: string }).leaf) as {
          actor: unknown;
          subjects: Record<string, string>;
          payload: Record<string, unknown>;
        },
    );

  /** Posts the page's form to `action` as a browser at `ip` would (its CSRF field included when it has one). */
  function post(
    agent: UserAgent,
    page: Page,
    action: string,
    fields: Record<string, string>,
    headers: Record<string, string>,
  ) {
    const target = formAction(page, action);
    const form = [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].find(
      ([, attributes]) => new URL(/action="([^"]+)"/.exec(attributes!)![1]!, page.url).toString() === target,
    );
    const csrf = /<input type="hidden" name="_csrf" value="([^"]*)"/.exec(form?.[2] ?? '')?.[1];
    return agent.navigate(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(csrf ? { _csrf: csrf, ...fields } : fields).toString(),
    });
  }

  /** A fresh browser on the platform's sign-in page (through the first-party account client). */
  async function signInPage(): Promise<{ agent: UserAgent; page: Page }> {
    const agent = new UserAgent();
    const page = await agent.navigate(url('/account/login'));
    expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    return { agent, page };
  }

  async function signIn(login: string, password: string, ip: string, headers: Record<string, string> = {}) {
    const { agent, page } = await signInPage();
    return {
      agent,
      page: await post(agent, page, '/login', { login, password }, { 'x-forwarded-for': ip, ...headers }),
    };
  }

  const account = async () => {
    const login = newLogin();
    const created = await running.platform.accounts.register({ login, password: PASSWORD });
    return { login, id: created.id };
  };

  it('locks a login after its failures, says so in both languages, and refuses even the right password', async () => {
    const { login } = await account();
    for (let i = 0; i < 2; i += 1) {
      const { page } = await signIn(login, 'wrong password', '10.0.0.1');
      expect(page.status).toBe(401);
      expect(text(page.html)).toContain(zh['error.invalid_credentials']);
    }
    const third = (await signIn(login, 'wrong password', '10.0.0.1')).page;
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(890);
    expect(text(third.html)).toContain(message(zh, 'error.sign_in_locked', { minutes: '15' }));

    // Locked: the right password, spelled differently, from elsewhere, in English.
    const right = (await signIn(` ${login.toUpperCase()} `, PASSWORD, '10.0.0.2', { 'accept-language': 'en' })).page;
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(text(right.html)).toContain(message(en, 'error.sign_in_locked', { minutes: '15' }));

    // A JSON client gets problem+json.
    const json = (await signIn(login, PASSWORD, '10.0.0.3', { accept: 'application/json' })).page;
    expect(json.status).toBe(429);
    expect(json.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(json.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.parse(json.html)).toMatchObject({ type: 'urn:realname:problem:rate-limited', status: 429 });

    // Another login from the first IP still signs in.
    const other = await account();
    expect((await signIn(other.login, PASSWORD, '10.0.0.1')).page.url).toBe(url('/account'));

    // One event for the lockout, naming neither the login nor the IP.
    const events = (await lockouts()).filter((e) => e.payload.key_kind === 'login');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { type: 'system' },
      payload: { limit: 'sign_in', key_kind: 'login', retry_after: 900 },
    });
    expect(JSON.stringify(events[0])).not.toMatch(new RegExp(`${login.split('@')[0]}|10\\.0\\.0`));
  });

  // Failures were once counted only after the password check: every attempt already in flight got
  // its password checked, so a burst had as many guesses as it had requests.
  it('checks no more passwords than the limit when guesses come at once', async () => {
    const { counters, audit, config } = running.platform;
    const limits = new RateLimits(counters, audit, {
      limits: config.rateLimits,
      checkPerMinute: 100,
      keySecret: 'burst test key',
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let checked = 0;
    // An attempt is in once it is held at its password check or has been answered without one.
    const arrived = new Set<number>();
    let allIn!: () => void;
    const everyAttemptIn = new Promise<void>((resolve) => (allIn = resolve));
    const arrive = (attempt: number) => arrived.add(attempt).size === 12 && allIn();
    const login = newLogin();
    // One address each: the per-login lock alone decides (a shared address's own count, raced in
    // another order, could refuse some of the first three and make fewer than the limit checked).
    const attempts = Array.from({ length: 12 }, (_, i) =>
      limits
        .signIn({ ip: `10.0.5.${i + 1}`, login }, async () => {
          checked += 1;
          arrive(i);
          await gate; // every password check is held until all attempts are in
          throw new PlatformError('invalid-credentials', 401, 'wrong login or password');
        })
        .catch((err: PlatformError) => {
          arrive(i);
          return err.status;
        }),
    );
    await within(everyAttemptIn, 'every attempt to be held at its check or answered');
    release();
    const statuses = await Promise.all(attempts);
    expect(checked).toBe(3);
    expect(statuses.sort()).toEqual([401, 401, ...Array(10).fill(429)]);
    // Locked now, the right password too.
    await expect(limits.signIn({ ip: '10.0.6.1', login }, async () => 'signed in')).rejects.toMatchObject({
      status: 429,
    });
  });

  // A success used to delete the login's row even when guesses sent at the same time had just
  // locked it: the lock and its count vanished, and the guesser had a fresh budget.
  it('keeps a lock that a concurrent success would have cleared', async () => {
    const { counters, audit, config } = running.platform;
    const limits = new RateLimits(counters, audit, {
      limits: {
        ...config.rateLimits,
        signIn: { ...config.rateLimits.signIn, perLogin: { maxFailures: 3, window: 900, lockDuration: 900 } },
      },
      checkPerMinute: 100,
      keySecret: 'race test key',
    });
    const login = newLogin();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let counted!: () => void;
    const inFlight = new Promise<void>((resolve) => (counted = resolve));
    // The owner's right password, counted and being checked...
    const owner = limits.signIn({ ip: '10.0.11.1', login }, async () => {
      counted();
      await gate;
      return 'signed in';
    });
    await inFlight;
    // ...while a guesser's wrong ones lock the login.
    const wrong = () =>
      limits
        .signIn({ ip: '10.0.11.2', login }, async () => {
          throw new PlatformError('invalid-credentials', 401, 'wrong login or password');
        })
        .catch((err: PlatformError) => err.status);
    expect([await wrong(), await wrong()]).toEqual([401, 429]);
    release();
    await expect(owner).resolves.toBe('signed in');
    // Still locked: the success gave back only its own count, the lock stayed.
    expect(await wrong()).toBe(429);
    await expect(limits.signIn({ ip: '10.0.11.1', login }, async () => 'signed in')).rejects.toMatchObject({
      status: 429,
    });
  });

  it('clears a login’s failures when it signs in', async () => {
    const { login } = await account();
    for (let i = 0; i < 2; i += 1) expect((await signIn(login, 'wrong password', '10.0.1.1')).page.status).toBe(401);
    expect((await signIn(login, PASSWORD, '10.0.1.1')).page.url).toBe(url('/account'));
    for (let i = 0; i < 2; i += 1) expect((await signIn(login, 'wrong password', '10.0.1.2')).page.status).toBe(401);
    expect((await signIn(login, 'wrong password', '10.0.1.2')).page.status).toBe(429);
  });

  it('locks an IP after its failures across logins, and only that IP', async () => {
    const { login } = await account();
    const before = (await lockouts()).length;
    for (let i = 0; i < 4; i += 1)
      expect((await signIn(newLogin(), 'wrong password', '10.0.2.1')).page.status).toBe(401);
    const fifth = (await signIn('not a login', 'wrong password', '10.0.2.1')).page;
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await signIn(login, PASSWORD, '10.0.2.1')).page.status).toBe(429);
    expect((await signIn(login, PASSWORD, '10.0.2.2')).page.url).toBe(url('/account'));
    const events = (await lockouts()).slice(before);
    expect(events.map((e) => e.payload)).toEqual([{ limit: 'sign_in', key_kind: 'ip', retry_after: 60 }]);
  });

  it('counts a forged X-Forwarded-For chain against the address the proxy appended', async () => {
    // A client writes entries of its own; the trusted proxy appends the address it saw, last.
    for (let i = 0; i < 4; i += 1)
      expect((await signIn(newLogin(), 'wrong password', `203.0.113.${i}, 10.0.3.1`)).page.status).toBe(401);
    expect((await signIn(newLogin(), 'wrong password', '198.51.100.7, 10.0.3.1')).page.status).toBe(429);
    // The forged addresses themselves were never counted.
    const { login } = await account();
    expect((await signIn(login, PASSWORD, '203.0.113.0')).page.url).toBe(url('/account'));
  });

  // Shared stores: on PGlite the platform counts in memory, exact for its one process; two
  // instances in one test process share its database but not their memory.
  const sharedStores: Array<[string, Record<string, unknown>, string]> = [
    ...(ENGINE === 'postgres' ? [['the database', {}, '10.0.3.9'] as [string, Record<string, unknown>, string]] : []),
    ['Redis', { redisUrl: TEST_REDIS_URL }, '10.0.3.10'],
  ];
  it.each(sharedStores)('counts on every instance that shares %s', async (_store, store, ip) => {
    // Same issuer: two instances of one deployment, each reached on its own port.
    const instances: RunningPlatform[] = [];
    try {
      for (let i = 0; i < 2; i += 1)
        instances.push(await startPlatform(running.database, { ...OVERRIDES, ...store, issuer: running.issuer }));
      expect(instances.map((i) => i.platform.counters.kind)).toEqual(
        Array(2).fill(store.redisUrl ? 'redis' : 'database'),
      );
      const [first, second] = instances.map((i) => `http://127.0.0.1:${(i.server.address() as AddressInfo).port}`);
      const unknown = (base: string) =>
        fetch(`${base}/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('shared-count:secret').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            'x-forwarded-for': ip,
          },
          body: 'grant_type=client_credentials',
        });
      const statuses = [];
      for (const base of [first!, second!, first!, second!]) statuses.push((await unknown(base)).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      // No such client: its lockout names none.
      expect((await lockouts()).at(-1)).toMatchObject({
        subjects: {},
        payload: { limit: 'token', key_kind: 'client_ip' },
      });
    } finally {
      for (const instance of instances) await instance.stop();
    }
  });

  it('limits registrations per IP', async () => {
    const register = async (ip: string) => {
      const { agent, page } = await signInPage();
      const form = await agent.navigate(
        new URL(/<a href="([^"]*\/register)"/.exec(page.html)![1]!, page.url).toString(),
      );
      return post(agent, form, '/register', { login: newLogin(), password: PASSWORD }, { 'x-forwarded-for': ip });
    };
    const registered = (page: Page) =>
      expect({ status: page.status, notice: text(page.html).includes(zh['register.done']!) }).toEqual({
        status: 200,
        notice: true,
      });
    for (let i = 0; i < 2; i += 1) registered(await register('10.0.4.1'));
    const third = await register('10.0.4.1');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(text(third.html)).toContain(zh['error.rate-limited']);
    registered(await register('10.0.4.2'));
  });

  it('registers no more than the limit of a burst of registrations', async () => {
    const forms = [];
    for (let i = 0; i < 12; i += 1) {
      const { agent, page } = await signInPage();
      forms.push({
        agent,
        form: await agent.navigate(new URL(/<a href="([^"]*\/register)"/.exec(page.html)![1]!, page.url).toString()),
        login: newLogin(),
      });
    }
    const answers = await Promise.all(
      forms.map(({ agent, form, login }) =>
        post(agent, form, '/register', { login, password: PASSWORD }, { 'x-forwarded-for': '10.0.12.1' }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(2).fill(200), ...Array(10).fill(429)]);
    const created = await running.platform
      .db('accounts')
      .whereIn(
        'login',
        forms.map((f) => f.login),
      )
      .count<[{ count: string | number }]>('* as count');
    expect(Number(created[0]!.count)).toBe(2);
  });

  it('limits verification submissions per account', async () => {
    const person = await account();
    const { agent } = await signIn(person.login, PASSWORD, '10.0.5.1');
    expect((await agent.navigate(url('/account/verify'))).status).toBe(200);
    const submit = () => {
      const form = new FormData();
      for (const [name, value] of Object.entries({
        document_type: 'cn_resident_id',
        name: '张三',
        document_number: '110105194912310021',
      }))
        form.append(name, value);
      return agent.upload(url('/account/verify'), form);
    };
    for (let i = 0; i < 2; i += 1) expect((await submit()).status).toBe(400);
    const third = await submit();
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(text(third.html)).toContain(zh['verify.error.rate-limited']);

    // One budget per account: the same form inside a merchant's sign-in is refused too.
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const start = await startAuthorization(await discover(running.issuer, merchant.client_id, merchant.client_secret), {
      scope: 'openid realname',
    });
    const form = await agent.navigate(start.url.toString());
    expect(new URL(form.url).pathname).toMatch(/^\/interaction\/[^/]+\/verify$/);
    const fields = new FormData();
    for (const [name, value] of Object.entries({
      document_type: 'cn_resident_id',
      name: '王五',
      document_number: '440524198001010013',
    }))
      fields.append(name, value);
    const inMerchantFlow = await agent.upload(formAction(form, '/verify'), fields);
    expect(inMerchantFlow.status).toBe(429);
    expect(inMerchantFlow.headers.get('retry-after')).toMatch(/^\d+$/);
    const events = (await lockouts()).filter((e) => e.payload.limit === 'verification');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { type: 'account', id: person.id },
      subjects: { account: person.id },
      payload: { key_kind: 'account' },
    });
  });

  it('evaluates no more than the limit of a burst of verification submissions, and answers none with a 500', async () => {
    const person = await account();
    const { agent } = await signIn(person.login, PASSWORD, '10.0.13.1');
    expect((await agent.navigate(url('/account/verify'))).status).toBe(200);
    const submit = () => {
      const form = new FormData();
      for (const [name, value] of Object.entries({
        document_type: 'cn_resident_id',
        name: '张三',
        document_number: '11010519491231002X',
      }))
        form.append(name, value);
      return agent.upload(url('/account/verify'), form);
    };
    const statuses = (await Promise.all(Array.from({ length: 12 }, submit))).map((page) => page.status);
    expect(statuses.filter((status) => status === 429)).toHaveLength(10);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  });

  it('answers no more than the limit of a burst of check API calls', async () => {
    const merchant = await addMerchant(running.platform);
    const { access_token: accessToken } = (
      await token('10.0.14.1', { basic: [merchant.client_id, merchant.client_secret] })
    ).body;
    const calls = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(url('/api/verifications/check'), {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            document_type: 'cn_resident_id',
            document_number: '11010519491231002X',
            name: '张三',
          }),
        }),
      ),
    );
    expect(calls.map((c) => c.status).sort()).toEqual([200, 200, ...Array(10).fill(429)]);
  });

  /** A token request with client credentials in HTTP Basic, or a form with `client_id`, from `ip`. */
  const token = async (
    ip: string,
    auth: { basic: [string, string] } | { body: Record<string, string> },
    body: Record<string, string> = { grant_type: 'client_credentials', scope: 'realname:check' },
  ) => {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': ip,
    };
    if ('basic' in auth)
      headers.authorization = `Basic ${Buffer.from(auth.basic.map(encodeURIComponent).join(':')).toString('base64')}`;
    const response = await fetch(url('/token'), {
      method: 'POST',
      headers,
      body: new URLSearchParams({ ...body, ...('body' in auth ? auth.body : {}) }).toString(),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, string>,
    };
  };

  it('limits check API calls per merchant', async () => {
    const merchant = await addMerchant(running.platform);
    const { access_token: accessToken } = (
      await token('10.0.6.1', { basic: [merchant.client_id, merchant.client_secret] })
    ).body;
    const check = () =>
      fetch(url('/api/verifications/check'), {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ document_type: 'cn_resident_id', document_number: '11010519491231002X', name: '张三' }),
      });
    for (let i = 0; i < 2; i += 1) expect((await check()).status).toBe(200);
    for (let i = 0; i < 2; i += 1) {
      const refused = await check();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ type: 'urn:realname:problem:rate-limited' });
    }
    const events = (await lockouts()).filter(
      (e) => e.payload.limit === 'check_api' && e.subjects.client === merchant.client_id,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { type: 'client', id: merchant.client_id },
      subjects: { client: merchant.client_id },
    });
  });

  it('limits the tokens issued to a client, as an OAuth error with Retry-After', async () => {
    const before = (await lockouts()).length;
    const merchant = await addMerchant(running.platform);
    const basic = { basic: [merchant.client_id, merchant.client_secret] as [string, string] };
    for (let i = 0; i < 3; i += 1) expect((await token(`10.0.7.${i}`, basic)).status).toBe(200);
    const refused = await token('10.0.7.9', basic);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.body).toEqual({
      error: 'invalid_request',
      error_description: `too many requests, retry after ${refused.headers.get('retry-after')} seconds`,
    });
    // Another client is not affected.
    const other = await addMerchant(running.platform);
    expect((await token('10.0.7.9', { basic: [other.client_id, other.client_secret] })).status).toBe(200);
    // The spent quota is the merchant's own doing: its lockout names it.
    const events = (await lockouts()).slice(before);
    expect(events.map((e) => [e.payload.key_kind, e.actor, e.subjects])).toEqual([
      ['client', { type: 'client', id: merchant.client_id }, { client: merchant.client_id }],
    ]);
  });

  it('counts a client_id in the form body, and oidc-provider still reads the whole body', async () => {
    const merchant = await addMerchant(running.platform);
    // oidc-provider finds the client by that client_id and refuses it without its secret.
    const code = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: url('/account/callback') };
    expect(await token('10.0.8.1', { body: { client_id: PLATFORM_CLIENT_ID } }, code)).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    // client_secret_post with a wrong secret: counted per (client_id, IP) like HTTP Basic.
    const wrong = { body: { client_id: merchant.client_id, client_secret: 'guess' } };
    for (let i = 0; i < 3; i += 1) expect((await token('10.0.8.2', wrong)).status).toBe(401);
    expect((await token('10.0.8.2', wrong)).status).toBe(429);
    expect(
      (await token('10.0.8.3', { body: { client_id: merchant.client_id, client_secret: merchant.client_secret } }))
        .status,
    ).toBe(200);
  });

  // Finding 2 of the attack: 330 wrong secrets from 4 addresses locked the merchant out of /token
  // (its right secret from a fresh address got 429, forever), since the limit was keyed by the
  // public client_id before authentication.
  it('never refuses a merchant its right secret because others guessed it, and evaluates at most the limit of a burst of guesses', async () => {
    const before = (await lockouts()).length;
    const merchant = await addMerchant(running.platform);
    const guessers = ['10.0.10.1', '10.0.10.2', '10.0.10.3', '10.0.10.4'];
    const guesses = await Promise.all(
      guessers.flatMap((ip) =>
        Array.from({ length: 10 }, () => token(ip, { basic: [merchant.client_id, 'a guessed secret'] })),
      ),
    );
    const statuses = guesses.map((g) => g.status).sort();
    // 3 secrets evaluated per address (maxFailures), the other 28 of 40 refused unevaluated.
    expect(statuses).toEqual([...Array(12).fill(401), ...Array(28).fill(429)]);
    // Still locked for those addresses...
    expect((await token('10.0.10.1', { basic: [merchant.client_id, 'another guess'] })).status).toBe(429);
    // ...while the merchant, with its secret, from its own address, is served: a code exchange
    // fails only on the code, and its whole quota of tokens is there.
    const redeem = await token(
      '10.0.10.9',
      { basic: [merchant.client_id, merchant.client_secret] },
      {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        redirect_uri: 'http://localhost:8080/callback',
        code_verifier: 'x'.repeat(43),
      },
    );
    expect(redeem).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    for (let i = 0; i < 3; i += 1)
      expect((await token('10.0.10.9', { basic: [merchant.client_id, merchant.client_secret] })).status).toBe(200);
    // One lockout per guessing address, naming the client as a subject only (it was not authenticated).
    const events = (await lockouts()).slice(before).filter((e) => e.payload.key_kind === 'client_ip');
    expect(events).toHaveLength(4);
    for (const event of events)
      expect(event).toMatchObject({
        actor: { type: 'system' },
        subjects: { client: merchant.client_id },
        payload: { limit: 'token', key_kind: 'client_ip', retry_after: 60 },
      });
  });

  it('limits token requests per IP, whatever the client', async () => {
    const statuses = [];
    for (let i = 0; i < 13; i += 1)
      statuses.push((await token('10.0.9.1', { basic: [`unknown-${i}`, 'secret'] })).status);
    expect(statuses).toEqual([...Array(12).fill(401), 429]);
    const events = (await lockouts()).filter((e) => e.payload.limit === 'token' && e.payload.key_kind === 'ip');
    expect(events).toHaveLength(1);
    expect(events[0]!.subjects).toEqual({});
  });
});

// Finding 9 of the attack: 1,000 GET /auth from one address in 7.8 s stored 1,000 interactions.
describe(`anonymous authorization requests (${ENGINE})`, () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform({
      trustProxy: true,
      rateLimits: { authorization: { perIp: { max: 5, window: 60 } } },
    });
  });
  afterAll(async () => {
    await running?.stop();
  });

  const interactions = async () =>
    Number(
      (
        await running.platform
          .db('oidc_payloads')
          .where({ model: 'Interaction' })
          .count<[{ count: string | number }]>('* as count')
      )[0]!.count,
    );

  it('stores no more interactions than the limit for a burst from one address, and purges them once expired', async () => {
    const merchant = await addMerchant(running.platform);
    const start = await startAuthorization(await discover(running.issuer, merchant.client_id, merchant.client_secret), {
      scope: 'openid',
    });
    const before = await interactions();
    const burst = await Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(start.url, { redirect: 'manual', headers: { 'x-forwarded-for': '10.0.15.1' } }),
      ),
    );
    expect(burst.map((r) => r.status).sort()).toEqual([...Array(5).fill(303), ...Array(35).fill(429)]);
    expect(await interactions()).toBe(before + 5);
    const refused = burst.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(text(await refused.text())).toContain(zh['problem.rate-limited']);
    // Another address is not affected.
    expect((await fetch(start.url, { redirect: 'manual', headers: { 'x-forwarded-for': '10.0.15.2' } })).status).toBe(
      303,
    );
    // Expired interactions go with the scheduled purge.
    const purged = await purgeExpiredPayloads(running.platform.db, {
      batchSize: 100,
      now: new Date(Date.now() + (running.platform.config.ttl.interaction + 60) * 1000),
    });
    expect(purged).toBeGreaterThanOrEqual(6);
    expect(await interactions()).toBe(0);
  });
});
