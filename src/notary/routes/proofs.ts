// Merkle proofs over the audit trail (RFC 6962 §2.1): that a leaf is in a tree of a given size,
// and that a smaller tree is a prefix of a larger one.
import type { Context } from 'koa';
import type { AuditLog } from '../../audit/log.js';
import { InvalidInput } from '../../errors.js';
import { parseQuery } from '../../http/input.js';
import { consistencyQuery, inclusionQuery } from '../schemas.js';
import { recordQuery, type NotaryDeps } from './query.js';

/** Hashes as the API writes them. */
export const hexList = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));

/** The current tree size, checked against a size the caller asked about. */
async function checkSize(audit: AuditLog, field: string, requested: number) {
  const current = await audit.size();
  if (requested > current) {
    throw new InvalidInput([{ field, code: 'too_big', message: `the log has ${current} leaves` }]);
  }
}

export function proveInclusion({ audit }: Pick<NotaryDeps, 'audit'>) {
  return async (ctx: Context) => {
    const q = parseQuery(ctx, inclusionQuery);
    if (q.leaf_index >= q.tree_size)
      throw new InvalidInput([{ field: 'leaf_index', code: 'too_big', message: 'must be below tree_size' }]);
    await checkSize(audit, 'tree_size', q.tree_size);
    const proof = await audit.inclusionProof(q.leaf_index, q.tree_size);
    await recordQuery(audit, ctx, 'proofs/inclusion', { filters: q, results: 1 });
    ctx.body = { leaf_index: q.leaf_index, tree_size: q.tree_size, audit_path: hexList(proof) };
  };
}

export function proveConsistency({ audit }: Pick<NotaryDeps, 'audit'>) {
  return async (ctx: Context) => {
    const q = parseQuery(ctx, consistencyQuery);
    if (q.first > q.second)
      throw new InvalidInput([{ field: 'first', code: 'too_big', message: 'must not exceed second' }]);
    await checkSize(audit, 'second', q.second);
    const proof = await audit.consistencyProof(q.first, q.second);
    await recordQuery(audit, ctx, 'proofs/consistency', { filters: q, results: 1 });
    ctx.body = { first: q.first, second: q.second, proof: hexList(proof) };
  };
}
