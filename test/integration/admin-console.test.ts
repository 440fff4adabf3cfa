import * as oidc from 'openid-client';
import { JPEG, PNG } from '../helpers/images.js';
import {
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
  CALLBACK,
} from '../helpers/merchant.js';
import { addVerifiedOperator } from '../helpers/operators.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';

// The operator console at /admin, as an operator's browser without JavaScript uses it: signed into
// through the platform itself, with a fresh person-document match for an account that has only a
// password; every change made by a form with its CSRF token, and audited.
describe('the operator console', () => {
  let running: Running;
  let operator: UserAgent;
  let operatorId: string;

  beforeAll(async () => {
    running = await startTestPlatform();
    const login = newLogin();
    operatorId = await addVerifiedOperator(running.platform, login, PASSWORD);
    operator = new UserAgent();
    const dashboard = await signIn(operator, login);
    expect(dashboard.status).toBe(200);
  });

  afterAll(async () => {
    await running?.stop();
  });

  function photos(): FormData {
    const form = new FormData();
    form.set('portrait', new Blob([PNG], { type: 'image/png' }), 'me.png');
    form.set('document_front', new Blob([JPEG], { type: 'image/jpeg' }), 'card.jpg');
    return form;
  }

  /** Opens /admin, signs in with the password, and passes the step-up; returns the page reached. */
  async function signIn(agent: UserAgent, login: string): Promise<Page> {
    let page = await agent.navigate(`${running.issuer}/admin`);
    expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    if (/\/step-up$/.test(new URL(page.url).pathname))
      page = await agent.upload(formAction(page, '/step-up'), photos());
    return page;
  }

  const events = async (types: string[], client?: string) => {
    await running.platform.audit.integrateAll();
    return running.platform.audit.search({ types, ...(client ? { client } : {}) }, 100);
  };

  it('asks an account with only a password for a person-document match, then shows the overview in Chinese', async () => {
    const page = await operator.navigate(`${running.issuer}/admin`);
    expect(page.url).toBe(`${running.issuer}/admin`);
    expect(page.html).toContain('<html lang="zh-CN">');
    expect(page.html).toContain('运营控制台');
    expect(page.html).toContain('<svg role="img"');
    expect(page.html).toContain('审计日志');
    const english = await operator.navigate(`${running.issuer}/admin?lang=en`);
    expect(english.html).toContain('Operator console');
  });

  it('refuses an account that is not an operator', async () => {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
    });
    const page = await signIn(new UserAgent(), login);
    expect(page.status).toBe(403);
  });

  it('sends a password sign-in without the step-up back to sign in', async () => {
    const login = newLogin();
    await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.operators.add(login, { type: 'operator' });
    const agent = new UserAgent();
    // Signed in at the account pages with the password alone.
    let page = await agent.navigate(`${running.issuer}/account`);
    page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    expect(page.url).toBe(`${running.issuer}/account`);
    // Back into a sign-in, which for this unverified account starts with verifying the identity.
    page = await agent.navigate(`${running.issuer}/admin`);
    expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+\/verify$/);
  });

  it('registers a merchant whose secret it shows once, and that merchant signs a person in', async () => {
    let page = await operator.navigate(`${running.issuer}/admin/clients`);
    page = await operator.submit(formAction(page, '/admin/clients'), {
      kind: 'merchant',
      name: '控制台商户',
      redirect_uris: CALLBACK,
      levels: 'result,credentials',
      category: 'retail',
      security_level: '1',
    });
    expect(page.status).toBe(200);
    const clientId = /<code id="client_id">([^<]+)<\/code>/.exec(page.html)?.[1];
    const secret = /<code id="client_secret">([^<]+)<\/code>/.exec(page.html)?.[1];
    expect(clientId).toEqual(expect.any(String));
    expect(secret!.length).toBeGreaterThanOrEqual(43);
    const shown = await operator.navigate(`${running.issuer}/admin/clients/${clientId}`);
    expect(shown.html).not.toContain(secret);
    const [registered] = await events(['client.registered'], clientId);
    expect(registered).toMatchObject({ actor_type: 'operator', actor_id: operatorId });

    const config = await discover(running.issuer, clientId!, secret!);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const person = newLogin();
    const account = await running.platform.accounts.register({ login: person, password: PASSWORD });
    await running.platform.verifications.verify(account.id, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '440524198001010013',
      name: '王五',
    });
    const callback = await signInAndConsent(personBrowser(), start.url, {
      login: person,
      password: PASSWORD,
      level: 'result',
    });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims).toMatchObject({ sub: expect.any(String), realname_verified: true });
  });

  it('edits, disables and rotates the secret of a merchant, each audited', async () => {
    const merchant = await running.platform.clients.add({
      name: 'Edit me',
      redirectUris: [CALLBACK],
      levels: ['result', 'credentials'],
    });
    const path = `${running.issuer}/admin/clients/${merchant.client_id}`;
    let page = await operator.navigate(path);
    page = await operator.submit(formAction(page, `/admin/clients/${merchant.client_id}`), {
      name: 'Edited',
      redirect_uris: CALLBACK,
      levels: 'result',
      category: 'retail',
      security_level: '2',
    });
    expect(page.url).toBe(`${path}?saved=1`);
    expect((await running.platform.clients.show(merchant.client_id)).grant_levels).toEqual(['result']);

    page = await operator.submit(formAction(page, '/disable'), {});
    expect((await running.platform.clients.show(merchant.client_id)).disabled).toBe(true);
    page = await operator.submit(formAction(page, '/enable'), {});
    expect((await running.platform.clients.show(merchant.client_id)).disabled).toBe(false);

    page = await operator.submit(formAction(page, '/secret'), {});
    const secret = /<code id="client_secret">([^<]+)<\/code>/.exec(page.html)?.[1];
    const config = await discover(running.issuer, merchant.client_id, secret!);
    await expect(oidc.clientCredentialsGrant(config, { scope: 'realname:check' })).resolves.toHaveProperty(
      'access_token',
    );
    const audited = await events(
      ['client.updated', 'client.disabled', 'client.enabled', 'client.secret_rotated'],
      merchant.client_id,
    );
    expect(audited.map((e) => e.type)).toEqual([
      'client.updated',
      'client.disabled',
      'client.enabled',
      'client.secret_rotated',
    ]);
  });

  it('registers a notary body and renames it, offering it no merchant fields', async () => {
    let page = await operator.navigate(`${running.issuer}/admin/clients`);
    page = await operator.submit(formAction(page, '/admin/clients'), {
      kind: 'notary',
      name: '某公证处',
      redirect_uris: '',
      category: 'notary',
      security_level: '1',
    });
    expect(page.status).toBe(200);
    const clientId = /<code id="client_id">([^<]+)<\/code>/.exec(page.html)![1]!;
    expect((await running.platform.clients.show(clientId)).kind).toBe('notary');
    page = await operator.navigate(`${running.issuer}/admin/clients/${clientId}`);
    expect(page.html).not.toContain('name="redirect_uris"');
    expect(page.html).not.toContain('name="security_level"');
    page = await operator.submit(formAction(page, `/admin/clients/${clientId}`), {
      name: '某公证处（新）',
      category: 'notary',
    });
    expect(page.url).toBe(`${running.issuer}/admin/clients/${clientId}?saved=1`);
    expect((await running.platform.clients.show(clientId)).name).toBe('某公证处（新）');
  });

  it('shows bad input on the form and registers nothing; refuses a post without its CSRF token', async () => {
    const before = (await running.platform.clients.list()).length;
    let page = await operator.navigate(`${running.issuer}/admin/clients`);
    page = await operator.submit(formAction(page, '/admin/clients'), {
      kind: 'merchant',
      name: 'Bad',
      redirect_uris: 'http://shop.example/cb',
      levels: 'result',
    });
    expect(page.status).toBe(400);
    expect(page.html).toContain('role="alert"');
    expect(page.html).toContain('redirectUris.0');
    const forged = await operator.submit(`${running.issuer}/admin/clients`, {
      _csrf: 'forged',
      name: 'Forged',
      redirect_uris: CALLBACK,
    });
    expect(forged.status).toBe(403);
    expect((await running.platform.clients.list()).length).toBe(before);
  });
});
