import { AuditLog, canonicalJson } from '../../src/audit/log.js';
import { leafHash, MemoryTree, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { APPEND_LOCK } from '../../src/audit/store.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';

const registered = (account: string) =>
  ({ type: 'account.registered', actor: { type: 'account', id: account }, subjects: { account }, payload: { login_type: 'email' } }) as const;

describe('the audit log', () => {
  let database: TestDatabase;
  let db: Db;
  let log: AuditLog;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.open();
    await migrateLatest(db);
    log = new AuditLog(db);
  });

  afterAll(async () => {
    await database.drop();
  });

  /** Every leaf as stored, checked against its hash, rebuilt into an in-memory tree. */
  async function rebuild(): Promise<MemoryTree> {
    const rows: Array<{ leaf_index: number; leaf: string; leaf_hash: Buffer }> = await db('audit_events').orderBy('leaf_index');
    const tree = new MemoryTree();
    rows.forEach((row, i) => {
      expect(Number(row.leaf_index)).toBe(i);
      expect(JSON.parse(row.leaf).leaf_index).toBe(i);
      expect(canonicalJson(JSON.parse(row.leaf))).toBe(row.leaf);
      expect(tree.append(Buffer.from(row.leaf, 'utf8')).equals(Buffer.from(row.leaf_hash))).toBe(true);
    });
    return tree;
  }

  /** Every stored Merkle node is the rebuilt tree's, and every complete subtree is stored. */
  async function expectNodesOf(tree: MemoryTree): Promise<void> {
    const rows: Array<{ level: number; idx: number; hash: Uint8Array }> = await db('audit_nodes').orderBy(['level', 'idx']);
    let expected = 0;
    for (let level = 0; 2 ** level <= tree.size; level += 1) expected += Math.floor(tree.size / 2 ** level);
    expect(rows.length).toBe(expected);
    for (const row of rows) {
      expect(Buffer.from(row.hash).equals(tree.node(Number(row.level), Number(row.idx)))).toBe(true);
    }
  }

  it('writes an event as its canonical JSON leaf, in the caller transaction', async () => {
    const [appended] = await db.transaction((tx) => log.append(tx, registered('acc-1')));
    const row = await db('audit_events').where({ leaf_index: appended!.leafIndex }).first();
    expect(row.leaf).toBe(appended!.leaf);
    const leaf = JSON.parse(row.leaf);
    expect(leaf).toMatchObject({ v: 1, type: 'account.registered', actor: { type: 'account', id: 'acc-1' }, subjects: { account: 'acc-1' } });
    expect(Object.keys(leaf)).toEqual([...Object.keys(leaf)].sort());
    expect(Buffer.from(row.leaf_hash).equals(leafHash(Buffer.from(row.leaf)))).toBe(true);
    expect(row.account_id).toBe('acc-1');
  });

  it('writes nothing when the transaction rolls back, leaving no gap', async () => {
    const before = await log.size();
    await expect(
      db.transaction(async (tx) => {
        await log.append(tx, registered('acc-rolled-back'));
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(await log.size()).toBe(before);
    const [next] = await log.record(registered('acc-2'));
    expect(next!.leafIndex).toBe(before);
  });

  it('refuses an event outside a transaction, or a malformed one, before writing anything', async () => {
    const before = await log.size();
    await expect(log.append(db as never, registered('x'))).rejects.toThrow(/transaction/);
    await expect(log.record({ ...registered('x'), payload: { login_type: 'email', name: '张三' } } as never)).rejects.toThrow();
    await expect(log.record({ ...registered('x'), type: 'nonsense' } as never)).rejects.toThrow(/unknown audit event type/);
    await expect(log.record({ ...registered('x'), subjects: { person: '110105194912310021' } })).rejects.toThrow();
    expect(await log.size()).toBe(before);
  });

  it('keeps one gapless tree under many concurrent appenders', async () => {
    const before = await log.size();
    const writers = 8;
    const perWriter = 25;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i += 1) {
          // Some transactions append several events at once.
          const events = Array.from({ length: 1 + (i % 3) }, (_, k) => registered(`w${w}-${i}-${k}`));
          await db.transaction((tx) => log.append(tx, ...events));
        }
      }),
    );
    const size = await log.size();
    const expected = writers * Array.from({ length: perWriter }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0);
    expect(size).toBe(before + expected);
    const tree = await rebuild();
    expect(tree.size).toBe(size);
    await expectNodesOf(tree);
    // The stored subtree hashes give the same roots and proofs as the rebuilt tree.
    for (const at of [1, 2, 3, 7, 8, 100, size - 1, size]) {
      expect((await log.rootAt(at)).equals(tree.root(at))).toBe(true);
    }
    const root = await log.rootAt(size);
    for (const index of [0, 1, before, size - 1]) {
      const proof = await log.inclusionProof(index, size);
      expect(verifyInclusion(tree.node(0, index), index, size, proof, root)).toBe(true);
    }
    const proof = await log.consistencyProof(before, size);
    expect(verifyConsistency(before, size, proof, await log.rootAt(before), root)).toBe(true);
  });

  it('appends in one statement, under the append lock, storing every node the leaves complete', async () => {
    const statements: string[] = [];
    const listen = (query: { sql: string }) => statements.push(query.sql);
    // Batches that start at odd and even indices and complete subtrees several levels up.
    for (const count of [1, 2, 5, 64, 3, 129, 1]) {
      let held = 0;
      db.on('query', listen);
      statements.length = 0;
      try {
        await db.transaction(async (tx) => {
          const appended = await log.append(tx, ...Array.from({ length: count }, (_, i) => registered(`batch-${count}-${i}`)));
          expect(appended.map((a) => a.leafIndex)).toEqual(appended.map((_, i) => appended[0]!.leafIndex + i));
          db.off('query', listen);
          const locks = await tx.raw(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = 0 AND objid = ? AND objsubid = 1`,
            [APPEND_LOCK],
          );
          held = Number(locks.rows[0].n);
        });
      } finally {
        db.off('query', listen);
      }
      expect(statements.filter((sql) => !/^(BEGIN|COMMIT|ROLLBACK)/i.test(sql.trim()))).toEqual([expect.stringMatching(/audit_append/)]);
      expect(held).toBe(1);
    }
    await expectNodesOf(await rebuild());
  });

  it('refuses arrays of different lengths in the append function', async () => {
    const before = await log.size();
    await expect(
      db.transaction((tx) =>
        tx.raw(`SELECT audit_append(now(), ARRAY['{"actor":{},"leaf_index":'], ARRAY[',"v":1}'], ARRAY['account.registered'], ARRAY['system'], ARRAY[NULL], '{}', ARRAY[NULL], ARRAY[NULL])`),
      ),
    ).rejects.toThrow(/differ in length/);
    expect(await log.size()).toBe(before);
  });

  describe('refuses to change history', () => {
    beforeAll(async () => {
      await log.record(registered('acc-protected'));
      await db.transaction(async (tx) => {
        await tx('audit_tree_heads').insert({ tree_size: 1, root_hash: Buffer.alloc(32), timestamp: Date.now(), kid: 'k', signature: 's' });
      });
    });

    for (const table of ['audit_events', 'audit_nodes', 'audit_tree_heads']) {
      it(`refuses UPDATE, DELETE and TRUNCATE on ${table}`, async () => {
        const count = async () => Number((await db(table).count({ n: '*' }).first())!.n);
        const before = await count();
        const column = table === 'audit_events' ? 'type' : table === 'audit_nodes' ? 'hash' : 'signature';
        const value = column === 'hash' ? Buffer.alloc(32) : 'edited';
        await expect(db(table).update({ [column]: value })).rejects.toThrow(/append-only|permission denied/);
        await expect(db(table).delete()).rejects.toThrow(/append-only|permission denied/);
        await expect(db.raw(`TRUNCATE ${table}`)).rejects.toThrow(/append-only|permission denied/);
        expect(await count()).toBe(before);
      });
    }

    it('refuses a leaf whose stored hash does not match, or that skips an index', async () => {
      const size = await log.size();
      const leaf = '{"forged":true}';
      await expect(db('audit_events').insert({ leaf_index: size, created_at: new Date(), type: 'account.registered', actor_type: 'system', leaf, leaf_hash: Buffer.alloc(32) })).rejects.toThrow(/does not match/);
      await expect(
        db('audit_events').insert({ leaf_index: size + 5, created_at: new Date(), type: 'account.registered', actor_type: 'system', leaf, leaf_hash: leafHash(Buffer.from(leaf)) }),
      ).rejects.toThrow(/next index/);
      expect(await log.size()).toBe(size);
    });

    it(`keeps the protection after every migration (${ENGINE})`, async () => {
      const triggers: Array<{ tgname: string }> = (
        await db.raw(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgrelid::regclass::text LIKE 'audit_%'`)
      ).rows;
      const names = triggers.map((t) => t.tgname).sort();
      for (const table of ['audit_events', 'audit_nodes', 'audit_tree_heads']) {
        expect(names).toEqual(expect.arrayContaining([`${table}_no_change`, `${table}_no_truncate`]));
      }
      expect(names).toContain('audit_events_check');
    });
  });
});
