import { once } from 'node:events';
import knexFactory from 'knex';
import { checkLog } from '../../src/audit/check.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  registerAndSignIn,
  startAuthorization,
} from '../helpers/merchant.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';
import { freePort, spawnPlatform } from '../helpers/process.js';
import { startProviderStub, type ProviderStub } from '../helpers/provider-stub.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';
import { until } from '../helpers/wait.js';

const onPostgres = ENGINE === 'postgres' ? describe : describe.skip;
const PASSWORD = 'correct horse battery';

/** Every connection to the database dropped at once, as when the server restarts. */
async function dropAllConnections(databaseUrl: string): Promise<number> {
  const admin = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  try {
    const { rows } = await admin.raw(
      'SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.length;
  } finally {
    await admin.destroy();
  }
}

// What happens when things outside the request go wrong: the database drops its connections under
// load, the verification service goes down and comes back, a process dies in the middle of
// consents. Requests fail cleanly, the platform recovers by itself, nothing is half-written.
onPostgres('the database dropping every connection under load', () => {
  let database: TestDatabase;
  let admin: RunningPlatform;
  let proc: Awaited<ReturnType<typeof spawnPlatform>>;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = await spawnPlatform({ DATABASE_URL: database.databaseUrl!, ISSUER: base, PORT: String(port) });
    admin = await startPlatform(database, { issuer: base });
  });

  afterAll(async () => {
    await proc?.stop();
    await admin?.stop();
    await database?.drop();
  });

  it('fails requests cleanly while it happens and recovers without a restart', async () => {
    const notary = await admin.platform.clients.add({ name: 'Notary', kind: 'notary', redirectUris: [] });
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(notary.client_id)}:${encodeURIComponent(notary.client_secret)}`).toString('base64')}`;
    const token = () =>
      fetch(`${base}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=audit%3Aread',
      });
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let running = true;
    let sent = 0; // requests sent so far; `recovered`: the largest that got a token, by its number
    let recovered = 0;
    const worker = async () => {
      while (running) {
        const number = ++sent;
        const response = await token();
        const body = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 200) recovered = Math.max(recovered, number);
        // A failure is a clean, well-formed "try again" (503, Retry-After), never a 500, a hang or a
        // torn response.
        if (response.status !== 200) {
          if (response.status !== 503 || !response.headers.get('retry-after'))
            bad.push(`${response.status} ${body.slice(0, 200)}`);
          else if (!/^\{.*"error":"temporarily_unavailable".*\}$/s.test(body))
            bad.push(`${response.status} not the OAuth error: ${body.slice(0, 200)}`);
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    // Under load: six answers back, and the workers already on their next requests.
    await until(() => [...statuses.values()].reduce((a, b) => a + b, 0) >= 6, { what: 'six answers' });
    let dropped = 0;
    for (let i = 0; i < 3; i += 1) {
      dropped += await dropAllConnections(database.databaseUrl!);
      // The next drop once a request sent after this one got its token: the pool reconnected.
      const after = sent;
      await until(() => recovered > after, { what: `a token after drop ${i + 1}`, timeoutMs: 20_000 });
    }
    running = false;
    await Promise.all(workers);

    expect(dropped).toBeGreaterThan(0);
    expect(bad).toEqual([]);
    expect(proc.child.exitCode).toBeNull();
    // Recovered: every request succeeds again, same process.
    for (let i = 0; i < 20; i += 1) expect((await token()).status).toBe(200);
    expect((await fetch(`${base}/.well-known/openid-configuration`)).status).toBe(200);
    console.log(
      `database drops under load: ${dropped} connections dropped; responses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  });
});

describe('the verification service going down and coming back', () => {
  let running: RunningPlatform;
  let database: TestDatabase;
  let stub: ProviderStub;

  beforeAll(async () => {
    stub = await startProviderStub();
    database = await createTestDatabase();
    running = await startPlatform(database, {
      verification: {
        provider: 'http',
        http: { baseUrl: stub.url, apiKey: 'a-test-api-key-of-length', timeoutMs: 300, retries: 1 },
      },
    });
  });

  afterAll(async () => {
    await running?.stop();
    await database?.drop();
    await stub?.close();
  });

  async function verifyPage(agent: UserAgent): Promise<Page> {
    const merchant = await addMerchant(running.platform, { levels: ['result'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    const start = await startAuthorization(config, { scope: 'openid realname' });
    let page = await agent.navigate(start.url.toString());
    page = await agent.navigate(
      new URL(new URL(formAction(page, '/login')).pathname.replace(/\/login$/, '/register'), page.url).toString(),
    );
    return registerAndSignIn(agent, page, { login: newLogin(), password: PASSWORD });
  }

  it('says "try again later" while it is down, writes nothing, and verifies once it is back', async () => {
    const agent = personBrowser();
    const page = await verifyPage(agent);
    const form = () => {
      const data = new FormData();
      data.set('document_type', 'cn_resident_id');
      data.set('name', '张三');
      data.set('document_number', '11010519491231002X');
      return data;
    };
    const { db } = running.platform;
    const count = async (table: string) => Number((await db(table).count({ n: '*' }).first())!.n);
    const before = { verifications: await count('verifications'), persons: await count('persons') };

    stub.setMode({ kind: 'down' });
    const callsBefore = stub.calls;
    const down = await agent.upload(formAction(page, '/verify'), form());
    expect(down.status).toBe(503);
    // One call retried once (retries: 1): two failed attempts, fewer than the five consecutive
    // failures that open the circuit breaker, so the next try reaches the service again.
    expect(stub.calls - callsBefore).toBe(2);
    expect(await count('verifications')).toBe(before.verifications);
    expect(await count('persons')).toBe(before.persons);
    expect(await db('provider_calls').where({ outcome: 'unavailable' }).count({ n: '*' }).first()).toMatchObject({
      n: expect.anything(),
    });

    stub.setMode({ kind: 'ok' });
    // The person tries again, and it goes through at once.
    const back = await agent.upload(formAction(down, '/verify'), form());
    expect(back.html).toMatch(/name="level" value="result"/);
    expect(await count('verifications')).toBe(before.verifications + 1);
  });
});

onPostgres('a process killed in the middle of consents', () => {
  let database: TestDatabase;
  let admin: RunningPlatform;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await admin?.stop();
    await database?.drop();
  });

  it('leaves no grant without its consent.granted event and no event without its grant', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = await spawnPlatform({ DATABASE_URL: database.databaseUrl!, ISSUER: base, PORT: String(port) });
    admin = await startPlatform(database, { issuer: base });
    const merchant = await addMerchant(admin.platform, { levels: ['result'] });
    const config = await discover(base, merchant.client_id, merchant.client_secret);

    // Twenty people at the consent page at once.
    const people = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const login = newLogin();
        const account = await admin.platform.accounts.register({ login, password: PASSWORD });
        await admin.platform.verifications.verify(account.id, {
          method: 'document',
          documentType: 'cn_resident_id',
          documentNumber: '11010519491231002X',
          name: '张三',
        });
        const agent = personBrowser();
        const start = await startAuthorization(config, { scope: 'openid realname' });
        let page = await agent.navigate(start.url.toString());
        page = await agent.submit(formAction(page, '/login'), { login, password: PASSWORD });
        return { agent, page, accountId: account.id };
      }),
    );
    // All of them press "allow", a few milliseconds apart; the process is killed as soon as the
    // first consent is answered (an event), with the others in flight. The stagger only spreads
    // the kill over different points of different requests; nothing checked depends on the
    // timing, since every grant and event is compared whichever requests were cut where.
    let firstAnswered: () => void;
    const first = new Promise<void>((resolve) => (firstAnswered = resolve));
    const answers = people.map(async ({ agent, page }, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * 3));
      return agent.submit(formAction(page, '/confirm'), { level: 'result' }).then(
        (p) => (firstAnswered(), p.status),
        () => 'dropped' as const,
      );
    });
    await first;
    proc.child.kill('SIGKILL');
    await once(proc.child, 'exit');
    const outcomes = await Promise.all(answers);

    const accounts = people.map((p) => p.accountId);
    const grants = await admin.platform
      .db('oidc_payloads')
      .where({ model: 'Grant' })
      .whereIn('account_id', accounts)
      .select('id');
    await admin.platform.audit.integrateAll();
    const events = (
      await admin.platform.db('audit_events').where({ type: 'consent.granted' }).whereIn('account_id', accounts)
    ).map((e: { leaf: string }) => JSON.parse(e.leaf).payload.grant_id as string);
    expect(new Set(events)).toEqual(new Set(grants.map((g: { id: string }) => g.id)));
    // The log is whole after the crash.
    expect((await admin.platform.audit.size()) > 0).toBe(true);
    const report = await checkLog(admin.platform.db);
    expect(report.ok).toBe(true);
    console.log(
      `killed mid-consent: ${outcomes.filter((o) => o === 'dropped').length} of ${outcomes.length} requests dropped, ${grants.length} grants with their events`,
    );
  });
});
