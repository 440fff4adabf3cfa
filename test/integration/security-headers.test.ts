import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { itInBrowser, launchBrowser } from '../helpers/browser.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import {
  addMerchant,
  CALLBACK,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';

// Security headers on every response (the platform's pages, oidc-provider's endpoints and error
// pages, the APIs), and what changes behind a TLS-terminating proxy: HSTS and Secure cookies when
// the request came over TLS, trusted from X-Forwarded-Proto only with `trustProxy`.

const PASSWORD = 'correct horse battery';
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const HSTS = 'max-age=31536000; includeSubDomains';
const ISSUER = 'https://id.example.test';
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' };

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

function expectSecurityHeaders(response: { headers: Headers }, what: string) {
  const get = (name: string) => response.headers.get(name);
  expect({
    what,
    csp: get('content-security-policy'),
    nosniff: get('x-content-type-options'),
    referrer: get('referrer-policy'),
    frames: get('x-frame-options'),
    coop: get('cross-origin-opener-policy'),
    hsts: get('strict-transport-security'),
  }).toEqual({
    what,
    csp: CSP,
    nosniff: 'nosniff',
    referrer: 'no-referrer',
    frames: 'DENY',
    coop: 'same-origin',
    hsts: null, // plain HTTP
  });
}

describe(`security headers (${ENGINE})`, () => {
  let running: Running;
  let merchant: Awaited<ReturnType<typeof addMerchant>>;
  let config: oidc.Configuration;
  const url = (path: string) => `${running.issuer}${path}`;

  beforeAll(async () => {
    running = await startTestPlatform();
    merchant = await addMerchant(running.platform, { levels: ['result', 'dossier'] });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('are on the pages, the error pages, discovery, the token endpoint and the dossier attachments', async () => {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber: '11010519491231002X',
      name: '张三',
      portrait: { contentType: 'image/png', data: PNG },
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });

    // The person's side: sign-in and consent pages, our error page, oidc-provider's error page.
    const agent = personBrowser();
    const start = await startAuthorization(config, { scope: 'openid realname:dossier' });
    const signIn = await agent.navigate(start.url.toString());
    expectSecurityHeaders(signIn, 'sign-in page');
    const consent = await agent.submit(`${signIn.url}/login`, { login, password: PASSWORD });
    expect(consent.html).toContain('name="partial"');
    expectSecurityHeaders(consent, 'consent page');
    const refused = await agent.submit(`${consent.url}/confirm`, { level: 'dossier', _csrf: 'forged' });
    expect(refused.status).toBe(403);
    expectSecurityHeaders(refused, 'CSRF refusal');
    const callback = await agent.submit(`${consent.url}/confirm`, { level: 'dossier', partial: '31002x' });
    for (const [what, path] of [
      ['home', '/'],
      ['stylesheet', '/assets/app.css'],
      ['not found', '/no-such-page'],
      ['expired interaction', '/interaction/no-such-uid'],
      ['authorization error', '/auth?client_id=no-such-client'],
    ]) {
      const response = await fetch(url(path!));
      expectSecurityHeaders(response, what!);
    }

    // The merchant's side: discovery, JWKS, the token endpoint (success and error), userinfo, attachments.
    expectSecurityHeaders(await fetch(url('/.well-known/openid-configuration')), 'discovery');
    expectSecurityHeaders(await fetch(url('/jwks')), 'jwks');
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(merchant.client_id)}:${encodeURIComponent(merchant.client_secret)}`).toString('base64')}`;
    const token = await fetch(url('/token'), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: new URL(callback.url).searchParams.get('code')!,
        redirect_uri: CALLBACK,
        code_verifier: start.verifier,
      }),
    });
    expect(token.status).toBe(200);
    expectSecurityHeaders(token, 'token');
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const badGrant = await fetch(url('/token'), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=nope',
    });
    expect(badGrant.status).toBe(400);
    expectSecurityHeaders(badGrant, 'token error');
    const userinfo = await fetch(url('/me'), { headers: { authorization: `Bearer ${accessToken}` } });
    expectSecurityHeaders(userinfo, 'userinfo');
    const claims = (await userinfo.json()) as {
      verified_claims: { verification: { evidence: Array<{ attachments: Array<{ url: string }> }> } };
    };
    const attachment = claims.verified_claims.verification.evidence[0]!.attachments[0]!.url;
    const image = await fetch(attachment, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(image.status).toBe(200);
    expectSecurityHeaders(image, 'dossier attachment');
    expectSecurityHeaders(await fetch(attachment), 'dossier attachment without a token');
  });

  // Finding 11 of the attack: pages sent no Cache-Control, so a shared cache could keep a
  // person's account page or a sign-in form with its CSRF token.
  it('tells every cache to keep no page or API answer, the stylesheet aside', async () => {
    const login = newLogin();
    await running.platform.accounts.register({ login, password: PASSWORD });
    const agent = personBrowser();
    const signIn = await agent.navigate(url('/account/login'));
    const register = await agent.navigate(`${signIn.url}/register`);
    const account = await agent.submit(`${signIn.url}/login`, { login, password: PASSWORD });
    expect(new URL(account.url).pathname).toBe('/account');
    const verify = await agent.navigate(url('/account/verify'));
    const pages = {
      signIn,
      register,
      account,
      verify,
      home: await agent.navigate(url('/')),
      notFound: await agent.navigate(url('/no-such-page')),
    };
    const apis = {
      discovery: await fetch(url('/.well-known/openid-configuration')),
      notary: await fetch(url('/api/notary/tree-head')),
      check: await fetch(url('/api/verifications/check'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    };
    for (const [what, response] of Object.entries({ ...pages, ...apis }))
      expect({ what, cacheControl: response.headers.get('cache-control') }).toEqual({ what, cacheControl: 'no-store' });
    expect((await fetch(url('/assets/app.css'))).headers.get('cache-control')).toBe('public, max-age=3600');
  });

  it('serves pages the policy allows: no inline script or style, the stylesheet and passkey script from this origin', async () => {
    const agent = personBrowser();
    const signIn = await agent.navigate((await startAuthorization(config)).url.toString());
    const register = await agent.navigate(`${signIn.url}/register`);
    const consent = await agent.submit(`${signIn.url}/register`, { login: newLogin(), password: PASSWORD });
    for (const page of [signIn, register, consent, await agent.navigate(url('/'))]) {
      // The one script is a file from this origin (script-src 'self'), never inline.
      const scripts = [...page.html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/^ src="\/assets\/passkeys\.js" defer$/);
        expect(body).toBe('');
      }
      expect(page.html.replace(/<script src="\/assets\/passkeys\.js" defer><\/script>/g, '')).not.toMatch(
        /<script|\sstyle=|\son[a-z]+=|javascript:/i,
      );
      expect([...page.html.matchAll(/<link [^>]*href="([^"]+)"/g)].map((m) => m[1])).toEqual(['/assets/app.css']);
    }
    expect(signIn.html).toContain('<script src="/assets/passkeys.js" defer></script>');
    const script = await fetch(url('/assets/passkeys.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it("lets oidc-provider's form_post page run its one inline script, by hash", async () => {
    const start = await startAuthorization(config, { response_mode: 'form_post' });
    const page = await signInAndConsent(personBrowser(), start.url, {
      login: newLogin(),
      password: PASSWORD,
      register: true,
    });
    expect(page.status).toBe(200);
    expect(page.html).toContain(`action="${CALLBACK}"`);
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.html)![1]!;
    const hash = createHash('sha256').update(script).digest('base64');
    expect(page.headers.get('content-security-policy')).toBe(
      CSP.replace("script-src 'self'", `script-src 'self' 'sha256-${hash}'`).replaceAll('; ', ';'),
    );
  });

  itInBrowser(
    'lets a real browser style the pages, consent and go back to the merchant with no policy violation',
    async () => {
      const browser = await launchBrowser();
      try {
        const context = await browser.newContext({ locale: 'en-US' });
        const page = await context.newPage();
        const violations: string[] = [];
        page.on('console', (message) => {
          if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
        });
        await page.route(`${CALLBACK}**`, (route) =>
          route.fulfill({ status: 200, contentType: 'text/plain', body: 'merchant' }),
        );
        const start = await startAuthorization(config);
        await page.goto(start.url.toString());
        // The stylesheet applied (app.css: `.card { border-radius: .5rem }`).
        const radius = await page
          .locator('main.card')
          .evaluate((el) => (el as any).ownerDocument.defaultView.getComputedStyle(el).borderTopLeftRadius as string);
        expect(radius).toBe('8px');
        await page.locator('a[href$="/register"]').click();
        await page.locator('#login').fill(newLogin());
        await page.locator('#password').fill(PASSWORD);
        await page.locator('form[action$="/register"] button[type="submit"]').click();
        // Registered: signed in next, on the sign-in form it answers with.
        await page.locator('#password').fill(PASSWORD);
        await page.locator('form[action$="/login"] button[type="submit"]').click();
        // Consent → /auth/:uid → the merchant's callback on another origin: a redirect after a form post.
        const request = page.waitForRequest((r) => r.url().startsWith(CALLBACK) && r.isNavigationRequest());
        await page.locator('form[action$="/confirm"] button[type="submit"]').click();
        const callback = new URL((await request).url());
        expect(callback.searchParams.get('code')).toBeTruthy();
        expect(callback.searchParams.get('state')).toBe(start.state);
        expect(violations).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});

/** A request as a TLS-terminating proxy forwards it to the plain-HTTP platform. */
function viaProxy(base: string, path: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, { redirect: 'manual', headers: { ...FORWARDED, ...headers } });
}
/** `name=value` of each Set-Cookie, for sending them back. */
const cookieHeader = (response: Response) =>
  response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');

describe.each([
  ['trusted', true],
  ['not trusted', false],
])(`behind a TLS proxy, X-Forwarded-Proto %s (${ENGINE})`, (_name, trustProxy) => {
  let running: Running;
  let base: string;
  let merchant: Awaited<ReturnType<typeof addMerchant>>;

  beforeAll(async () => {
    running = await startTestPlatform({ issuer: ISSUER, trustProxy });
    base = `http://127.0.0.1:${(running.server.address() as AddressInfo).port}`;
    merchant = await addMerchant(running.platform);
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** The authorization request, then the sign-in page it leads to (with the interaction cookie). */
  async function signInPage(headers: Record<string, string> = {}) {
    const params = new URLSearchParams({
      client_id: merchant.client_id,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'state-1',
    });
    const auth = await viaProxy(base, `/auth?${params}`, headers);
    expect(auth.status).toBe(303);
    const page = await viaProxy(base, new URL(auth.headers.get('location')!, ISSUER).pathname, {
      ...headers,
      cookie: cookieHeader(auth),
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="_csrf"');
    return { auth, page };
  }

  it("keeps discovery's issuer and endpoints on the configured https issuer, whatever address was asked", async () => {
    const metadata = (await (await viaProxy(base, '/.well-known/openid-configuration')).json()) as Record<
      string,
      string
    >;
    expect(metadata.issuer).toBe(ISSUER);
    const endpoints = [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'end_session_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
    ];
    // Built on the issuer, never on the request's Host or X-Forwarded-Host (test/integration/origin.test.ts).
    for (const name of endpoints) expect(metadata[name]).toMatch(new RegExp(`^${ISSUER}/`));
  });

  it(
    trustProxy ? 'sends HSTS and marks every cookie Secure' : 'ignores X-Forwarded-Proto: no HSTS, no Secure cookies',
    async () => {
      const { auth, page } = await signInPage();
      const home = await viaProxy(base, '/?lang=en');
      const cookies = [auth, page, home].flatMap((r) => r.headers.getSetCookie());
      const names = cookies.map((c) => c.split('=')[0]);
      expect(names).toEqual(
        expect.arrayContaining([
          '_interaction',
          '_interaction.sig',
          '_interaction_resume',
          'rn_csrf',
          'rn_csrf.sig',
          'lang',
        ]),
      );
      for (const cookie of cookies)
        expect({ cookie, secure: /;\s*secure\b/i.test(cookie) }).toEqual({ cookie, secure: trustProxy });
      for (const response of [auth, page, home])
        expect(response.headers.get('strict-transport-security')).toBe(trustProxy ? HSTS : null);
    },
  );

  it('sends neither HSTS nor Secure cookies to a request that did not come through TLS', async () => {
    const plain = { 'x-forwarded-proto': 'http' };
    const { auth, page } = await signInPage(plain);
    for (const response of [auth, page]) {
      expect(response.headers.get('strict-transport-security')).toBeNull();
      for (const cookie of response.headers.getSetCookie()) expect(cookie).not.toMatch(/;\s*secure\b/i);
    }
  });
});
