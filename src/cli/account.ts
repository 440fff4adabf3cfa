import type { CliContext } from './context.js';
import type { Options } from './options.js';
import { accountOf } from './security.js';

/**
 * `account disable --login L [--reason TEXT]`: disables the account and ends every session and
 * token of it (OWASP ASVS 5.0 §7.4.2), for an account reported stolen or under investigation.
 * Its owner cannot sign in until `account enable`; its merchants' grants are kept.
 */
export async function accountDisable(ctx: CliContext, options: Options): Promise<void> {
  const account = await accountOf(ctx, options);
  const reason = typeof options.reason === 'string' ? options.reason : undefined;
  const outcome = await (await (await ctx.local()).services()).disabling.disable(account.id, reason);
  if (!outcome.disabled) {
    ctx.print(
      { account: account.id, disabled: true, changed: false },
      `${account.login} is already disabled; nothing changed.`,
    );
    return;
  }
  ctx.print(
    {
      account: account.id,
      disabled: true,
      changed: true,
      sessions_ended: outcome.sessionsEnded,
      tokens_revoked: outcome.tokensRevoked,
    },
    `Disabled ${account.login}: ended ${outcome.sessionsEnded} session(s), revoked ${outcome.tokensRevoked} token(s).`,
  );
}

/** `account enable --login L`: its owner may sign in again. */
export async function accountEnable(ctx: CliContext, options: Options): Promise<void> {
  const account = await accountOf(ctx, options);
  const changed = await (await (await ctx.local()).services()).disabling.enable(account.id);
  ctx.print(
    { account: account.id, disabled: false, changed },
    changed ? `Enabled ${account.login}.` : `${account.login} is not disabled; nothing changed.`,
  );
}
