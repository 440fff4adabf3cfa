import { NotFound } from '../errors.js';
import type { CliContext } from './context.js';
import { dateOption, requireOption, type Options } from './options.js';

const DAY = 86_400_000;

/** The account an operator names by its login (`--login`), or NotFound. */
export async function accountOf(ctx: CliContext, options: Options) {
  const login = requireOption(options, 'login');
  const account = await (await (await ctx.local()).services()).accounts.findByLogin(login);
  if (!account) throw new NotFound(`No account has the login ${login}.`);
  return account;
}

/**
 * `security log [--login L] [--since YYYY-MM-DD]`: the security log, oldest first, of one account
 * or of all (failed sign-ins for logins no account has included); the last 7 days by default.
 */
export async function securityLog(ctx: CliContext, options: Options): Promise<void> {
  const account = options.login === undefined ? undefined : await accountOf(ctx, options);
  const since = dateOption(options, 'since') ?? new Date(Date.now() - 7 * DAY);
  const events = await (
    await (await ctx.local()).services()
  ).securityLog.since({ since, accountId: account?.id }, 10_000);
  ctx.print(
    { since: since.toISOString(), events },
    [
      `Security log since ${since.toISOString().slice(0, 10)}${account ? ` for ${account.login}` : ''}: ${events.length} event(s)`,
      ...events.map((e) =>
        [
          e.at.toISOString(),
          e.kind.padEnd(22),
          e.accountId ?? '(no account)',
          e.ip ?? '-',
          e.device ?? '-',
          e.detail ? JSON.stringify(e.detail) : '',
        ].join('  '),
      ),
    ].join('\n'),
  );
}

/**
 * `sessions end --login L`: signs the account out everywhere (OWASP ASVS 5.0 §7.4.5), for an
 * account an operator believes taken over. Recorded in the account's security log.
 */
export async function sessionsEnd(ctx: CliContext, options: Options): Promise<void> {
  const account = await accountOf(ctx, options);
  const ended = await (await (await ctx.local()).services()).sessions.endAll(account.id);
  ctx.print({ account: account.id, sessions_ended: ended }, `Ended ${ended} session(s) of ${account.login}.`);
}
