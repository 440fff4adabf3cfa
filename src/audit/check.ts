import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Queryable } from '../db/index.js';
import { publicJwksEver } from '../keys/service.js';
import type { KeptHead } from './kept-heads.js';
import { canonicalJson } from './log.js';
import { EMPTY_ROOT, leafHash, nodeHash } from './merkle.js';
import { allTreeHeads, leavesFrom, nodesInRanges, queuedCount } from './store.js';
import { treeHeadPayload } from './signed-tree-head.js';
import { AUDIT_TREE_HEAD_KEY } from './tree-heads.js';
import { verifyTreeHead } from './verify.js';

export interface LogCheckReport {
  ok: boolean;
  leaves: number;
  nodes_checked: number;
  heads: number;
  /** Signed tree heads kept outside the database (kept-heads directory, notaries' copies) checked. */
  kept_heads: number;
  /**
   * The smallest kept head the log contradicts (another root at its size, more leaves than the
   * log has, or not signed by the platform): the log was rewritten after that head was made.
   */
  first_contradicted_head?: { tree_size: number; root_hash: string; source: string; problem: string };
  /** Committed events waiting in the queue to become leaves (not part of the check). */
  queued: number;
  /** The first leaf found wrong, and how; later leaves are not trusted once one is wrong. */
  first_bad_leaf?: { leaf_index: number; problem: string };
  errors: string[];
}

const BATCH = 5000;

export interface CheckOptions {
  /** Heads kept outside the database, each checked against the recomputed tree at its size. */
  kept?: KeptHead[];
  /** Lines of the kept files that are no head: reported as errors. */
  keptProblems?: string[];
  /** Tree-head keys held outside the database (GET /api/notary/keys), besides those in it. */
  trustedKeys?: JSONWebKeySet;
}

interface Subtree {
  level: number;
  index: number;
  hash: Buffer;
}

/** RFC 6962 root of the leaves so far, from the stack of perfect subtrees (largest first). */
function rootOf(stack: Subtree[]): Buffer {
  if (stack.length === 0) return EMPTY_ROOT;
  let root = stack.at(-1)!.hash;
  for (let i = stack.length - 2; i >= 0; i -= 1) root = nodeHash(stack[i]!.hash, root);
  return root;
}

/**
 * The operator's full check of the audit trail (`npm run cli -- audit verify`): re-hashes every
 * leaf, checks it is canonical and carries its own index, recomputes every stored subtree hash,
 * and checks every stored tree head's root and signature against the recomputed tree. Streams in
 * batches, so memory stays flat at any log size. Catches edits made behind the triggers' back
 * (by a superuser). A rewrite of everything (leaf, nodes, stored heads deleted) checks out on its
 * own: only heads kept outside the database (`options.kept`) catch it, and the smallest one the
 * log contradicts is named.
 */
export async function checkLog(db: Queryable, options: CheckOptions = {}): Promise<LogCheckReport> {
  const errors: string[] = [...(options.keptProblems ?? [])];
  let firstBad: LogCheckReport['first_bad_leaf'];
  const bad = (leafIndex: number, problem: string) => {
    firstBad ??= { leaf_index: leafIndex, problem };
    errors.push(`leaf ${leafIndex}: ${problem}`);
  };

  const queued = await queuedCount(db);
  const jwks = { keys: await publicJwksEver(db, AUDIT_TREE_HEAD_KEY.purpose) };
  const keySet = createLocalJWKSet(jwks);
  const heads: Array<{ tree_size: number; root_hash: Buffer; timestamp: number; signature: string }> = (
    await allTreeHeads(db)
  ).map((h) => ({
    tree_size: Number(h.tree_size),
    root_hash: Buffer.from(h.root_hash),
    timestamp: Number(h.timestamp),
    signature: h.signature,
  }));
  let nextHead = 0;

  // Kept heads, by size, each once however many copies were given.
  const seen = new Set<string>();
  const kept = (options.kept ?? [])
    .filter(({ head }) => !seen.has(head.signature) && seen.add(head.signature))
    .sort((a, b) => a.head.tree_size - b.head.tree_size);
  const verifyKeys: JSONWebKeySet = { keys: [...jwks.keys, ...(options.trustedKeys?.keys ?? [])] };
  let nextKept = 0;
  let firstContradicted: LogCheckReport['first_contradicted_head'];
  const contradicted = ({ head, source }: KeptHead, problem: string) => {
    firstContradicted ??= { tree_size: head.tree_size, root_hash: head.root_hash, source, problem };
    errors.push(`kept tree head ${head.tree_size} (${source}): ${problem}`);
  };
  const checkKeptAt = async (size: number, stack: Subtree[]) => {
    while (nextKept < kept.length && kept[nextKept]!.head.tree_size <= size) {
      const item = kept[nextKept]!;
      nextKept += 1;
      const root = rootOf(stack).toString('hex');
      if (!(await verifyTreeHead(item.head, verifyKeys)))
        contradicted(item, "not signed by the platform's tree-head keys");
      else if (item.head.root_hash !== root)
        contradicted(item, `its root ${item.head.root_hash} is not the root of the stored leaves ${root}`);
    }
  };

  const checkHeadsAt = async (size: number, stack: Subtree[]) => {
    while (nextHead < heads.length && heads[nextHead]!.tree_size === size) {
      const head = heads[nextHead]!;
      nextHead += 1;
      const root = rootOf(stack);
      if (!root.equals(head.root_hash))
        errors.push(
          `tree head ${size}: its root ${head.root_hash.toString('hex')} is not the root of the stored leaves ${root.toString('hex')}`,
        );
      const payload = treeHeadPayload({
        tree_size: size,
        root_hash: head.root_hash.toString('hex'),
        timestamp: head.timestamp,
      });
      try {
        const verified = await compactVerify(head.signature, keySet, { algorithms: ['EdDSA'] });
        if (new TextDecoder().decode(verified.payload) !== payload)
          errors.push(`tree head ${size}: the signature covers other values`);
      } catch {
        errors.push(`tree head ${size}: the signature does not verify`);
      }
    }
  };

  const stack: Subtree[] = [];
  let size = 0;
  let nodesChecked = 0;
  await checkHeadsAt(0, stack);
  await checkKeptAt(0, stack);
  for (;;) {
    const rows = await leavesFrom(db, size, BATCH);
    if (rows.length === 0) break;
    const last = size + rows.length - 1;
    // Every stored node that these leaves complete, fetched in one query.
    const ranges: Array<{ level: number; from: number; to: number }> = [];
    // Node (level, i) is completed by leaf (i + 1)·2^level − 1.
    for (let level = 0, span = 1; span <= last + 1; level += 1, span *= 2) {
      const lo = Math.ceil((size + 1) / span) - 1;
      const hi = Math.floor((last + 1) / span) - 1;
      if (hi >= lo) ranges.push({ level, from: lo, to: hi });
    }
    const stored = new Map<string, Buffer>();
    for (const n of await nodesInRanges(db, ranges)) stored.set(`${n.level}:${n.idx}`, Buffer.from(n.hash));

    for (const row of rows) {
      const index = size;
      if (Number(row.leaf_index) !== index) {
        bad(index, `missing: the next stored leaf is ${row.leaf_index}`);
        for (; nextKept < kept.length; nextKept += 1)
          contradicted(kept[nextKept]!, `covers leaf ${index}, missing from the log`);
        return {
          ok: false,
          leaves: size,
          nodes_checked: nodesChecked,
          heads: nextHead,
          kept_heads: kept.length,
          queued,
          first_bad_leaf: firstBad,
          ...(firstContradicted ? { first_contradicted_head: firstContradicted } : {}),
          errors,
        };
      }
      const hash = leafHash(Buffer.from(row.leaf, 'utf8'));
      if (!hash.equals(Buffer.from(row.leaf_hash))) bad(index, 'the leaf does not match its stored hash');
      let parsed: { leaf_index?: unknown } | undefined;
      try {
        parsed = JSON.parse(row.leaf);
      } catch {
        parsed = undefined;
      }
      if (!parsed || canonicalJson(parsed) !== row.leaf) bad(index, 'the leaf is not canonical JSON');
      else if (parsed.leaf_index !== index) bad(index, `the leaf says it is leaf ${String(parsed.leaf_index)}`);

      // The nodes this leaf completes: its own, then each merge of equal perfect subtrees.
      const completed: Subtree[] = [{ level: 0, index, hash }];
      stack.push(completed[0]!);
      while (stack.length >= 2 && stack.at(-1)!.level === stack.at(-2)!.level) {
        const right = stack.pop()!;
        const left = stack.pop()!;
        const merged = {
          level: left.level + 1,
          index: Math.floor(left.index / 2),
          hash: nodeHash(left.hash, right.hash),
        };
        stack.push(merged);
        completed.push(merged);
      }
      for (const node of completed) {
        const want = stored.get(`${node.level}:${node.index}`);
        nodesChecked += 1;
        if (!want) bad(index, `stored node (${node.level}, ${node.index}) is missing`);
        else if (!want.equals(node.hash))
          bad(index, `stored node (${node.level}, ${node.index}) differs from the recomputed one`);
      }
      size += 1;
      await checkHeadsAt(size, stack);
      await checkKeptAt(size, stack);
    }
  }
  for (; nextHead < heads.length; nextHead += 1)
    errors.push(`tree head ${heads[nextHead]!.tree_size}: larger than the log (${size} leaves)`);
  for (; nextKept < kept.length; nextKept += 1)
    contradicted(kept[nextKept]!, `larger than the log (${size} leaves): leaves it covers were removed`);
  return {
    ok: errors.length === 0,
    leaves: size,
    nodes_checked: nodesChecked,
    heads: heads.length,
    kept_heads: kept.length,
    queued,
    ...(firstBad ? { first_bad_leaf: firstBad } : {}),
    ...(firstContradicted ? { first_contradicted_head: firstContradicted } : {}),
    errors: errors.slice(0, 100),
  };
}
