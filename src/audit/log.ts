import canonicalize from 'canonicalize';
import type { Db, Queryable, Tx } from '../db/index.js';
import { parseEvent, type AuditEventInput, type AuditLeaf } from './events.js';
import {
  consistencyProofFromNodes,
  inclusionProofFromNodes,
  leafHash,
  neededForAppend,
  neededForConsistency,
  neededForInclusion,
  neededForRoot,
  nodesForAppendFromNodes,
  rootFromNodes,
  toNodeMap,
  type NodeId,
} from './merkle.js';
import { findEvent, findEvents, findNodes, insertEvents, insertNodes, lockForAppend, searchEvents, treeSize, type EventFilter, type EventRow } from './store.js';

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
    // Validate before taking the lock: a malformed event must not hold up other writers.
    const parsed = events.map(parseEvent);
    const start = await lockForAppend(tx);
    const time = new Date();
    const rows: EventRow[] = parsed.map((event, i) => {
      const leaf: AuditLeaf = { v: 1, leaf_index: start + i, time: time.toISOString(), ...event };
      const text = canonicalJson(leaf);
      return {
        leaf_index: start + i,
        created_at: time,
        type: event.type,
        actor_type: event.actor.type,
        actor_id: event.actor.id ?? null,
        account_id: event.subjects.account ?? null,
        person_index: event.subjects.person ?? null,
        client_id: event.subjects.client ?? null,
        leaf: text,
        leaf_hash: leafHash(Buffer.from(text, 'utf8')),
      };
    });
    const siblings = await findNodes(tx, neededForAppend(start, rows.length));
    const nodes = nodesForAppendFromNodes(start, rows.map((r) => r.leaf_hash), toNodeMap(siblings));
    await insertEvents(tx, rows);
    await insertNodes(tx, nodes);
    return rows.map((r) => ({ leafIndex: r.leaf_index, leaf: r.leaf, leafHash: r.leaf_hash }));
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
