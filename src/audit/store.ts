import type { Queryable } from '../db/index.js';
import type { NodeId, StoredNode } from './merkle.js';
import { run, statement } from '../db/prepared.js';

// SQL of the audit trail. The tables refuse UPDATE, DELETE and TRUNCATE (see the migration).

/** The columns an event is searched by, queued or a leaf. */
export interface EventColumns {
  created_at: Date;
  type: string;
  actor_type: string;
  actor_id: string | null;
  account_id: string | null;
  person_index: string | null;
  client_id: string | null;
}

export interface EventRow extends EventColumns {
  leaf_index: number;
  leaf: string;
  leaf_hash: Buffer;
}

export interface TreeHeadRow {
  tree_size: number;
  root_hash: Buffer;
  timestamp: number;
  kid: string;
  signature: string;
  checkpoint: string | null;
}

/**
 * An event queued for the tree: its columns (`created_at` is the leaf's `time`) and its leaf's
 * canonical JSON split around its leaf_index value.
 */
export interface QueuedEvent extends EventColumns {
  /** The leaf's text up to its leaf_index value: `{"actor":…,"leaf_index":`. */
  head: string;
  /** The leaf's text after its leaf_index value. */
  tail: string;
}

const QUEUED_COLUMNS = [
  'created_at',
  'type',
  'actor_type',
  'actor_id',
  'account_id',
  'person_index',
  'client_id',
  'head',
  'tail',
] as const satisfies ReadonlyArray<keyof QueuedEvent>;
/**
 * Prepared inserts of 1 to 16 events: a request appends up to 4, and AuditLog.record's group
 * commit a few callers' worth (src/db/prepared.ts); more go through knex.
 */
const ENQUEUE = Array.from({ length: 16 }, (_, i) => i + 1).map((rows) =>
  statement(
    `audit_queue.insert_${rows}`,
    `INSERT INTO audit_queue (${QUEUED_COLUMNS.join(', ')}) VALUES ${Array.from(
      { length: rows },
      (_, row) => `(${QUEUED_COLUMNS.map((_, column) => `$${row * QUEUED_COLUMNS.length + column + 1}`).join(', ')})`,
    ).join(', ')}`,
  ),
);

/** Queues events: in the caller's transaction, or as one statement of their own (migration 20261123_009: no lock is taken). */
export async function enqueueEvents(db: Queryable, events: QueuedEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (events.length > ENQUEUE.length) return void (await db('audit_queue').insert(events));
  await run(
    db,
    ENQUEUE[events.length - 1]!,
    events.flatMap((e) => QUEUED_COLUMNS.map((column) => e[column])),
  );
}

/**
 * Turns up to `limit` committed queued events into leaves, in a transaction of its own:
 * audit_integrate takes the append lock, removes them from the queue and appends their leaves and
 * the Merkle nodes they complete. Returns how many it integrated.
 */
export async function integrateQueued(db: Queryable, limit: number): Promise<number> {
  const { rows } = await db.raw('SELECT audit_integrate(?::int) AS integrated', [limit]);
  return Number(rows[0].integrated);
}

/**
 * Vacuums the queue. Every integrated event leaves a dead row behind, and finding the next
 * events walks past all of them until a vacuum removes them: measured at 200,000 dead rows, an
 * integration of an empty queue took 33 ms, and 0.5 ms after a VACUUM (107 ms). Autovacuum comes
 * at most once a minute per database, and not at all on PGlite. Outside transactions only.
 */
export async function vacuumQueue(db: Queryable): Promise<void> {
  await db.raw('VACUUM audit_queue');
}

/** Events queued and not yet in the tree (committed ones, as this connection sees them). */
export async function queuedCount(db: Queryable): Promise<number> {
  const row = await db('audit_queue').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/** The number of committed leaves (visible to this transaction). */
export async function treeSize(db: Queryable): Promise<number> {
  const row = await db('audit_events').max({ max: 'leaf_index' }).first();
  return row?.max === null || row?.max === undefined ? 0 : Number(row.max) + 1;
}

/** Fetches the given nodes in one query. */
export async function findNodes(db: Queryable, ids: NodeId[]): Promise<StoredNode[]> {
  if (ids.length === 0) return [];
  const rows: Array<{ level: number; idx: number; hash: Buffer }> = await db('audit_nodes')
    .select('level', 'idx', 'hash')
    .whereIn(
      ['level', 'idx'],
      ids.map((id) => [id.level, id.index]),
    );
  return rows.map((r) => ({ level: Number(r.level), index: Number(r.idx), hash: Buffer.from(r.hash) }));
}

// PGlite returns bytea as a Uint8Array, node-postgres as a Buffer: rows leave here with Buffers.
function eventRow(row: EventRow): EventRow {
  return { ...row, leaf_hash: Buffer.from(row.leaf_hash) };
}

function headRow(row: TreeHeadRow): TreeHeadRow {
  return { ...row, root_hash: Buffer.from(row.root_hash) };
}

export async function findEvent(db: Queryable, leafIndex: number): Promise<EventRow | undefined> {
  const row = await db<EventRow>('audit_events').where({ leaf_index: leafIndex }).first();
  return row && eventRow(row);
}

export async function findEvents(db: Queryable, leafIndices: number[]): Promise<EventRow[]> {
  return (await db<EventRow>('audit_events').whereIn('leaf_index', leafIndices).orderBy('leaf_index')).map(eventRow);
}

export interface EventFilter {
  account?: string;
  person?: string;
  client?: string;
  types?: string[];
  from?: Date;
  to?: Date;
  after?: number;
}

/** Events matching every given filter, by leaf index, at most `limit`. */
export async function searchEvents(db: Queryable, filter: EventFilter, limit: number): Promise<EventRow[]> {
  const query = db<EventRow>('audit_events').orderBy('leaf_index').limit(limit);
  if (filter.account) query.where('account_id', filter.account);
  if (filter.person) query.where('person_index', filter.person);
  if (filter.client) query.where('client_id', filter.client);
  if (filter.types?.length) query.whereIn('type', filter.types);
  if (filter.from) query.where('created_at', '>=', filter.from);
  if (filter.to) query.where('created_at', '<', filter.to);
  if (filter.after !== undefined) query.where('leaf_index', '>', filter.after);
  return (await query).map(eventRow);
}

export async function latestTreeHead(db: Queryable): Promise<TreeHeadRow | undefined> {
  const row = await db<TreeHeadRow>('audit_tree_heads').orderBy('tree_size', 'desc').first();
  return row && headRow(row);
}

export async function findTreeHead(db: Queryable, treeSize: number): Promise<TreeHeadRow | undefined> {
  const row = await db<TreeHeadRow>('audit_tree_heads').where({ tree_size: treeSize }).first();
  return row && headRow(row);
}

/** Keeps the first head signed at a size; a concurrent signer's duplicate is dropped. */
export async function insertTreeHead(db: Queryable, row: TreeHeadRow): Promise<void> {
  await db('audit_tree_heads').insert(row).onConflict('tree_size').ignore();
}

export async function allTreeHeads(db: Queryable): Promise<TreeHeadRow[]> {
  return (await db<TreeHeadRow>('audit_tree_heads').orderBy('tree_size')).map(headRow);
}

/** Up to `limit` leaves from `fromIndex` on, in order, as stored (the full check streams them). */
export async function leavesFrom(
  db: Queryable,
  fromIndex: number,
  limit: number,
): Promise<Array<{ leaf_index: number; leaf: string; leaf_hash: Uint8Array }>> {
  return db('audit_events')
    .select('leaf_index', 'leaf', 'leaf_hash')
    .where('leaf_index', '>=', fromIndex)
    .orderBy('leaf_index')
    .limit(limit);
}

/** The stored nodes of each level whose index is within its range, in one query. */
export async function nodesInRanges(
  db: Queryable,
  ranges: Array<{ level: number; from: number; to: number }>,
): Promise<Array<{ level: number; idx: number; hash: Uint8Array }>> {
  const nodes = db('audit_nodes').select('level', 'idx', 'hash');
  for (const { level, from, to } of ranges)
    nodes.orWhere((q) => q.where('level', level).whereBetween('idx', [from, to]));
  return nodes;
}

/** The latest event of a type (by leaf index), if any. */
export async function latestEventOfType(db: Queryable, type: string): Promise<EventRow | undefined> {
  return db<EventRow>('audit_events').where({ type }).orderBy('leaf_index', 'desc').first();
}
