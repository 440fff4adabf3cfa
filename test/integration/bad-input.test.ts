import { gzipSync } from 'node:zlib';
import * as oidc from 'openid-client';
import { type startTestPlatform } from '../helpers/platform.js';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
  startWithMerchant,
} from '../helpers/merchant.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';

// Bad input over real HTTP against the real app: each is refused with the right error, in the
// right format (a page for browsers, problem+json for API clients), and writes nothing.

const PASSWORD = 'correct horse battery';
/** U+D800 as a browser never sends it: WTF-8 bytes, percent-encoded (not valid UTF-8). */
const LONE_SURROGATE = '%ED%A0%80';
const HTML = 'text/html';
const JSON_ACCEPT = 'application/json';
const FORM = 'application/x-www-form-urlencoded';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;
type Merchant = Awaited<ReturnType<typeof addMerchant>>;

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const enc = encodeURIComponent;

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ field: string; code: string }>;
}

describe('bad input', () => {
  let running: Running;
  let merchant: Merchant;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ running, merchant, config } = await startWithMerchant());
  });
  afterAll(() => running.stop());

  /** Everything the platform persists about people and OIDC state, to prove nothing was written. */
  async function snapshot() {
    const db = running.platform.db;
    return {
      accounts: await db('accounts').select('id', 'login', 'password_hash', 'updated_at').orderBy('id'),
      payloads: await db('oidc_payloads')
        .select('model', 'id', 'payload', 'consumed_at', 'expires_at')
        .orderBy(['model', 'id']),
    };
  }

  async function accountRows(login: string) {
    return running.platform.db('accounts').where({ login }).select('id');
  }

  /**
   * A person's browser (English pages) at the sign-in page of a fresh authorization request,
   * having been shown the registration form too (so it holds both forms' CSRF tokens).
   */
  async function openLoginPage(cfg = config) {
    const agent = personBrowser();
    await agent.navigate(`${running.issuer}/?lang=en`);
    const start = await startAuthorization(cfg);
    const page = await agent.navigate(start.url.toString());
    expect(page.status).toBe(200);
    formAction(page, '/login');
    const uid = new URL(page.url).pathname.split('/')[2]!;
    const base = `${running.issuer}/interaction/${uid}`;
    formAction(await agent.navigate(`${base}/register`), '/register');
    return { agent, start, page, uid, base };
  }

  /**
   * Posts a raw body with the given content type (null: none) and Accept, following redirects.
   * A urlencoded body gets the form's `_csrf` appended, as the browser would send it; other
   * bodies (and compressed ones) cannot carry it.
   */
  function post(
    agent: UserAgent,
    url: string,
    body: string | Uint8Array,
    options: { type?: string | null; accept?: string; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    const headers: Record<string, string> = {
      accept: options.accept ?? HTML,
      'accept-language': 'en',
      ...options.headers,
    };
    if (options.type !== null) headers['content-type'] = options.type ?? FORM;
    const csrf = headers['content-type'] === FORM && !headers['content-encoding'] ? agent.csrfToken(url) : undefined;
    if (csrf) {
      const field = `${body.length ? '&' : ''}_csrf=${csrf}`;
      body = typeof body === 'string' ? body + field : Buffer.concat([body, Buffer.from(field)]);
    }
    return agent.navigate(url, { method: 'POST', headers, body: body as RequestInit['body'] });
  }

  /** A friendly HTML page: the right status, HTML, an alert, no stack trace or JSON. */
  function expectFriendlyPage(page: Page, statuses: number[]) {
    if (!statuses.includes(page.status)) {
      throw new Error(`status ${page.status}, expected ${statuses.join(' or ')}:\n${page.html.slice(0, 1500)}`);
    }
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.html).toContain('role="alert"');
    expect(page.html).not.toMatch(/\bat .*\.(ts|js):\d+|Error:|"type":/);
  }

  function expectProblem(page: Page, status: number, code: string): Problem {
    expect({ status: page.status, contentType: page.headers.get('content-type') }).toEqual({
      status,
      contentType: expect.stringMatching(/^application\/problem\+json/),
    });
    const problem = JSON.parse(page.html) as Problem;
    expect(problem).toEqual(expect.objectContaining({ type: `urn:realname:problem:${code}`, status }));
    return problem;
  }

  /** The alert text on a page (the error message shown to the person). */
  const alertOf = (page: Page) => /role="alert">([\s\S]*?)<\/(?:p|ul)>/.exec(page.html)?.[1]?.trim();

  describe('malformed sign-in and registration forms', () => {
    let flow: Awaited<ReturnType<typeof openLoginPage>>;
    beforeEach(async () => {
      flow = await openLoginPage();
    });

    // [name, body, content type, statuses on /register, statuses on /login]. The other field is
    // always valid and the login fresh, so only the named defect can cause a rejection. A body
    // that is not a urlencoded form cannot carry the form's CSRF token: 403 before it is read.
    const cases: Array<[string, () => string | Uint8Array, string | null | undefined, number[], number[]]> = [
      ['an empty body', () => '', undefined, [400], [400]],
      ['a missing login', () => form({ password: PASSWORD }), undefined, [400], [400]],
      ['a missing password', () => form({ login: newLogin() }), undefined, [400], [400]],
      ['an empty login', () => form({ login: '', password: PASSWORD }), undefined, [400], [400, 401]],
      ['an empty password', () => form({ login: newLogin(), password: '' }), undefined, [400], [400, 401]],
      ['a blank login', () => form({ login: '   ', password: PASSWORD }), undefined, [400], [400, 401]],
      [
        'an over-long login (263 characters)',
        () => form({ login: `${'a'.repeat(250)}@example.test`, password: PASSWORD }),
        undefined,
        [400],
        [400],
      ],
      [
        'an over-long password (1025 characters)',
        () => form({ login: newLogin(), password: 'p'.repeat(1025) }),
        undefined,
        [400],
        [400],
      ],
      [
        'a password over the 128-character cap',
        () => form({ login: newLogin(), password: 'p'.repeat(129) }),
        undefined,
        [400],
        [400, 401],
      ],
      [
        'a NUL byte in the login',
        () => form({ login: `nul\u0000${newLogin()}`, password: PASSWORD }),
        undefined,
        [400],
        [400],
      ],
      [
        'a NUL byte in the password',
        () => form({ login: newLogin(), password: `correct\u0000horse battery` }),
        undefined,
        [400],
        [400],
      ],
      [
        'a lone surrogate in the login',
        () => `login=x${LONE_SURROGATE}${enc(newLogin())}&password=${enc(PASSWORD)}`,
        undefined,
        [400],
        [400, 401],
      ],
      [
        'a lone surrogate in the password',
        () => `login=${enc(newLogin())}&password=${enc(PASSWORD)}${LONE_SURROGATE}`,
        undefined,
        [400],
        [400, 401],
      ],
      [
        'invalid UTF-8 bytes in the login',
        () =>
          Buffer.concat([
            Buffer.from('login=x'),
            Buffer.from([0xff, 0xfe]),
            Buffer.from(`${enc(newLogin())}&password=${enc(PASSWORD)}`),
          ]),
        undefined,
        [400],
        [400, 401],
      ],
      [
        'a repeated login field',
        () => `login=${enc(newLogin())}&login=${enc(newLogin())}&password=${enc(PASSWORD)}`,
        undefined,
        [400],
        [400],
      ],
      ['a nested login field', () => `login[a]=${enc(newLogin())}&password=${enc(PASSWORD)}`, undefined, [400], [400]],
      [
        'a JSON body',
        () => JSON.stringify({ login: newLogin(), password: PASSWORD }),
        'application/json',
        [403],
        [403],
      ],
      ['a text/plain body', () => form({ login: newLogin(), password: PASSWORD }), 'text/plain', [403], [403]],
      [
        'a multipart body',
        () =>
          `--b\r\ncontent-disposition: form-data; name="login"\r\n\r\n${newLogin()}\r\n--b\r\ncontent-disposition: form-data; name="password"\r\n\r\n${PASSWORD}\r\n--b--\r\n`,
        'multipart/form-data; boundary=b',
        [403],
        [403],
      ],
      [
        'no content type',
        () => new TextEncoder().encode(form({ login: newLogin(), password: PASSWORD })),
        null,
        [403],
        [403],
      ],
    ];

    it.each(cases)(
      'registration refuses %s with a friendly page and creates no account',
      async (_name, body, type, statuses) => {
        const before = await snapshot();
        const page = await post(flow.agent, `${flow.base}/register`, body(), { type });
        expectFriendlyPage(page, statuses);
        expect(page.html).not.toContain(PASSWORD);
        expect(await snapshot()).toEqual(before);
      },
    );

    it.each(cases)(
      'sign-in refuses %s with a friendly page and writes nothing',
      async (_name, body, type, _register, statuses) => {
        const before = await snapshot();
        const page = await post(flow.agent, `${flow.base}/login`, body(), { type });
        expectFriendlyPage(page, statuses);
        expect(page.html).not.toContain(PASSWORD);
        expect(await snapshot()).toEqual(before);
      },
    );

    it('shows what was typed as login escaped, never as markup', async () => {
      const page = await post(
        flow.agent,
        `${flow.base}/register`,
        form({ login: '<script>alert(1)</script>', password: PASSWORD }),
      );
      expectFriendlyPage(page, [400]);
      expect(page.html).not.toContain('<script>alert(1)</script>');
      expect(page.html).toContain('&lt;script&gt;');
    });

    it('leaves the interaction usable: a valid registration after refused ones reaches the merchant', async () => {
      // (Not the lone surrogate in the password: the app currently accepts it, a separate failure above.)
      for (const [, body, type] of cases.filter(([name]) => name !== 'a lone surrogate in the password')) {
        expect((await post(flow.agent, `${flow.base}/register`, body(), { type })).status).toBeGreaterThanOrEqual(400);
        expect((await post(flow.agent, `${flow.base}/login`, body(), { type })).status).toBeGreaterThanOrEqual(400);
      }
      const login = newLogin();
      const registered = await post(flow.agent, `${flow.base}/register`, form({ login, password: PASSWORD }));
      const consent = await flow.agent.submit(formAction(registered, '/login'), { login, password: PASSWORD });
      const callback = await flow.agent.submit(formAction(consent, '/confirm'), {});
      expect(callback.url.startsWith(CALLBACK)).toBe(true);
      expect(new URL(callback.url).searchParams.get('code')).toBeTruthy();
      expect(await accountRows(login)).toHaveLength(1);
    });
  });

  describe('duplicate registration and account enumeration', () => {
    const login = newLogin();
    beforeAll(async () => {
      const start = await startAuthorization(config);
      await signInAndConsent(personBrowser(), start.url, { login, password: PASSWORD, register: true });
      expect(await accountRows(login)).toHaveLength(1);
    });

    it.each([
      ['the same login', () => login],
      ['the same login in upper case with spaces', () => `  ${login.toUpperCase()} `],
    ])('registering %s again answers as any registration does, and leaves one row untouched', async (_name, again) => {
      const flow = await openLoginPage();
      const before = await snapshot();
      const page = await post(
        flow.agent,
        `${flow.base}/register`,
        form({ login: again(), password: 'another password' }),
      );
      expect(page.status).toBe(200);
      expect(page.html).not.toMatch(/already registered; sign in instead|role="alert"/);
      expect(page.html).toContain('Registration received.');
      expect(await accountRows(login)).toHaveLength(1);
      expect(await snapshot()).toEqual(before);
    });

    it('gives a wrong password and an unknown login the same status and message', async () => {
      const flow = await openLoginPage();
      const before = await snapshot();
      const wrongPassword = await post(flow.agent, `${flow.base}/login`, form({ login, password: 'not the password' }));
      const unknownLogin = await post(
        flow.agent,
        `${flow.base}/login`,
        form({ login: newLogin(), password: PASSWORD }),
      );
      expectFriendlyPage(wrongPassword, [401]);
      expectFriendlyPage(unknownLogin, [401]);
      expect(alertOf(wrongPassword)).toBe('The login or password is wrong.');
      expect(alertOf(unknownLogin)).toBe(alertOf(wrongPassword));
      // The pages differ only in the refilled login.
      const strip = (p: Page, typed: string) => p.html.replaceAll(typed, '<LOGIN>');
      expect(strip(unknownLogin, /id="login"[^>]*value="([^"]*)"/.exec(unknownLogin.html)![1]!)).toBe(
        strip(wrongPassword, login),
      );
      expect(await snapshot()).toEqual(before);
    });

    it('keeps the language switch working on the page a wrong password answers', async () => {
      const flow = await openLoginPage();
      const wrong = await post(flow.agent, `${flow.base}/login`, form({ login, password: 'not the password' }));
      const href = /class="lang" href="([^"]+)"/.exec(wrong.html)![1]!.replaceAll('&amp;', '&');
      expect(new URL(href, flow.base).pathname).toBe(new URL(flow.base).pathname);
      const switched = await flow.agent.navigate(new URL(href, flow.base).toString());
      expect(switched.status).toBe(200);
      expect(switched.html).toMatch(/name="password"/);
    });
  });

  // The same failures for a client that asks for JSON: RFC 9457 problem details.
  describe('problem+json when the client accepts JSON', () => {
    it('registration with invalid fields answers problem+json invalid-input listing the fields', async () => {
      const flow = await openLoginPage();
      const before = await snapshot();
      const page = await post(flow.agent, `${flow.base}/register`, form({ login: 'not a login', password: 'short' }), {
        accept: JSON_ACCEPT,
      });
      const problem = expectProblem(page, 400, 'invalid-input');
      expect(problem.errors?.map((e) => e.field).sort()).toEqual(['login', 'password']);
      expect(await snapshot()).toEqual(before);
    });

    it('sign-in with a NUL byte answers problem+json invalid-input', async () => {
      const flow = await openLoginPage();
      const page = await post(
        flow.agent,
        `${flow.base}/login`,
        form({ login: newLogin(), password: 'nul\u0000byte' }),
        { accept: JSON_ACCEPT },
      );
      expectProblem(page, 400, 'invalid-input');
    });

    it('a wrong password answers problem+json invalid-credentials', async () => {
      const flow = await openLoginPage();
      const page = await post(flow.agent, `${flow.base}/login`, form({ login: newLogin(), password: PASSWORD }), {
        accept: JSON_ACCEPT,
      });
      expectProblem(page, 401, 'invalid-credentials');
    });

    it('a duplicate registration answers like any other, with the sign-in form, and leaves one row', async () => {
      const login = newLogin();
      await signInAndConsent(personBrowser(), (await startAuthorization(config)).url, {
        login,
        password: PASSWORD,
        register: true,
      });
      const flow = await openLoginPage();
      const page = await post(flow.agent, `${flow.base}/register`, form({ login, password: 'another long password' }), {
        accept: JSON_ACCEPT,
      });
      expect(page.status).toBe(200);
      expect(page.html).toContain(`action="${new URL(flow.base).pathname}/login"`);
      expect(await accountRows(login)).toHaveLength(1);
    });
  });

  describe('the authorization endpoint', () => {
    const verifier = 'a-fixed-pkce-code-verifier-of-43-characters-or-more';
    let challenge: string;
    beforeAll(async () => {
      challenge = await oidc.calculatePKCECodeChallenge(verifier);
    });

    function authorize(params: Record<string, string | undefined>) {
      const url = new URL(config.serverMetadata().authorization_endpoint!);
      const all: Record<string, string | undefined> = {
        client_id: merchant.client_id,
        redirect_uri: CALLBACK,
        response_type: 'code',
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 'state-123',
        nonce: 'nonce-123',
        ...params,
      };
      for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
      return fetch(url, { redirect: 'manual', headers: { accept: HTML, 'accept-language': 'en' } });
    }

    it.each([
      ['an unknown client_id', { client_id: 'no-such-merchant' }, 'invalid_client'],
      [
        'an unknown client_id with a foreign redirect_uri',
        { client_id: 'no-such-merchant', redirect_uri: 'https://evil.example/callback' },
        'invalid_client',
      ],
      ['a client_id with a NUL byte', { client_id: 'no\u0000such' }, 'invalid_client'],
      ['an over-long client_id', { client_id: 'c'.repeat(5000) }, 'invalid_client'],
      ['a redirect_uri on another host', { redirect_uri: 'https://evil.example/callback' }, 'invalid_redirect_uri'],
      ['a redirect_uri on another port', { redirect_uri: 'http://localhost:8081/callback' }, 'invalid_redirect_uri'],
      [
        'a redirect_uri with another scheme',
        { redirect_uri: 'https://localhost:8080/callback' },
        'invalid_redirect_uri',
      ],
      [
        'a redirect_uri extending the registered path',
        { redirect_uri: `${CALLBACK}/../../evil` },
        'invalid_redirect_uri',
      ],
      ['a redirect_uri with a registered prefix', { redirect_uri: `${CALLBACK}.evil.example` }, 'invalid_redirect_uri'],
      [
        'a redirect_uri with an added query',
        { redirect_uri: `${CALLBACK}?next=https://evil.example` },
        'invalid_redirect_uri',
      ],
    ])('answers %s with an error page, never a redirect', async (_name, params, error) => {
      const before = await snapshot();
      const response = await authorize(params);
      const html = await response.text();
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(html).toContain(error);
      // Links stay on the platform (the language switch re-runs the same request here).
      expect(html).not.toMatch(/(href|action)="(?!\/)/);
      expect(await snapshot()).toEqual(before);
    });

    it.each([
      ['no code_challenge', { code_challenge: undefined, code_challenge_method: undefined }],
      ['code_challenge_method=plain', { code_challenge: verifier, code_challenge_method: 'plain' }],
      ['a code_challenge without a method', { code_challenge_method: undefined }],
      ['a code_challenge_method without a challenge', { code_challenge: undefined }],
    ])('rejects a request with %s (invalid_request to the client, no interaction)', async (_name, params) => {
      const before = await snapshot();
      const response = await authorize(params);
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('state-123');
      expect(location.searchParams.has('code')).toBe(false);
      expect((await snapshot()).payloads.filter((p) => p.model === 'Interaction')).toEqual(
        before.payloads.filter((p) => p.model === 'Interaction'),
      );
    });
  });

  describe('the token endpoint', () => {
    const tokenEndpoint = () => config.serverMetadata().token_endpoint!;
    const basic = (m: Merchant) =>
      `Basic ${Buffer.from(`${enc(m.client_id)}:${enc(m.client_secret)}`).toString('base64')}`;

    /** A person signs in and consents; returns the callback URL and the PKCE verifier. */
    async function codeFor(cfg = config) {
      const start = await startAuthorization(cfg);
      const callback = await signInAndConsent(personBrowser(), start.url, {
        login: newLogin(),
        password: PASSWORD,
        register: true,
      });
      expect(callback.url.startsWith(CALLBACK)).toBe(true);
      const code = new URL(callback.url).searchParams.get('code')!;
      const row = await running.platform
        .db('oidc_payloads')
        .where({ model: 'AuthorizationCode', id: running.platform.tokenIds.stored('AuthorizationCode', code) })
        .first();
      return { start, callback: new URL(callback.url), code, grantId: row.grant_id as string };
    }

    const tokenRows = (grantId: string) =>
      running.platform
        .db('oidc_payloads')
        .where({ grant_id: grantId })
        .whereIn('model', ['AccessToken', 'RefreshToken'])
        .select('model', 'id');

    it('refuses a replayed authorization code and revokes the tokens it issued', async () => {
      const { start, callback, grantId } = await codeFor();
      const checks = { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce };
      const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);

      await expect(oidc.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({
        error: 'invalid_grant',
      });

      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect(await running.platform.db('oidc_payloads').where({ grant_id: grantId }).select('model')).toEqual([]);
    });

    it('lets only one of six concurrent redemptions of a code succeed', async () => {
      const { start, callback } = await codeFor();
      const checks = { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce };
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, () => oidc.authorizationCodeGrant(config, callback, checks)),
      );
      // A failure that is no OAuth error shows its message, so an unexpected one says what it was.
      const outcomes = results.map((r) =>
        r.status === 'fulfilled'
          ? 'tokens issued'
          : String((r.reason as { error?: unknown }).error ?? (r.reason as Error).message),
      );
      expect(outcomes.sort()).toEqual([...Array(5).fill('invalid_grant'), 'tokens issued']);
    });

    // PostgreSQL once answered two of six with a deadlock: replay revocations (several DELETEs of
    // the grant's rows in one transaction) locked rows in orders that crossed a waiting redemption.
    it('answers every one of many concurrent redemptions of a code with tokens once and invalid_grant otherwise', async () => {
      for (let round = 0; round < 5; round += 1) {
        const { start, callback, grantId } = await codeFor();
        const checks = { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce };
        const results = await Promise.allSettled(
          Array.from({ length: 16 }, () => oidc.authorizationCodeGrant(config, callback, checks)),
        );
        const outcomes = results.map((r) =>
          r.status === 'fulfilled'
            ? 'tokens issued'
            : String((r.reason as { error?: unknown }).error ?? (r.reason as Error).message),
        );
        expect(outcomes.sort()).toEqual([...Array(15).fill('invalid_grant'), 'tokens issued']);
        // The replays revoked the grant: nothing of it is left.
        expect(await running.platform.db('oidc_payloads').where({ grant_id: grantId }).select('model')).toEqual([]);
      }
    });

    it('refuses a wrong code_verifier and issues nothing', async () => {
      const { start, callback, code, grantId } = await codeFor();
      await expect(
        oidc.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
          expectedState: start.state,
          expectedNonce: start.nonce,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await tokenRows(grantId)).toEqual([]);
      const row = await running.platform
        .db('oidc_payloads')
        .where({ model: 'AuthorizationCode', id: running.platform.tokenIds.stored('AuthorizationCode', code) })
        .first();
      expect(row.consumed_at).toBeNull();
    });

    it.each([
      ['just over the body limit (17kb)', 17 * 1024],
      ["over oidc-provider's own 56kb cap (60kb)", 60 * 1024],
    ])('answers an oversized body %s with 413 and consumes nothing', async (_name, size) => {
      const { start, code, grantId } = await codeFor();
      const params = form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: start.verifier,
      });
      const body = `${params}&padding=${'x'.repeat(size)}`;
      const before = await snapshot();
      const response = await fetch(tokenEndpoint(), {
        method: 'POST',
        headers: { authorization: basic(merchant), 'content-type': FORM, accept: JSON_ACCEPT },
        body,
      });
      expect(response.status).toBe(413);
      expect(await tokenRows(grantId)).toEqual([]);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('tokens across merchants', () => {
    let other: Merchant;
    let otherConfig: oidc.Configuration;
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

    beforeAll(async () => {
      other = await addMerchant(running.platform, { name: 'Other merchant' });
      otherConfig = await discover(running.issuer, other.client_id, other.client_secret);
      const start = await startAuthorization(config);
      const callback = await signInAndConsent(personBrowser(), start.url, {
        login: newLogin(),
        password: PASSWORD,
        register: true,
      });
      tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), {
        pkceCodeVerifier: start.verifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
      });
    });

    it("merchant B sees merchant A's access and refresh tokens as inactive", async () => {
      expect(await oidc.tokenIntrospection(otherConfig, tokens.access_token)).toEqual({ active: false });
      expect(await oidc.tokenIntrospection(otherConfig, tokens.refresh_token!)).toEqual({ active: false });
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    });

    it("merchant B cannot revoke merchant A's tokens", async () => {
      const before = await snapshot();
      // RFC 7009 §2.1: a token issued to another client is refused, not silently ignored.
      await expect(oidc.tokenRevocation(otherConfig, tokens.access_token)).rejects.toMatchObject({
        error: 'invalid_request',
      });
      await expect(oidc.tokenRevocation(otherConfig, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_request',
      });
      expect(await snapshot()).toEqual(before);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
      expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
    });
  });

  describe('oversized form bodies', () => {
    let flow: Awaited<ReturnType<typeof openLoginPage>>;
    beforeAll(async () => {
      flow = await openLoginPage();
    });
    const big = () => form({ login: newLogin(), password: PASSWORD, padding: 'x'.repeat(17 * 1024) });

    it.each(['register', 'login'])('answers an oversized /%s with a 413 page and writes nothing', async (action) => {
      const before = await snapshot();
      const page = await post(flow.agent, `${flow.base}/${action}`, big());
      expectFriendlyPage(page, [413]);
      expect(alertOf(page)).toBe('What you sent is too large.');
      expect(await snapshot()).toEqual(before);
    });

    it.each(['register', 'login'])('answers an oversized /%s with problem+json payload-too-large', async (action) => {
      const before = await snapshot();
      const page = await post(flow.agent, `${flow.base}/${action}`, big(), { accept: JSON_ACCEPT });
      expectProblem(page, 413, 'payload-too-large');
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a small gzip body that inflates past the limit', async () => {
      const before = await snapshot();
      const page = await post(flow.agent, `${flow.base}/register`, gzipSync(big()), {
        headers: { 'content-encoding': 'gzip' },
      });
      expectFriendlyPage(page, [413, 415]);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('expired or unknown interactions', () => {
    const expiredMessage = 'This sign-in has expired or was opened in another browser.';

    it('an unknown interaction uid shows the "session expired" page with 400', async () => {
      const response = await fetch(`${running.issuer}/interaction/no-such-uid`, {
        headers: { accept: HTML, 'accept-language': 'en' },
      });
      const html = await response.text();
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(html).toContain(expiredMessage);
    });

    // (A post to an unknown uid cannot carry a valid CSRF token: test/integration/csrf.test.ts.)
    it.each([JSON_ACCEPT, 'application/problem+json'])(
      'an unknown interaction uid answers problem+json session-expired to Accept: %s',
      async (accept) => {
        const response = await fetch(`${running.issuer}/interaction/no-such-uid`, { headers: { accept } });
        expectProblem(
          { url: response.url, status: response.status, headers: response.headers, html: await response.text() },
          400,
          'session-expired',
        );
      },
    );

    it("another flow's uid (whose cookie this browser lacks) is treated as expired", async () => {
      const mine = await openLoginPage();
      const theirs = await openLoginPage();
      const page = await mine.agent.navigate(theirs.base, { headers: { 'accept-language': 'en' } });
      expect(page.status).toBe(400);
      expect(page.html).toContain(expiredMessage);
    });

    it('an expired interaction shows the page, and refuses sign-in and registration, writing nothing', async () => {
      const login = newLogin();
      await signInAndConsent(personBrowser(), (await startAuthorization(config)).url, {
        login,
        password: PASSWORD,
        register: true,
      });
      const flow = await openLoginPage();
      const expired = await running.platform
        .db('oidc_payloads')
        .where({ model: 'Interaction', id: running.platform.tokenIds.stored('Interaction', flow.uid) })
        .update({ expires_at: new Date(Date.now() - 60_000) });
      expect(expired).toBe(1);
      const before = await snapshot();

      const shown = await flow.agent.navigate(flow.base, { headers: { 'accept-language': 'en' } });
      expect(shown.status).toBe(400);
      expect(shown.html).toContain(expiredMessage);

      const signIn = await post(flow.agent, `${flow.base}/login`, form({ login, password: PASSWORD }));
      expect(signIn.status).toBe(400);
      expect(signIn.html).toContain(expiredMessage);

      const fresh = newLogin();
      const register = await post(flow.agent, `${flow.base}/register`, form({ login: fresh, password: PASSWORD }));
      expect(register.status).toBe(400);
      expect(register.html).toContain(expiredMessage);

      expect(await accountRows(fresh)).toHaveLength(0);
      expect(await snapshot()).toEqual(before);
    });
  });
});
