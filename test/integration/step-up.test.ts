import { ACR } from '../../src/oidc/policy.js';
import { stopWallClock } from '../helpers/clock.js';
import { addMerchant, discover, newLogin, personBrowser, redeemCode, startAuthorization } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { JPEG, PNG, TRUNCATED_PNG } from '../helpers/images.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';

// Step-up (docs/product.md#step-up): a merchant's security level 3, or `acr_values` naming the person-match class,
// sends a signed-in person through a fresh person-document match before consent; the ID token's
// acr and amr say what was done; an acr the platform cannot produce fails with the OIDC error.
describe('step-up', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform();
  });

  afterAll(async () => {
    await running.stop();
  });

  async function documentVerifiedPerson(documentNumber = '11010519491231002X', name = '张三') {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber,
      name,
    });
    return { login, accountId: account.id };
  }

  function photos(portrait: Buffer = PNG, document: Buffer = JPEG): FormData {
    const form = new FormData();
    form.set('portrait', new Blob([portrait], { type: 'image/png' }), 'me.png');
    form.set('document_front', new Blob([document], { type: 'image/jpeg' }), 'card.jpg');
    return form;
  }

  const providerCalls = async () =>
    Number(
      (await running.platform.db('provider_calls').where({ method: 'person_match' }).count({ n: '*' }).first())!.n,
    );

  async function signInTo(agent: UserAgent, url: URL, login: string): Promise<Page> {
    const page = await agent.navigate(url.toString());
    return agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
  }

  it('records a password sign-in as such in the ID token', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const { login } = await documentVerifiedPerson();
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    const page = await signInTo(agent, start.url, login);
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims.acr).toBe(ACR.password);
    expect(claims.amr).toEqual(['pwd']);
  });

  it('sends a person to a fresh person-document match for a security-level-3 merchant, and records it', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3 });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const { login, accountId } = await documentVerifiedPerson();
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    let page = await signInTo(agent, start.url, login);
    expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+\/step-up$/);
    expect(page.html).toContain(merchant.name);

    // Photos that are not images are refused on the page, and nothing is asked of the provider.
    const before = await providerCalls();
    const refused = await agent.upload(formAction(page, '/step-up'), photos(Buffer.from('not an image')));
    expect(refused.status).toBe(400);
    expect(await providerCalls()).toBe(before);

    page = await agent.upload(formAction(refused, '/step-up'), photos());
    expect(await providerCalls()).toBe(before + 1);
    expect(page.html).toMatch(/name="level" value="result"/);
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims).toMatchObject({ acr: ACR.personMatch, amr: ['pwd', 'face'], realname_method: 'person_match' });
    await running.platform.audit.integrateAll();
    const verified = await running.platform
      .db('audit_events')
      .where({ type: 'identity.verified', account_id: accountId })
      .orderBy('leaf_index');
    expect(JSON.parse(verified.at(-1).leaf).payload).toMatchObject({ method: 'person_match' });

    // Within the freshness window, the same session goes through without another match.
    const again = await startAuthorization(config, { scope: 'openid realname' });
    const next = await agent.navigate(again.url.toString());
    expect(next.html).toMatch(/name="level" value="result"/);
    expect(await providerCalls()).toBe(before + 1);
  });

  it('keeps the level-3 freshness rule whatever max_age the request sends', async () => {
    // A platform whose person-document matches stay fresh for one second, to age one quickly.
    const short = await startTestPlatform({ stepUp: { maxAge: 1 } });
    const clock = stopWallClock();
    try {
      const merchant = await addMerchant(short.platform, { levels: ['result'], securityLevel: 3 });
      const config = await discover(short.issuer, merchant.client_id, merchant.client_secret);
      const login = newLogin();
      const account = await short.platform.accounts.register({ login, password: PASSWORD });
      await short.platform.verifications.verify(account.id, {
        method: 'document',
        documentType: 'cn_resident_id',
        documentNumber: '11010519491231002X',
        name: '张三',
      });
      const agent = personBrowser();
      const start = await startAuthorization(config, { scope: 'openid realname' });
      let page = await signInTo(agent, start.url, login);
      page = await agent.upload(formAction(page, '/step-up'), photos());
      await redeemCode(
        config,
        new URL((await agent.submit(formAction(page, '/confirm'), { level: 'result' })).url),
        start,
      );

      // Two seconds on: the match (oidc-provider's auth_time, whole seconds) is older than one second.
      clock.advance(2_000);
      // The match is older than the merchant's security level allows: a huge max_age cannot loosen it.
      const loose = await startAuthorization(config, { scope: 'openid realname', max_age: '999999999' });
      page = await agent.navigate(loose.url.toString());
      expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+\/step-up$/);
    } finally {
      clock.restore();
      await short.stop();
    }
  });

  it('steps up when acr_values asks for the person-match class, even for a level-1 merchant', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const { login } = await documentVerifiedPerson('110101199003074477', '李四');
    const start = await startAuthorization(config, { scope: 'openid realname', acr_values: ACR.personMatch });
    const agent = personBrowser();
    let page = await signInTo(agent, start.url, login);
    expect(new URL(page.url).pathname).toMatch(/\/step-up$/);
    page = await agent.upload(formAction(page, '/step-up'), photos());
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims).toMatchObject({ acr: ACR.personMatch, amr: ['pwd', 'face'] });
  });

  it('fails a failed match on the page, and lets the person cancel back to the merchant', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3 });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const { login } = await documentVerifiedPerson('440524198001010013', '王五');
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    let page = await signInTo(agent, start.url, login);
    // The sandbox provider fails a match whose photos are not whole images.
    page = await agent.upload(formAction(page, '/step-up'), photos(TRUNCATED_PNG));
    expect(page.status).toBe(422);
    const cancelled = await agent.submit(formAction(page, '/abort'), {});
    expect(new URL(cancelled.url).searchParams.get('error')).toBe('access_denied');
  });

  it('sends a person with no verified identity to verification before the match', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'], securityLevel: 3 });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const login = newLogin();
    await running.platform.accounts.register({ login, password: PASSWORD });
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    const page = await signInTo(agent, start.url, login);
    expect(new URL(page.url).pathname).toMatch(/\/verify$/);
  });

  it('fails with unmet_authentication_requirements when an essential acr cannot be produced', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const claims = JSON.stringify({
      id_token: { acr: { essential: true, values: ['urn:example:acr:hardware-token'] } },
    });
    const start = await startAuthorization(config, { scope: 'openid realname', claims });
    // The request fails before asking for a password that could not satisfy it anyway.
    const page = await personBrowser().navigate(start.url.toString());
    const callback = new URL(page.url);
    expect(callback.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(callback.searchParams.get('state')).toBe(start.state);
  });
});
