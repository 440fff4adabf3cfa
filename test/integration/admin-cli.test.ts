import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createDb } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { createServices } from '../../src/services.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { newLogin } from '../helpers/merchant.js';
import { freePort, runCli, spawnPlatform } from '../helpers/process.js';

// The operator CLI beside a running platform: real processes, the same commands with and without
// --url, on both engines. On PGlite the running platform holds the embedded database, so the CLI
// without --url goes through the platform's admin API by itself.
describe('the operator CLI beside a running platform', () => {
  let database: TestDatabase | undefined;
  let dataDir: string | undefined;
  let env: Record<string, string>;
  let platform: Awaited<ReturnType<typeof spawnPlatform>> | undefined;
  let url: string;
  let credentials: Record<string, string>;
  /** A person account the tests disable and enable. */
  let person: string;
  let merchantId: string;
  /** `client show --json` and its readable output, from the database before the platform started. */
  let shown: { json: unknown; human: string };

  beforeAll(async () => {
    if (ENGINE === 'postgres') {
      database = await createTestDatabase();
      env = { DATABASE_URL: database.databaseUrl! };
    } else {
      dataDir = await mkdtemp(join(tmpdir(), 'rn-admin-cli-'));
      env = { DATA_DIR: dataDir };
    }
    // A person account, registered as the platform would (the CLI registers no persons).
    const config = loadConfig({
      env: { NODE_ENV: 'test' },
      overrides: { databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR ?? ':memory:' },
    });
    const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
    const login = newLogin();
    person = newLogin();
    try {
      await migrateLatest(db);
      const services = await createServices(config, db, createLogger('silent'));
      await services.accounts.register({ login, password: 'correct horse battery' });
      await services.accounts.register({ login: person, password: 'correct horse battery' });
    } finally {
      await db.destroy();
    }

    const made = await runCli(['operator', 'add', login, '--json'], env);
    expect(made.stderr).toBe('');
    expect(JSON.parse(made.stdout)).toMatchObject({ login, changed: true });
    const issued = JSON.parse((await runCli(['operator', 'credentials', login, '--json'], env)).stdout);
    expect(issued).toMatchObject({
      kind: 'operator',
      client_id: expect.any(String),
      client_secret: expect.any(String),
    });
    credentials = { OPERATOR_CLIENT_ID: issued.client_id, OPERATOR_CLIENT_SECRET: issued.client_secret };

    const added = await runCli(
      [
        'client',
        'add',
        '--name',
        '示例商户',
        '--redirect-uri',
        'https://shop.example/cb',
        '--levels',
        'result,credentials',
        '--json',
      ],
      env,
    );
    expect(added.stderr).toBe('');
    merchantId = JSON.parse(added.stdout).client_id;
    const args = ['client', 'show', '--client-id', merchantId];
    const json = await runCli([...args, '--json'], env);
    expect(json.stderr).toBe('');
    shown = {
      json: JSON.parse(json.stdout),
      human: (await runCli(args, env)).stdout,
    };

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    platform = await spawnPlatform({ ...env, PORT: String(port), ISSUER: url, SETTINGS_CHECK_INTERVAL: '0' });
  }, 240_000);

  afterAll(async () => {
    await platform?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const remote = (args: string[], extra: Record<string, string> = credentials) =>
    runCli([...args, '--url', url], { ...env, ...extra });

  it('prints the same through the admin API as on the database', async () => {
    const args = ['client', 'show', '--client-id', merchantId];
    const json = await remote([...args, '--json']);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual(shown.json);
    expect((await remote(args)).stdout).toBe(shown.human);
    // Without --url, with the platform's configuration: on PGlite the platform holds the
    // database, and the CLI uses its admin API at the issuer.
    const beside = await runCli([...args, '--json'], { ...env, ...credentials, ISSUER: url });
    expect(beside.stderr).toBe('');
    expect(JSON.parse(beside.stdout)).toEqual(shown.json);
  });

  it('changes a client through the running platform, which the platform then serves', async () => {
    const updated = await remote(['client', 'update', '--client-id', merchantId, '--levels', 'result', '--json']);
    expect(updated.stderr).toBe('');
    expect(JSON.parse(updated.stdout)).toMatchObject({ client_id: merchantId, grant_levels: ['result'] });
    const secret = JSON.parse((await remote(['client', 'secret', '--client-id', merchantId, '--json'])).stdout);
    const token = await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${merchantId}:${secret.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=realname:check',
    });
    expect(token.status).toBe(200);
    const disabled = await remote(['client', 'disable', '--client-id', merchantId]);
    expect(disabled.stdout).toBe(`${merchantId} is now disabled.\n`);
    const listed = await remote(['client', 'list']);
    expect(listed.stdout).toContain(`${merchantId}  merchant  示例商户  [result]  DISABLED`);
  });

  it('rotates keys that the running platform publishes without a restart', async () => {
    const rotated = await remote(['keys', 'rotate', '--json']);
    expect(rotated.stderr).toBe('');
    const kids = JSON.parse(rotated.stdout).rotated.map((r: { kid: string }) => r.kid);
    const jwks = (await (await fetch(`${url}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(kids));
  });

  it('runs costs, selfcheck and audit verify through the admin API', async () => {
    const costs = await remote(['costs', '--since', '2026-01-01', '--json']);
    expect(JSON.parse(costs.stdout)).toMatchObject({ since: '2026-01-01T00:00:00.000Z' });
    expect(JSON.parse((await remote(['selfcheck', '--json'])).stdout)).toMatchObject({ checked: expect.any(Number) });
    const verified = await remote(['audit', 'verify']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^Audit trail intact: \d+ leaves/);
  });

  it('disables and enables an account, and reads the security log and the events, through the admin API', async () => {
    const disabled = await remote(['account', 'disable', '--login', person.toUpperCase(), '--json']);
    expect(disabled.stderr).toBe('');
    expect(JSON.parse(disabled.stdout)).toMatchObject({ disabled: true, changed: true, sessions_ended: 0 });
    expect((await remote(['account', 'disable', '--login', person])).stdout).toBe(
      `${person} is already disabled; nothing changed.\n`,
    );
    expect((await remote(['account', 'enable', '--login', person])).stdout).toBe(`Enabled ${person}.\n`);
    expect((await remote(['sessions', 'end', '--login', person])).stdout).toBe(`Ended 0 session(s) of ${person}.\n`);
    const log = await remote(['security', 'log', '--login', person, '--json']);
    expect(JSON.parse(log.stdout).events.map((e: { kind: string }) => e.kind)).toEqual([
      'account_disabled',
      'account_enabled',
      'all_sessions_ended_by_operator',
    ]);
    expect(JSON.parse((await remote(['events', 'list', '--json'])).stdout)).toEqual({ events: [] });
  });

  it('reports bad input, refused credentials and database-only commands plainly, with exit 1', async () => {
    const bad = await remote(['client', 'add', '--name', 'Bad', '--redirect-uri', 'http://shop.example/cb']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: The request has invalid fields\.\n {2}- redirectUris\.0: /);
    const missing = await remote(['client', 'show', '--client-id', 'nope', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: 'not-found', message: 'No client nope.' });

    const wrong = await remote(['client', 'list'], {
      OPERATOR_CLIENT_ID: credentials.OPERATOR_CLIENT_ID!,
      OPERATOR_CLIENT_SECRET: 'wrong',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('refused the operator credentials');
    const none = await remote(['client', 'list'], {});
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('OPERATOR_CLIENT_ID');
    const local = await remote(['operator', 'credentials', 'someone@example.test']);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('works on the database itself');
  });
});
