import type { CliContext } from './context.js';
import { dateOption, requireOption, type Options } from './options.js';

type LoggedEvent = {
  at: string;
  kind: string;
  accountId?: string | null;
  ip?: string | null;
  device?: string | null;
  detail?: unknown;
};

/**
 * `security log [--login L] [--since YYYY-MM-DD]`: the security log, oldest first, of one account
 * or of all (failed sign-ins for logins no account has included); the last 7 days by default.
 */
export async function securityLog(ctx: CliContext, options: Options): Promise<void> {
  const since = dateOption(options, 'since');
  const { login, ...result } = (await (
    await ctx.admin()
  ).securityLog({
    ...(options.login === undefined ? {} : { login: requireOption(options, 'login') }),
    ...(since ? { since: since.toISOString().slice(0, 10) } : {}),
  })) as { login?: string; since: string; events: LoggedEvent[] };
  ctx.print(
    result,
    [
      `Security log since ${result.since.slice(0, 10)}${login ? ` for ${login}` : ''}: ${result.events.length} event(s)`,
      ...result.events.map((e) =>
        [
          e.at,
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
  const { login, ...result } = (await (await ctx.admin()).endSessions({ login: requireOption(options, 'login') })) as {
    login: string;
    account: string;
    sessions_ended: number;
  };
  ctx.print(result, `Ended ${result.sessions_ended} session(s) of ${login}.`);
}
