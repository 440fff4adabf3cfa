import { newLogin } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { watchRuns } from '../helpers/wait.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

// "If the event cannot be written, the change does not happen": a change and its audit event
// commit together or not at all.
describe('a change and its audit event', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform();
  });

  afterAll(async () => {
    await running.stop();
  });

  const count = async (table: string) => Number((await running.platform.db(table).count({ n: '*' }).first())!.n);

  it('does not register an account when its audit event cannot be written', async () => {
    const { db, accounts, audit: log } = running.platform;
    // The audit trail breaks: every insert into it fails.
    await db.raw(
      `CREATE FUNCTION audit_unavailable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$`,
    );
    await db.raw(
      'CREATE TRIGGER audit_unavailable BEFORE INSERT ON audit_queue FOR EACH ROW EXECUTE FUNCTION audit_unavailable()',
    );
    const [accountsBefore, eventsBefore] = [await count('accounts'), await count('audit_queue')];
    try {
      await expect(accounts.register({ login: newLogin(), password: 'correct horse battery' })).rejects.toThrow(
        /audit trail unavailable/,
      );
      expect(await count('accounts')).toBe(accountsBefore);
      expect(await count('audit_queue')).toBe(eventsBefore);
    } finally {
      await db.raw('DROP TRIGGER audit_unavailable ON audit_queue');
      await db.raw('DROP FUNCTION audit_unavailable()');
    }
    // Once it is back, the same registration goes through, with its event.
    const account = await accounts.register({ login: newLogin(), password: 'correct horse battery' });
    expect(await count('accounts')).toBe(accountsBefore + 1);
    await log.integrateAll();
    const [row] = await db('audit_events').where({ account_id: account.id });
    expect(row.type).toBe('account.registered');
  });

  it('signs a new tree head after the log grows, and none while it is quiet', async () => {
    const { treeHeads, accounts, audit: log, db } = running.platform;
    await treeHeads.publish();
    const heads = async () => count('audit_tree_heads');
    const largest = async () => Number((await db('audit_tree_heads').max({ m: 'tree_size' }).first())!.m);
    const failures: unknown[] = [];
    const runs = watchRuns(treeHeads, 'publish');
    const stop = treeHeads.schedule(50, (err) => failures.push(err));
    try {
      // Quiet for three runs of the scheduler, counted rather than timed: a slow machine makes
      // fewer runs in a given time, and the check would pass having seen none.
      const quiet = await heads();
      await runs.finished(3);
      expect(await heads()).toBe(quiet);
      await accounts.register({ login: newLogin(), password: 'correct horse battery' });
      // The event is queued; the first run that starts after it signs a head covering it
      // (publishing integrates first).
      const size = (await log.size()) + (await log.queued());
      await runs.finished(runs.started + 1);
      expect(await largest()).toBe(size);
      expect(await heads()).toBe(quiet + 1);
      expect(failures).toEqual([]);
    } finally {
      await stop();
      runs.restore();
    }
  });
});
