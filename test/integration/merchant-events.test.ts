import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type * as oidc from 'openid-client';
import { eventsList } from '../../src/cli/events.js';
import type { CliContext } from '../../src/cli/context.js';
import { ClientService } from '../../src/clients/service.js';
import {
  addMerchant,
  discover,
  newLogin,
  OTHER_CALLBACK,
  personBrowser,
  redeemCode,
  startAuthorization,
} from '../helpers/merchant.js';
import { startEventReceiver, type EventReceiver } from '../helpers/event-receiver.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type UserAgent } from '../helpers/user-agent.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const ZHANG = { documentType: 'cn_resident_id', documentNumber: '11010519491231002X', name: '张三' };
const PASSWORD = 'correct horse battery';
const LEVEL_SCOPES = 'openid realname realname:credentials';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const LEVEL_LOWERED = 'urn:realname:secevent:grant-level-lowered';

// Merchants that registered an events endpoint are told, with a Security Event Token (RFC 8417)
// pushed as RFC 8935 says, when the person revokes their grant or lowers its level; each only of
// its own grant, with the pairwise subject it knows, retried when the endpoint is down.
describe('security events to merchants', () => {
  let running: Running;
  let receiver: EventReceiver;
  let other: EventReceiver;

  beforeAll(async () => {
    running = await startTestPlatform({ notifications: { maxAttempts: 3, retryBase: 60 } });
    receiver = await startEventReceiver();
    other = await startEventReceiver();
  });

  afterAll(async () => {
    await running?.stop();
    await receiver?.close();
    await other?.close();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    other.received.length = 0;
    receiver.answer = undefined;
  });

  async function verifiedPerson() {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    await running.platform.verifications.verify(account.id, { method: 'document', ...ZHANG });
    return { login, accountId: account.id, agent: personBrowser() };
  }

  async function merchant(endpoint: string | undefined, redirectUri?: string) {
    const registered = await addMerchant(running.platform, {
      levels: ['result', 'credentials'],
      ...(redirectUri ? { redirectUris: [redirectUri] } : {}),
      ...(endpoint ? { eventsEndpoint: endpoint } : {}),
    });
    return { registered, config: await discover(running.issuer, registered.client_id, registered.client_secret) };
  }

  /** One authorization with prompt=consent; the person picks `level`. Returns the merchant's `sub`. */
  async function consentTo(
    agent: UserAgent,
    config: oidc.Configuration,
    login: string,
    level: string,
    redirectUri?: string,
  ): Promise<string> {
    const start = await startAuthorization(config, {
      scope: LEVEL_SCOPES,
      ...(redirectUri ? { redirect_uri: redirectUri } : {}),
    });
    let page = await agent.navigate(start.url.toString());
    if (page.html.includes('/login"'))
      page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
    page = await agent.submit(formAction(page, '/confirm'), { level });
    // Level 2 shows the new password once, with a link on to the merchant.
    const onwards = /<a class="button" href="([^"]+)"/.exec(page.html)?.[1];
    if (onwards) page = await agent.navigate(new URL(onwards.replaceAll('&amp;', '&'), page.url).toString());
    const callback = new URL(page.url);
    const { claims } = await redeemCode(config, callback, start);
    return claims.sub;
  }

  async function grantOnAccountPage(agent: UserAgent, index = 0): Promise<string> {
    const page = await agent.navigate(`${running.issuer}/account`);
    const grants = [...page.html.matchAll(/action="\/account\/grants\/([^/]+)\/revoke"/g)].map((m) => m[1]!);
    expect(grants.length).toBeGreaterThan(index);
    return grants[index]!;
  }

  async function verifySet(token: string, clientId: string): Promise<JWTPayload> {
    const jwks = createRemoteJWKSet(new URL(`${running.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: running.issuer,
      audience: clientId,
      typ: 'secevent+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    return payload;
  }

  async function deliver() {
    return running.platform.outbox.deliver();
  }

  it('pushes a signed session-revoked SET to the merchant when the person revokes its grant, and nothing to another', async () => {
    const { login, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    const elsewhere = await merchant(`${other.url}/events`, OTHER_CALLBACK);
    const sub = await consentTo(agent, shop.config, login, 'result');
    const otherSub = await consentTo(agent, elsewhere.config, login, 'result', OTHER_CALLBACK);
    expect(otherSub).not.toBe(sub);

    // The first merchant's grant is the one the person revokes.
    const grants = await agent.navigate(`${running.issuer}/account`);
    const ids = [...grants.html.matchAll(/action="\/account\/grants\/([^/]+)\/revoke"/g)].map((m) => m[1]!);
    const payloads = await Promise.all(ids.map((id) => running.platform.provider.Grant.find(id)));
    const grantId = ids[payloads.findIndex((g) => g?.clientId === shop.registered.client_id)]!;
    const page = await agent.submit(`${running.issuer}/account/grants/${grantId}/revoke`, {});
    expect(page.url).toMatch(/\/account\?revoked=1$/);

    expect(await deliver()).toMatchObject({ sent: 1, failed: 0 });
    const [received] = await receiver.waitFor('/events');
    expect(received!.contentType).toBe('application/secevent+jwt');
    expect(decodeProtectedHeader(received!.body).typ).toBe('secevent+jwt');
    const set = await verifySet(received!.body, shop.registered.client_id);
    expect(set).toMatchObject({
      iss: running.issuer,
      aud: shop.registered.client_id,
      sub_id: { format: 'iss_sub', iss: running.issuer, sub },
      events: { [SESSION_REVOKED]: { initiating_entity: 'user', event_timestamp: expect.any(Number) } },
    });
    expect(set.jti).toEqual(expect.any(String));
    expect(set.iat).toEqual(expect.any(Number));
    expect(set.sub).toBeUndefined();
    expect(set.exp).toBeUndefined();
    // The other merchant's grant is untouched, and it hears nothing.
    expect(other.received).toHaveLength(0);

    // Sent once: the next run finds nothing due.
    expect(await deliver()).toMatchObject({ sent: 0, failed: 0, retried: 0 });
  });

  it('tells the merchant of a level lowered on the account page and at a consent, never of a raise', async () => {
    const { login, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    const sub = await consentTo(agent, shop.config, login, 'credentials');
    expect(await deliver()).toMatchObject({ sent: 0 });

    const grantId = await grantOnAccountPage(agent);
    const lowered = await agent.submit(`${running.issuer}/account/grants/${grantId}/level`, { level: 'result' });
    expect(lowered.url).toMatch(/\/account\?lowered=1$/);
    await deliver();
    const [onAccountPage] = await receiver.waitFor('/events');
    expect(await verifySet(onAccountPage!.body, shop.registered.client_id)).toMatchObject({
      sub_id: { format: 'iss_sub', iss: running.issuer, sub },
      events: { [LEVEL_LOWERED]: { previous_level: 'credentials', level: 'result', initiating_entity: 'user' } },
    });

    // Raised again at a consent: nothing to tell. Lowered at the next one: told again.
    await consentTo(agent, shop.config, login, 'credentials');
    expect(await deliver()).toMatchObject({ sent: 0 });
    await consentTo(agent, shop.config, login, 'result');
    await deliver();
    const all = await receiver.waitFor('/events', 2);
    const atConsent = await verifySet(all[1]!.body, shop.registered.client_id);
    expect(atConsent.events).toEqual({
      [LEVEL_LOWERED]: expect.objectContaining({ previous_level: 'credentials', level: 'result' }),
    });
    expect(atConsent.jti).not.toBe((await verifySet(all[0]!.body, shop.registered.client_id)).jti);

    // The rows hold the signed SET and the endpoint, nothing about the person in clear.
    const rows = await running.platform.outbox.securityEvents();
    const mine = rows.filter((row) => row.clientId === shop.registered.client_id);
    expect(mine).toHaveLength(2);
    expect(mine.every((row) => row.status === 'sent' && row.endpoint === `${receiver.url}/events`)).toBe(true);
  });

  it('queues nothing for a merchant without an events endpoint', async () => {
    const { login, agent } = await verifiedPerson();
    const shop = await merchant(undefined);
    await consentTo(agent, shop.config, login, 'result');
    await agent.submit(`${running.issuer}/account/grants/${await grantOnAccountPage(agent)}/revoke`, {});
    expect(
      (await running.platform.outbox.securityEvents()).filter((r) => r.clientId === shop.registered.client_id),
    ).toEqual([]);
  });

  it('retries an endpoint that is down with growing delays, then marks the SET failed for the operator', async () => {
    const { login, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    await consentTo(agent, shop.config, login, 'result');
    await agent.submit(`${running.issuer}/account/grants/${await grantOnAccountPage(agent)}/revoke`, {});
    receiver.answer = () => ({ status: 503 });

    const rowOf = async () =>
      (await running.platform.outbox.securityEvents()).find((row) => row.clientId === shop.registered.client_id)!;
    const delays: number[] = [];
    for (const attempt of [1, 2]) {
      const before = Date.now();
      expect(await deliver()).toMatchObject({ sent: 0, failed: 0, retried: 1 });
      const row = await rowOf();
      expect(row).toMatchObject({ status: 'pending', attempts: attempt });
      expect(row.lastError).toMatch(/503/);
      delays.push(row.nextAttemptAt.getTime() - before);
      // Not due again before its backoff has passed.
      expect(await deliver()).toMatchObject({ sent: 0, retried: 0 });
      await makeDue(row.id);
    }
    expect(delays[0]).toBeGreaterThan(55_000);
    expect(delays[0]).toBeLessThan(65_000);
    expect(delays[1]).toBeGreaterThan(115_000);
    expect(delays[1]).toBeLessThan(125_000);
    expect(await deliver()).toMatchObject({ failed: 1 });
    expect(receiver.on('/events')).toHaveLength(3);
    // Every attempt carried the same SET: the receiver can drop a copy by its jti.
    expect(new Set(receiver.on('/events').map((r) => r.body)).size).toBe(1);

    const listed = await cliOutput(['--failed']);
    expect(listed.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          clientId: shop.registered.client_id,
          status: 'failed',
          attempts: 3,
          lastError: expect.stringMatching(/503/),
          events: [SESSION_REVOKED],
        }),
      ]),
    );
    // And counted for Prometheus.
    const metrics = await (await fetch(`${running.issuer}/metrics`)).text();
    const failed = /^realname_merchant_events\{status="failed"\} (\d+)$/m.exec(metrics)?.[1];
    expect(Number(failed)).toBeGreaterThanOrEqual(1);
  });

  it('gives up at once on an RFC 8935 error and keeps it for the operator', async () => {
    const { login, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    await consentTo(agent, shop.config, login, 'result');
    await agent.submit(`${running.issuer}/account/grants/${await grantOnAccountPage(agent)}/revoke`, {});
    receiver.answer = () => ({ status: 400, body: { err: 'invalid_audience', description: 'not us' } });

    expect(await deliver()).toMatchObject({ sent: 0, failed: 1, retried: 0 });
    const listed = await cliOutput(['--failed']);
    expect(listed.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          status: 'failed',
          attempts: 1,
          lastError: 'the events endpoint answered 400 invalid_audience: not us',
        }),
      ]),
    );
  });

  it('revokes nothing it cannot tell, and tells nothing it did not revoke', async () => {
    const { login, accountId, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    await consentTo(agent, shop.config, login, 'result');
    const grantId = await grantOnAccountPage(agent);
    const { db } = running.platform;
    const revokedEvents = async () => {
      await running.platform.audit.integrateAll();
      return db('audit_events').where({ type: 'consent.revoked', account_id: accountId }).count({ n: '*' }).first();
    };
    const refuse = async (table: string, when: string) => {
      await db.raw(`CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql`);
      await db.raw(
        `CREATE TRIGGER test_refuse BEFORE INSERT ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION test_refuse()`,
      );
      return () => db.raw(`DROP TRIGGER test_refuse ON ${table}`);
    };

    // The SET cannot be queued: the revocation and its audit event roll back with it.
    let allow = await refuse('notification_outbox', "NEW.channel = 'set'");
    try {
      const failed = await agent.submit(`${running.issuer}/account/grants/${grantId}/revoke`, {});
      expect(failed.status).toBe(500);
    } finally {
      await allow();
    }
    expect(await running.platform.provider.Grant.find(grantId)).toBeDefined();
    expect(Number((await revokedEvents())!.n)).toBe(0);

    // The audit trail cannot record the revocation: no SET is queued for it.
    allow = await refuse('audit_queue', "NEW.type = 'consent.revoked'");
    try {
      expect((await agent.submit(`${running.issuer}/account/grants/${grantId}/revoke`, {})).status).toBe(500);
    } finally {
      await allow();
    }
    expect(
      (await running.platform.outbox.securityEvents()).filter((r) => r.clientId === shop.registered.client_id),
    ).toEqual([]);
    expect(await running.platform.provider.Grant.find(grantId)).toBeDefined();

    // Both working again: one revocation, one event, one SET.
    await agent.submit(`${running.issuer}/account/grants/${grantId}/revoke`, {});
    expect(Number((await revokedEvents())!.n)).toBe(1);
    expect(
      (await running.platform.outbox.securityEvents()).filter((r) => r.clientId === shop.registered.client_id),
    ).toHaveLength(1);
    // Sent, so the next test's endpoint receives only its own.
    expect(await deliver()).toMatchObject({ sent: 1 });
  });

  it('tells every merchant holding a grant that the account was purged, when the closing work asks', async () => {
    const { login, accountId, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    const sub = await consentTo(agent, shop.config, login, 'result');
    await running.platform.merchantEvents.accountPurged(accountId);
    await deliver();
    const [received] = await receiver.waitFor('/events');
    expect(await verifySet(received!.body, shop.registered.client_id)).toMatchObject({
      sub_id: { format: 'iss_sub', iss: running.issuer, sub },
      events: { 'https://schemas.openid.net/secevent/risc/event-type/account-purged': {} },
    });
  });

  it('tells the merchant when the account is closed, though the account row is gone', async () => {
    const { login, accountId, agent } = await verifiedPerson();
    const shop = await merchant(`${receiver.url}/events`);
    const sub = await consentTo(agent, shop.config, login, 'result');
    await running.platform.closure.close(accountId, {});
    expect(await running.platform.accounts.find(accountId)).toBeUndefined();
    await deliver();
    const received = await receiver.waitFor('/events', 2);
    const sets = await Promise.all(received.map((r) => verifySet(r.body, shop.registered.client_id)));
    expect(sets.map((set) => Object.keys(set.events as object)[0]).sort()).toEqual([
      SESSION_REVOKED,
      'https://schemas.openid.net/secevent/risc/event-type/account-purged',
    ]);
    expect(sets.every((set) => (set.sub_id as { sub: string }).sub === sub)).toBe(true);
  });

  it('registers only endpoints it may call', async () => {
    await expect(merchant('ftp://shop.example/events')).rejects.toMatchObject({ status: 400 });
    await expect(merchant('http://shop.example/events')).rejects.toMatchObject({ status: 400 });
    await expect(merchant('https://shop.example/events#x')).rejects.toMatchObject({ status: 400 });
    const { registered } = await merchant('https://shop.example/events');
    expect(registered.events_endpoint).toBe('https://shop.example/events');
    // In production, https even on the loopback.
    const production = new ClientService(running.platform.db, running.platform.box, running.platform.audit, {
      production: true,
    });
    await expect(
      production.add({
        name: 'Local',
        redirectUris: ['https://shop.example/cb'],
        eventsEndpoint: 'http://localhost:4000/events',
      }),
    ).rejects.toMatchObject({ status: 400 });
  });

  /** `events list --json` as the CLI prints it, on this platform's services. */
  async function cliOutput(args: string[]): Promise<{ events: Array<Record<string, unknown>> }> {
    let printed: Record<string, unknown> = {};
    const { platform } = running;
    const ctx: CliContext = {
      json: true,
      print: (result: Record<string, unknown>) => (printed = JSON.parse(JSON.stringify(result))),
      admin: async () => platform.admin,
      auditVerifier: async () => platform.admin,
      local: async () => ({ config: platform.config, db: platform.db, services: async () => platform }),
      close: async () => {},
    };
    await eventsList(ctx, { failed: args.includes('--failed') });
    return printed as { events: Array<Record<string, unknown>> };
  }

  async function makeDue(id: string): Promise<void> {
    await running.platform
      .db('notification_outbox')
      .where({ id })
      .update({ next_attempt_at: new Date(0) });
  }
});
