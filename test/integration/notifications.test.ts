import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { insertAccount } from '../../src/accounts/store.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { InvalidInput } from '../../src/errors.js';
import { LogNotifier, SmtpNotifier } from '../../src/notifications/notifier.js';
import { Outbox, type OutboxOptions } from '../../src/notifications/service.js';
import type { OutboxRow } from '../../src/notifications/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const ISSUER = 'https://id.example.test';
const VERIFY_LINK = `${ISSUER}/account/verify`;

describe('notification outbox', () => {
  let database: TestDatabase;
  let db: Db;
  let sink: SmtpSink;
  const transports: SmtpNotifier[] = [];

  function smtp(): SmtpNotifier {
    const notifier = new SmtpNotifier({
      host: sink.host,
      port: sink.port,
      secure: false,
      from: 'Real-name platform <no-reply@id.example.test>',
    });
    transports.push(notifier);
    return notifier;
  }

  function outbox(options: Partial<OutboxOptions> = {}, on: Db = db): Outbox {
    return new Outbox(on, [smtp()], { issuer: ISSUER, ...options });
  }

  async function buildAccount(): Promise<{ id: string; email: string }> {
    const id = randomUUID();
    const email = `person-${id.slice(0, 8)}@example.test`;
    await insertAccount(db, { id, login: email, login_type: 'email', password_hash: 'not a real hash' });
    return { id, email };
  }

  const rowsOf = (accountId: string): Promise<OutboxRow[]> =>
    db<OutboxRow>('notification_outbox').where({ account_id: accountId }).orderBy('created_at');

  // Moves a message's retry time to now instead of waiting for its backoff.
  const makeDue = (id: string) => db('notification_outbox').where({ id }).update({ next_attempt_at: db.fn.now() });

  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.open();
    await migrateLatest(db);
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    for (const transport of transports) transport.close();
    await sink.close();
    await database.drop();
  });
  beforeEach(async () => {
    // deliver() takes every due message, so each test starts from an empty queue and inbox.
    await db('notification_outbox').delete();
    sink.received.length = 0;
    sink.rejecting = false;
    sink.delayMs = 0;
  });

  it('queues a reminder once per period', async () => {
    const account = await buildAccount();
    const box = outbox();
    const reminder = {
      accountId: account.id,
      channel: 'email' as const,
      recipient: account.email,
      template: 'verification.missing' as const,
    };
    expect(await box.enqueue(reminder)).toBe(true);
    expect(await box.enqueue(reminder)).toBe(false);
    expect(await box.enqueue({ ...reminder, dedupeKey: `verification.missing:${account.id}:2099-01` })).toBe(true);

    const rows = await rowsOf(account.id);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
      channel: 'email',
      dedupe_key: `verification.missing:${account.id}:${new Date().toISOString().slice(0, 7)}`,
      params: { locale: 'zh-CN' },
    });
  });

  it('refuses parameters that are not rendering parameters, and incomplete reminders', async () => {
    const account = await buildAccount();
    const box = outbox();
    const base = { accountId: account.id, channel: 'log' as const, template: 'verification.failed' as const };
    await expect(box.enqueue({ ...base, params: { locale: 'en', name: '张三' } as never })).rejects.toThrow(
      InvalidInput,
    );
    await expect(box.enqueue({ ...base, channel: 'email' })).rejects.toThrow(InvalidInput);
    await expect(box.enqueue({ ...base, template: 'verification.expiring' })).rejects.toThrow(InvalidInput);
    expect(await rowsOf(account.id)).toHaveLength(0);
  });

  it('sends due reminders by email in the chosen language, with the link to verify', async () => {
    const zh = await buildAccount();
    const en = await buildAccount();
    const box = outbox();
    await box.enqueue({
      accountId: zh.id,
      channel: 'email',
      recipient: zh.email,
      template: 'verification.expiring',
      params: { locale: 'zh-CN', expires_at: '2026-12-31T00:00:00Z' },
    });
    await box.enqueue({
      accountId: en.id,
      channel: 'email',
      recipient: en.email,
      template: 'verification.failed',
      params: { locale: 'en' },
    });

    expect(await box.deliver()).toEqual({ sent: 2, failed: 0, retried: 0 });

    const toZh = sink.received.find((m) => m.to.includes(zh.email))!;
    expect(toZh.subject).toBe('您的实名认证即将到期');
    expect(toZh.text).toContain('2026年12月31日');
    expect(toZh.text).toContain(VERIFY_LINK);
    expect(toZh.from).toBe('no-reply@id.example.test');
    const toEn = sink.received.find((m) => m.to.includes(en.email))!;
    expect(toEn.subject).toBe('Your identity verification did not succeed');
    expect(toEn.text).toContain(`Try again: ${VERIFY_LINK}`);

    for (const account of [zh, en]) {
      const [row] = await rowsOf(account.id);
      expect(row).toMatchObject({ status: 'sent', attempts: 1, last_error: null });
      expect(row!.sent_at).toBeInstanceOf(Date);
    }
    expect(await box.deliver()).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(sink.received).toHaveLength(2);
  });

  it('retries a refused message with growing delays, then marks it failed after maxAttempts', async () => {
    const account = await buildAccount();
    const box = outbox({ maxAttempts: 3, retryBaseMs: 60_000 });
    await box.enqueue({
      accountId: account.id,
      channel: 'email',
      recipient: account.email,
      template: 'verification.missing',
    });
    sink.rejecting = true;

    const delays: number[] = [];
    for (const attempt of [1, 2]) {
      const before = Date.now();
      expect(await box.deliver()).toEqual({ sent: 0, failed: 0, retried: 1 });
      const [row] = await rowsOf(account.id);
      expect(row).toMatchObject({ status: 'pending', attempts: attempt });
      expect(row!.last_error).toMatch(/550/);
      delays.push(row!.next_attempt_at.getTime() - before);
      // Not due again before its backoff has passed.
      expect(await box.deliver()).toEqual({ sent: 0, failed: 0, retried: 0 });
      await makeDue(row!.id);
    }
    expect(delays[0]).toBeGreaterThan(55_000);
    expect(delays[0]).toBeLessThan(65_000);
    expect(delays[1]).toBeGreaterThan(115_000);
    expect(delays[1]).toBeLessThan(125_000);

    expect(await box.deliver()).toEqual({ sent: 0, failed: 1, retried: 0 });
    const [row] = await rowsOf(account.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 3 });
    sink.rejecting = false;
    await makeDue(row!.id);
    expect(await box.deliver()).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(sink.received).toHaveLength(0);
  });

  it('delivers a message on a later attempt after the channel failed', async () => {
    const account = await buildAccount();
    // No email channel at first: the message waits instead of being lost.
    const logOnly = new Outbox(db, [new LogNotifier(pino({ level: 'silent' }))], { issuer: ISSUER });
    await logOnly.enqueue({
      accountId: account.id,
      channel: 'email',
      recipient: account.email,
      template: 'verification.missing',
      params: { locale: 'en' },
    });
    expect(await logOnly.deliver()).toEqual({ sent: 0, failed: 0, retried: 1 });
    const [waiting] = await rowsOf(account.id);
    expect(waiting!.last_error).toMatch(/no notifier/);

    sink.rejecting = true;
    await makeDue(waiting!.id);
    expect(await outbox().deliver()).toEqual({ sent: 0, failed: 0, retried: 1 });
    sink.rejecting = false;
    await makeDue(waiting!.id);
    expect(await outbox().deliver()).toEqual({ sent: 1, failed: 0, retried: 0 });
    expect(sink.received.map((m) => m.subject)).toEqual(['Please complete your identity verification']);
    expect((await rowsOf(account.id))[0]).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
  });

  it('never sends a message twice when two workers deliver at the same time', async () => {
    const accounts = await Promise.all(Array.from({ length: 20 }, () => buildAccount()));
    const first = outbox({ batchSize: 3 });
    for (const account of accounts) {
      await first.enqueue({
        accountId: account.id,
        channel: 'email',
        recipient: account.email,
        template: 'verification.missing',
      });
    }
    // A second worker with its own connection pool (PostgreSQL), as another process would have.
    const second = outbox({ batchSize: 3 }, database.open());
    sink.delayMs = 10;

    const totals = [0, 0];
    for (;;) {
      const reports = await Promise.all([first.deliver(), second.deliver()]);
      reports.forEach((r, i) => (totals[i]! += r.sent));
      if (reports.every((r) => r.sent + r.failed + r.retried === 0)) break;
    }

    expect(totals[0]! + totals[1]!).toBe(20);
    expect(totals[0]).toBeGreaterThan(0);
    expect(totals[1]).toBeGreaterThan(0);
    expect(sink.received).toHaveLength(20);
    expect(new Set(sink.received.flatMap((m) => m.to))).toEqual(new Set(accounts.map((a) => a.email)));
    expect(new Set(sink.received.map((m) => m.headers['message-id'])).size).toBe(20);
    const statuses = await db('notification_outbox').select('status', 'attempts');
    expect(statuses.every((s) => s.status === 'sent' && s.attempts === 1)).toBe(true);
  });

  it('writes the template and account to the log channel, never the address', async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logNotifier = new LogNotifier(pino({ level: 'info' }, capture));
    const account = await buildAccount();
    const box = new Outbox(db, [logNotifier, smtp()], { issuer: ISSUER });
    await box.enqueue({ accountId: account.id, channel: 'log', template: 'verification.failed' });
    expect(await box.deliver()).toEqual({ sent: 1, failed: 0, retried: 0 });
    // Even a message handed to it with an address keeps the address out of the log.
    await logNotifier.send({
      id: randomUUID(),
      accountId: account.id,
      template: 'verification.missing',
      to: account.email,
      subject: 's',
      text: 't',
    });

    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ msg: 'notification', template: 'verification.failed', account: account.id });
    for (const line of lines) {
      expect(line).not.toContain(account.email);
      expect(line).not.toContain('@');
    }
    expect(sink.received).toHaveLength(0);
  });
});
