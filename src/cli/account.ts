import { CLI_OPERATOR, type CliContext } from './context.js';
import { requireOption, type Options } from './options.js';

/** What the operations answer, and the login they name for the readable line (not printed in JSON). */
type Named = { login: string } & Record<string, unknown>;

/**
 * `account disable --login L [--reason TEXT]`: disables the account and ends every session and
 * token of it (OWASP ASVS 5.0 §7.4.2), for an account reported stolen or under investigation.
 * Its owner cannot sign in until `account enable`; its merchants' grants are kept.
 */
export async function accountDisable(ctx: CliContext, options: Options): Promise<void> {
  const reason = typeof options.reason === 'string' ? options.reason : undefined;
  const { login, ...result } = (await (
    await ctx.admin()
  ).disableAccount(
    { login: requireOption(options, 'login'), ...(reason === undefined ? {} : { reason }) },
    CLI_OPERATOR,
  )) as Named;
  ctx.print(
    result,
    result.changed
      ? `Disabled ${login}: ended ${String(result.sessions_ended)} session(s), revoked ${String(result.tokens_revoked)} token(s).`
      : `${login} is already disabled; nothing changed.`,
  );
}

/** `account enable --login L`: its owner may sign in again. */
export async function accountEnable(ctx: CliContext, options: Options): Promise<void> {
  const { login, ...result } = (await (
    await ctx.admin()
  ).enableAccount({ login: requireOption(options, 'login') }, CLI_OPERATOR)) as Named;
  ctx.print(result, result.changed ? `Enabled ${login}.` : `${login} is not disabled; nothing changed.`);
}
