import { costReport, selfCheck } from '../../src/identity/selfcheck.js';
import { SANDBOX_NAMES } from '../../src/identity/providers/sandbox.js';
import { newLogin } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { runCli } from '../helpers/process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

// docs/verification.md#reminders: a periodic self-check finds accounts whose verification is missing, failed or about
// to expire and reminds them; the operator sees what verification costs and what reuse saved.
describe('the verification self-check and the cost report', () => {
  let running: Running;
  let sink: SmtpSink;
  const logins: Record<string, string> = {};

  beforeAll(async () => {
    sink = await startSmtpSink();
    running = await startTestPlatform({
      notifications: { channel: 'email', smtp: { host: sink.host, port: sink.port, from: 'no-reply@rn.test' } },
    });
    const { accounts, verifications, db } = running.platform;
    const account = async (key: string) => {
      logins[key] = newLogin();
      return (await accounts.register({ login: logins[key]!, password: 'correct horse battery' })).id;
    };
    await account('never');
    const failed = await account('failed');
    await verifications.verify(failed, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: SANDBOX_NAMES.mismatch,
    });
    const expiring = await account('expiring');
    const soon = await verifications.verify(expiring, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '11010519491231002X',
      name: '张三',
    });
    await db('verifications')
      .where({ id: soon.result!.id })
      .update({ expires_at: new Date(Date.now() + 10 * 86_400_000) });
    const fine = await account('fine');
    await verifications.verify(fine, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '440524198001010013',
      name: '王五',
    });
  });

  afterAll(async () => {
    await running.stop();
    await sink.close();
  });

  it('reminds the never verified, the failed and the expiring, once a month, by email', async () => {
    const { db, outbox } = running.platform;
    const report = await selfCheck(db, outbox, { channel: 'email', expiringWithinDays: 30, locale: 'zh-CN' });
    expect(report).toEqual({ checked: 3, missing: 1, failed: 1, expiring: 1, queued: 3 });
    expect(await selfCheck(db, outbox, { channel: 'email', expiringWithinDays: 30, locale: 'zh-CN' })).toMatchObject({
      checked: 3,
      queued: 0,
    });

    const delivery = await outbox.deliver();
    expect(delivery).toMatchObject({ sent: 3, failed: 0 });
    const to = sink.received.flatMap((m) => m.to).sort();
    expect(to).toEqual([logins.never, logins.failed, logins.expiring].sort());
    for (const mail of sink.received) expect(mail.text).toContain(`${running.issuer}/account/verify`);
    expect(sink.received.map((m) => m.text).join('\n')).not.toMatch(/张三|11010519491231002X/);
  });

  it('reports provider calls with their cost, and the queries served by reuse', async () => {
    const report = await costReport(running.platform.db);
    expect(report.providers).toEqual([
      expect.objectContaining({
        provider: 'sandbox',
        method: 'document',
        calls: 3,
        unavailable: 0,
        cost_fen: 150,
        cost_yuan: 1.5,
      }),
    ]);
    expect(report.total_cost_yuan).toBe(1.5);
  });

  it('runs both from the operator CLI', async () => {
    if (!running.database.databaseUrl) return; // the in-memory PGlite is not reachable from another process (cli.test covers PGlite)
    const env = { DATABASE_URL: running.database.databaseUrl };
    const costs = await runCli(['costs', '--json'], env);
    expect(costs.code).toBe(0);
    expect(JSON.parse(costs.stdout)).toMatchObject({ total_calls: 3, total_cost_yuan: 1.5 });
    const check = await runCli(['selfcheck', '--json'], env);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ checked: 3, queued: 0 });
    const bad = await runCli(['costs', '--since', 'yesterday'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--since/);
  });
});
