import { CLI_OPERATOR, type CliContext } from './context.js';
import type { Options } from './options.js';

/** The login an operator command names: `operator add LOGIN` (or `--login LOGIN`). */
function loginOf(options: Options, positional: string | undefined): unknown {
  return positional ?? options.login;
}

type Changed = { account_id: string; login: string; changed: boolean };

/** `operator add LOGIN`: the account may use the admin API and the console at /admin (audited). */
export async function operatorAdd(ctx: CliContext, options: Options, login?: string): Promise<void> {
  const result = (await (await ctx.admin()).addOperator({ login: loginOf(options, login) }, CLI_OPERATOR)) as Changed;
  ctx.print(
    result,
    result.changed ? `${result.login} is now an operator.` : `${result.login} already is an operator; nothing changed.`,
  );
}

/** `operator remove LOGIN`: ends the role; the account's operator clients stop working at once. */
export async function operatorRemove(ctx: CliContext, options: Options, login?: string): Promise<void> {
  const result = (await (
    await ctx.admin()
  ).removeOperator({ login: loginOf(options, login) }, CLI_OPERATOR)) as Changed;
  ctx.print(
    result,
    result.changed
      ? `${result.login} is no longer an operator.`
      : `${result.login} is not an operator; nothing changed.`,
  );
}

/** `operator list` */
export async function operatorList(ctx: CliContext): Promise<void> {
  const result = (await (await ctx.admin()).listOperators()) as {
    operators: Array<{ login: string; account_id: string; since: string; disabled: boolean }>;
  };
  ctx.print(
    result,
    result.operators
      .map((o) => `${o.login}  ${o.account_id}  since ${o.since}${o.disabled ? '  (account disabled)' : ''}`)
      .join('\n') || '(no operators)',
  );
}

/**
 * `operator credentials LOGIN`: a new client of kind `operator` for this operator's use of the
 * admin API (`--url`), its secret shown once. On the database only: a token cannot mint itself
 * more credentials.
 */
export async function operatorCredentials(ctx: CliContext, options: Options, login?: string): Promise<void> {
  const { admin } = await (await ctx.local()).services();
  const client = (await admin.issueOperatorCredentials({ login: loginOf(options, login) }, CLI_OPERATOR)) as {
    client_id: string;
    client_secret: string;
  };
  ctx.print(
    client,
    [
      `Operator client for ${String(loginOf(options, login))}:`,
      `  client_id:     ${client.client_id}`,
      `  client_secret: ${client.client_secret}   (shown once; store it now)`,
      'Use them as OPERATOR_CLIENT_ID and OPERATOR_CLIENT_SECRET with --url.',
    ].join('\n'),
  );
}
