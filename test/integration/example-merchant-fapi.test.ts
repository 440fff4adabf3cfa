import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fapiKey, startMerchantExample } from '../../examples/merchant/server.js';
import { newLogin, registerAndSignIn } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/process.js';
import { formAction, UserAgent, type Page } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;
type Example = Awaited<ReturnType<typeof startMerchantExample>>;

const PASSWORD = 'correct horse battery';

// The example merchant site in FAPI=1 mode: a client registered with `--profile fapi2` and the
// JWKS the example wrote, signing people in through PAR, private_key_jwt and DPoP at every level.
describe('example merchant site under FAPI 2.0', () => {
  let running: Running;
  let example: Example;
  let dir: string;
  let clientId: string;

  beforeAll(async () => {
    running = await startTestPlatform();
    dir = await mkdtemp(join(tmpdir(), 'rn-example-fapi-'));
    const keyFile = join(dir, 'merchant-key.json');
    const key = await fapiKey(keyFile);
    expect(key.created).toBe(true);
    expect((await fapiKey(keyFile)).created).toBe(false);
    const port = await freePort();
    const merchant = await running.platform.clients.add({
      name: '示例银行',
      redirectUris: [`http://localhost:${port}/callback`],
      levels: ['result', 'credentials', 'dossier'],
      profile: 'fapi2',
      jwks: JSON.parse(await readFile(`${keyFile}.jwks.json`, 'utf8')),
      userinfoSigningAlg: 'PS256',
    });
    clientId = merchant.client_id;
    example = await startMerchantExample({
      issuer: running.issuer,
      clientId,
      fapi: { privateJwk: key.privateJwk },
      port,
    });
  });

  afterAll(async () => {
    await example?.stop();
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function registerAndVerify(agent: UserAgent, levels: string): Promise<Page> {
    let page = await agent.navigate(`${example.url}login?levels=${levels}`);
    // The authorization request was pushed: the browser carries only its reference.
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

  it('signs a person in at level 1 with PAR, private_key_jwt and DPoP-bound tokens', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result');
    const page = await agent.submit(formAction(consent, '/confirm'), { level: 'result' });
    expect(page.url).toBe(`${example.url}me`);
    expect(page.html).toContain('data-level="result"');
    expect(page.html).toContain('FAPI 2.0: PAR, private_key_jwt, DPoP-bound tokens');
    expect(page.html).toMatch(/realname_verified: <strong>true<\/strong>/);
    // Every access token the platform issued the example is bound to a DPoP key (cnf.jkt).
    const tokens = await running.platform
      .db('oidc_payloads')
      .where({ model: 'AccessToken' })
      .whereRaw("payload->>'clientId' = ?", [clientId])
      .select('payload');
    expect(tokens.length).toBeGreaterThan(0);
    for (const { payload } of tokens) expect(payload.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('signs a person in at level 2 and at level 3, and fetches a platform resource with a proof', async () => {
    const agent = new UserAgent();
    const consent = await registerAndVerify(agent, 'result,credentials,dossier');
    const shown = await agent.submit(formAction(consent, '/confirm'), { level: 'credentials' });
    const returnTo = /class="button" href="([^"]+)"/.exec(shown.html)![1]!.replaceAll('&amp;', '&');
    const atTwo = await agent.navigate(returnTo);
    expect(atTwo.html).toContain('data-level="credentials"');
    expect(atTwo.html).toContain('merchant_credentials');

    let page = await agent.navigate(`${example.url}login?levels=result,credentials,dossier`);
    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier', partial: '010013' });
    expect(page.url).toBe(`${example.url}me`);
    expect(page.html).toContain('data-level="dossier"');
    expect(page.html).toContain('verified_claims');
    // The example's resource route sends `DPoP <token>` with a proof; the platform's userinfo
    // answers it (a PS256 JWS, as registered).
    const userinfo = await agent.navigate(`${example.url}attachment?url=${encodeURIComponent(`${running.issuer}/me`)}`);
    expect(userinfo.status).toBe(200);
    expect(userinfo.headers.get('content-type')).toMatch(/^application\/jwt/);
  });
});
