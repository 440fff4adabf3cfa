import { once } from 'node:events';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fetchCookie from 'fetch-cookie';
import { createDb } from '../../src/db/index.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { newLogin } from '../helpers/merchant.js';
import { freePort, runCli, spawnPlatform } from '../helpers/process.js';
import { CSRF_FIELD, formAction, UserAgent } from '../helpers/user-agent.js';
import { until } from '../helpers/wait.js';

// Each test starts two processes (the platform, then the audit check) and reads the database
// itself; on PGlite each of them opens it from disk, slowly on a busy machine.
const SLOW = 180_000;

// SIGTERM as a process manager or a balancer's rolling restart sends it: the platform stops
// taking connections, lets the requests it has finish, closes the database and exits 0.
describe('graceful shutdown of a real process', () => {
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  let env: Record<string, string>;
  const started: Array<Awaited<ReturnType<typeof spawnPlatform>>> = [];

  beforeAll(async () => {
    if (ENGINE === 'postgres') {
      database = await createTestDatabase();
      env = { DATABASE_URL: database.databaseUrl! };
    } else {
      // A process of its own cannot share the in-memory database: give it a data directory.
      dataDir = await mkdtemp(join(tmpdir(), 'rn-shutdown-'));
      env = { DATA_DIR: dataDir };
    }
  });

  afterAll(async () => {
    await Promise.all(started.map((proc) => proc.stop())); // after a failure: none left running
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Starts the platform with a deliberately slow password hash (argon2 `timeCost`) and opens a
   * registration form; its submission is a request that takes a while.
   */
  async function startWithSlowRegistration(extra: Record<string, string>) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const proc = await spawnPlatform({ ...env, PORT: String(port), ISSUER: issuer, LOG_LEVEL: 'info', ...extra });
    started.push(proc);
    const agent = new UserAgent();
    const login = await agent.navigate(`${issuer}/account/login`);
    const form = await agent.navigate(formAction(login, '/login').replace(/\/login$/, '/register'));
    const action = formAction(form, '/register');
    const person = { login: newLogin(), password: 'shutdown test password' };
    const submit = () =>
      fetchCookie(fetch, agent.jar)(action, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ [CSRF_FIELD]: agent.csrfToken(action) ?? '', ...person }).toString(),
      }).then((response) => ({ response, at: performance.now() }));
    return { proc, issuer, person, submit };
  }

  /** The platform's gauge of requests being served, read on a connection of its own (not kept alive). */
  function requestsInFlight(issuer: string): Promise<number> {
    return new Promise((resolve, reject) => {
      http
        .get(`${issuer}/metrics`, { agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(Number(/^realname_http_requests_in_flight (\d+)$/m.exec(text)?.[1])));
        })
        .on('error', reject);
    });
  }

  /** Sends SIGTERM once the submission is being served; resolves with the exit code. */
  async function terminateDuring(proc: Awaited<ReturnType<typeof spawnPlatform>>, issuer: string) {
    // The scrape counts itself: two in flight means the submission's handler has started (and
    // hashes its password for a while yet).
    await until(async () => (await requestsInFlight(issuer)) >= 2, { what: 'the submission to be in flight' });
    const exited = once(proc.child, 'exit').then(([code]) => code as number);
    proc.child.kill('SIGTERM');
    return { at: performance.now(), exited };
  }

  /** The account and its audit event, read after the process exited (PGlite allows one process). */
  async function registered(login: string) {
    const db = createDb({ databaseUrl: env.DATABASE_URL, dataDir: dataDir ?? ':memory:', poolMax: 1 });
    try {
      const account: { id: string } | undefined = await db('accounts').where({ login }).first();
      // In the tree, or still queued for it: either way committed with the account.
      const where = account && { account_id: account.id, type: 'account.registered' };
      const events = where
        ? [...(await db('audit_events').where(where)), ...(await db('audit_queue').where(where))]
        : [];
      return { account, events: events.length };
    } finally {
      await db.destroy();
    }
  }

  it(
    'finishes a request in flight at SIGTERM, refuses new connections, and exits 0',
    async () => {
      const { proc, issuer, person, submit } = await startWithSlowRegistration({ ARGON2_TIME_COST: '40' });
      const inFlight = submit();
      const sigterm = await terminateDuring(proc, issuer);
      await proc.waitForOutput('shutting down');
      await expect(fetch(`${issuer}/healthz`)).rejects.toThrow();

      const { response, at } = await inFlight;
      expect(at).toBeGreaterThan(sigterm.at);
      expect(response.status).toBe(200); // the sign-in form, as always after registering
      expect(await response.text()).toContain('/login"');
      expect(response.headers.get('connection')).toBe('close');
      expect(`exit code ${await sigterm.exited}\n${proc.output()}`).toMatch(/^exit code 0\n/);
      expect(proc.output()).toContain('ready in');

      expect(await registered(person.login)).toMatchObject({ account: expect.anything(), events: 1 });
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    },
    SLOW,
  );

  it(
    'closes connections still open after shutdownTimeout, yet lets their handler finish its write',
    async () => {
      // The hash must outlast the one-second drain with room for a faster machine: 250 passes take
      // about 2.8 s on an idle 2-core test machine (more when busy). At 90, about 1 s there, the
      // handler could finish inside the drain, and the test failed on an idle machine.
      const { proc, issuer, person, submit } = await startWithSlowRegistration({
        ARGON2_TIME_COST: '250',
        SHUTDOWN_TIMEOUT: '1',
      });
      const inFlight = submit();
      const sigterm = await terminateDuring(proc, issuer);
      await expect(inFlight).rejects.toThrow(); // its connection was closed after one second
      expect(`exit code ${await sigterm.exited}\n${proc.output()}`).toMatch(/^exit code 0\n/);
      expect(proc.output()).toContain('closing the connections of requests still running after shutdownTimeout');
      // Nothing half-written: the account and its audit event, together.
      expect(await registered(person.login)).toMatchObject({ account: expect.anything(), events: 1 });
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
    },
    SLOW,
  );
});
