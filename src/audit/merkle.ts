import { createHash } from 'node:crypto';

/**
 * RFC 9162 §2.1 (same hashing as RFC 6962 §2.1) Merkle tree for the append-only audit log, computed
 * from a store of perfect-subtree hashes so that roots and proofs at any past size cost O(log n)
 * node reads, never a rebuild.
 *
 * Storage model: node (level, index) is the hash of leaves [index·2^level, (index+1)·2^level); it
 * exists once all of its leaves exist and never changes afterwards. Any subtree RFC 9162 needs is
 * either such a node or, on the right edge of a tree whose size is not a power of two, the
 * right-folded hash of the perfect nodes covering it (`cover`).
 *
 * Each operation comes in two forms: `neededFor*` lists the node ids to fetch (one query), and
 * `*FromNodes` computes from the fetched `NodeMap`. The audit log's integration stores the nodes
 * (audit/check.ts); test/helpers/memory-tree.ts keeps an in-memory tree to check both against.
 */

export interface NodeId {
  level: number;
  index: number;
}

export interface StoredNode extends NodeId {
  hash: Buffer;
}

/** Fetched nodes keyed by `nodeKey(level, index)`. */
export type NodeMap = ReadonlyMap<string, Buffer>;

type Lookup = (id: NodeId) => Buffer;
type Range = readonly [start: number, end: number];

const HASH_SIZE = 32;

export class MissingNodeError extends Error {
  constructor(
    readonly level: number,
    readonly index: number,
  ) {
    super(`Merkle node (${level}, ${index}) is not stored`);
    this.name = 'MissingNodeError';
  }
}

// RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0)), interior nodes HASH(0x01 || left || right).
export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x00)).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
}

/** RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export function nodeKey(level: number, index: number): string {
  return `${level}:${index}`;
}

export function toNodeMap(nodes: Iterable<StoredNode>): Map<string, Buffer> {
  return new Map(Array.from(nodes, (node) => [nodeKey(node.level, node.index), node.hash]));
}

// ---- which nodes each operation needs ----

export function neededForRoot(size: number): NodeId[] {
  assertSize(size, 'size');
  return cover([0, size]);
}

export function neededForInclusion(index: number, size: number): NodeId[] {
  return inclusionRanges(index, size).flatMap(cover);
}

export function neededForConsistency(m: number, n: number): NodeId[] {
  return consistencyRanges(m, n).flatMap(cover);
}

// ---- computing from fetched nodes ----

export function rootFromNodes(size: number, nodes: NodeMap): Buffer {
  assertSize(size, 'size');
  return size === 0 ? EMPTY_ROOT : subtreeHash([0, size], fromMap(nodes));
}

export function inclusionProofFromNodes(index: number, size: number, nodes: NodeMap): Buffer[] {
  return inclusionRanges(index, size).map((range) => subtreeHash(range, fromMap(nodes)));
}

export function consistencyProofFromNodes(m: number, n: number, nodes: NodeMap): Buffer[] {
  return consistencyRanges(m, n).map((range) => subtreeHash(range, fromMap(nodes)));
}

// ---- verifiers: booleans, never throw ----

/** RFC 9162 §2.1.3.2, step by step. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !isHashList(proof)) return false;
  let [fn, sn, r] = [index, size - 1, leaf];
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(r, root);
}

/**
 * RFC 9162 §2.1.4.2, step by step, for 0 < m < n. The RFC leaves m = 0 and m = n undefined; we
 * accept only an empty proof there, with oldRoot equal to the empty-tree hash (m = 0) and equal
 * roots (m = n), so a forged "old root" never passes for an empty or unchanged log.
 */
export function verifyConsistency(
  m: number,
  n: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!isSize(m) || !isSize(n) || m > n) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !isHashList(proof)) return false;
  if (m === 0) return proof.length === 0 && equal(oldRoot, EMPTY_ROOT) && (n > 0 || equal(newRoot, EMPTY_ROOT));
  if (m === n) return proof.length === 0 && equal(oldRoot, newRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(m) ? [oldRoot, ...proof] : proof;
  let [fn, sn] = [m - 1, n - 1];
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      [fr, sr] = [nodeHash(c, fr), nodeHash(c, sr)];
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && equal(fr, oldRoot) && equal(sr, newRoot);
}

// ---- internals ----

/** The subtrees of an inclusion proof, leaf side first: RFC 9162 §2.1.3.1 PATH(m, D[n]). */
function inclusionRanges(index: number, size: number): Range[] {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new RangeError(`index ${index} is not below tree size ${size}`);
  const ranges: Range[] = [];
  let [lo, hi] = [0, size];
  while (hi - lo > 1) {
    const split = lo + largestPowerOfTwoBelow(hi - lo);
    if (index < split) {
      ranges.push([split, hi]);
      hi = split;
    } else {
      ranges.push([lo, split]);
      lo = split;
    }
  }
  return ranges.reverse();
}

/** The subtrees of a consistency proof, in order: RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], true). */
function consistencyRanges(m: number, n: number): Range[] {
  assertSize(m, 'm');
  assertSize(n, 'n');
  if (m > n) throw new RangeError(`old size ${m} exceeds new size ${n}`);
  if (m === 0 || m === n) return [];
  const ranges: Range[] = [];
  let [lo, hi, haveRoot] = [0, n, true];
  while (m !== hi) {
    const split = lo + largestPowerOfTwoBelow(hi - lo);
    if (m <= split) {
      ranges.push([split, hi]);
      hi = split;
    } else {
      ranges.push([lo, split]);
      [lo, haveRoot] = [split, false];
    }
  }
  if (!haveRoot) ranges.push([lo, hi]);
  return ranges.reverse();
}

/**
 * The perfect nodes covering [start, end), largest first. Every range RFC 9162 splits off starts
 * at a multiple of a power of two at least its length, so this is the binary decomposition of
 * its length, and folding it from the right reproduces MTH (§2.1.1's split at the largest k < n).
 */
function cover([start, end]: Range): NodeId[] {
  const ids: NodeId[] = [];
  for (let at = start; at < end;) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level++;
    ids.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return ids;
}

function subtreeHash(range: Range, lookup: Lookup): Buffer {
  const hashes = cover(range).map(lookup);
  return hashes.reduceRight((right, left) => nodeHash(left, right));
}

function fromMap(nodes: NodeMap): Lookup {
  return ({ level, index }) => {
    const hash = nodes.get(nodeKey(level, index));
    if (!hash) throw new MissingNodeError(level, index);
    return hash;
  };
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function assertSize(value: number, name: string): void {
  if (!isSize(value)) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

function isSize(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

function isHashList(value: unknown): value is Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
