import { readFileSync } from 'node:fs';
import {
  EMPTY_ROOT,
  MissingNodeError,
  consistencyProofFromNodes,
  leafHash,
  neededForConsistency,
  neededForInclusion,
  neededForRoot,
  nodeHash,
  nodeKey,
  rootFromNodes,
  toNodeMap,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
} from '../../src/audit/merkle.js';
import {
  MemoryTree,
  consistencyProof,
  inclusionProof,
  neededForAppend,
  nodesForAppend,
  nodesToStore,
  rootAt,
  type NodeReader,
} from '../helpers/memory-tree.js';

// Published RFC 6962 vectors; each fixture names the upstream file it was copied from.
interface TreeVectors {
  leafInputs: string[];
  nodeHashes: string[][];
  roots: string[];
}
interface ProofVectors {
  inclusion: Array<{ from: string; index: number; size: number; proof: string[] }>;
  consistency: Array<{ from: string; m: number; n: number; proof: string[] }>;
}
interface NodeIdVectors {
  inclusion: Array<{ size: number; index: number; nodes: Array<[number, number]> }>;
  consistency: Array<{ m: number; n: number; nodes: Array<[number, number]> }>;
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/merkle/${name}`, import.meta.url), 'utf8')) as T;
}

const tree = fixture<TreeVectors>('rfc6962-tree.json');
const published = fixture<ProofVectors>('rfc6962-proofs.json');
const nodeIds = fixture<NodeIdVectors>('proof-node-ids.json');

const hex = (value: string) => Buffer.from(value, 'hex');
const hexes = (values: Buffer[]) => values.map((value) => value.toString('hex'));
const leaves = tree.leafInputs.map(hex);
const roots = tree.roots.map(hex);
const leafHashes = tree.nodeHashes[0]!.map(hex);

// ---- a naive recursive reference, straight from RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 ----
// Subtree hashes are memoised per (start, end) only to keep the property test fast.

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function reference(hashes: Buffer[]) {
  const memo = new Map<string, Buffer>();
  const mth = (lo: number, hi: number): Buffer => {
    if (hi - lo === 0) return EMPTY_ROOT;
    if (hi - lo === 1) return hashes[lo]!;
    const key = `${lo}:${hi}`;
    const k = lo + largestPowerOfTwoBelow(hi - lo);
    if (!memo.has(key)) memo.set(key, nodeHash(mth(lo, k), mth(k, hi)));
    return memo.get(key)!;
  };
  const path = (m: number, lo: number, hi: number): Buffer[] => {
    if (hi - lo <= 1) return [];
    const k = lo + largestPowerOfTwoBelow(hi - lo);
    return m < k ? [...path(m, lo, k), mth(k, hi)] : [...path(m, k, hi), mth(lo, k)];
  };
  const subproof = (m: number, lo: number, hi: number, haveRoot: boolean): Buffer[] => {
    if (m === hi) return haveRoot ? [] : [mth(lo, hi)];
    const k = lo + largestPowerOfTwoBelow(hi - lo);
    return m <= k ? [...subproof(m, lo, k, haveRoot), mth(k, hi)] : [...subproof(m, k, hi, false), mth(lo, k)];
  };
  return {
    root: (size = hashes.length) => mth(0, size),
    inclusion: (index: number, size = hashes.length) => path(index, 0, size),
    consistency: (m: number, n = hashes.length) => (m === 0 ? [] : subproof(m, 0, n, true)),
  };
}

// ---- helpers ----

function treeOf(inputs: Buffer[]): MemoryTree {
  const memory = new MemoryTree();
  for (const input of inputs) memory.append(input);
  return memory;
}

/** A node table as a database would hold it, counting reads. */
class CountingStore implements NodeReader {
  readonly rows = new Map<string, Buffer>();
  reads = 0;
  async get(level: number, index: number): Promise<Buffer> {
    this.reads++;
    const hash = this.rows.get(nodeKey(level, index));
    if (!hash) throw new MissingNodeError(level, index);
    return hash;
  }
  write(nodes: Array<{ level: number; index: number; hash: Buffer }>): void {
    for (const node of nodes) this.rows.set(nodeKey(node.level, node.index), node.hash);
  }
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const sortIds = (ids: Array<[number, number]>) => ids.map(([l, i]) => `${l}:${i}`).sort();
const idPairs = (ids: NodeId[]) => ids.map(({ level, index }): [number, number] => [level, index]);

// ---- tests ----

describe('RFC 6962 hashing', () => {
  it('hashes the published leaf inputs to the published leaf hashes', () => {
    expect(hexes(leaves.map(leafHash))).toEqual(tree.nodeHashes[0]);
  });

  it('hashes children to the published interior nodes', () => {
    for (let level = 1; level < tree.nodeHashes.length; level++) {
      tree.nodeHashes[level]!.forEach((expected, index) => {
        const below = tree.nodeHashes[level - 1]!;
        expect(nodeHash(hex(below[2 * index]!), hex(below[2 * index + 1]!)).toString('hex')).toBe(expected);
      });
    }
  });

  it('uses SHA-256 of the empty string as the empty root', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe(tree.roots[0]);
  });
});

describe('the stored tree', () => {
  const eight = treeOf(leaves);

  it('stores exactly the published perfect subtrees', () => {
    tree.nodeHashes.forEach((row, level) =>
      row.forEach((hash, index) => expect(eight.node(level, index).toString('hex')).toBe(hash)),
    );
    expect(() => eight.node(0, 8)).toThrow(MissingNodeError);
    expect(() => eight.node(4, 0)).toThrow(MissingNodeError);
  });

  it.each(tree.roots.map((root, size) => [size, root] as const))(
    'computes the published root of size %i',
    async (size, root) => {
      expect((await rootAt(size, eight)).toString('hex')).toBe(root);
      expect(treeOf(leaves.slice(0, size)).root().toString('hex')).toBe(root);
    },
  );

  it('builds the same node table one leaf at a time as in batches, reading only frontier nodes', async () => {
    const random = mulberry32(6962);
    const hashes = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(`event ${i}`)));
    const single = new CountingStore();
    for (const [i, hash] of hashes.entries()) {
      const before = single.reads;
      single.write(await nodesToStore(i, hash, single));
      expect(single.reads - before).toBe(neededForAppend(i, 1).length);
    }
    const batched = new CountingStore();
    for (let start = 0; start < hashes.length;) {
      const batch = hashes.slice(start, start + 1 + Math.floor(random() * 40));
      const before = batched.reads;
      batched.write(await nodesForAppend(start, batch, batched));
      expect(batched.reads - before).toBe(neededForAppend(start, batch.length).length);
      expect(batched.reads - before).toBeLessThanOrEqual(Math.ceil(Math.log2(start + 1)) + 1);
      start += batch.length;
    }
    expect(batched.rows).toEqual(single.rows);
    expect(single.rows.size).toBe(2 * 300 - 4); // 300 leaves + every complete interior node (n − popcount(n))
    expect(await rootAt(300, batched)).toEqual(reference(hashes).root());
  });

  it('refuses proofs it cannot compute', async () => {
    await expect(inclusionProof(0, 9, eight)).rejects.toThrow(MissingNodeError);
    await expect(inclusionProof(8, 8, eight)).rejects.toThrow(RangeError);
    await expect(consistencyProof(5, 4, eight)).rejects.toThrow(RangeError);
    await expect(rootAt(-1, eight)).rejects.toThrow(RangeError);
    expect(() => rootFromNodes(3, new Map())).toThrow(MissingNodeError);
  });
});

describe('published proofs', () => {
  const eight = treeOf(leaves);

  it.each(published.inclusion.map((v) => [v.from, v] as const))('matches the inclusion proof %s', async (_, vector) => {
    const proof = await inclusionProof(vector.index, vector.size, eight);
    expect(hexes(proof)).toEqual(vector.proof);
    expect(
      verifyInclusion(leafHashes[vector.index]!, vector.index, vector.size, vector.proof.map(hex), roots[vector.size]!),
    ).toBe(true);
  });

  it.each(published.consistency.map((v) => [v.from, v] as const))(
    'matches the consistency proof %s',
    async (_, vector) => {
      const proof = await consistencyProof(vector.m, vector.n, eight);
      expect(hexes(proof)).toEqual(vector.proof);
      expect(verifyConsistency(vector.m, vector.n, vector.proof.map(hex), roots[vector.m]!, roots[vector.n]!)).toBe(
        true,
      );
    },
  );

  it('proves every leaf of every size 1..8 against the published roots', () => {
    for (let size = 1; size <= 8; size++) {
      for (let index = 0; index < size; index++) {
        const proof = eight.inclusionProof(index, size);
        expect(proof).toEqual(reference(leafHashes).inclusion(index, size));
        expect(verifyInclusion(leafHashes[index]!, index, size, proof, roots[size]!)).toBe(true);
      }
    }
  });

  it('proves every pair of sizes 0..8 consistent against the published roots', () => {
    for (let n = 0; n <= 8; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = eight.consistencyProof(m, n);
        expect(proof).toEqual(reference(leafHashes).consistency(m, n));
        expect(verifyConsistency(m, n, proof, roots[m]!, roots[n]!)).toBe(true);
      }
    }
  });

  it.each(nodeIds.inclusion.map((v) => [v.size, v.index, v.nodes] as const))(
    'reads the published nodes for an inclusion proof in size %i at %i',
    (size, index, nodes) => expect(sortIds(idPairs(neededForInclusion(index, size)))).toEqual(sortIds(nodes)),
  );

  it.each(nodeIds.consistency.map((v) => [v.m, v.n, v.nodes] as const))(
    'reads the published nodes for a consistency proof from %i to %i',
    (m, n, nodes) => expect(sortIds(idPairs(neededForConsistency(m, n)))).toEqual(sortIds(nodes)),
  );
});

describe('verifiers', () => {
  const some = hex('abacaba000000000000000000000000000000000000000000060061e00123456');
  const flip = (proof: Buffer[], i: number, bit: number) =>
    proof.map((p, j) => (j === i ? Buffer.from(p.map((b, k) => (k === 0 ? b ^ bit : b))) : p));

  // Probes ported from transparency-dev/merkle proof/verify_test.go corruptInclusionProof.
  it.each(published.inclusion.filter((v) => v.size > 1).map((v) => [v.from, v] as const))(
    'rejects every corruption of the inclusion proof %s',
    (_, { index, size, proof: p }) => {
      const [proof, root, leaf] = [p.map(hex), roots[size]!, leafHashes[index]!];
      const probes: Array<[Uint8Array, number, number, Uint8Array[], Uint8Array]> = [
        [leaf, index - 1, size, proof, root],
        [leaf, index + 1, size, proof, root],
        [leaf, index ^ 2, size, proof, root],
        [leaf, index, size * 2, proof, root],
        [leaf, index, Math.floor(size / 2), proof, root],
        [Buffer.from('WrongLeaf'), index, size, proof, root],
        [some, index, size, proof, root],
        [leaf, index, size, proof, EMPTY_ROOT],
        [leaf, index, size, proof, some],
        [leaf, index, size, [...proof, Buffer.alloc(0)], root],
        [leaf, index, size, [...proof, root], root],
        [leaf, index, size, [Buffer.alloc(0), ...proof], root],
        [leaf, index, size, [root, ...proof], root],
        [leaf, index, size, proof.slice(0, -1), root],
        [leaf, index, size, [proof[0]!, some, ...proof.slice(1)], root],
        ...proof.map((_, i): [Uint8Array, number, number, Uint8Array[], Uint8Array] => [
          leaf,
          index,
          size,
          flip(proof, i, 8),
          root,
        ]),
      ];
      for (const probe of probes) expect(verifyInclusion(...probe)).toBe(false);
    },
  );

  // Probes ported from transparency-dev/merkle proof/verify_test.go corruptConsistencyProof.
  it.each(published.consistency.filter((v) => v.proof.length > 0).map((v) => [v.from, v] as const))(
    'rejects every corruption of the consistency proof %s',
    (_, { m, n, proof: p }) => {
      const [proof, r1, r2] = [p.map(hex), roots[m]!, roots[n]!];
      const wrong = Buffer.from('WrongRoot');
      const probes: Array<[number, number, Uint8Array[], Uint8Array, Uint8Array]> = [
        [m - 1, n, proof, r1, r2],
        [m + 1, n, proof, r1, r2],
        [m ^ 2, n, proof, r1, r2],
        [m, n * 2, proof, r1, r2],
        [m, Math.floor(n / 2), proof, r1, r2],
        [m, n, proof, wrong, r2],
        [m, n, proof, r1, wrong],
        [m, n, proof, r2, r1],
        [m, n, proof, some, r2],
        [m, n, proof, r1, some],
        [m, n, [], r1, r2],
        [m, n, [...proof, Buffer.alloc(0)], r1, r2],
        [m, n, [...proof, r1], r1, r2],
        [m, n, [...proof, r2], r1, r2],
        [m, n, [Buffer.alloc(0), ...proof], r1, r2],
        [m, n, [r1, ...proof], r1, r2],
        [m, n, [r2, ...proof], r1, r2],
        [m, n, [proof[0]!, ...proof], r1, r2],
        [m, n, proof.slice(0, -1), r1, r2],
        ...proof.map((_, i): [number, number, Uint8Array[], Uint8Array, Uint8Array] => [
          m,
          n,
          flip(proof, i, 16),
          r1,
          r2,
        ]),
      ];
      for (const probe of probes) expect(verifyConsistency(...probe)).toBe(false);
    },
  );

  it('checks a one-leaf tree by comparing the leaf hash with the root', () => {
    const hash = leafHash(Buffer.from('data'));
    expect(verifyInclusion(hash, 0, 1, [], hash)).toBe(true);
    expect(verifyInclusion(hash, 0, 1, [], Buffer.alloc(0))).toBe(false);
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], hash)).toBe(false);
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], Buffer.alloc(0))).toBe(false);
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
      [1, 1],
    ] as const) {
      expect(verifyInclusion(some, index, size, [], EMPTY_ROOT)).toBe(false);
      expect(verifyInclusion(some, index, size, [], some)).toBe(false);
    }
  });

  it('accepts only empty proofs for the empty and unchanged tree, with matching roots', () => {
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(true);
    expect(verifyConsistency(0, 5, [], EMPTY_ROOT, roots[5]!)).toBe(true);
    expect(verifyConsistency(3, 3, [], roots[3]!, roots[3]!)).toBe(true);
    expect(verifyConsistency(0, 5, [], some, roots[5]!)).toBe(false); // our stricter reading: old root must be the empty root
    expect(verifyConsistency(0, 0, [], some, some)).toBe(false);
    expect(verifyConsistency(3, 3, [], roots[3]!, roots[4]!)).toBe(false);
    expect(verifyConsistency(3, 3, [EMPTY_ROOT], roots[3]!, roots[3]!)).toBe(false);
    expect(verifyConsistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, roots[1]!)).toBe(false);
    expect(verifyConsistency(1, 0, [], roots[1]!, EMPTY_ROOT)).toBe(false);
    expect(verifyConsistency(2, 1, [], roots[2]!, roots[1]!)).toBe(false);
    expect(verifyConsistency(1, 2, [], roots[1]!, roots[2]!)).toBe(false);
  });

  it('returns false instead of throwing on malformed input', () => {
    const bad: unknown[] = [undefined, null, NaN, Infinity, -1, 1.5, 2 ** 53, '3', {}, [], 'ab'];
    const leaf = leafHashes[1]!;
    const proof = treeOf(leaves).inclusionProof(1, 5);
    for (const value of bad) {
      const v = value as never;
      expect(verifyInclusion(v, 1, 5, proof, roots[5]!)).toBe(false);
      expect(verifyInclusion(leaf, v, 5, proof, roots[5]!)).toBe(false);
      expect(verifyInclusion(leaf, 1, v, proof, roots[5]!)).toBe(false);
      expect(verifyInclusion(leaf, 1, 5, v, roots[5]!)).toBe(false);
      expect(verifyInclusion(leaf, 1, 5, [...proof, v], roots[5]!)).toBe(false);
      expect(verifyInclusion(leaf, 1, 5, proof, v)).toBe(false);
      expect(verifyConsistency(v, 5, proof, roots[2]!, roots[5]!)).toBe(false);
      expect(verifyConsistency(2, v, proof, roots[2]!, roots[5]!)).toBe(false);
      expect(verifyConsistency(2, 5, v, roots[2]!, roots[5]!)).toBe(false);
      expect(verifyConsistency(2, 5, [v], roots[2]!, roots[5]!)).toBe(false);
      expect(verifyConsistency(2, 5, proof, v, roots[5]!)).toBe(false);
      expect(verifyConsistency(2, 5, proof, roots[2]!, v)).toBe(false);
    }
  });
});

describe('proofs through stored nodes match the naive reference', () => {
  const seed = 20260917;
  const random = mulberry32(seed);
  const hashes = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(`leaf ${seed} ${i}`)));
  const store = new MemoryTree();
  store.appendLeafHashes(hashes);
  const edges = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 299, 300];
  const sizes = [...edges, ...Array.from({ length: 15 }, () => 1 + Math.floor(random() * 300))];

  it.each(sizes)('for every leaf and every older size at size %i (seed 20260917)', async (n) => {
    const ref = reference(hashes);
    const root = ref.root(n);
    const same = (a: Buffer[], b: Buffer[]) => Buffer.concat(a).equals(Buffer.concat(b)) && a.length === b.length;
    const failures: string[] = [];
    expect(await rootAt(n, store)).toEqual(root);
    for (let index = 0; index < n; index++) {
      const proof = await inclusionProof(index, n, store);
      if (!same(proof, ref.inclusion(index, n))) failures.push(`inclusion ${index} differs`);
      if (!verifyInclusion(hashes[index]!, index, n, proof, root)) failures.push(`inclusion ${index} fails`);
    }
    for (let m = 0; m <= n; m++) {
      const proof = await consistencyProof(m, n, store);
      if (!same(proof, ref.consistency(m, n))) failures.push(`consistency ${m} differs`);
      if (!verifyConsistency(m, n, proof, ref.root(m), root)) failures.push(`consistency ${m} fails`);
    }
    expect(failures).toEqual([]);
  });
});

describe('a large log', () => {
  /** A node table computed on demand (level ≥ 8 memoised), counting what the proof code reads. */
  function lazyTable(
    size: number,
    hashOf: (level: number, index: number, child: (l: number, i: number) => Buffer) => Buffer,
  ) {
    const memo = new Map<string, Buffer>();
    const node = (level: number, index: number): Buffer => {
      const key = nodeKey(level, index);
      const hash = memo.get(key) ?? hashOf(level, index, node);
      if (level >= 8) memo.set(key, hash);
      return hash;
    };
    const table = {
      reads: 0,
      node,
      async get(level: number, index: number): Promise<Buffer> {
        table.reads++;
        if ((index + 1) * 2 ** level > size) throw new MissingNodeError(level, index);
        return node(level, index);
      },
    };
    return table;
  }

  it('proves leaves and older sizes of a 100 003-leaf log with real hashes', async () => {
    const size = 100_003;
    const table = lazyTable(size, (level, index, child) =>
      level === 0
        ? leafHash(Buffer.from(`entry ${index}`))
        : nodeHash(child(level - 1, 2 * index), child(level - 1, 2 * index + 1)),
    );
    const root = await rootAt(size, table);
    for (const index of [0, 1, 65_535, 65_536, 99_999, size - 1]) {
      const proof = await inclusionProof(index, size, table);
      expect(verifyInclusion(table.node(0, index), index, size, proof, root)).toBe(true);
    }
    for (const m of [1, 3, 65_536, 77_777, size - 1]) {
      const proof = await consistencyProof(m, size, table);
      expect(verifyConsistency(m, size, proof, await rootAt(m, table), root)).toBe(true);
    }
    const nodes = toNodeMap(
      neededForConsistency(3, size).map((id) => ({ ...id, hash: table.node(id.level, id.index) })),
    );
    expect(consistencyProofFromNodes(3, size, nodes)).toEqual(await consistencyProof(3, size, table));
  });

  it('reads O(log n) stored nodes per root or proof at a million leaves', async () => {
    const size = 1_000_003;
    // Stand-in hashes: this test counts reads; the one above checks the hashes.
    const table = lazyTable(size, (level, index) => leafHash(Buffer.from(nodeKey(level, index))));
    const readsFor = async (work: () => Promise<unknown>) => {
      table.reads = 0;
      await work();
      return table.reads;
    };
    expect(await readsFor(() => rootAt(size, table))).toBe(neededForRoot(size).length);
    for (const index of [0, 1, 524_287, 524_288, 999_999, size - 1]) {
      expect(await readsFor(() => inclusionProof(index, size, table))).toBeLessThanOrEqual(2 * 20);
    }
    for (const m of [1, 3, 524_288, 777_777, 999_999, size - 1]) {
      expect(await readsFor(() => consistencyProof(m, size, table))).toBeLessThanOrEqual(2 * 20);
    }
  });
});
