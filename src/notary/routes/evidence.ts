// Evidence bundles: chosen events with their inclusion proofs, a tree head covering them and the
// keys to check it, signed as one document a notary can verify offline.
import type { Context } from 'koa';
import { AUDIT_TREE_HEAD_KEY } from '../../audit/tree-heads.js';
import { bundlePayload, EVIDENCE_FORMAT, type EvidenceBundle } from '../../audit/verify.js';
import { InvalidInput } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { evidenceRequest } from '../schemas.js';
import { hexList } from './proofs.js';
import { recordQuery, type NotaryDeps } from './query.js';

export function bundleEvidence(deps: Pick<NotaryDeps, 'issuer' | 'audit' | 'treeHeads' | 'keys' | 'headInterval'>) {
  const { audit, treeHeads } = deps;
  return async (ctx: Context) => {
    const { leaf_indices } = parseBody(ctx, evidenceRequest);
    const wanted = [...new Set(leaf_indices)].sort((a, b) => a - b);
    const rows = await audit.events(wanted);
    const missing = wanted.filter((i) => !rows.some((r) => Number(r.leaf_index) === i));
    if (missing.length)
      throw new InvalidInput([
        { field: 'leaf_indices', code: 'not_found', message: `no such leaves: ${missing.slice(0, 10).join(', ')}` },
      ]);
    const head = await treeHeads.latest({ maxAge: deps.headInterval, covering: wanted.at(-1)! + 1 });
    const events = [];
    for (const row of rows) {
      events.push({
        leaf_index: Number(row.leaf_index),
        leaf: row.leaf,
        audit_path: hexList(await audit.inclusionProof(Number(row.leaf_index), head.tree_size)),
      });
    }
    const unsigned = {
      format: EVIDENCE_FORMAT,
      issuer: deps.issuer,
      issued_at: Date.now(),
      tree_head: head,
      keys: { keys: await deps.keys.publicJwksEver(AUDIT_TREE_HEAD_KEY.purpose) },
      events,
    } satisfies Omit<EvidenceBundle, 'signature'>;
    const bundle: EvidenceBundle = {
      ...unsigned,
      signature: await treeHeads.sign(bundlePayload(unsigned), 'evidence+json'),
    };
    await recordQuery(audit, ctx, 'evidence', { filters: { leaf_indices: wanted }, results: events.length });
    ctx.body = bundle;
  };
}
