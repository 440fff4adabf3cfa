import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { createDb, type Db } from '../../src/db/index.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';

// `client add --profile fapi2` and `client keys` as an operator runs them: a real process against a
// real database, the keys read from files.
describe('operator CLI for FAPI 2.0 clients', () => {
  // Each command is a process of its own (tsx, config, database): several a test on a busy machine.
  const PROCESSES = 240_000;

  let database: TestDatabase | undefined;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rn-fapi-cli-'));
    if (ENGINE === 'postgres') {
      database = await createTestDatabase();
      env = { DATABASE_URL: database.databaseUrl! };
    } else {
      env = { DATA_DIR: join(dir, 'data') };
    }
  });

  afterAll(async () => {
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function inspect<T>(read: (db: Db) => Promise<T>): Promise<T> {
    const db = createDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR ?? ':memory:', poolMax: 1 });
    try {
      return await read(db);
    } finally {
      await db.destroy();
    }
  }

  async function jwksFile(alg: string): Promise<{ file: string; kid: string }> {
    const { publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    const file = join(dir, `${kid}.json`);
    await writeFile(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }] }));
    return { file, kid };
  }

  it(
    'registers a FAPI 2.0 merchant with its keys and no secret, then replaces its keys, audited',
    async () => {
      const first = await jwksFile('ES256');
      const added = await runCli(
        [
          'client',
          'add',
          '--name',
          'FAPI bank',
          '--redirect-uri',
          'https://bank.example/cb',
          '--profile',
          'fapi2',
        ].concat(['--jwks', first.file, '--json']),
        env,
      );
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      const client = JSON.parse(added.stdout);
      expect(client).toMatchObject({ security_profile: 'fapi2', jwks_keys: 1 });
      expect(client).not.toHaveProperty('client_secret');
      const metadata = await inspect(
        async (db) => (await db('clients').where({ client_id: client.client_id }).first()).metadata,
      );
      expect(metadata).toMatchObject({
        token_endpoint_auth_method: 'private_key_jwt',
        require_pushed_authorization_requests: true,
        dpop_bound_access_tokens: true,
        id_token_signed_response_alg: 'PS256',
        jwks: { keys: [expect.objectContaining({ kid: first.kid })] },
      });

      const second = await jwksFile('ES256');
      const replaced = await runCli(
        ['client', 'keys', '--client-id', client.client_id, '--jwks', second.file, '--json'],
        env,
      );
      expect(replaced.stderr).toBe('');
      expect(replaced.code).toBe(0);
      expect(JSON.parse(replaced.stdout)).toEqual({ client_id: client.client_id, jwks_keys: 1 });
      // The event waits in the audit queue until the log integrates it (src/audit/log.ts): the
      // queued row holds the leaf's text around the index it will get.
      const { jwks, events } = await inspect(async (db) => ({
        jwks: (await db('clients').where({ client_id: client.client_id }).first()).metadata.jwks,
        events: [
          ...(await db('audit_queue')
            .where({ type: 'client.keys_replaced' })
            .select('head', 'tail', 'actor_type', 'client_id')),
          ...(await db('audit_events')
            .where({ type: 'client.keys_replaced' })
            .select('leaf', 'actor_type', 'client_id')),
        ],
      }));
      expect(jwks.keys.map((key: { kid: string }) => key.kid)).toEqual([second.kid]);
      expect(events).toHaveLength(1);
      const [event] = events as Array<Record<string, string>>;
      expect(event).toMatchObject({ actor_type: 'operator', client_id: client.client_id });
      expect(event!.leaf ?? `${event!.head}${event!.tail}`).toContain(`"payload":{"kids":["${second.kid}"]}`);
    },
    PROCESSES,
  );

  it(
    'refuses an RS256-only key set, a missing key set and a private key, with exit 1 and nothing written',
    async () => {
      const rs256 = await jwksFile('RS256');
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const privateFile = join(dir, 'private.json');
      await writeFile(privateFile, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
      const before = await inspect(async (db) => (await db('clients').count({ n: '*' }).first())!.n);
      for (const [keys, field] of [
        [['--jwks', rs256.file], 'jwks'],
        [[], 'jwks'],
        [['--jwks', privateFile], 'jwks.keys.0'],
      ] as const) {
        const result = await runCli(
          ['client', 'add', '--name', 'Bad', '--redirect-uri', 'https://bad.example/cb', '--profile', 'fapi2', ...keys],
          env,
        );
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`${field}:`);
      }
      expect(await inspect(async (db) => (await db('clients').count({ n: '*' }).first())!.n)).toBe(before);
    },
    PROCESSES,
  );
});
