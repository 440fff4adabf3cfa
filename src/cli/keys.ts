import { COOKIE_KEY, OIDC_SIGNING, PAIRWISE_SALT, type KeySpec } from '../keys/service.js';
import { AUDIT_TREE_HEAD_KEY } from '../audit/tree-heads.js';
import { InvalidInput } from '../errors.js';
import type { CliContext } from './context.js';
import type { Options } from './options.js';

// The pairwise salt is deliberately not rotatable: changing it would change every subject.
const ROTATABLE: Record<string, KeySpec[]> = {
  'oidc-signing': OIDC_SIGNING,
  cookie: [COOKIE_KEY],
  'audit-tree-head': [AUDIT_TREE_HEAD_KEY],
};

/**
 * `keys rotate [--purpose oidc-signing|cookie|audit-tree-head]`: new active keys; the old ones stay published
 * (and accepted) for `retiredKeyLifetime` seconds. Restart running processes to sign with them.
 */
export async function keysRotate(ctx: CliContext, options: Options): Promise<void> {
  const purpose = (options.purpose as string | undefined) ?? 'oidc-signing';
  const specs = ROTATABLE[purpose];
  if (!specs) {
    throw new InvalidInput([
      {
        field: 'purpose',
        code: 'invalid',
        message: `--purpose must be one of ${Object.keys(ROTATABLE).join(', ')} (${PAIRWISE_SALT.purpose} cannot rotate)`,
      },
    ]);
  }
  const { keys } = await ctx.services();
  const rotated = [];
  for (const spec of specs) {
    const { kid, retired } = await keys.rotate(spec, ctx.config.retiredKeyLifetime);
    rotated.push({ purpose: spec.purpose, alg: spec.alg, kid, retired });
  }
  const until = new Date(Date.now() + ctx.config.retiredKeyLifetime * 1000).toISOString();
  ctx.print(
    { rotated, retired_keys_valid_until: until },
    [
      ...rotated.map((r) => `${r.purpose} ${r.alg}: new key ${r.kid} (${r.retired} retired)`),
      `Retired keys stay published until ${until}. Restart the platform's processes to use the new keys.`,
    ].join('\n'),
  );
}
