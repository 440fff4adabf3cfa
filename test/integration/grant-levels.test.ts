import argon2 from 'argon2';
import * as oidc from 'openid-client';
import { REALNAME_CLAIMS } from '../../src/grants/scopes.js';
import {
  addMerchant,
  discover,
  newLogin,
  OTHER_CALLBACK,
  personBrowser,
  redeemCode,
  registerAndSignIn,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { PNG } from '../helpers/images.js';
import { formAction } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const ZHANG = { documentType: 'cn_resident_id', documentNumber: '11010519491231002X', name: '张三' };
const PASSWORD = 'correct horse battery';

// The grant levels through a real merchant (openid-client): level 1 (`realname`) releases exactly
// the result claims with no refresh token, level 2 adds credentials; consents, tokens and releases
// are audited in their own transaction; the person gets one identifier per merchant.
describe('grant levels', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform();
  });

  afterAll(async () => {
    await running.stop();
  });

  /** A person with an account, verified as ZHANG unless told otherwise. */
  async function verifiedPerson(person = ZHANG) {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, { method: 'document', ...person });
    return { login, accountId: account.id };
  }

  async function signIn(
    merchant: { client_id: string; client_secret: string },
    login: string,
    scope: string,
    redirectUri?: string,
  ) {
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope, ...(redirectUri ? { redirect_uri: redirectUri } : {}) });
    const callback = await signInAndConsent(personBrowser(), start.url, { login, password: PASSWORD, level: 'result' });
    const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);
    return { config, tokens, claims };
  }

  it('releases exactly the result claims, in the ID token and at userinfo, and no refresh token', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const { login, accountId } = await verifiedPerson();
    const { config, tokens, claims } = await signIn(merchant, login, 'openid realname offline_access');

    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope?.split(' ').sort()).toEqual(['openid', 'realname']);
    const released = Object.keys(claims).filter(
      (k) =>
        !['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sub', 'at_hash', 'sid', 'azp', 'acr', 'amr'].includes(k),
    );
    expect(released.sort()).toEqual([...REALNAME_CLAIMS].sort());
    expect(claims).toMatchObject({
      realname_verified: true,
      realname_method: 'document',
      realname_verified_at: expect.any(Number),
      realname_person: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(JSON.stringify(claims)).not.toMatch(/张三|11010519491231002X|@example\.test/);

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(Object.keys(userinfo).sort()).toEqual(['sub', ...REALNAME_CLAIMS].sort());

    await running.platform.audit.integrateAll();
    const [event] = await running.platform.db('audit_events').where({ type: 'consent.granted', account_id: accountId });
    const leaf = JSON.parse(event.leaf);
    expect(leaf).toMatchObject({
      subjects: { account: accountId, client: merchant.client_id, person: expect.stringMatching(/^[0-9a-f]{64}$/) },
      payload: { level: 'result' },
    });
    expect(leaf.payload.scopes.sort()).toEqual(['openid', 'realname']);
    const grant = await running.platform
      .db('oidc_payloads')
      .where({ model: 'Grant', id: leaf.payload.grant_id })
      .first();
    expect(grant).toBeDefined();
  });

  it('gives one person one identifier per merchant, across accounts, and different ones across merchants', async () => {
    const first = await addMerchant(running.platform, { levels: ['result'] });
    const second = await addMerchant(running.platform, { levels: ['result'], redirectUris: [OTHER_CALLBACK] });
    const li = { documentType: 'cn_resident_id', documentNumber: '110101199003074477', name: '李四' };
    const a = await verifiedPerson(li);
    const b = await verifiedPerson(li);
    const atFirstA = (await signIn(first, a.login, 'openid realname')).claims;
    const atFirstB = (await signIn(first, b.login, 'openid realname')).claims;
    const atSecondA = (await signIn(second, a.login, 'openid realname', OTHER_CALLBACK)).claims;
    expect(atFirstA.realname_person).toBe(atFirstB.realname_person);
    expect(atFirstA.sub).not.toBe(atFirstB.sub);
    expect(atSecondA.realname_person).not.toBe(atFirstA.realname_person);
    expect(atSecondA.sub).not.toBe(atFirstA.sub);
  });

  it('pre-selects the level chosen last time and refuses a level not offered', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const { login } = await verifiedPerson();
    await signIn(merchant, login, 'openid realname');
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    let page = await agent.navigate(start.url.toString());
    page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    expect(page.html).toMatch(/name="level" value="result" checked/);
    const refused = await agent.submit(formAction(page, '/confirm'), { level: 'dossier' });
    expect(refused.status).toBe(400);
  });

  it('never lets a merchant ask for a level its registration does not allow', async () => {
    const plain = await addMerchant(running.platform, { levels: ['result'] });
    await running.platform.db('clients').where({ client_id: plain.client_id }).update({ grant_levels: [] });
    const config = await discover(running.issuer, plain.client_id, plain.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const page = await personBrowser().navigate(start.url.toString());
    // oidc-provider refuses the scope outright rather than dropping it silently.
    expect(page.url).toMatch(/error=invalid_scope/);
  });

  it('sends an unverified person through verification first, then back into the same request', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const login = newLogin();
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    let page = await agent.navigate(start.url.toString());
    page = await agent.navigate(
      new URL(new URL(formAction(page, '/login')).pathname.replace(/\/login$/, '/register'), page.url).toString(),
    );
    page = await registerAndSignIn(agent, page, { login, password: PASSWORD });
    expect(new URL(page.url).pathname).toMatch(/^\/interaction\/[^/]+\/verify$/);
    expect(page.html).toContain(merchant.name);

    const form = new FormData();
    form.set('document_type', 'cn_resident_id');
    form.set('name', '王五');
    form.set('document_number', '440524198001010013');
    page = await agent.upload(formAction(page, '/verify'), form);
    // Back on the consent page of the same interaction.
    expect(page.html).toMatch(/name="level" value="result"/);
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims).toMatchObject({ realname_verified: true, realname_method: 'document' });
  });

  it('audits the token and each release of claims, naming the claims', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const { login, accountId } = await verifiedPerson();
    const { config, tokens, claims } = await signIn(merchant, login, 'openid realname');
    await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    await running.platform.audit.integrateAll();
    const events = await running.platform
      .db('audit_events')
      .where({ account_id: accountId, client_id: merchant.client_id })
      .orderBy('leaf_index');
    const leaves = events.map((e: { leaf: string }) => JSON.parse(e.leaf));
    expect(leaves.map((l: { type: string }) => l.type)).toEqual([
      'consent.granted',
      'token.issued',
      'claims.released',
      'claims.released',
    ]);
    const grantId = leaves[0].payload.grant_id;
    expect(leaves[1]).toMatchObject({
      actor: { type: 'client', id: merchant.client_id },
      payload: { grant_id: grantId, level: 'result', grant_type: 'authorization_code' },
    });
    expect(leaves[2].payload).toMatchObject({ via: 'id_token', level: 'result' });
    expect(leaves[2].payload.claims.sort()).toEqual([...REALNAME_CLAIMS].sort());
    expect(leaves[3].payload).toMatchObject({ via: 'userinfo', level: 'result' });
    expect(leaves[3].payload.claims.sort()).toEqual([...REALNAME_CLAIMS].sort());
  });

  it('issues no token and releases nothing when the audit trail cannot record it', async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const { login } = await verifiedPerson();
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const callback = await signInAndConsent(personBrowser(), start.url, { login, password: PASSWORD, level: 'result' });
    const { db } = running.platform;
    const tokensBefore = Number(
      (await db('oidc_payloads').where({ model: 'AccessToken' }).count({ n: '*' }).first())!.n,
    );
    await db.raw(
      `CREATE FUNCTION audit_unavailable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$`,
    );
    await db.raw(
      'CREATE TRIGGER audit_unavailable BEFORE INSERT ON audit_queue FOR EACH ROW EXECUTE FUNCTION audit_unavailable()',
    );
    try {
      await expect(redeemCode(config, new URL(callback.url), start)).rejects.toBeDefined();
      expect(Number((await db('oidc_payloads').where({ model: 'AccessToken' }).count({ n: '*' }).first())!.n)).toBe(
        tokensBefore,
      );
    } finally {
      await db.raw('DROP TRIGGER audit_unavailable ON audit_queue');
      await db.raw('DROP FUNCTION audit_unavailable()');
    }
  });

  it('lists the merchant, its level and every release on the account page, and revokes it at once', async () => {
    const merchant = await addMerchant(running.platform, { name: '示例商城', levels: ['result'] });
    const { login, accountId } = await verifiedPerson();
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    const callback = await signInAndConsent(agent, start.url, { login, password: PASSWORD, level: 'result' });
    const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);
    await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);

    const page = await agent.navigate(`${running.issuer}/account?lang=en`);
    expect(page.html).toContain('示例商城');
    expect(page.html).toContain('The verification result only');
    expect(page.html).toContain('sign-in (ID token)');
    expect(page.html).toContain('userinfo request');
    expect(page.html).not.toContain('Real-name platform account');

    const revoked = await agent.submit(formAction(page, '/revoke'), {});
    expect(revoked.html).toContain('Access revoked');
    expect(revoked.html).not.toContain('示例商城');
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await running.platform.audit.integrateAll();
    const [event] = await running.platform.db('audit_events').where({ type: 'consent.revoked', account_id: accountId });
    expect(JSON.parse(event.leaf)).toMatchObject({
      actor: { type: 'account', id: accountId },
      subjects: { client: merchant.client_id },
      payload: { by: 'person' },
    });
  });

  it("does not let one person revoke another person's grant", async () => {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const owner = await verifiedPerson();
    await signIn(merchant, owner.login, 'openid realname');
    const [grant] = await running.platform.db('oidc_payloads').where({ model: 'Grant', account_id: owner.accountId });
    const other = await verifiedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
    });
    await expect(running.platform.grants.revoke(other.accountId, grant.id)).rejects.toMatchObject({ status: 404 });
    expect(await running.platform.db('oidc_payloads').where({ model: 'Grant', id: grant.id }).first()).toBeDefined();
  });

  it('pre-selects, at a new merchant, the level last chosen for a merchant of the same category', async () => {
    const first = await addMerchant(running.platform, { levels: ['result', 'credentials'], category: 'bank' });
    const second = await addMerchant(running.platform, { levels: ['result', 'credentials'], category: 'bank' });
    const other = await addMerchant(running.platform, { levels: ['result', 'credentials'], category: 'games' });
    const { login } = await verifiedPerson();
    const consentPage = async (merchant: { client_id: string; client_secret: string }) => {
      const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
      const start = await startAuthorization(config, { scope: 'openid realname realname:credentials' });
      const agent = personBrowser();
      const page = await agent.navigate(start.url.toString());
      return { agent, page: await agent.submit(formAction(page, '/login'), { login, password: PASSWORD }) };
    };
    const atFirst = await consentPage(first);
    expect(atFirst.page.html).toMatch(/value="result" checked/);
    await atFirst.agent.submit(formAction(atFirst.page, '/confirm'), { level: 'credentials' });
    const atSecond = await consentPage(second);
    expect(atSecond.page.html).toMatch(/value="credentials" checked/);
    expect((await consentPage(other)).page.html).toMatch(/value="result" checked/);
    // A merchant's own choice comes first, even when a newer one was made at another of its category.
    await atSecond.agent.submit(formAction(atSecond.page, '/confirm'), { level: 'result' });
    expect((await consentPage(second)).page.html).toMatch(/value="result" checked/);
    expect((await consentPage(first)).page.html).toMatch(/value="credentials" checked/);
  });

  it("sends a person verified only by document to a person-document match when the merchant's security level needs it", async () => {
    const strict = await addMerchant(running.platform, { levels: ['result'], securityLevel: 2 });
    const { login } = await verifiedPerson();
    const config = await discover(running.issuer, strict.client_id, strict.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    const agent = personBrowser();
    let page = await agent.navigate(start.url.toString());
    page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    expect(new URL(page.url).pathname).toMatch(/\/verify$/);
    const form = new FormData();
    form.set('document_type', 'cn_resident_id');
    form.set('name', ZHANG.name);
    form.set('document_number', ZHANG.documentNumber);
    form.set('portrait', new Blob([PNG], { type: 'image/png' }), 'me.png');
    form.set('document_front', new Blob([PNG], { type: 'image/png' }), 'card.png');
    page = await agent.upload(formAction(page, '/verify'), form);
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { claims } = await redeemCode(config, new URL(callback.url), start);
    expect(claims).toMatchObject({ realname_verified: true, realname_method: 'person_match' });
  });

  describe('level 2: the result and credentials for the merchant', () => {
    it('shows a generated password once and gives the merchant only its argon2id hash, with refresh', async () => {
      const merchant = await addMerchant(running.platform, { levels: ['result', 'credentials'] });
      const { login, accountId } = await verifiedPerson();
      const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
      const start = await startAuthorization(config, { scope: 'openid realname realname:credentials offline_access' });
      const agent = personBrowser();
      let page = await agent.navigate(start.url.toString());
      page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
      expect(page.html).toMatch(/name="level" value="credentials"/);
      page = await agent.submit(formAction(page, '/confirm'), { level: 'credentials' });
      const shown = [...page.html.matchAll(/<code class="secret">([^<]+)<\/code>/g)].map((m) => m[1]!);
      expect(shown).toHaveLength(2);
      const [username, password] = shown as [string, string];
      expect(password).toMatch(/^[A-Za-z2-9]{20}$/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      const returnTo = /class="button" href="([^"]+)"/.exec(page.html)![1]!.replaceAll('&amp;', '&');
      const callback = await agent.navigate(returnTo);
      const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);

      expect(tokens.scope?.split(' ').sort()).toEqual(['offline_access', 'openid', 'realname:credentials']);
      const released = Object.keys(claims).filter(
        (k) =>
          !['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sub', 'at_hash', 'sid', 'azp', 'acr', 'amr'].includes(k),
      );
      expect(released.sort()).toEqual([...REALNAME_CLAIMS, 'merchant_credentials'].sort());
      const credentials = claims.merchant_credentials as { username: string; password_hash: string };
      expect(credentials.username).toBe(username);
      expect(credentials.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      // The merchant checks a later sign-in with any argon2 library, from the claim alone.
      expect(await argon2.verify(credentials.password_hash, password)).toBe(true);
      expect(await argon2.verify(credentials.password_hash, 'not the password')).toBe(false);
      // Nothing stores the password in clear.
      const row = await running.platform.db('merchant_credentials').where({ account_id: accountId }).first();
      expect(JSON.stringify(row)).not.toContain(password);

      // Refresh is allowed at this level, and keeps the level.
      expect(tokens.refresh_token).toEqual(expect.any(String));
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.scope?.split(' ')).toContain('realname:credentials');
      await running.platform.audit.integrateAll();
      const [consent] = await running.platform
        .db('audit_events')
        .where({ type: 'consent.granted', account_id: accountId, client_id: merchant.client_id });
      expect(JSON.parse(consent.leaf).payload).toMatchObject({ level: 'credentials' });
    });
  });
});
