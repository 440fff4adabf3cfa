import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '../../src/db/index.js';
import { closeRedis, connectRedis } from '../../src/db/redis.js';
import { RedisSessionAdapter } from '../../src/oidc/redis-sessions.js';
import { TokenIds } from '../../src/oidc/token-ids.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

// The operator CLI as an operator runs it: a real process against a real database.
describe('operator CLI', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let dataDir: string | undefined;

  beforeAll(async () => {
    if (ENGINE === 'postgres') {
      database = await createTestDatabase();
      env = { DATABASE_URL: database.databaseUrl! };
    } else {
      // A process of its own cannot share the in-memory database: give it a data directory.
      dataDir = await mkdtemp(join(tmpdir(), 'rn-cli-'));
      env = { DATA_DIR: dataDir };
    }
  });

  afterAll(async () => {
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Reads the database the CLI wrote, after the CLI has exited (PGlite allows one process). */
  async function inspect<T>(read: (db: Db) => Promise<T>): Promise<T> {
    const db = createDb({ databaseUrl: env.DATABASE_URL, dataDir: dataDir ?? ':memory:', poolMax: 1 });
    try {
      return await read(db);
    } finally {
      await db.destroy();
    }
  }

  it('migrates an empty database', async () => {
    const result = await runCli(['migrate', '--json'], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ migrated: true });
  });

  it('registers a merchant and prints one JSON object with its secret', async () => {
    const result = await runCli(
      [
        'client',
        'add',
        '--name',
        '示例商户',
        '--redirect-uri',
        'https://shop.example/cb',
        '--levels',
        'result,credentials',
        '--category',
        'ecommerce',
        '--security-level',
        '2',
        '--json',
      ],
      env,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const added = JSON.parse(result.stdout);
    expect(added).toMatchObject({
      name: '示例商户',
      kind: 'merchant',
      redirect_uris: ['https://shop.example/cb'],
      grant_levels: ['result', 'credentials'],
      category: 'ecommerce',
      security_level: 2,
    });
    expect(added.client_id).toEqual(expect.any(String));
    expect(added.client_secret.length).toBeGreaterThanOrEqual(43);

    const stored = await inspect((db) => db('clients').where({ client_id: added.client_id }).first());
    expect(stored.client_secret_encrypted).not.toContain(added.client_secret);

    const listed = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout);
    expect(listed.clients.map((c: { client_id: string }) => c.client_id)).toContain(added.client_id);
    expect(JSON.stringify(listed)).not.toContain(added.client_secret);
  });

  it('registers where a merchant hears of its grants and sign-outs, and lists the failed SETs', async () => {
    const result = await runCli(
      [
        'client',
        'add',
        '--name',
        'Told',
        '--redirect-uri',
        'https://told.example/cb',
        '--events-endpoint',
        'https://told.example/events',
        '--backchannel-logout-uri',
        'https://told.example/logout',
        '--json',
      ],
      env,
    );
    expect(result.stderr).toBe('');
    const added = JSON.parse(result.stdout);
    expect(added).toMatchObject({
      events_endpoint: 'https://told.example/events',
      backchannel_logout_uri: 'https://told.example/logout',
    });
    const stored = await inspect((db) => db('clients').where({ client_id: added.client_id }).first());
    expect(stored.metadata).toMatchObject({
      events_endpoint: 'https://told.example/events',
      backchannel_logout_uri: 'https://told.example/logout',
      backchannel_logout_session_required: true,
    });
    const refused = await runCli(
      [
        'client',
        'add',
        '--name',
        'Bad',
        '--redirect-uri',
        'https://bad.example/cb',
        '--events-endpoint',
        'http://bad.example/e',
      ],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('eventsEndpoint');

    const listed = await runCli(['events', 'list', '--failed', '--json'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ events: [] });
    // Four CLI processes, each starting Node and opening the database.
  }, 180_000);

  it('registers a merchant that requires passkeys, in the metadata the provider reads', async () => {
    const result = await runCli(
      [
        'client',
        'add',
        '--name',
        'Strict',
        '--redirect-uri',
        'https://strict.example/cb',
        '--require-passkey',
        '--json',
      ],
      env,
    );
    expect(result.code).toBe(0);
    const added = JSON.parse(result.stdout);
    expect(added.require_passkey).toBe(true);
    const stored = await inspect((db) => db('clients').where({ client_id: added.client_id }).first());
    expect(stored.metadata.require_passkey).toBe(true);
    const plain = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).clients;
    expect(plain.filter((c: { require_passkey: boolean }) => c.require_passkey)).toHaveLength(1);
  });

  // Eight CLI processes, as below: 4 to 8 s each on PGlite, more while other suites run.
  it('shows the security log and signs an account out everywhere', async () => {
    const accountId = randomUUID();
    const login = `cli-${accountId.slice(0, 8)}@example.com`;
    await runCli(['migrate'], env);
    await inspect(async (db) => {
      await db('accounts').insert({ id: accountId, login, login_type: 'email', password_hash: 'x' });
      const expires = new Date(Date.now() + 3_600_000);
      // Two live sessions as oidc-provider stores them, one of them listed on the security page.
      for (const uid of ['session-a', 'session-b'])
        await db('oidc_payloads').insert({
          model: 'Session',
          id: `hashed-${uid}`,
          payload: JSON.stringify({ uid, accountId }),
          uid,
          account_id: accountId,
          expires_at: expires,
        });
      await db('account_sessions').insert({
        uid: 'session-a',
        account_id: accountId,
        amr: JSON.stringify(['pwd']),
        signed_in_at: new Date(),
        last_used_at: new Date(),
        expires_at: expires,
      });
      await db('security_events').insert({ account_id: accountId, kind: 'sign_in', ip: '192.0.2.7' });
    });

    const ended = await runCli(['sessions', 'end', '--login', login.toUpperCase(), '--json'], env);
    expect(ended.code).toBe(0);
    expect(JSON.parse(ended.stdout)).toEqual({ account: accountId, sessions_ended: 1 });
    const left = await inspect((db) => db('oidc_payloads').where({ model: 'Session', account_id: accountId }));
    expect(left).toEqual([]);

    const log = await runCli(['security', 'log', '--login', login, '--json'], env);
    expect(log.code).toBe(0);
    const events = JSON.parse(log.stdout).events as Array<{ kind: string; ip?: string }>;
    expect(events.map((e) => e.kind)).toEqual(['sign_in', 'all_sessions_ended_by_operator']);
    expect(events[0]!.ip).toBe('192.0.2.7');
    const human = await runCli(['security', 'log', '--since', '2026-01-01'], env);
    expect(human.stdout).toMatch(/all_sessions_ended_by_operator/);

    const unknown = await runCli(['sessions', 'end', '--login', 'nobody@example.com'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No account has the login nobody@example.com');
    expect((await runCli(['sessions', 'end'], env)).code).toBe(1);
    expect((await runCli(['security', 'log', '--since', 'yesterday'], env)).code).toBe(1);
  }, 300_000);

  it('signs an account out everywhere when its sessions live in Redis (REDIS_URL set)', async () => {
    const accountId = randomUUID();
    const login = `redis-${accountId.slice(0, 8)}@example.com`;
    await runCli(['migrate'], env);
    await inspect((db) => db('accounts').insert({ id: accountId, login, login_type: 'email', password_hash: 'x' }));
    // Two live sessions as oidc-provider saves them with REDIS_URL set, and another account's.
    const redis = connectRedis(TEST_REDIS_URL);
    try {
      const sessions = new RedisSessionAdapter(redis, new TokenIds(randomBytes(32).toString('base64url')), 3600);
      const saved = [accountId, accountId, randomUUID()].map((owner) => ({
        id: randomBytes(16).toString('hex'),
        uid: randomBytes(16).toString('hex'),
        owner,
      }));
      for (const { id, uid, owner } of saved)
        await sessions.upsert(id, { kind: 'Session', jti: id, uid, accountId: owner, loginTs: 1 }, 600);

      const ended = await runCli(['sessions', 'end', '--login', login, '--json'], {
        ...env,
        REDIS_URL: TEST_REDIS_URL,
      });
      expect(ended.code).toBe(0);
      expect(JSON.parse(ended.stdout)).toEqual({ account: accountId, sessions_ended: 0 });
      expect(await sessions.find(saved[0]!.id)).toBeUndefined();
      expect(await sessions.find(saved[1]!.id)).toBeUndefined();
      expect(await sessions.find(saved[2]!.id)).toBeDefined();
    } finally {
      await closeRedis(redis);
    }
  }, 120_000);

  // Eight CLI processes: give them time on a loaded machine (each starts tsx and opens the database).
  it('disables an account, ending its sessions and tokens, and enables it again', async () => {
    const accountId = randomUUID();
    const login = `off-${accountId.slice(0, 8)}@example.com`;
    await runCli(['migrate'], env);
    const expires = new Date(Date.now() + 3_600_000);
    await inspect(async (db) => {
      await db('accounts').insert({ id: accountId, login, login_type: 'email', password_hash: 'x' });
      // What oidc-provider stores for a signed-in person at a merchant: a session, a grant and its tokens.
      const rows = [
        { model: 'Session', id: 'hashed-session', uid: 'session-c' },
        { model: 'Grant', id: 'grant-1' },
        { model: 'AccessToken', id: 'hashed-at', grant_id: 'grant-1' },
        { model: 'RefreshToken', id: 'hashed-rt', grant_id: 'grant-1' },
        { model: 'AuthorizationCode', id: 'hashed-code', grant_id: 'grant-1' },
      ];
      for (const row of rows)
        await db('oidc_payloads').insert({
          ...row,
          payload: JSON.stringify({ accountId }),
          account_id: accountId,
          expires_at: expires,
        });
    });

    const disabled = await runCli(['account', 'disable', '--login', login, '--reason', 'ticket 4711', '--json'], env);
    expect(disabled.stderr).toBe('');
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toEqual({
      account: accountId,
      disabled: true,
      changed: true,
      sessions_ended: 0,
      tokens_revoked: 2,
    });
    const left = await inspect((db) => db('oidc_payloads').where({ account_id: accountId }).pluck('model'));
    expect(left).toEqual(['Grant']);
    const row = await inspect((db) => db('accounts').where({ id: accountId }).first());
    expect(row.disabled_at).toBeInstanceOf(Date);
    expect(row.disabled_reason).toBe('ticket 4711');

    const again = await runCli(['account', 'disable', '--login', login], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${login} is already disabled; nothing changed.`);

    const enabled = await runCli(['account', 'enable', '--login', login], env);
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain(`Enabled ${login}.`);
    expect((await inspect((db) => db('accounts').where({ id: accountId }).first())).disabled_at).toBeNull();
    const notDisabled = await runCli(['account', 'enable', '--login', login, '--json'], env);
    expect(JSON.parse(notDisabled.stdout)).toEqual({ account: accountId, disabled: false, changed: false });

    // One event each way, in the security log and in the audit trail (the operator as actor).
    const log = JSON.parse((await runCli(['security', 'log', '--login', login, '--json'], env)).stdout);
    expect(log.events.map((e: { kind: string }) => e.kind)).toEqual(['account_disabled', 'account_enabled']);
    // Queued or integrated already: the CLI leaves integration to the server's job.
    const audited = await inspect(async (db) => [
      ...(await db('audit_queue').where({ account_id: accountId }).select('type', 'actor_type')),
      ...(await db('audit_events').where({ account_id: accountId }).select('type', 'actor_type')),
    ]);
    expect(audited.sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      { type: 'account.disabled', actor_type: 'operator' },
      { type: 'account.enabled', actor_type: 'operator' },
    ]);

    const unknown = await runCli(['account', 'disable', '--login', 'nobody@example.com'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No account has the login nobody@example.com');
  }, 300_000);

  it('registers a notary without redirect URIs', async () => {
    const result = await runCli(['client', 'add', '--name', 'Notary Office', '--kind', 'notary', '--json'], env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ kind: 'notary', redirect_uris: [] });
  });

  it('rejects bad input with exit 1, a message naming the field, and nothing written', async () => {
    const before = await inspect((db) => db('clients').count({ n: '*' }).first());
    const cases = [
      ['client', 'add', '--name', 'No redirect'],
      ['client', 'add', '--name', 'Bad URI', '--redirect-uri', 'not a uri'],
      ['client', 'add', '--name', 'Bad level', '--redirect-uri', 'https://a.example/cb', '--levels', 'everything'],
      [
        'client',
        'add',
        '--name',
        'Two hosts',
        '--redirect-uri',
        'https://a.example/cb',
        '--redirect-uri',
        'https://b.example/cb',
      ],
      ['client', 'add', '--name', 'Bad security', '--redirect-uri', 'https://a.example/cb', '--security-level', '9'],
    ];
    for (const args of cases) {
      const result = await runCli([...args, '--json'], env);
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      const error = JSON.parse(result.stdout);
      expect(error.error).toEqual(expect.any(String));
      expect(result.stderr).toMatch(/Error: /);
    }
    const after = await inspect((db) => db('clients').count({ n: '*' }).first());
    expect(Number(after!.n)).toBe(Number(before!.n));
  }, 300_000);

  it('prints usage with exit 2 for an unknown command or option', async () => {
    expect((await runCli(['frobnicate'], env)).code).toBe(2);
    const unknownOption = await runCli(['client', 'list', '--colour'], env);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/Usage:/);
  });

  it('rotates the signing keys, keeping the old ones published as retired', async () => {
    const first = JSON.parse((await runCli(['keys', 'rotate', '--json'], env)).stdout);
    const second = JSON.parse((await runCli(['keys', 'rotate', '--json'], env)).stdout);
    expect(first.rotated.map((r: { alg: string }) => r.alg).sort()).toEqual(['ES256', 'RS256']);
    const kids = await inspect((db) => db('platform_keys').where({ purpose: 'oidc-signing' }).select('kid', 'status'));
    const byKid = new Map(kids.map((k: { kid: string; status: string }) => [k.kid, k.status]));
    for (const r of first.rotated) expect(byKid.get(r.kid)).toBe('retired');
    for (const r of second.rotated) expect(byKid.get(r.kid)).toBe('active');

    const refused = await runCli(['keys', 'rotate', '--purpose', 'pairwise-salt', '--json'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/purpose/);
  }, 300_000);
});
