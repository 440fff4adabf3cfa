import { startMerchantExample } from '../../examples/merchant/server.js';
import { addMerchant, newLogin, registerAndSignIn } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/process.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;
type Example = Awaited<ReturnType<typeof startMerchantExample>>;

const PASSWORD = 'correct horse battery';
const quoted = (name: string) => `&#34;${name}&#34;`;

// The example merchant site (examples/merchant) against the real platform: a person who has
// never been here registers, verifies and consents in the platform's real forms, and the example
// shows what it received.
describe('example merchant site', () => {
  let running: Running;
  let example: Example;

  beforeAll(async () => {
    running = await startTestPlatform();
    const port = await freePort();
    const merchant = await addMerchant(running.platform, {
      name: '示例商城',
      redirectUris: [`http://localhost:${port}/callback`],
      levels: ['result', 'credentials', 'dossier'],
      category: 'shopping',
      eventsEndpoint: `http://localhost:${port}/events`,
      backchannelLogoutUri: `http://localhost:${port}/backchannel-logout`,
    });
    example = await startMerchantExample({
      issuer: running.issuer,
      clientId: merchant.client_id,
      clientSecret: merchant.client_secret,
      port,
    });
  });

  afterAll(async () => {
    await example?.stop();
    await running?.stop();
  });

  /** From the example's sign-in button to the platform's consent page, as a new, unverified person. */
  async function registerAndVerify(agent: UserAgent, levels: string): Promise<Page> {
    let page = await agent.navigate(`${example.url}login?levels=${levels}`);
    expect(page.url.startsWith(running.issuer)).toBe(true);
    page = await agent.navigate(
      new URL(new URL(formAction(page, '/login')).pathname.replace(/\/login$/, '/register'), page.url).toString(),
    );
    page = await registerAndSignIn(agent, page, { login: newLogin(), password: PASSWORD });
    const form = new FormData();
    form.set('document_type', 'cn_resident_id');
    form.set('name', '王五');
    form.set('document_number', '440524198001010013');
    return agent.upload(formAction(page, '/verify'), form);
  }

  it('signs a person in at level 1 and shows the verification result', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    expect(consent.html).toContain('示例商城');
    expect(consent.html).toMatch(/name="level" value="result"/);
    expect(consent.html).not.toMatch(/name="level" value="credentials"/);

    const page = await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    expect(page.url).toBe(`${example.url}me`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('data-level="result"');
    expect(page.html).toMatch(/realname_verified: <strong>true<\/strong>/);
    expect(page.html).toContain(`${quoted('realname_verified')}: true`);
    expect(page.html).toContain(`${quoted('realname_method')}: ${quoted('document')}`);
    expect(page.html).toContain('Refresh token: no');
    expect(page.html).not.toContain('merchant_credentials');
    // No identity data at level 1.
    expect(page.html).not.toMatch(/王五|440524198001010013/);

    // Reloading the callback does not redeem the code again; the result page stays.
    expect((await agent.navigate(`${example.url}callback?code=x&state=y`)).status).toBe(400);
    expect((await agent.navigate(`${example.url}me`)).html).toContain('data-level="result"');
  });

  it('lets the person choose level 2 and checks the shown password against the hash locally', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result,credentials,dossier');
    expect(consent.html).toMatch(/name="level" value="credentials"/);
    const shown = await agent.submit(formAction(consent, '/confirm'), { level: 'credentials' });
    const [username, password] = [...shown.html.matchAll(/<code class="secret">([^<]+)<\/code>/g)].map((m) => m[1]!);
    const returnTo = /class="button" href="([^"]+)"/.exec(shown.html)![1]!.replaceAll('&amp;', '&');

    const page = await agent.navigate(returnTo);
    expect(page.url).toBe(`${example.url}me`);
    expect(page.html).toContain('data-level="credentials"');
    expect(page.html).toMatch(/Token scope: <code>[^<]*realname:credentials/);
    expect(page.html).toMatch(/Token scope: <code>[^<]*offline_access[^<]*<\/code> · 刷新令牌 Refresh token: yes/);
    expect(page.html).toContain(`value="${username}"`);
    expect(page.html).not.toContain(password);

    const right = await agent.submit(`${example.url}me/password`, { username: username!, password: password! });
    expect(right.html).toContain('Username and password are correct');
    const wrong = await agent.submit(`${example.url}me/password`, {
      username: username!,
      password: 'not the password',
    });
    expect(wrong.html).toContain('Wrong username or password');
  });

  it('fetches attachments for the signed-in person only, and only from the platform', async () => {
    const stranger = new UserAgent();
    expect(
      (await stranger.navigate(`${example.url}attachment?url=${encodeURIComponent(`${running.issuer}/x`)}`)).status,
    ).toBe(400);
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    // Any platform URL is fetched with the person's access token (here: userinfo, at /me).
    const userinfo = await agent.navigate(`${example.url}attachment?url=${encodeURIComponent(`${running.issuer}/me`)}`);
    expect(userinfo.status).toBe(200);
    expect(userinfo.headers.get('content-security-policy')).toBe('sandbox');
    expect(JSON.parse(userinfo.html)).toMatchObject({ realname_verified: true });
    for (const url of ['http://example.com/x', `${running.issuer}.evil.test/x`, 'file:///etc/passwd']) {
      expect((await agent.navigate(`${example.url}attachment?url=${encodeURIComponent(url)}`)).status).toBe(400);
    }
  });

  it("shows the platform's error when the person cancels", async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    const page = await agent.submit(formAction(consent, '/abort'), {});
    expect(page.status).toBe(400);
    expect(page.html).toContain('access_denied');
  });

  it('receives a signed SET when the person revokes its grant, signs them out and shows it', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    expect((await agent.submit(formAction(consent, '/confirm'), { level: 'result' })).url).toBe(`${example.url}me`);

    const account = await agent.navigate(`${running.issuer}/account`);
    const grant = /action="\/account\/grants\/([^/]+)\/revoke"/.exec(account.html)![1]!;
    await agent.submit(`${running.issuer}/account/grants/${grant}/revoke`, {});
    expect(await running.platform.outbox.deliver()).toMatchObject({ sent: 1, failed: 0 });

    const home = await agent.navigate(example.url);
    expect(home.html).toContain('data-notice="security event"');
    expect(home.html).toContain('https://schemas.openid.net/secevent/caep/event-type/session-revoked');
    expect(home.html).toContain('sessions ended here: 1');
    // Signed out at the merchant too.
    expect((await agent.navigate(`${example.url}me`)).url).toBe(example.url);
  });

  it('receives a logout token when the person signs out at the platform', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    const question = await agent.navigate(`${running.issuer}/session/end`);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question.html)![1]!;
    await agent.submit(formAction(question, '/session/end/confirm'), { xsrf, logout: 'yes' });

    const home = await agent.navigate(example.url);
    expect(home.html).toContain('data-notice="back-channel logout"');
    expect(home.html).toContain('http://schemas.openid.net/event/backchannel-logout');
    expect((await agent.navigate(`${example.url}me`)).url).toBe(example.url);
  });
});
