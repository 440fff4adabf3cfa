import { InvalidInput } from '../errors.js';
import type { CostReport, SelfCheckReport } from '../identity/selfcheck.js';
import { CLI_OPERATOR, type CliContext } from './context.js';
import { dateOption, type Options } from './options.js';

function daysOption(options: Options, name: string, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  const days = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || days < 1 || days > 3650) {
    throw new InvalidInput([
      { field: name, code: 'invalid_number', message: `--${name} must be a number of days from 1 to 3650` },
    ]);
  }
  return days;
}

/** `costs [--since YYYY-MM-DD]`: provider calls and their cost, and the queries served by reuse. */
export async function costs(ctx: CliContext, options: Options): Promise<void> {
  const since = dateOption(options, 'since');
  const report = (await (
    await ctx.admin()
  ).costs(since ? { since: since.toISOString().slice(0, 10) } : {})) as unknown as CostReport;
  const lines = report.providers.map(
    (p) =>
      `  ${p.provider.padEnd(16)} ${p.method.padEnd(20)} ${String(p.calls).padStart(8)} calls  ${String(p.unavailable).padStart(6)} unavailable  ${p.cost_yuan.toFixed(2).padStart(10)} yuan`,
  );
  ctx.print(
    { ...report },
    [
      `Verification costs${report.since ? ` since ${report.since.slice(0, 10)}` : ''}:`,
      ...(lines.length ? lines : ['  (no provider calls)']),
      `  total: ${report.total_calls} calls, ${report.total_cost_yuan.toFixed(2)} yuan`,
      `  merchant queries served from reused results: ${report.reused_queries}`,
    ].join('\n'),
  );
}

/**
 * `selfcheck [--expiring-within DAYS] [--deliver]` (docs/verification.md#reminders): queues reminders for accounts with
 * no, failed or soon-expiring verification; with --deliver, sends the due ones now.
 */
export async function selfcheck(ctx: CliContext, options: Options): Promise<void> {
  const report = (await (
    await ctx.admin()
  ).selfcheck(
    { expiring_within_days: daysOption(options, 'expiring-within', 30), deliver: options.deliver === true },
    CLI_OPERATOR,
  )) as unknown as SelfCheckReport & { delivery?: { sent: number; retried: number; failed: number } };
  const { delivery } = report;
  ctx.print(
    { ...report },
    [
      `Self-check: ${report.checked} accounts need attention (${report.missing} never verified, ${report.failed} failed or expired, ${report.expiring} expiring soon).`,
      `  ${report.queued} reminders queued (at most one per account and kind a month).`,
      ...(delivery
        ? [`  delivered now: ${delivery.sent} sent, ${delivery.retried} to retry, ${delivery.failed} given up`]
        : []),
    ].join('\n'),
  );
}
