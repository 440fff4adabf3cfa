import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLog } from '../../src/audit/check.js';
import { AuditLog } from '../../src/audit/log.js';
import { KeptTreeHeads, parseKeptHeads } from '../../src/audit/kept-heads.js';
import { leafHash, nodeHash } from '../../src/audit/merkle.js';
import type { TreeHeadRow } from '../../src/audit/store.js';
import { toSignedTreeHead } from '../../src/audit/signed-tree-head.js';
import { AUDIT_TREE_HEAD_KEY, TreeHeadRefused, TreeHeads } from '../../src/audit/tree-heads.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { KeyService } from '../../src/keys/service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';

const event = (i: number) =>
  ({
    type: 'account.registered',
    actor: { type: 'account', id: `a${i}` },
    subjects: { account: `a${i}` },
    payload: { login_type: 'email' },
  }) as const;

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
    heads = await TreeHeads.load({ db, audit: log, keys, origin: 'rn.test/audit' });
    await heads.publish(); // a head at size 0
    for (let batch = 0; batch < 7; batch += 1) {
      await db.transaction((tx) =>
        log.append(tx, ...Array.from({ length: 1 + batch * 3 }, (_, i) => event(batch * 100 + i))),
      );
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
      db('audit_events')
        .whereIn('leaf_index', [12, 40])
        .update({ leaf: db.raw(`replace(leaf, '"email"', '"phone"')`) }),
    );
    const report = await checkLog(db);
    expect(report.ok).toBe(false);
    expect(report.first_bad_leaf).toEqual({ leaf_index: 12, problem: 'the leaf does not match its stored hash' });
  });

  it('catches a leaf rewritten together with its hash, through the stored nodes and signed heads', async () => {
    await behindTheTriggers(db, 'audit_events', async () => {
      const row = await db('audit_events').where({ leaf_index: 5 }).first();
      const leaf = row.leaf.replace('"email"', '"phone"');
      await db('audit_events')
        .where({ leaf_index: 5 })
        .update({ leaf, leaf_hash: leafHash(Buffer.from(leaf)) });
    });
    const report = await checkLog(db);
    expect(report.ok).toBe(false);
    expect(report.first_bad_leaf).toEqual({
      leaf_index: 5,
      problem: 'stored node (0, 5) differs from the recomputed one',
    });
    expect(report.errors.some((e) => /^tree head \d+: its root/.test(e))).toBe(true);
  });

  it('catches a deleted leaf and a forged tree head', async () => {
    await behindTheTriggers(db, 'audit_events', () => db('audit_events').where({ leaf_index: 30 }).delete());
    await behindTheTriggers(db, 'audit_tree_heads', () =>
      db('audit_tree_heads').where({ tree_size: 1 }).update({ timestamp: 1 }),
    );
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
    await behindTheTriggers(db, 'audit_events', () =>
      db('audit_events').where({ leaf_index: 3 }).update({ type: 'x', leaf: 'tampered' }),
    );
    const damaged = await runCli(['audit', 'verify'], env);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/first bad leaf 3/);
  });

  it('verifies a bundle offline from the CLI, with no database', async () => {
    const file = join(tmpdir(), `rn-bundle-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ format: 'something else' }));
    const result = await runCli(['audit', 'verify-bundle', file, '--json'], {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/not an evidence bundle/)],
    });
  });
});

/**
 * The attack of issue item 7, as a database superuser does it: triggers off, a released level
 * rewritten (dossier → result), every leaf hash and node recomputed, the signed heads deleted.
 */
async function rewriteHistory(db: Db, leafIndex: number): Promise<void> {
  const tables = ['audit_events', 'audit_nodes', 'audit_tree_heads'];
  for (const table of tables) await db.raw(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
  try {
    const row = await db('audit_events').where({ leaf_index: leafIndex }).first();
    const leaf = row.leaf.replace('"level":"dossier"', '"level":"result"');
    expect(leaf).not.toBe(row.leaf);
    await db('audit_events')
      .where({ leaf_index: leafIndex })
      .update({ leaf, leaf_hash: leafHash(Buffer.from(leaf)) });
    // Every perfect subtree from the leaves up, as audit_integrate stores them.
    const leaves: Array<{ leaf: string }> = await db('audit_events').select('leaf').orderBy('leaf_index');
    let level = leaves.map((l) => leafHash(Buffer.from(l.leaf)));
    for (let height = 0; level.length > 0; height += 1) {
      for (const [idx, hash] of level.entries()) await db('audit_nodes').where({ level: height, idx }).update({ hash });
      level = Array.from({ length: Math.floor(level.length / 2) }, (_, i) =>
        nodeHash(level[2 * i]!, level[2 * i + 1]!),
      );
    }
    await db('audit_tree_heads').delete();
  } finally {
    for (const table of tables) await db.raw(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  }
}

describe("a superuser's rewrite of history", () => {
  let database: TestDatabase;
  let db: Db;
  let keys: KeyService;
  let log: AuditLog;
  const released = (i: number) => ({
    type: 'claims.released' as const,
    actor: { type: 'client' as const, id: 'shop' },
    subjects: { account: `a${i}`, client: 'shop' },
    payload: { level: 'dossier' as const, via: 'userinfo' as const, claims: ['verified_claims'] },
  });
  const keptIn = (dir: string) => new KeptTreeHeads(dir);
  /** The tree heads as a process starting on this database loads them, keeping heads in the test's directory. */
  const loadKeepingHeads = () =>
    TreeHeads.load({ db, audit: log, keys, origin: 'rn.test/audit', kept: keptIn(database.headsDir) });

  beforeEach(async () => {
    database = await createTestDatabase();
    db = database.open();
    await migrateLatest(db);
    keys = new KeyService(db, SecretBox.fromBase64(Buffer.alloc(32, 1).toString('base64')));
    await keys.ensure([AUDIT_TREE_HEAD_KEY]);
    log = new AuditLog(db);
    const heads = await loadKeepingHeads();
    for (let batch = 0; batch < 7; batch += 1) {
      await db.transaction((tx) =>
        log.append(
          tx,
          ...Array.from({ length: 1 + batch * 3 }, (_, i) =>
            batch === 2 && i === 0 ? released(i) : event(batch * 100 + i),
          ),
        ),
      );
      await heads.publish();
    }
  });

  afterEach(async () => {
    await database.drop();
  });

  it('keeps every signed head outside the database as it is made, and checks the log against them', async () => {
    const kept = await keptIn(database.headsDir).all();
    expect(kept.problems).toEqual([]);
    expect(kept.heads.map((k) => k.head.tree_size)).toEqual([1, 5, 12, 22, 35, 51, 70]);
    expect(kept.heads.map((k) => k.head)).toEqual((await allTreeHeads(db)).map(toSignedTreeHead));
    const report = await checkLog(db, { kept: kept.heads });
    expect(report).toMatchObject({ ok: true, heads: 7, kept_heads: 7, errors: [] });
  });

  it("passes the database's own check, and fails against the kept heads naming the first it contradicts", async () => {
    await rewriteHistory(db, 5);
    // What the attack achieves against the database alone: intact, with no signed heads.
    expect(await checkLog(db)).toMatchObject({ ok: true, leaves: 70, heads: 0, kept_heads: 0 });

    const kept = await keptIn(database.headsDir).all();
    const report = await checkLog(db, { kept: kept.heads });
    expect(report.ok).toBe(false);
    expect(report.first_contradicted_head).toMatchObject({
      tree_size: 12,
      source: expect.stringMatching(/tree-heads-\d{4}-\d{2}-\d{2}\.jsonl:3$/),
    });
    expect(report.first_contradicted_head!.problem).toMatch(
      /^its root [0-9a-f]{64} is not the root of the stored leaves/,
    );
    // Heads 1 and 5 precede the rewritten leaf and still hold; every later one is contradicted.
    expect(
      report.errors
        .filter((e) => e.startsWith('kept tree head'))
        .map((e) => Number(/^kept tree head (\d+)/.exec(e)![1])),
    ).toEqual([12, 22, 35, 51, 70]);

    // A notary's copy of one head (GET /api/notary/tree-head) is enough on its own.
    const notaryCopy = parseKeptHeads(JSON.stringify(kept.heads[4]!.head), 'notary.json');
    expect((await checkLog(db, { kept: notaryCopy.heads })).first_contradicted_head).toMatchObject({
      tree_size: 35,
      source: 'notary.json',
    });
  });

  it('refuses, restarted over the rewritten log, to sign any head with its real key, and says why', async () => {
    await rewriteHistory(db, 5);
    await db.transaction((tx) => log.append(tx, event(999)));
    const restarted = await loadKeepingHeads();
    await expect(restarted.checkKept()).rejects.toThrow(TreeHeadRefused);
    await expect(restarted.publish()).rejects.toThrow(
      /contradicts the tree head of size 70 kept in .*history was rewritten/,
    );
    expect(await allTreeHeads(db)).toEqual([]);
    expect((await keptIn(database.headsDir).all()).heads).toHaveLength(7);
  });

  it('refuses to sign over a log that lost leaves a kept head covers', async () => {
    await behindTheTriggers(db, 'audit_events', () => db('audit_events').where('leaf_index', '>=', 60).delete());
    const restarted = await loadKeepingHeads();
    await expect(restarted.publish()).rejects.toThrow(/has 60 leaves, fewer than the 70 of the tree head kept in/);
    const report = await checkLog(db, { kept: (await keptIn(database.headsDir).all()).heads });
    expect(report.first_contradicted_head).toMatchObject({
      tree_size: 70,
      problem: 'larger than the log (60 leaves): leaves it covers were removed',
    });
  });

  it('reports a kept head that is not signed by the platform', async () => {
    const [first] = (await keptIn(database.headsDir).all()).heads;
    const forged = { head: { ...first!.head, timestamp: first!.head.timestamp + 1 }, source: 'forged.json' };
    const report = await checkLog(db, { kept: [forged] });
    expect(report).toMatchObject({
      ok: false,
      first_contradicted_head: { tree_size: 1, problem: "not signed by the platform's tree-head keys" },
    });
  });

  it("fails the operator CLI after the rewrite, naming the kept head, from the directory or a notary's file", async () => {
    if (!database.databaseUrl) return; // PGlite in memory: the CLI process cannot reach it.
    const env = { DATABASE_URL: database.databaseUrl, AUDIT_HEADS_DIR: database.headsDir };
    const intact = await runCli(['audit', 'verify'], env);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/7 signed tree heads in the database and 7 kept outside it check out/);

    const notaryFile = join(database.headsDir, '..', `rn-notary-${process.pid}.json`);
    await writeFile(notaryFile, JSON.stringify((await keptIn(database.headsDir).all()).heads[4]!.head));
    await rewriteHistory(db, 5);
    const damaged = await runCli(['audit', 'verify'], env);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/contradicts the kept tree head of size 12 \(.*tree-heads-.*\.jsonl:3\)/);
    const byNotary = await runCli(['audit', 'verify', '--heads', notaryFile, '--json'], {
      DATABASE_URL: database.databaseUrl,
    });
    await rm(notaryFile);
    expect(byNotary.code).toBe(1);
    expect(JSON.parse(byNotary.stdout)).toMatchObject({
      ok: false,
      heads: 0,
      kept_heads: 1,
      first_contradicted_head: { tree_size: 35, source: notaryFile },
    });
  });
});

/** Every signed tree head in the database, as the store reads them. */
async function allTreeHeads(db: Db): Promise<TreeHeadRow[]> {
  const rows = await db<TreeHeadRow>('audit_tree_heads').orderBy('tree_size');
  return rows.map((row) => ({ ...row, root_hash: Buffer.from(row.root_hash) }));
}
