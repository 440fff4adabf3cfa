import { accountsAfter } from '../accounts/service.js';
import type { Db } from '../db/index.js';
import type { Outbox } from '../notifications/service.js';
import {
  costTotals,
  countQueries,
  dailyCosts,
  recentFailures,
  remindersOf,
  type CostRow,
  type ReminderReason,
} from './store.js';

/** Accounts looked at per round of the self-check. */
const PAGE = 1000;

interface ReminderCandidate {
  account_id: string;
  login: string;
  login_type: 'email' | 'phone';
  reason: ReminderReason;
  expires_at: Date | null;
}

export interface SelfCheckReport {
  checked: number;
  missing: number;
  failed: number;
  expiring: number;
  /** Reminders newly queued (one per account and template per month at most). */
  queued: number;
}

/**
 * The periodic self-check (docs/verification.md#reminders): finds accounts with no verification, a failed one, or a
 * result about to expire, and queues a reminder for each in the outbox. Email logins get mail
 * when the email channel is configured; the others get the log channel.
 */
export async function selfCheck(
  db: Db,
  outbox: Outbox,
  options: { channel: 'log' | 'email'; expiringWithinDays: number; locale: 'zh-CN' | 'en'; limit?: number; now?: Date },
): Promise<SelfCheckReport> {
  const now = options.now ?? new Date();
  const horizon = new Date(now.getTime() + options.expiringWithinDays * 86_400_000);
  const candidates = await accountsNeedingReminder(db, now, horizon, options.limit ?? 10_000);
  const report: SelfCheckReport = { checked: candidates.length, missing: 0, failed: 0, expiring: 0, queued: 0 };
  for (const candidate of candidates) {
    report[candidate.reason] += 1;
    const email = options.channel === 'email' && candidate.login_type === 'email';
    const queued = await outbox.enqueue({
      accountId: candidate.account_id,
      channel: email ? 'email' : 'log',
      ...(email ? { recipient: candidate.login } : {}),
      template: `verification.${candidate.reason}`,
      params: {
        locale: options.locale,
        ...(candidate.reason === 'expiring' && candidate.expires_at
          ? { expires_at: new Date(candidate.expires_at).toISOString() }
          : {}),
      },
    });
    if (queued) report.queued += 1;
  }
  return report;
}

export interface CostReport {
  since: string | null;
  providers: Array<CostRow & { cost_yuan: number }>;
  total_calls: number;
  total_cost_yuan: number;
  /** Merchant queries answered from reused results (no provider call, no cost). */
  reused_queries: number;
}

/**
 * Accounts to remind (see remindersOf), in id order, at most `limit`: the accounts are read a page
 * at a time and their results looked up for each page.
 */
async function accountsNeedingReminder(db: Db, now: Date, horizon: Date, limit: number): Promise<ReminderCandidate[]> {
  const found: ReminderCandidate[] = [];
  let after: string | undefined;
  while (found.length < limit) {
    const accounts = await accountsAfter(db, after, PAGE);
    if (accounts.length === 0) break;
    const byId = new Map(accounts.map((account) => [account.id, account]));
    for (const reminder of await remindersOf(db, accounts, now, horizon)) {
      if (found.length === limit) break;
      const { login, login_type } = byId.get(reminder.account_id)!;
      found.push({ ...reminder, login, login_type });
    }
    after = accounts.at(-1)!.id;
  }
  return found;
}

/** What verification cost, by provider and method, and how much reuse saved (docs/background.md#result-reuse). */
export async function costReport(db: Db, since?: Date): Promise<CostReport> {
  const rows = await costTotals(db, since);
  const reused = await countQueries(db, since);
  const providers = rows.map((r) => ({ ...r, cost_yuan: r.cost_fen / 100 }));
  return {
    since: since?.toISOString() ?? null,
    providers,
    total_calls: rows.reduce((sum, r) => sum + r.calls, 0),
    total_cost_yuan: rows.reduce((sum, r) => sum + r.cost_fen, 0) / 100,
    reused_queries: reused,
  };
}

/** Provider calls and cost per day, provider and method since `since` (the console's chart). */
export async function costsByDay(db: Db, since: Date): Promise<Array<CostRow & { day: string; cost_yuan: number }>> {
  return (await dailyCosts(db, since)).map((r) => ({ ...r, cost_yuan: r.cost_fen / 100 }));
}

/** The latest provider calls that got no answer (the console's provider health). */
export async function providerFailures(db: Db, limit = 20) {
  return recentFailures(db, limit);
}
