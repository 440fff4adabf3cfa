import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLog } from '../../src/audit/check.js';
import { AuditLog } from '../../src/audit/log.js';
import { leafHash } from '../../src/audit/merkle.js';
import { AUDIT_TREE_HEAD_KEY, TreeHeads } from '../../src/audit/tree-heads.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { KeyService } from '../../src/keys/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';

const event = (i: number) => ({ type: 'account.registered', actor: { type: 'account', id: `a${i}` }, subjects: { account: `a${i}` }, payload: { login_type: 'email' } }) as const;

/** Runs `change` with the append-only triggers off, as a superuser editing behind their back would. */
async function behindTheTriggers(db: Db, table: string, change: () => Promise<unknown>): Promise<void> {
  await db.raw(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  try {
    await change();
  } finally {
    await db.raw(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  }
}

// `audit verify`: the operator's full recomputation of the tree, and what it catches.
describe('checking the whole audit trail', () => {
  let database: TestDatabase;
  let db: Db;
  let heads: TreeHeads;

  beforeEach(async () => {
    database = await createTestDatabase();
    db = database.open();
    await migrateLatest(db);
    const keys = new KeyService(db, SecretBox.fromBase64(Buffer.alloc(32, 1).toString('base64')));
    await keys.ensure([AUDIT_TREE_HEAD_KEY]);
    const log = new AuditLog(db);
    heads = await TreeHeads.load(db, log, keys, 'rn.test/audit');
    await heads.publish(); // a head at size 0
    for (let batch = 0; batch < 7; batch += 1) {
      await db.transaction((tx) => log.append(tx, ...Array.from({ length: 1 + batch * 3 }, (_, i) => event(batch * 100 + i))));
      await heads.publish();
    }
  });

  afterEach(async () => {
    await database.drop();
  });

  it('finds an untouched log intact, every node and head included', async () => {
    const report = await checkLog(db);
    expect(report).toMatchObject({ ok: true, leaves: 70, heads: 8, errors: [] });
    expect(report.nodes_checked).toBe(70 + 35 + 17 + 8 + 4 + 2 + 1);
  });

  it('reports the first edited leaf when its text no longer matches its hash', async () => {
    await behindTheTriggers(db, 'audit_events', () =>
      db('audit_events').whereIn('leaf_index', [12, 40]).update({ leaf: db.raw(`replace(leaf, '"email"', '"phone"')`) }),
    );
    const report = await checkLog(db);
    expect(report.ok).toBe(false);
    expect(report.first_bad_leaf).toEqual({ leaf_index: 12, problem: 'the leaf does not match its stored hash' });
  });

  it('catches a leaf rewritten together with its hash, through the stored nodes and signed heads', async () => {
    await behindTheTriggers(db, 'audit_events', async () => {
      const row = await db('audit_events').where({ leaf_index: 5 }).first();
      const leaf = row.leaf.replace('"email"', '"phone"');
      await db('audit_events').where({ leaf_index: 5 }).update({ leaf, leaf_hash: leafHash(Buffer.from(leaf)) });
    });
    const report = await checkLog(db);
    expect(report.ok).toBe(false);
    expect(report.first_bad_leaf).toEqual({ leaf_index: 5, problem: 'stored node (0, 5) differs from the recomputed one' });
    expect(report.errors.some((e) => /^tree head \d+: its root/.test(e))).toBe(true);
  });

  it('catches a deleted leaf and a forged tree head', async () => {
    await behindTheTriggers(db, 'audit_events', () => db('audit_events').where({ leaf_index: 30 }).delete());
    await behindTheTriggers(db, 'audit_tree_heads', () => db('audit_tree_heads').where({ tree_size: 1 }).update({ timestamp: 1 }));
    const report = await checkLog(db);
    expect(report.first_bad_leaf).toEqual({ leaf_index: 30, problem: 'missing: the next stored leaf is 31' });
    expect(report.errors).toContain('tree head 1: the signature covers other values');
  });

  it('runs as the operator CLI, exiting 1 on damage', async () => {
    if (!database.databaseUrl) return; // PGlite in memory: the CLI process cannot reach it (cli.test covers PGlite).
    const env = { DATABASE_URL: database.databaseUrl };
    const intact = await runCli(['audit', 'verify', '--json'], env);
    expect(intact.code).toBe(0);
    expect(JSON.parse(intact.stdout)).toMatchObject({ ok: true, leaves: 70 });
    await behindTheTriggers(db, 'audit_events', () => db('audit_events').where({ leaf_index: 3 }).update({ type: 'x', leaf: 'tampered' }));
    const damaged = await runCli(['audit', 'verify'], env);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/first bad leaf 3/);
  });

  it('verifies a bundle offline from the CLI, with no database', async () => {
    const file = join(tmpdir(), `rn-bundle-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ format: 'something else' }));
    const result = await runCli(['audit', 'verify-bundle', file, '--json'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, errors: [expect.stringMatching(/not an evidence bundle/)] });
  });
});
