import { AuditLog, canonicalJson } from '../../src/audit/log.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { MemoryTree } from '../helpers/memory-tree.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { inTransaction } from '../../src/db/transaction.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { until, watchRuns } from '../helpers/wait.js';

const registered = (account: string) =>
  ({
    type: 'account.registered',
    actor: { type: 'account', id: account },
    subjects: { account },
    payload: { login_type: 'email' },
  }) as const;

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
    const rows: Array<{ leaf_index: number; leaf: string; leaf_hash: Buffer }> =
      await db('audit_events').orderBy('leaf_index');
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
    const rows: Array<{ level: number; idx: number; hash: Uint8Array }> = await db('audit_nodes').orderBy([
      'level',
      'idx',
    ]);
    let expected = 0;
    for (let level = 0; 2 ** level <= tree.size; level += 1) expected += Math.floor(tree.size / 2 ** level);
    expect(rows.length).toBe(expected);
    for (const row of rows) {
      expect(Buffer.from(row.hash).equals(tree.node(Number(row.level), Number(row.idx)))).toBe(true);
    }
  }

  const queued = async () => Number((await db('audit_queue').count({ n: '*' }).first())!.n);

  it('queues an event in the caller transaction; integration makes it the next leaf, as canonical JSON', async () => {
    const before = await log.size();
    await db.transaction((tx) => log.append(tx, registered('acc-1')));
    expect(await queued()).toBe(1);
    expect(await log.size()).toBe(before);
    expect(await log.integrate()).toBe(1);
    expect(await queued()).toBe(0);
    const row = await db('audit_events').where({ leaf_index: before }).first();
    const leaf = JSON.parse(row.leaf);
    expect(leaf).toMatchObject({
      v: 1,
      leaf_index: before,
      type: 'account.registered',
      actor: { type: 'account', id: 'acc-1' },
      subjects: { account: 'acc-1' },
    });
    expect(canonicalJson(leaf)).toBe(row.leaf);
    expect(Buffer.from(row.leaf_hash).equals(leafHash(Buffer.from(row.leaf)))).toBe(true);
    expect(row.account_id).toBe('acc-1');
    expect(new Date(row.created_at).toISOString()).toBe(leaf.time);
  });

  it('queues nothing when the transaction rolls back, leaving no gap', async () => {
    const before = await log.size();
    await expect(
      db.transaction(async (tx) => {
        await log.append(tx, registered('acc-rolled-back'));
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(await queued()).toBe(0);
    await log.record(registered('acc-2'));
    await log.integrateAll();
    const [row] = await db('audit_events').where({ account_id: 'acc-2' });
    expect(Number(row.leaf_index)).toBe(before);
    expect(await db('audit_events').where({ account_id: 'acc-rolled-back' })).toEqual([]);
  });

  it('refuses an event outside a transaction, or a malformed one, before writing anything', async () => {
    const before = await log.size();
    await expect(log.append(db as never, registered('x'))).rejects.toThrow(/transaction/);
    await expect(
      log.record({ ...registered('x'), payload: { login_type: 'email', name: '张三' } } as never),
    ).rejects.toThrow();
    await expect(log.record({ ...registered('x'), type: 'nonsense' } as never)).rejects.toThrow(
      /unknown audit event type/,
    );
    await expect(log.record({ ...registered('x'), subjects: { person: '110105194912310021' } })).rejects.toThrow();
    expect(await queued()).toBe(0);
    expect(await log.size()).toBe(before);
  });

  it('tells its listeners of each append once its outermost transaction commits, never of a rolled-back one', async () => {
    const counts: number[] = [];
    const listened = new AuditLog(db);
    listened.onAppended((count) => counts.push(count));
    await expect(
      inTransaction(db, async () => {
        await inTransaction(db, (savepoint) => listened.append(savepoint, registered('acc-l1'), registered('acc-l2')));
        await new Promise((resolve) => setImmediate(resolve));
        expect(counts).toEqual([]); // the savepoint is released, nothing committed yet
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    await listened.record(registered('acc-l3'));
    await until(() => counts.length > 0, { what: 'the listener to be told of the commit' });
    expect(counts).toEqual([1]);
    await log.integrateAll();
  });

  it("records in a transaction of its own, and refuses to inside a caller's", async () => {
    const before = await queued();
    await expect(inTransaction(db, () => log.record(registered('acc-in-caller')))).rejects.toThrow(
      /AuditLog.record runs outside transactions/,
    );
    expect(await queued()).toBe(before);
    await log.record(registered('acc-own'));
    expect(await queued()).toBe(before + 1);
    await log.integrateAll();
  });

  it('records events recorded at once in fewer INSERTs, each committed, in order, when its call returns', async () => {
    const statements: string[] = [];
    const listen = (query: { sql: string }) => statements.push(query.sql);
    const before = await log.size();
    const accounts = Array.from({ length: 40 }, (_, i) => `acc-together-${i}`);
    db.on('query', listen);
    try {
      await Promise.all(
        accounts.map(async (account) => {
          await log.record(registered(account));
          // Committed when the call returns: visible to another statement at once.
          const row = await db('audit_queue').where({ account_id: account }).first();
          expect(row).toBeDefined();
        }),
      );
    } finally {
      db.off('query', listen);
    }
    const inserts = statements.filter((sql) => /^\s*insert into "?audit_queue/i.test(sql));
    expect(inserts.length).toBeGreaterThan(1);
    expect(inserts.length).toBeLessThan(accounts.length);
    await log.integrateAll();
    const leaves = await db('audit_events').where('leaf_index', '>=', before).orderBy('leaf_index').pluck('account_id');
    expect(leaves).toEqual(accounts);
  });

  it('refuses to integrate inside a transaction', async () => {
    await expect(inTransaction(db, () => log.integrate())).rejects.toThrow(/outside transactions/);
  });

  it('keeps one gapless tree under many concurrent appenders and integrations', async () => {
    const before = await log.size();
    const writers = 8;
    const perWriter = 25;
    let writing = true;
    // Two integrators race each other and the writers.
    const integrators = Array.from({ length: 2 }, async () => {
      while (writing) await log.integrate(7);
    });
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i += 1) {
          // Some transactions append several events at once.
          const events = Array.from({ length: 1 + (i % 3) }, (_, k) => registered(`w${w}-${i}-${k}`));
          await db.transaction((tx) => log.append(tx, ...events));
        }
      }),
    );
    writing = false;
    await Promise.all(integrators);
    await log.integrateAll();
    expect(await queued()).toBe(0);
    const size = await log.size();
    const expected = writers * Array.from({ length: perWriter }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0);
    expect(size).toBe(before + expected);
    const tree = await rebuild();
    expect(tree.size).toBe(size);
    await expectNodesOf(tree);
    // One transaction's events stay together and in their order.
    const leaves: Array<{ account_id: string }> = await db('audit_events')
      .where('leaf_index', '>=', before)
      .orderBy('leaf_index')
      .select('account_id');
    for (let w = 0; w < writers; w += 1) {
      const mine = leaves.map((l) => l.account_id).filter((a) => a.startsWith(`w${w}-`));
      expect(mine).toEqual(
        Array.from({ length: perWriter }, (_, i) =>
          Array.from({ length: 1 + (i % 3) }, (_, k) => `w${w}-${i}-${k}`),
        ).flat(),
      );
    }
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

  it('appends without a lock, and integrates in one statement, a batch at most, storing every node the leaves complete', async () => {
    const statements: string[] = [];
    const listen = (query: { sql: string }) => statements.push(query.sql);
    // Batches that start at odd and even indices and complete subtrees several levels up.
    for (const count of [1, 2, 5, 64, 3, 129, 1]) {
      let locks = -1;
      await db.transaction(async (tx) => {
        await log.append(tx, ...Array.from({ length: count }, (_, i) => registered(`batch-${count}-${i}`)));
        locks = Number(
          (
            await tx.raw(
              `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`,
            )
          ).rows[0].n,
        );
      });
      expect(locks).toBe(0);
      const size = await log.size();
      db.on('query', listen);
      statements.length = 0;
      try {
        expect(await log.integrate(50)).toBe(Math.min(count, 50));
      } finally {
        db.off('query', listen);
      }
      expect(statements).toEqual([expect.stringMatching(/audit_integrate/)]);
      expect(await log.size()).toBe(size + Math.min(count, 50));
      await log.integrateAll();
    }
    await expectNodesOf(await rebuild());
  });

  (ENGINE === 'postgres' ? it : it.skip)(
    'integrates only committed events: an open transaction holds up nobody',
    async () => {
      const before = await log.size();
      let commit!: () => void;
      const held = new Promise<void>((resolve) => (commit = resolve));
      let appended!: () => void;
      const inQueue = new Promise<void>((resolve) => (appended = resolve));
      const slow = db.transaction(async (tx) => {
        await log.append(tx, registered('acc-slow'));
        appended();
        await held;
      });
      await inQueue;
      await log.record(registered('acc-fast'));
      expect(await log.integrateAll()).toBe(1);
      commit();
      await slow;
      expect(await log.integrateAll()).toBe(1);
      const rows: Array<{ account_id: string }> = await db('audit_events')
        .where('leaf_index', '>=', before)
        .orderBy('leaf_index');
      expect(rows.map((r) => r.account_id)).toEqual(['acc-fast', 'acc-slow']);
    },
  );

  it('integrates on schedule, and vacuums the queue it empties', async () => {
    const failures: unknown[] = [];
    await log.record(registered('acc-scheduled'));
    const integrations = watchRuns(log, 'integrateAll');
    const stop = log.schedule(20, (err) => failures.push(err));
    try {
      // The scheduler's first integration, whenever a busy machine gets to it, empties the queue.
      await integrations.finished(1);
      expect(await queued()).toBe(0);
      if (ENGINE === 'postgres') {
        // The first run vacuums; the statistics show it a moment later (no event says when).
        const lastVacuum = async () =>
          (await db.raw(`SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'audit_queue'`)).rows[0]
            ?.last_vacuum;
        expect(await until(lastVacuum, { what: 'the vacuum of audit_queue in pg_stat_user_tables' })).toBeTruthy();
      }
    } finally {
      await stop();
      integrations.restore();
    }
    expect(failures).toEqual([]);
  });

  it('refuses arrays of different lengths in the append function', async () => {
    const before = await log.size();
    await expect(
      db.transaction((tx) =>
        tx.raw(
          `SELECT audit_append(ARRAY[now()], ARRAY['{"actor":{},"leaf_index":'], ARRAY[',"v":1}'], ARRAY['account.registered'], ARRAY['system'], ARRAY[NULL], '{}', ARRAY[NULL], ARRAY[NULL])`,
        ),
      ),
    ).rejects.toThrow(/differ in length/);
    expect(await log.size()).toBe(before);
  });

  describe('refuses to change history', () => {
    beforeAll(async () => {
      await log.record(registered('acc-protected'));
      await log.integrateAll();
      await log.record(registered('acc-protected-queued'));
      await db.transaction(async (tx) => {
        await tx('audit_tree_heads').insert({
          tree_size: 1,
          root_hash: Buffer.alloc(32),
          timestamp: Date.now(),
          kid: 'k',
          signature: 's',
        });
      });
    });

    for (const table of ['audit_events', 'audit_nodes', 'audit_tree_heads', 'audit_queue']) {
      it(`refuses UPDATE, DELETE and TRUNCATE on ${table}`, async () => {
        const count = async () => Number((await db(table).count({ n: '*' }).first())!.n);
        const before = await count();
        expect(before).toBeGreaterThan(0);
        const column = table === 'audit_nodes' ? 'hash' : table === 'audit_tree_heads' ? 'signature' : 'type';
        const value = column === 'hash' ? Buffer.alloc(32) : 'edited';
        await expect(db(table).update({ [column]: value })).rejects.toThrow(/append-only|permission denied/);
        await expect(db(table).delete()).rejects.toThrow(/append-only|permission denied/);
        await expect(db.raw(`TRUNCATE ${table}`)).rejects.toThrow(/append-only|permission denied/);
        expect(await count()).toBe(before);
      });
    }

    it('refuses to take events out of the queue anywhere but in audit_integrate', async () => {
      const count = async () => Number((await db('audit_queue').count({ n: '*' }).first())!.n);
      const before = await count();
      // Neither a session setting nor a function of another name opens the queue.
      await expect(
        db.transaction(async (tx) => {
          await tx.raw(`SELECT set_config('audit.integrating', 'on', true)`);
          await tx('audit_queue').delete();
        }),
      ).rejects.toThrow(/append-only/);
      await expect(
        db.transaction(async (tx) => {
          await tx.raw(
            `CREATE FUNCTION audit_integrate_lookalike() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM audit_queue; END $$`,
          );
          await tx.raw('SELECT audit_integrate_lookalike()');
        }),
      ).rejects.toThrow(/append-only/);
      expect(await count()).toBe(before);
    });

    it('refuses a leaf whose stored hash does not match, or that skips an index', async () => {
      const size = await log.size();
      const leaf = '{"forged":true}';
      await expect(
        db('audit_events').insert({
          leaf_index: size,
          created_at: new Date(),
          type: 'account.registered',
          actor_type: 'system',
          leaf,
          leaf_hash: Buffer.alloc(32),
        }),
      ).rejects.toThrow(/does not match/);
      await expect(
        db('audit_events').insert({
          leaf_index: size + 5,
          created_at: new Date(),
          type: 'account.registered',
          actor_type: 'system',
          leaf,
          leaf_hash: leafHash(Buffer.from(leaf)),
        }),
      ).rejects.toThrow(/next index/);
      expect(await log.size()).toBe(size);
    });

    it(`keeps the protection after every migration (${ENGINE})`, async () => {
      const triggers: Array<{ tgname: string }> = (
        await db.raw(
          `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' AND tgrelid::regclass::text LIKE 'audit_%'`,
        )
      ).rows;
      const names = triggers.map((t) => t.tgname).sort();
      for (const table of ['audit_events', 'audit_nodes', 'audit_tree_heads', 'audit_queue']) {
        expect(names).toEqual(expect.arrayContaining([`${table}_no_change`, `${table}_no_truncate`]));
      }
      expect(names).toContain('audit_events_check');
    });
  });
});
