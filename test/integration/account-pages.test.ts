import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fetchCookie from 'fetch-cookie';
import { SANDBOX_NAMES } from '../../src/identity/providers/sandbox.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import { newLogin, registerAndSignIn } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

// The person's own pages over real HTTP: signing in through the platform's first-party client,
// the status page, and the guided verification form with its multipart upload.

const messages = (locale: string) =>
  JSON.parse(readFileSync(resolve(process.cwd(), 'views', 'locales', `${locale}.json`), 'utf8')) as Record<
    string,
    string
  >;
const zh = messages('zh-CN');

// Valid GB 11643 numbers, one per person who passes.
const ZHANG = { name: '张三', number: '11010519491231002X' };
const LI = { name: '李四', number: '110101199003074477' };
const WANG = { name: '王五', number: '440524198001010013' };
const ZHAO = { name: '赵六', number: '110101200001010010' };
const BAD_NUMBER = '110105194912310021'; // ZHANG's with a wrong check character
const MAX_IMAGE_BYTES = 20_000;
const PASSWORD = 'correct horse battery';

/** The page's text as a person reads it (the few entities nunjucks' autoescape writes decoded). */
const text = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const t = (key: string, params: Record<string, string> = {}) =>
  Object.entries(params).reduce((s, [k, v]) => s.replace(`{${k}}`, v), zh[key]!);
const inputValue = (html: string, id: string) => new RegExp(`<input id="${id}"[^>]*value="([^"]*)"`).exec(html)?.[1];

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

describe(`account pages (${ENGINE})`, () => {
  let running: Running;
  let url: (path: string) => string;
  const count = async (table: string) => Number((await running.platform.db(table).count({ n: '*' }).first())!.n);
  const written = async () => ({
    verifications: await count('verifications'),
    images: await count('verification_images'),
    persons: await count('persons'),
    calls: await count('provider_calls'),
  });

  beforeAll(async () => {
    running = await startTestPlatform({ verification: { maxImageBytes: MAX_IMAGE_BYTES } });
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** A fetch sharing the agent's cookies that does not follow redirects, to see each hop. */
  const raw = (agent: UserAgent) => {
    const f = fetchCookie(fetch, agent.jar);
    return (path: string, init: RequestInit = {}) => f(url(path), { redirect: 'manual', ...init });
  };

  /** From the sign-in page, follows the register link and registers; returns where that lands. */
  async function register(agent: UserAgent, signInPage: Page): Promise<Page> {
    expect(signInPage.status).toBe(200);
    expect(new URL(signInPage.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    const href = /<a href="([^"]*\/register)"/.exec(signInPage.html)?.[1];
    expect(href).toBeDefined();
    const form = await agent.navigate(new URL(href!, signInPage.url).toString());
    expect(form.status).toBe(200);
    return registerAndSignIn(agent, form, { login: newLogin(), password: PASSWORD });
  }

  /** A new person, registered and signed in through /account, shown the verification form. */
  async function signedInPerson(): Promise<UserAgent> {
    const agent = new UserAgent();
    const page = await register(agent, await agent.navigate(url('/account')));
    expect(page.url).toBe(url('/account'));
    expect((await agent.navigate(url('/account/verify'))).status).toBe(200);
    return agent;
  }

  const verifyForm = (
    fields: Record<string, string>,
    files: Record<string, { data: Buffer | string; name: string; type: string }> = {},
  ) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    for (const [name, file] of Object.entries(files))
      form.append(name, new Blob([file.data], { type: file.type }), file.name);
    return form;
  };
  const documentFields = (person: { name: string; number: string }) => ({
    document_type: 'cn_resident_id',
    name: person.name,
    document_number: person.number,
  });

  it('sends a person without a session through /account/login to the sign-in page; registering lands on /account, not verified', async () => {
    const agent = new UserAgent();
    const get = raw(agent);
    const first = await get('/account');
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/account/login?return=%2Faccount');

    const login = await get('/account/login?return=%2Faccount');
    expect(login.status).toBe(303);
    const auth = new URL(login.headers.get('location')!);
    expect(auth.origin + auth.pathname).toBe(url('/auth'));
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({
      client_id: 'platform-account',
      response_type: 'none',
      redirect_uri: url('/account/callback'),
    });
    expect(auth.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const signIn = await agent.navigate(auth.toString());
    expect(signIn.html).toContain('<html lang="zh-CN">');
    expect(text(signIn.html)).toContain(zh['login.title']);

    const landed = await register(agent, signIn);
    expect(landed.url).toBe(url('/account'));
    expect(landed.status).toBe(200);
    expect(text(landed.html)).toContain(zh['account.title']);
    expect(text(landed.html)).toContain(zh['account.not_verified']);
    expect(landed.html).toContain('href="/account/verify"');

    // Signed in now: the page is served directly.
    expect((await get('/account')).status).toBe(200);
  });

  it('refuses a callback with a missing or wrong state with a friendly 400 page', async () => {
    const agent = new UserAgent((u) => new URL(u).pathname === '/auth');
    const missing = await agent.navigate(url('/account/callback?state=anything'));
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toMatch(/^text\/html/);
    expect(text(missing.html)).toContain(zh['problem.session-expired']);

    // A sign-in started in this browser, answered with another state.
    const started = await agent.navigate(url('/account/login'));
    const state = new URL(started.url).searchParams.get('state')!;
    const wrong = await agent.navigate(
      url(`/account/callback?state=${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`),
    );
    expect(wrong.status).toBe(400);
    expect(text(wrong.html)).toContain(zh['problem.session-expired']);

    // The failed attempt spent the stored state: even the right one no longer works.
    const replay = await agent.navigate(url(`/account/callback?state=${state}`));
    expect(replay.status).toBe(400);

    // No state at all.
    await agent.navigate(url('/account/login'));
    const none = await agent.navigate(url('/account/callback'));
    expect(none.status).toBe(400);
    expect(text(none.html)).toContain(zh['problem.session-expired']);
    expect(none.html).not.toMatch(/^\s*[{[]/);
  });

  it('ignores an open redirect in return and comes back to the account', async () => {
    const agent = await signedInPerson();
    for (const target of [
      'https://evil.example',
      '//evil.example',
      '/\\evil.example',
      '/account/../../evil',
      'https://evil.example/account',
      '/account//evil.example',
    ]) {
      const page = await agent.navigate(url(`/account/login?return=${encodeURIComponent(target)}`));
      expect(page.url).toBe(url('/account'));
      expect(page.status).toBe(200);
    }
    // A page of the account area is a legitimate destination.
    expect((await agent.navigate(url('/account/login?return=%2Faccount%2Fverify'))).url).toBe(url('/account/verify'));
  });

  it('shows the verification form with every document type', async () => {
    const agent = await signedInPerson();
    const page = await agent.navigate(url('/account/verify'));
    expect(page.status).toBe(200);
    expect(formAction(page, '/account/verify')).toBe(url('/account/verify'));
    expect(page.html).toContain('enctype="multipart/form-data"');
    const options = [...page.html.matchAll(/<option value="([^"]+)"[^>]*>([^<]*)<\/option>/g)].map((m) => [m[1], m[2]]);
    expect(options).toEqual(
      [
        'cn_resident_id',
        'passport',
        'hk_macao_permit',
        'taiwan_permit',
        'foreign_permanent_id',
        'military_officer',
        'other',
      ].map((type) => [type, zh[`document.${type}`]]),
    );
    for (const id of ['name', 'document_number', 'portrait', 'document_front'])
      expect(page.html).toContain(`id="${id}"`);
  });

  it('verifies by document check: 303 to /account?verified=1, which shows the masked number only', async () => {
    const agent = await signedInPerson();
    const csrf = agent.csrfToken(url('/account/verify'))!;
    const response = await raw(agent)('/account/verify', {
      method: 'POST',
      body: verifyForm({ _csrf: csrf, ...documentFields(ZHANG) }),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/account?verified=1');

    const page = await agent.navigate(url('/account?verified=1'));
    expect(page.status).toBe(200);
    const shown = text(page.html);
    expect(shown).toContain(zh['account.just_verified']);
    expect(shown).toContain(t('account.verified', { method: zh['method.document']! }));
    expect(shown).toContain(zh['document.cn_resident_id']);
    expect(page.html).toContain(`<code>${'*'.repeat(14)}002X</code>`);
    expect(page.html).not.toContain(ZHANG.number);
    expect(page.html).not.toContain(ZHANG.name);
    expect(shown).toContain(zh['outcome.passed']);
  });

  it('verifies a document check posted as a browser posts the form: both file inputs sent empty', async () => {
    const agent = await signedInPerson();
    const boundary = '----formdata-browser-7MA4YWxkTrZu0gW';
    const part = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const emptyFile = (name: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n`;
    const fields = documentFields(WANG);
    const body =
      part('_csrf', agent.csrfToken(url('/account/verify'))!) +
      part('document_type', fields.document_type) +
      part('name', fields.name) +
      part('document_number', fields.document_number) +
      emptyFile('portrait') +
      emptyFile('document_front') +
      `--${boundary}--\r\n`;
    const response = await raw(agent)('/account/verify', {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/account?verified=1');
    const page = await agent.navigate(url('/account'));
    expect(text(page.html)).toContain(t('account.verified', { method: zh['method.document']! }));
  });

  it('refuses a bad number with a 400 page that keeps what was typed', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm({ ...documentFields(ZHANG), document_number: BAD_NUMBER }),
    );
    expect(page.status).toBe(400);
    expect(page.url).toBe(url('/account/verify'));
    expect(text(page.html)).toContain(zh['verify.error.document_number']);
    expect(inputValue(page.html, 'name')).toBe(ZHANG.name);
    expect(inputValue(page.html, 'document_number')).toBe(BAD_NUMBER);
    expect(page.html).toContain('<option value="cn_resident_id" selected>');
    expect(await written()).toEqual(before);
  });

  it('answers a provider timeout with a 503 page saying to try again later, keeping what was typed', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields({ name: SANDBOX_NAMES.timeout, number: WANG.number })),
    );
    expect(page.status).toBe(503);
    expect(text(page.html)).toContain(zh['verify.error.provider-unavailable']);
    expect(inputValue(page.html, 'name')).toBe(SANDBOX_NAMES.timeout);
    expect(inputValue(page.html, 'document_number')).toBe(WANG.number);
    expect(page.html).toContain('<option value="cn_resident_id" selected>');
    // The unanswered call is recorded at no cost; no result, no person.
    expect(await written()).toEqual({ ...before, calls: before.calls + 1 });
    const account = await agent.navigate(url('/account'));
    expect(text(account.html)).toContain(zh['account.not_verified']);
  });

  it('answers a mismatch with a 422 page that says the details do not match', async () => {
    const agent = await signedInPerson();
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields({ name: SANDBOX_NAMES.mismatch, number: WANG.number })),
    );
    expect(page.status).toBe(422);
    expect(text(page.html)).toContain(zh['verify.failed.mismatch']);
    const account = await agent.navigate(url('/account'));
    expect(text(account.html)).toContain(zh['account.not_verified']);
    expect(text(account.html)).toContain(zh['outcome.failed']);
  });

  it('verifies by person-document match with a PNG portrait and a JPEG document photo', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields(LI), {
        portrait: { data: PNG, name: 'face.png', type: 'image/png' },
        document_front: { data: JPEG, name: 'card.jpg', type: 'image/jpeg' },
      }),
    );
    expect(page.url).toBe(url('/account?verified=1'));
    expect(page.status).toBe(200);
    expect(text(page.html)).toContain(t('account.verified', { method: zh['method.person_match']! }));
    expect(page.html).toContain(`<code>${'*'.repeat(14)}4477</code>`);
    expect(page.html).not.toContain(LI.number);
    expect(page.html).not.toContain(LI.name);
    expect(await written()).toEqual({
      verifications: before.verifications + 1,
      images: before.images + 2,
      persons: before.persons + 1,
      calls: before.calls + 1,
    });
    const row = await running.platform.db('verifications').orderBy('created_at', 'desc').first();
    expect(row).toMatchObject({ method: 'person_match', status: 'passed' });
    const images = await running.platform.db('verification_images').where({ verification_id: row.id }).orderBy('kind');
    expect(images.map((i: { kind: string; content_type: string }) => [i.kind, i.content_type])).toEqual([
      ['document_front', 'image/jpeg'],
      ['portrait', 'image/png'],
    ]);
  });

  it('refuses a text file named .png with a 400 page naming the photo', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields(ZHAO), {
        portrait: { data: 'this is not a picture\n', name: 'face.png', type: 'image/png' },
        document_front: { data: JPEG, name: 'card.jpg', type: 'image/jpeg' },
      }),
    );
    expect(page.status).toBe(400);
    expect(text(page.html)).toContain(zh['verify.error.portrait']);
    expect(text(page.html)).not.toContain(zh['verify.error.document_front']);
    expect(inputValue(page.html, 'name')).toBe(ZHAO.name);
    expect(await written()).toEqual(before);
  });

  it('refuses a photo larger than maxImageBytes with a friendly 413 page and writes nothing', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const big = Buffer.concat([PNG, Buffer.alloc(MAX_IMAGE_BYTES + 5_000 - PNG.length, 1)]);
    const page = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields(ZHAO), {
        portrait: { data: big, name: 'face.png', type: 'image/png' },
        document_front: { data: JPEG, name: 'card.jpg', type: 'image/jpeg' },
      }),
    );
    expect(page.status).toBe(413);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(text(page.html)).toContain(zh['problem.payload-too-large']);
    expect(await written()).toEqual(before);
    expect(text((await agent.navigate(url('/account'))).html)).toContain(zh['account.not_verified']);
  });

  it('refuses a form that is not multipart with 415, and an unexpected field with 400, writing nothing', async () => {
    const agent = await signedInPerson();
    const before = await written();
    const urlencoded = await agent.submit(url('/account/verify'), documentFields(ZHAO));
    expect(urlencoded.status).toBe(415);
    expect(text(urlencoded.html)).toContain(zh['problem.unsupported-media-type']);

    const extra = await agent.upload(url('/account/verify'), verifyForm({ ...documentFields(ZHAO), is_admin: '1' }));
    expect(extra.status).toBe(400);
    expect(extra.headers.get('content-type')).toMatch(/^text\/html/);
    expect(extra.html).not.toContain('is_admin');

    const extraFile = await agent.upload(
      url('/account/verify'),
      verifyForm(documentFields(ZHAO), { selfie: { data: PNG, name: 'x.png', type: 'image/png' } }),
    );
    expect(extraFile.status).toBe(400);

    expect(await written()).toEqual(before);
  });

  it('does not read a verification from a browser that is not signed in', async () => {
    const before = await written();
    const response = await raw(new UserAgent())('/account/verify', {
      method: 'POST',
      body: verifyForm(documentFields(ZHAO)),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/account/login?return=%2Faccount%2Fverify');
    expect(await written()).toEqual(before);
  });

  it('keeps no name or full document number in clear in the audit log or anywhere in the database', async () => {
    const secrets = [ZHANG, LI, WANG, ZHAO]
      .flatMap((p) => [p.name, p.number])
      .concat(BAD_NUMBER, SANDBOX_NAMES.timeout, SANDBOX_NAMES.mismatch);
    const db = running.platform.db;
    await running.platform.audit.integrateAll();
    const verified = await db('audit_events').whereIn('type', ['identity.verified', 'identity.verification_failed']);
    expect(verified.length).toBeGreaterThanOrEqual(2);
    for (const event of verified) for (const secret of secrets) expect(event.leaf).not.toContain(secret);

    const persons = await db('persons');
    expect(persons.length).toBeGreaterThanOrEqual(1);
    for (const secret of secrets) expect(JSON.stringify(persons)).not.toContain(secret);

    const tables: string[] = await db('information_schema.tables')
      .where({ table_schema: 'public', table_type: 'BASE TABLE' })
      .pluck('table_name');
    expect(tables).toEqual(expect.arrayContaining(['audit_events', 'persons', 'verifications', 'accounts']));
    for (const table of tables) {
      const dump = JSON.stringify(await db(table));
      for (const secret of secrets)
        expect({ table, leaks: dump.includes(secret) ? secret : null }).toEqual({ table, leaks: null });
    }
  });
});
