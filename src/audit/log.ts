import canonicalize from 'canonicalize';
import type { Db, Queryable, Tx } from '../db/index.js';
import { parseEvent, type AuditEventInput, type AuditLeaf } from './events.js';
import {
  consistencyProofFromNodes,
  inclusionProofFromNodes,
  leafHash,
  neededForConsistency,
  neededForInclusion,
  neededForRoot,
  rootFromNodes,
  toNodeMap,
  type NodeId,
} from './merkle.js';
import { appendLeaves, findEvent, findEvents, findNodes, searchEvents, treeSize, type EventFilter, type EventRow, type LeafToAppend } from './store.js';

export type { EventFilter, EventRow };

export interface AppendedEvent {
  leafIndex: number;
  leaf: string;
  leafHash: Buffer;
}

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
  if (!text.startsWith(`${head}0,"payload":`)) throw new Error('the leaf is not of the shape the append splices its index into');
  return { head, tail: text.slice(head.length + 1) };
}

/** The leaf text with its index: what audit_append stores. */
export function joinLeaf(template: LeafTemplate, leafIndex: number): string {
  return `${template.head}${leafIndex}${template.tail}`;
}

/**
 * The append-only audit log, an RFC 6962 Merkle tree. Every module records its events through
 * `append(tx, ...)` inside the transaction of the state change the event records: both commit or
 * neither does. Appends are serialized by a lock held to the end of that transaction, so leaf
 * indices have no gaps and the tree never forks.
 */
export class AuditLog {
  constructor(private readonly db: Db) {}

  /** Appends events in the caller's transaction; returns their leaf indices in order. */
  async append(tx: Tx, ...events: AuditEventInput[]): Promise<AppendedEvent[]> {
    if (!tx.isTransaction) throw new Error('AuditLog.append needs the transaction of the change it records');
    if (events.length === 0) return [];
    // Validate and canonicalize before taking the lock: a malformed event must not hold up other
    // writers, and the lock is held from the one statement below to the end of the transaction.
    const parsed = events.map(parseEvent);
    // The time is read before the lock is taken (it used to be read just after): leaf times are
    // when the append was asked for, and need not increase with the index (they never did
    // across processes, whose clocks differ).
    const time = new Date();
    const leaves: LeafToAppend[] = parsed.map((event) => ({
      ...splitLeaf({ v: 1, leaf_index: 0, time: time.toISOString(), ...event }),
      type: event.type,
      actor_type: event.actor.type,
      actor_id: event.actor.id ?? null,
      account_id: event.subjects.account ?? null,
      person_index: event.subjects.person ?? null,
      client_id: event.subjects.client ?? null,
    }));
    const start = await appendLeaves(tx, time, leaves);
    return leaves.map(({ head, tail }, i) => {
      const leaf = joinLeaf({ head, tail }, start + i);
      return { leafIndex: start + i, leaf, leafHash: leafHash(Buffer.from(leaf, 'utf8')) };
    });
  }

  /** Records events in a transaction of their own, for events that accompany no other change. */
  async record(...events: AuditEventInput[]): Promise<AppendedEvent[]> {
    return this.db.transaction((tx) => this.append(tx, ...events));
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
