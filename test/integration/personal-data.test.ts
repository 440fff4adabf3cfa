import type * as oidc from 'openid-client';
import { stopWallClock } from '../helpers/clock.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import {
  addMerchant,
  continuePastCredentials,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type UserAgent } from '../helpers/user-agent.js';
import type { PersonalDataExport } from '../../src/data-rights/service.js';

// "Your data" (docs/product.md#your-data) over real HTTP: a verified person with a merchant grant
// downloads everything the platform holds about them, after a recent sign-in, and the download is
// audited; every audit event in it is the leaf the log holds at its index.

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';
const DOCUMENT = '11010519491231002X';

describe(`personal data export (${ENGINE})`, () => {
  let running: Running;
  let config: oidc.Configuration;
  let url: (path: string) => string;

  beforeAll(async () => {
    running = await startTestPlatform();
    url = (path) => `${running.issuer}${path}`;
    const merchant = await addMerchant(running.platform, { name: '数据商户', levels: ['result', 'credentials'] });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
  });
  afterAll(async () => {
    await running?.stop();
  });

  /** A person verified with photos, who allowed the merchant at level 2 and lowered it to 1, signed in on /account/data. */
  async function personWithHistory(): Promise<{ agent: UserAgent; login: string; accountId: string }> {
    const login = newLogin();
    const { id: accountId } = await running.platform.accounts.register({ login, password: PASSWORD });
    const outcome = await running.platform.verifications.verify(accountId, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber: DOCUMENT,
      name: '张三',
      portrait: { contentType: 'image/png', data: PNG },
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });
    expect(outcome.status).toBe('passed');
    const agent = personBrowser();
    const start = await startAuthorization(config, { scope: 'openid realname realname:credentials' });
    const consented = await signInAndConsent(agent, start.url, { login, password: PASSWORD, level: 'credentials' });
    const callback = await continuePastCredentials(agent, consented);
    await redeemCode(config, new URL(callback.url), start);
    const account = await agent.navigate(url('/account'));
    const lower = account.html.match(/action="(\/account\/grants\/[^"]+\/level)"/)![1]!;
    await agent.submit(url(lower), { level: 'result' });
    const data = await agent.navigate(url('/account/data'));
    expect(data.status).toBe(200);
    return { agent, login, accountId };
  }

  it('downloads everything as JSON: the identity in clear, photos, grants with their history, and provable events', async () => {
    const { agent, login, accountId } = await personWithHistory();
    const page = await agent.navigate(url('/account/data'));
    const download = await agent.submit(formAction(page, '/account/data/export'), { format: 'json' });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^application\/json/);
    expect(download.headers.get('content-disposition')).toMatch(
      /^attachment; filename="realname-data-\d{4}-\d{2}-\d{2}\.json"$/,
    );
    expect(download.headers.get('cache-control')).toBe('no-store');
    const data = JSON.parse(download.html) as PersonalDataExport;

    expect(data).toMatchObject({
      format: 'realname-platform.personal-data',
      version: 1,
      account: { id: accountId, login, login_type: 'email' },
      identity: { person: { document_type: 'cn_resident_id', document_number: DOCUMENT, name: '张三' } },
    });
    const [verification] = data.identity.verifications;
    expect(verification).toMatchObject({ method: 'person_match', status: 'passed', provider: 'sandbox' });
    const photos = Object.fromEntries(verification!.images.map((i) => [i.kind, Buffer.from(i.data_base64, 'base64')]));
    expect(photos.portrait).toEqual(PNG);
    expect(photos.document_front).toEqual(JPEG);

    const [grant] = data.grants;
    expect(grant).toMatchObject({ merchant: '数据商户', level: 'result' });
    expect(grant!.level_history.map((h) => [h.type, h.from_level, h.level])).toEqual([
      ['consent.granted', undefined, 'credentials'],
      ['consent.granted', 'credentials', 'result'],
    ]);
    expect(grant!.releases.length).toBeGreaterThan(0);
    expect(data.security_log.map((e) => e.kind)).toContain('sign_in');

    // Each event is the exact leaf the log holds at its index, so a notary can prove it.
    const types = data.audit_events.map((e) => e.event.type);
    expect(types).toEqual(expect.arrayContaining(['account.registered', 'identity.verified', 'consent.granted']));
    for (const event of data.audit_events) {
      const stored = await running.platform.audit.event(event.leaf_index);
      expect(stored?.leaf).toBe(event.leaf);
      expect(JSON.parse(event.leaf)).toMatchObject(event.event);
    }
    const indices = data.audit_events.map((e) => e.leaf_index);
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
    // Events about the person from elsewhere (a merchant's check API call names only the person) are in too.
    expect(data.audit_events.every((e) => e.event.subjects.account === accountId || e.event.subjects.person)).toBe(
      true,
    );

    // The download itself is evidence.
    await running.platform.audit.integrateAll();
    const exported = await running.platform.audit.search({ account: accountId, types: ['account.data_exported'] }, 10);
    expect(exported.map((row) => JSON.parse(row.leaf).payload)).toEqual([{ format: 'json' }]);
    // Nothing of the identity is in the audit trail.
    expect(exported[0]!.leaf).not.toContain(DOCUMENT);
  });

  it('shows the same in a page, photos included, without any script', async () => {
    const { agent } = await personWithHistory();
    const page = await agent.navigate(url('/account/data'));
    const view = await agent.submit(formAction(page, '/account/data/export'), { format: 'html' });
    expect(view.status).toBe(200);
    expect(view.headers.get('content-type')).toMatch(/^text\/html/);
    expect(view.html).toContain(DOCUMENT);
    expect(view.html).toContain(`data:image/png;base64,${PNG.toString('base64')}`);
    expect(view.html).toContain('数据商户');
    expect(view.html).not.toContain('<script');
  });

  it('asks for a recent sign-in first, and exports nothing before it', async () => {
    const { agent, accountId } = await personWithHistory();
    const page = await agent.navigate(url('/account/data'));
    const clock = stopWallClock();
    try {
      clock.advance((running.platform.config.passkeys.recentSignIn + 1) * 1000);
      const stale = await agent.navigate(url('/account/data'));
      expect(stale.html).toContain('reauth=1');
      expect(stale.html).not.toContain('/account/data/export');
      const refused = await agent.submit(formAction(page, '/account/data/export'), { format: 'json' });
      expect(new URL(refused.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
      expect(refused.html).not.toContain(DOCUMENT);
    } finally {
      clock.restore();
    }
    await running.platform.audit.integrateAll();
    expect(await running.platform.audit.search({ account: accountId, types: ['account.data_exported'] }, 10)).toEqual(
      [],
    );
  });

  it('refuses a format it does not offer, and a stranger', async () => {
    const { agent } = await personWithHistory();
    const page = await agent.navigate(url('/account/data'));
    const bad = await agent.submit(formAction(page, '/account/data/export'), { format: 'xml' });
    expect(bad.status).toBe(400);
    const stranger = await personBrowser().navigate(url('/account/data'));
    expect(new URL(stranger.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
  });
});
