import { createHmac } from 'node:crypto';
import argon2 from 'argon2';
import * as oidc from 'openid-client';
import {
  addMerchant,
  continuePastCredentials,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  startAuthorization,
  type AuthorizationStart,
} from '../helpers/merchant.js';
import { consentEventsNotMatchingTokens } from '../helpers/consent-evidence.js';
import { JPEG, PNG } from '../helpers/images.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;
type Level = 'result' | 'credentials' | 'dossier';

const PASSWORD = 'correct horse battery';
const PARTIAL = '074477';
const ALL_LEVELS = 'openid realname realname:credentials realname:dossier offline_access';

// The person decides, at every consent and on the account page, which one level a merchant holds:
// raising takes effect in the same authorization, lowering at once (the tokens of the level before
// stop working), and every consent event names what the merchant's token then carries.
describe('changing a merchant’s level', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform();
  });

  afterAll(async () => {
    await running.stop();
  });

  /** A signed-in person verified by a person-document match (the dossier then has images). */
  async function person() {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    const photo = { contentType: 'image/png' as const, data: PNG };
    await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
      portrait: photo,
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });
    await running.platform.audit.integrateAll();
    return { login, accountId: account.id, agent: personBrowser() };
  }

  async function merchant() {
    const registered = await addMerchant(running.platform, { levels: ['result', 'credentials', 'dossier'] });
    return { registered, config: await discover(running.issuer, registered.client_id, registered.client_secret) };
  }

  /** The credentials page's username and password, if the page is it. */
  function shownCredentials(page: Page): { username: string; password: string } | undefined {
    const secrets = [...page.html.matchAll(/<code class="secret">([^<]+)<\/code>/g)].map((m) => m[1]!);
    return secrets.length === 2 ? { username: secrets[0]!, password: secrets[1]! } : undefined;
  }

  /** One authorization asking for every level with prompt=consent; the person chooses `level`. */
  async function consentTo(agent: UserAgent, config: oidc.Configuration, login: string, level: Level) {
    const start = await startAuthorization(config, { scope: ALL_LEVELS });
    let page = await agent.navigate(start.url.toString());
    if (page.html.includes('/login"'))
      page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    const offered = [...page.html.matchAll(/name="level" value="(\w+)"/g)].map((m) => m[1]);
    const consentPage = page;
    page = await agent.submit(formAction(page, '/confirm'), {
      level,
      ...(level === 'dossier' ? { partial: PARTIAL } : {}),
    });
    const credentials = shownCredentials(page);
    if (credentials) page = await continuePastCredentials(agent, page);
    const { tokens, claims } = await redeemCode(config, new URL(page.url), start);
    return { tokens, claims, credentials, offered, consentPage, start };
  }

  const userinfo = (config: oidc.Configuration, token: string, sub: string) => oidc.fetchUserInfo(config, token, sub);

  async function consentEvents(accountId: string, clientId: string) {
    await running.platform.audit.integrateAll();
    const rows = await running.platform
      .db('audit_events')
      .where({ type: 'consent.granted', account_id: accountId, client_id: clientId })
      .orderBy('leaf_index');
    return rows.map((row: { leaf: string }) => JSON.parse(row.leaf).payload as Record<string, unknown>);
  }

  const sorted = (scope: string | undefined) =>
    String(scope ?? '')
      .split(' ')
      .filter(Boolean)
      .sort();

  it('raises the level in the same authorization: result, then credentials, then the dossier', async () => {
    const { login, accountId, agent } = await person();
    const { registered, config } = await merchant();

    const result = await consentTo(agent, config, login, 'result');
    expect(sorted(result.tokens.scope)).toEqual(['openid', 'realname']);
    expect(result.tokens.refresh_token).toBeUndefined();

    // Offered all three again; level 2 comes with a password shown now and its hash to the merchant.
    const credentials = await consentTo(agent, config, login, 'credentials');
    expect(credentials.offered).toEqual(['result', 'credentials', 'dossier']);
    expect(sorted(credentials.tokens.scope)).toEqual(['offline_access', 'openid', 'realname:credentials']);
    expect(credentials.tokens.refresh_token).toEqual(expect.any(String));
    const hash = (credentials.claims.merchant_credentials as { password_hash: string; username: string }).password_hash;
    expect(credentials.credentials).toBeDefined();
    expect(await argon2.verify(hash, credentials.credentials!.password)).toBe(true);
    expect((credentials.claims.merchant_credentials as { username: string }).username).toBe(
      credentials.credentials!.username,
    );
    expect((await oidc.tokenIntrospection(config, result.tokens.access_token)).active).toBe(false);

    const dossier = await consentTo(agent, config, login, 'dossier');
    expect(dossier.credentials).toBeUndefined();
    expect(sorted(dossier.tokens.scope)).toEqual(['offline_access', 'openid', 'realname:dossier']);
    const info = await userinfo(config, dossier.tokens.access_token, dossier.claims.sub);
    expect(info.verified_claims).toBeDefined();
    expect(info.merchant_credentials).toBeUndefined();
    // The level before is over: its refresh token is refused, its credentials are gone.
    await expect(oidc.refreshTokenGrant(config, credentials.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(
      await running.platform
        .db('merchant_credentials')
        .where({ account_id: accountId, client_id: registered.client_id })
        .first(),
    ).toBeUndefined();

    const events = await consentEvents(accountId, registered.client_id);
    expect(events.map((e) => [e.from_level, e.level, e.tokens_revoked])).toEqual([
      [undefined, 'result', undefined],
      ['result', 'credentials', 1],
      ['credentials', 'dossier', 2],
    ]);
    expect(events.map((e) => [...(e.scopes as string[])].sort())).toEqual(
      [result, credentials, dossier].map((r) => sorted(r.tokens.scope)),
    );
  });

  it('lowers the level at a consent: the tokens of the level before stop working at once', async () => {
    const { login, accountId, agent } = await person();
    const { registered, config } = await merchant();

    const dossier = await consentTo(agent, config, login, 'dossier');
    const info = await userinfo(config, dossier.tokens.access_token, dossier.claims.sub);
    const attachment = (
      info.verified_claims as { verification: { evidence: Array<{ attachments: Array<{ url: string }> }> } }
    ).verification.evidence[0]!.attachments[0]!.url;
    const image = (token: string) => fetch(attachment, { headers: { authorization: `Bearer ${token}` } });
    expect((await image(dossier.tokens.access_token)).status).toBe(200);

    // Back at the merchant later: the dossier is pre-selected, but every level is offered.
    const credentials = await consentTo(agent, config, login, 'credentials');
    expect(credentials.offered).toEqual(['result', 'credentials', 'dossier']);
    expect(credentials.consentPage.html).toMatch(/name="level" value="dossier" checked/);
    expect(sorted(credentials.tokens.scope)).toEqual(['offline_access', 'openid', 'realname:credentials']);
    expect(
      await argon2.verify(
        (credentials.claims.merchant_credentials as { password_hash: string }).password_hash,
        credentials.credentials!.password,
      ),
    ).toBe(true);
    // The dossier's tokens open nothing any more: not userinfo, not the images, not a refresh.
    await expect(userinfo(config, dossier.tokens.access_token, dossier.claims.sub)).rejects.toThrow();
    expect((await image(dossier.tokens.access_token)).status).toBe(401);
    expect((await image(credentials.tokens.access_token)).status).toBe(403);
    await expect(oidc.refreshTokenGrant(config, dossier.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    const result = await consentTo(agent, config, login, 'result');
    expect(sorted(result.tokens.scope)).toEqual(['openid', 'realname']);
    expect(result.tokens.refresh_token).toBeUndefined();
    expect(result.claims.merchant_credentials).toBeUndefined();
    expect(
      (await userinfo(config, result.tokens.access_token, result.claims.sub)).merchant_credentials,
    ).toBeUndefined();
    await expect(oidc.refreshTokenGrant(config, credentials.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(
      await running.platform
        .db('merchant_credentials')
        .where({ account_id: accountId, client_id: registered.client_id })
        .first(),
    ).toBeUndefined();

    // And up again: new credentials, shown again (the old ones were withdrawn on the way down).
    const again = await consentTo(agent, config, login, 'credentials');
    expect(again.credentials!.password).not.toBe(credentials.credentials!.password);
    expect(
      await argon2.verify(
        (again.claims.merchant_credentials as { password_hash: string }).password_hash,
        again.credentials!.password,
      ),
    ).toBe(true);

    const events = await consentEvents(accountId, registered.client_id);
    expect(events.map((e) => [e.from_level, e.level, e.tokens_revoked])).toEqual([
      [undefined, 'dossier', undefined],
      ['dossier', 'credentials', 2],
      ['credentials', 'result', 2],
      ['result', 'credentials', 1],
    ]);
  });

  it('lowers a level on the account page, and the merchant’s next sign-in carries it without asking', async () => {
    const { login, accountId, agent } = await person();
    const { registered, config } = await merchant();
    const dossier = await consentTo(agent, config, login, 'dossier');

    let account = await agent.navigate(`${running.issuer}/account`);
    const grant = /action="\/account\/grants\/([^/]+)\/level"/.exec(account.html)?.[1];
    expect(grant).toBeDefined();
    expect([...account.html.matchAll(/name="level" value="(\w+)"/g)].map((m) => m[1])).toEqual([
      'result',
      'credentials',
    ]);
    // A level the grant cannot be lowered to is refused and changes nothing.
    const refused = await agent.submit(`${running.issuer}/account/grants/${grant}/level`, { level: 'dossier' });
    expect(refused.status).toBe(400);
    expect((await oidc.tokenIntrospection(config, dossier.tokens.access_token)).active).toBe(true);

    // Down to level 2: the password is shown here, once.
    const shown = await agent.submit(`${running.issuer}/account/grants/${grant}/level`, { level: 'credentials' });
    const credentials = shownCredentials(shown);
    expect(credentials).toBeDefined();
    expect((await oidc.tokenIntrospection(config, dossier.tokens.access_token)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, dossier.tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });

    // The merchant's next sign-in, same request without prompt=consent: no question, level 2.
    const silent = await startAuthorization(config, { scope: ALL_LEVELS, prompt: 'none' });
    const callback = await agent.navigate(silent.url.toString());
    const next = await redeemCode(config, new URL(callback.url), silent);
    expect(sorted(next.tokens.scope)).toEqual(['openid', 'realname:credentials']);
    expect(
      await argon2.verify(
        (next.claims.merchant_credentials as { password_hash: string }).password_hash,
        credentials!.password,
      ),
    ).toBe(true);

    account = await agent.submit(`${running.issuer}/account/grants/${grant}/level`, { level: 'result' });
    expect(account.url).toMatch(/\/account\?lowered=1$/);
    expect((await oidc.tokenIntrospection(config, next.tokens.access_token)).active).toBe(false);
    const last = await startAuthorization(config, { scope: ALL_LEVELS, prompt: 'none' });
    const lastCallback = await agent.navigate(last.url.toString());
    expect(sorted((await redeemCode(config, new URL(lastCallback.url), last)).tokens.scope)).toEqual([
      'openid',
      'realname',
    ]);

    const events = await consentEvents(accountId, registered.client_id);
    expect(events.map((e) => [e.via, e.from_level, e.level, e.tokens_revoked])).toEqual([
      ['consent_page', undefined, 'dossier', undefined],
      ['account_page', 'dossier', 'credentials', 2],
      ['account_page', 'credentials', 'result', 1],
    ]);
    expect(await consentEventsNotMatchingTokens(running.platform)).toEqual([]);
  });

  it('lets nobody but the person lower their grant', async () => {
    const owner = await person();
    const { config } = await merchant();
    const dossier = await consentTo(owner.agent, config, owner.login, 'dossier');
    const grant = /action="\/account\/grants\/([^/]+)\/level"/.exec(
      (await owner.agent.navigate(`${running.issuer}/account`)).html,
    )![1]!;

    // Another person, signed in to their own account page, posts a valid form (their own CSRF
    // secret, the owner's grant id) to lower the owner's grant.
    const other = await person();
    await consentTo(other.agent, config, other.login, 'result');
    await other.agent.navigate(`${running.issuer}/account`);
    const secret = (await other.agent.jar.getCookies(running.issuer)).find((c) => c.key === 'rn_csrf')!.value;
    const action = `/account/grants/${grant}/level`;
    const refused = await other.agent.submit(`${running.issuer}${action}`, {
      _csrf: createHmac('sha256', secret).update(action).digest('base64url'),
      level: 'result',
    });
    expect(refused.status).toBe(404);
    expect((await oidc.tokenIntrospection(config, dossier.tokens.access_token)).active).toBe(true);
  });

  it('releases no claim beyond the granted scopes, whatever the claims parameter asks', async () => {
    const { login, agent } = await person();
    const { config } = await merchant();
    const claims = JSON.stringify({
      id_token: { email: { essential: true }, phone_number: { essential: true } },
      userinfo: { email: null, phone_number: null },
    });
    const start: AuthorizationStart = await startAuthorization(config, { scope: 'openid realname', claims });
    let page = await agent.navigate(start.url.toString());
    page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { tokens, claims: idToken } = await redeemCode(config, new URL(callback.url), start);
    expect(idToken.email).toBeUndefined();
    expect(idToken.phone_number).toBeUndefined();
    const info = await userinfo(config, tokens.access_token, idToken.sub);
    expect(Object.keys(info).sort()).toEqual([
      'realname_method',
      'realname_person',
      'realname_verified',
      'realname_verified_at',
      'sub',
    ]);

    // Asked for with its scope, the email is named on the consent page and then released.
    const withEmail = await startAuthorization(config, { scope: 'openid realname email', claims });
    page = await agent.navigate(withEmail.url.toString());
    expect(page.html).toContain('您的邮箱地址');
    const emailCallback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const released = await redeemCode(config, new URL(emailCallback.url), withEmail);
    expect(released.claims.email).toBe(login);
    expect(released.claims.phone_number).toBeUndefined();
  });
});
