import { canonicalJson } from './log.js';
import type { TreeHeadRow } from './store.js';

// What a signed tree head is, apart from who signs them (tree-heads.ts), checks them (verify.ts)
// and keeps them outside the database (kept-heads.ts).

/** A signed tree head as the notary API serves it; hashes are lowercase hex. */
export interface SignedTreeHead {
  tree_size: number;
  root_hash: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Compact JWS (EdDSA) over the canonical JSON of {root_hash, timestamp, tree_size}. */
  signature: string;
  /** The same head as a C2SP checkpoint (signed note, Ed25519). */
  checkpoint?: string;
}

/** The bytes a tree-head signature covers. */
export function treeHeadPayload(head: Pick<SignedTreeHead, 'tree_size' | 'root_hash' | 'timestamp'>): string {
  return canonicalJson({ root_hash: head.root_hash, timestamp: head.timestamp, tree_size: head.tree_size });
}

export function toSignedTreeHead(row: TreeHeadRow): SignedTreeHead {
  return {
    tree_size: Number(row.tree_size),
    root_hash: Buffer.from(row.root_hash).toString('hex'),
    timestamp: Number(row.timestamp),
    signature: row.signature,
    ...(row.checkpoint ? { checkpoint: row.checkpoint } : {}),
  };
}
