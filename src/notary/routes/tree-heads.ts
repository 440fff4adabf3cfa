// The signed tree head a notary checks proofs against, and the public keys that verify it.
import type { Context } from 'koa';
import { AUDIT_TREE_HEAD_KEY } from '../../audit/tree-heads.js';
import { recordQuery, type NotaryDeps } from './query.js';

/** The latest tree head, signed anew once the last one is older than `headInterval`. */
export function readTreeHead({
  audit,
  treeHeads,
  headInterval,
}: Pick<NotaryDeps, 'audit' | 'treeHeads' | 'headInterval'>) {
  return async (ctx: Context) => {
    const head = await treeHeads.latest({ maxAge: headInterval });
    await recordQuery(audit, ctx, 'tree-head', { results: 1 });
    ctx.body = head;
  };
}

/** Every tree-head key ever used, public: a notary fetches them once and keeps them. */
export function readTreeHeadKeys({ keys, treeHeads }: Pick<NotaryDeps, 'keys' | 'treeHeads'>) {
  return async (ctx: Context) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    const jwks = await keys.publicJwksEver(AUDIT_TREE_HEAD_KEY.purpose);
    ctx.body = { keys: jwks, checkpoint_verifier_keys: treeHeads.verifierKeys(jwks) };
  };
}
