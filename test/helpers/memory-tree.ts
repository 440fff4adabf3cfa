import {
  consistencyProofFromNodes,
  inclusionProofFromNodes,
  leafHash,
  MissingNodeError,
  neededForConsistency,
  neededForInclusion,
  neededForRoot,
  nodeHash,
  nodeKey,
  rootFromNodes,
  toNodeMap,
  type NodeId,
  type NodeMap,
  type StoredNode,
} from '../../src/audit/merkle.js';

/**
 * An in-memory RFC 9162 tree, and the proofs read through an async node reader: what the tests
 * check the audit log's stored nodes and proofs against. The platform itself computes from nodes
 * fetched in one query (src/audit/merkle.ts) and stores them at integration (src/audit/check.ts).
 */

export interface NodeReader {
  /** Resolves the stored hash of node (level, index); rejects if it does not exist. */
  get(level: number, index: number): Promise<Buffer>;
}

/**
 * The already stored nodes that appending `count` leaves at `startIndex` hashes with: left
 * siblings on the frontier of the old tree whose parents become complete (at most one a level).
 */
export function neededForAppend(startIndex: number, count: number): NodeId[] {
  assertSize(startIndex, 'startIndex');
  assertSize(count, 'count');
  const ids: NodeId[] = [];
  for (let level = 0, first = startIndex, last = startIndex + count - 1; first <= last; level++) {
    if (first % 2 === 1) ids.push({ level, index: first - 1 });
    [first, last] = [Math.floor(first / 2), Math.floor((last - 1) / 2)];
  }
  return ids;
}

/** Every node completed by appending `leafHashes` at `startIndex`; store them with the leaves. */
export function nodesForAppendFromNodes(
  startIndex: number,
  leafHashes: readonly Buffer[],
  nodes: NodeMap,
): StoredNode[] {
  return completedNodes(startIndex, leafHashes, fromMap(nodes));
}

export async function rootAt(size: number, reader: NodeReader): Promise<Buffer> {
  return rootFromNodes(size, await fetchNodes(neededForRoot(size), reader));
}

export async function inclusionProof(index: number, size: number, reader: NodeReader): Promise<Buffer[]> {
  return inclusionProofFromNodes(index, size, await fetchNodes(neededForInclusion(index, size), reader));
}

export async function consistencyProof(m: number, n: number, reader: NodeReader): Promise<Buffer[]> {
  return consistencyProofFromNodes(m, n, await fetchNodes(neededForConsistency(m, n), reader));
}

export async function nodesForAppend(
  startIndex: number,
  leafHashes: readonly Buffer[],
  reader: NodeReader,
): Promise<StoredNode[]> {
  const nodes = await fetchNodes(neededForAppend(startIndex, leafHashes.length), reader);
  return nodesForAppendFromNodes(startIndex, leafHashes, nodes);
}

/** The nodes completed by appending leaf number `leafIndex` (the leaf node itself included). */
export async function nodesToStore(leafIndex: number, hash: Buffer, reader: NodeReader): Promise<StoredNode[]> {
  return nodesForAppend(leafIndex, [hash], reader);
}

export class MemoryTree implements NodeReader {
  private readonly levels: Buffer[][] = [];

  get size(): number {
    return this.levels[0]?.length ?? 0;
  }

  /** Appends leaf data; returns its leaf hash. */
  append(leaf: Uint8Array): Buffer {
    const hash = leafHash(leaf);
    this.appendLeafHashes([hash]);
    return hash;
  }

  appendLeafHashes(hashes: readonly Buffer[]): void {
    for (const node of completedNodes(this.size, hashes, (id) => this.node(id.level, id.index))) {
      (this.levels[node.level] ??= [])[node.index] = node.hash;
    }
  }

  node(level: number, index: number): Buffer {
    const hash = this.levels[level]?.[index];
    if (!hash) throw new MissingNodeError(level, index);
    return Buffer.from(hash);
  }

  async get(level: number, index: number): Promise<Buffer> {
    return this.node(level, index);
  }

  root(size = this.size): Buffer {
    return rootFromNodes(size, this.nodes(neededForRoot(size)));
  }

  inclusionProof(index: number, size = this.size): Buffer[] {
    return inclusionProofFromNodes(index, size, this.nodes(neededForInclusion(index, size)));
  }

  consistencyProof(m: number, n = this.size): Buffer[] {
    return consistencyProofFromNodes(m, n, this.nodes(neededForConsistency(m, n)));
  }

  private nodes(ids: NodeId[]): NodeMap {
    return toNodeMap(ids.map((id) => ({ ...id, hash: this.node(id.level, id.index) })));
  }
}

function completedNodes(startIndex: number, leafHashes: readonly Buffer[], lookup: Lookup): StoredNode[] {
  assertSize(startIndex, 'startIndex');
  leafHashes.forEach((hash, i) => {
    if (!isHash(hash)) throw new RangeError(`leaf hash ${i} is not ${HASH_SIZE} bytes`);
  });
  const out: StoredNode[] = [];
  let [level, first, row] = [0, startIndex, [...leafHashes]];
  while (row.length > 0) {
    row.forEach((hash, i) => out.push({ level, index: first + i, hash }));
    const parents: Buffer[] = [];
    // A parent completes exactly when its right child (an odd index) is new.
    for (let right = first % 2 === 1 ? first : first + 1; right < first + row.length; right += 2) {
      const left = right - 1 >= first ? row[right - 1 - first]! : lookup({ level, index: right - 1 });
      parents.push(nodeHash(left, row[right - first]!));
    }
    [level, first, row] = [level + 1, Math.floor(first / 2), parents];
  }
  return out;
}

async function fetchNodes(ids: NodeId[], reader: NodeReader): Promise<NodeMap> {
  const hashes = await Promise.all(ids.map((id) => reader.get(id.level, id.index)));
  return toNodeMap(ids.map((id, i) => ({ ...id, hash: hashes[i]! })));
}

type Lookup = (id: NodeId) => Buffer;

function fromMap(nodes: NodeMap): Lookup {
  return ({ level, index }) => {
    const hash = nodes.get(nodeKey(level, index));
    if (!hash) throw new MissingNodeError(level, index);
    return hash;
  };
}

function assertSize(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

const HASH_SIZE = 32;
