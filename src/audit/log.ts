import canonicalize from 'canonicalize';
import type { Db, Queryable, Tx } from '../db/index.js';
import { assertNoTransaction } from '../db/transaction.js';
import { parseEvent, type AuditEventInput, type AuditLeaf } from './events.js';
import {
  consistencyProofFromNodes,
  inclusionProofFromNodes,
  neededForConsistency,
  neededForInclusion,
  neededForRoot,
  rootFromNodes,
  toNodeMap,
  type NodeId,
} from './merkle.js';
import { repeat } from '../repeat.js';
import {
  latestEventOfType,
  latestTreeHead,
  enqueueEvents,
  findEvent,
  findEvents,
  findNodes,
  integrateQueued,
  queuedCount,
  searchEvents,
  treeSize,
  vacuumQueue,
  type EventFilter,
  type EventRow,
  type QueuedEvent,
} from './store.js';

export type { EventFilter, EventRow };

/** Queued events one integration turns into leaves at most (one transaction, one lock hold). */
const INTEGRATION_BATCH = 1000;
/** Batches `integrateAll` runs at most, so a reader is never held up behind a queue that keeps growing. */
const INTEGRATION_ROUNDS = 100;
/** How often the scheduled integration also vacuums the queue (see vacuumQueue), in ms. */
const QUEUE_VACUUM_INTERVAL = 10_000;

/** The RFC 8785 (JCS) canonical text of a JSON value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** A leaf's canonical JSON split around its leaf_index value, which the database fills in. */
export interface LeafTemplate {
  head: string;
  tail: string;
}

/**
 * Splits the canonical JSON of `leaf` (whose leaf_index is a placeholder) around the leaf_index
 * value, so the database can splice in the index it assigns under the append lock, in the same
 * statement: head + String(index) + tail is byte for byte the canonical JSON of the leaf with
 * that index. Why this holds for every leaf and index:
 *  - RFC 8785 serializes an object as "{" + its members sorted by key (UTF-16 code units) joined
 *    by "," + "}", with no whitespace, each member's text depending on its own value alone. The
 *    leaf's keys are exactly actor, leaf_index, payload, subjects, time, type, v (parseEvent
 *    returns exactly four of them, and those sort so), so the text is always
 *    `{"actor":` + C(actor) + `,"leaf_index":` + C(leaf_index) + `,"payload":` …, whatever the
 *    strings or nested keys inside (a nested "leaf_index", e.g. in a notary query's filters, only
 *    comes after, inside payload).
 *  - C(n) of a non-negative safe integer is its plain decimal digits (ECMAScript Number to
 *    String), which is also what PostgreSQL's bigint::text gives.
 * So the head is computed from the actor alone and checked to be where it must be (a leaf of
 * another shape throws rather than being spliced wrongly), and the tail is what follows the
 * placeholder.
 */
export function splitLeaf(leaf: AuditLeaf): LeafTemplate {
  if (leaf.leaf_index !== 0) throw new Error('splitLeaf expects leaf_index 0 as the placeholder');
  const text = canonicalJson(leaf);
  const head = `{"actor":${canonicalJson(leaf.actor)},"leaf_index":`;
  if (!text.startsWith(`${head}0,"payload":`))
    throw new Error('the leaf is not of the shape the append splices its index into');
  return { head, tail: text.slice(head.length + 1) };
}

/** The leaf text with its index: what audit_integrate stores. */
export function joinLeaf(template: LeafTemplate, leafIndex: number): string {
  return `${template.head}${leafIndex}${template.tail}`;
}

/** The most events one INSERT of `record`'s group commit takes (9 parameters each, of PostgreSQL's 65,535). */
const BATCH_ROWS = 500;

/** Events waiting for the next INSERT of `record`, and the promise their callers wait on. */
interface Batch {
  rows: QueuedEvent[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (reason: unknown) => void;
}

function newBatch(): Batch {
  const batch = { rows: [] } as unknown as Batch;
  batch.promise = new Promise<void>((resolve, reject) => Object.assign(batch, { resolve, reject }));
  return batch;
}

/** Events as queued rows; a malformed event is a bug: it throws, and the change it would record rolls back. */
function queued(events: AuditEventInput[]): QueuedEvent[] {
  const time = new Date();
  return events.map(parseEvent).map((event) => ({
    created_at: time,
    ...splitLeaf({ v: 1, leaf_index: 0, time: time.toISOString(), ...event }),
    type: event.type,
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? null,
    account_id: event.subjects.account ?? null,
    person_index: event.subjects.person ?? null,
    client_id: event.subjects.client ?? null,
  }));
}

/**
 * The append-only audit log, an RFC 6962 Merkle tree. Every module records its events through
 * `append(tx, ...)` inside the transaction of the state change the event records: both commit or
 * neither does. An appended event waits in a queue, without a lock, until an integration (one at a
 * time, under the append lock) makes it the next leaf: leaf indices have no gaps and the tree
 * never forks, and writers never wait for each other's commits. The scheduler integrates every
 * `audit.integrateInterval`; readers that must see every committed event (the notary API, tree
 * heads, a person's account page, the operator's check) call `integrateAll` first.
 */
export class AuditLog {
  private readonly appendedListeners: Array<(count: number) => void> = [];
  /** `record`'s group commit: an INSERT is on its way, and the events waiting for the next. */
  private inserting = false;
  private readonly waiting: Batch[] = [];

  constructor(private readonly db: Db) {}

  /**
   * Calls `listener` with the number of events of each append once the transaction it was made in
   * has committed (the outermost one: a savepoint's release is no commit); a rolled-back
   * transaction appended nothing and calls nothing.
   */
  onAppended(listener: (count: number) => void): void {
    this.appendedListeners.push(listener);
  }

  /** Queues events in the caller's transaction; they become leaves, in order, when integrated. */
  async append(tx: Tx, ...events: AuditEventInput[]): Promise<void> {
    if (!tx.isTransaction) throw new Error('AuditLog.append needs the transaction of the change it records');
    if (events.length === 0) return;
    await enqueueEvents(tx, queued(events));
    if (this.appendedListeners.length > 0) this.whenCommitted(tx, events.length);
  }

  private whenCommitted(tx: Tx, count: number): void {
    let outermost = tx;
    while (outermost.parentTransaction) outermost = outermost.parentTransaction;
    // The rejection of a rolled-back transaction is its caller's to handle.
    outermost.executionPromise.then(
      () => this.appendedListeners.forEach((listener) => listener(count)),
      () => undefined,
    );
  }

  /**
   * Records events that accompany no other change, in one INSERT: a transaction of its own, with
   * no BEGIN and COMMIT to wait for. Never inside a caller's transaction, where it would stand or
   * fall with that transaction, recording a change that was rolled back or losing a refusal that
   * was not. Returns once the events are committed.
   */
  async record(...events: AuditEventInput[]): Promise<void> {
    assertNoTransaction(
      'AuditLog.record',
      "inside one, append(tx, ...) the event to the caller's transaction, or record it after the commit",
    );
    if (events.length === 0) return;
    await this.insertCoalesced(queued(events));
    this.appendedListeners.forEach((listener) => listener(events.length));
  }

  /**
   * Group commit: while one INSERT of recorded events is on its way, the events recorded meanwhile
   * wait and go together in the next one, and each caller returns when its own INSERT committed
   * (or throws its error). Under load (every userinfo call records its release) this makes one
   * round trip of several callers' events.
   */
  private insertCoalesced(rows: QueuedEvent[]): Promise<void> {
    if (!this.inserting) {
      this.inserting = true;
      return this.insertBatch(rows);
    }
    let next = this.waiting.at(-1);
    if (!next || next.rows.length >= BATCH_ROWS) this.waiting.push((next = newBatch()));
    next.rows.push(...rows);
    return next.promise;
  }

  private async insertBatch(rows: QueuedEvent[]): Promise<void> {
    try {
      await enqueueEvents(this.db, rows);
    } finally {
      const next = this.waiting.shift();
      if (next) this.insertBatch(next.rows).then(next.resolve, next.reject);
      else this.inserting = false;
    }
  }

  /**
   * Makes up to one batch of committed queued events leaves; returns how many. Runs in a
   * transaction of its own, never inside a caller's (it would hold the append lock to that one's
   * end, and on PGlite wait for it forever).
   */
  async integrate(limit = INTEGRATION_BATCH): Promise<number> {
    assertNoTransaction(
      'AuditLog.integrate',
      'inside one it would hold the append lock to its end, and on PGlite wait for it forever',
    );
    return integrateQueued(this.db, limit);
  }

  /** Integrates until the queue is empty (as far as committed), at most INTEGRATION_ROUNDS batches. */
  async integrateAll(): Promise<number> {
    let total = 0;
    for (let round = 0; round < INTEGRATION_ROUNDS; round += 1) {
      const integrated = await this.integrate();
      total += integrated;
      if (integrated < INTEGRATION_BATCH) break;
    }
    return total;
  }

  /**
   * Integrates every `intervalMs`, and vacuums the queue at its first run and every
   * QUEUE_VACUUM_INTERVAL after; returns a stop function.
   */
  schedule(intervalMs: number, onError: (err: unknown) => void): () => Promise<void> {
    let vacuumed = 0;
    return repeat(
      async () => {
        await this.integrateAll();
        if (Date.now() - vacuumed < QUEUE_VACUUM_INTERVAL) return;
        await vacuumQueue(this.db);
        vacuumed = Date.now();
      },
      intervalMs,
      onError,
    );
  }

  /** Committed events waiting to be integrated. */
  async queued(): Promise<number> {
    return queuedCount(this.db);
  }

  /** Events matching every filter, in leaf order, at most `limit`. */
  async search(filter: EventFilter, limit: number): Promise<EventRow[]> {
    return searchEvents(this.db, filter, limit);
  }

  async event(leafIndex: number): Promise<EventRow | undefined> {
    return findEvent(this.db, leafIndex);
  }

  async events(leafIndices: number[]): Promise<EventRow[]> {
    return findEvents(this.db, leafIndices);
  }

  /** The latest event of a type, if any (the console's "last full verification"). */
  async latestOfType(type: string): Promise<EventRow | undefined> {
    return latestEventOfType(this.db, type);
  }

  /** The latest signed tree head stored, if any. */
  async latestHead() {
    return latestTreeHead(this.db);
  }

  async size(db: Queryable = this.db): Promise<number> {
    return treeSize(db);
  }

  async rootAt(size: number, db: Queryable = this.db): Promise<Buffer> {
    return rootFromNodes(size, await this.nodes(db, neededForRoot(size)));
  }

  async inclusionProof(leafIndex: number, size: number, db: Queryable = this.db): Promise<Buffer[]> {
    return inclusionProofFromNodes(leafIndex, size, await this.nodes(db, neededForInclusion(leafIndex, size)));
  }

  async consistencyProof(first: number, second: number, db: Queryable = this.db): Promise<Buffer[]> {
    return consistencyProofFromNodes(first, second, await this.nodes(db, neededForConsistency(first, second)));
  }

  private async nodes(db: Queryable, ids: NodeId[]) {
    return toNodeMap(await findNodes(db, ids));
  }
}
