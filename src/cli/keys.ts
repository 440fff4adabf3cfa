import { CLI_OPERATOR, type CliContext } from './context.js';
import type { Options } from './options.js';

/**
 * `keys rotate [--purpose oidc-signing|cookie|audit-tree-head]`: new active keys; the old ones stay published
 * (and accepted) for `retiredKeyLifetime` seconds. Every running process loads the new keys within
 * `settingsCheckInterval` seconds (src/oidc/live-settings.ts). The pairwise salt cannot rotate.
 */
export async function keysRotate(ctx: CliContext, options: Options): Promise<void> {
  const result = (await (
    await ctx.admin()
  ).rotateKeys({ purpose: (options.purpose as string | undefined) ?? 'oidc-signing' }, CLI_OPERATOR)) as {
    rotated: Array<{ purpose: string; alg: string; kid: string; retired: number }>;
    retired_keys_valid_until: string;
  };
  ctx.print(
    result,
    [
      ...result.rotated.map((r) => `${r.purpose} ${r.alg}: new key ${r.kid} (${r.retired} retired)`),
      `Retired keys stay published until ${result.retired_keys_valid_until}. Running processes load the new keys within seconds.`,
    ].join('\n'),
  );
}
