import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db, Queryable } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { isStorableText } from '../db/text.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { InvalidInput } from '../errors.js';
import { DeliveryRefused, type Notifier } from './notifier.js';
import {
  claimDueMessages,
  countByStatus,
  countByTemplate,
  insertMessage,
  listMessages,
  markAttemptFailed,
  markSent,
  type Channel,
  type OutboxRow,
} from './store.js';
import {
  isTemplateName,
  renderTemplate,
  resetCodeContext,
  SECURITY_EVENT_TEMPLATE,
  templateParams,
  TEMPLATES,
  type TemplateName,
} from './templates.js';

export type { Channel } from './store.js';

export interface OutboxOptions {
  /** Public issuer URL; reminders link to `<issuer>/account/verify`. */
  issuer: string;
  /** Attempts per message before it is marked `failed` (default 5). */
  maxAttempts?: number;
  /** Messages claimed by one deliver() call (default 50). */
  batchSize?: number;
  /** Wait before the first retry; doubled for each further one (default 1 min). */
  retryBaseMs?: number;
  /** Longest wait between retries (default 6 h). */
  retryMaxMs?: number;
  /** How long a claimed message is held for its worker before another may retry it (default 5 min). */
  leaseMs?: number;
  /** Time zone in which dates are written in messages (default Asia/Shanghai). */
  timeZone?: string;
  /** Opens the one-time codes of password resets (sealed in the row) just before they are sent. */
  box?: SecretBox;
  /** Told when a delivery started by deliverSoon() fails as a whole (the scheduled run retries). */
  onDeliveryError?: (err: unknown) => void;
}

export interface Reminder {
  accountId: string;
  /** Not `set`: a Security Event Token is queued with enqueueSecurityEvent. */
  channel: Channel;
  /** Email address for the email channel, E.164 mobile number for sms; empty for the log channel. */
  recipient?: string;
  template: TemplateName;
  params?: z.input<typeof templateParams>;
  /** Queues the message at most once per key; default `<template>:<account>:<yyyy-mm>` (UTC). */
  dedupeKey?: string;
}

export interface DeliveryReport {
  sent: number;
  /** Given up on: `maxAttempts` reached. */
  failed: number;
  /** Failed this time, due again later. */
  retried: number;
}

const reminderSchema = z
  .object({
    accountId: z.uuid(),
    channel: z.enum(['log', 'email', 'sms']),
    recipient: z.string().max(320).default(''),
    template: z.enum(TEMPLATES),
    params: templateParams.default({ locale: 'zh-CN' }),
    dedupeKey: z
      .string()
      .min(1)
      .refine((v) => isStorableText(v, 200), { message: 'contains characters that are not allowed' })
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.channel === 'email' && !z.email().safeParse(value.recipient).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipient'],
        message: 'an email address is required for the email channel',
      });
    }
    if (value.channel === 'sms' && !/^\+[1-9]\d{6,14}$/.test(value.recipient)) {
      ctx.addIssue({
        code: 'custom',
        path: ['recipient'],
        message: 'a mobile number (E.164) is required for the sms channel',
      });
    }
    if (value.template === 'password.reset_code' && !(value.params.reset_id && value.params.sealed_code)) {
      ctx.addIssue({ code: 'custom', path: ['params'], message: 'a reset code needs reset_id and sealed_code' });
    }
    if (value.params.sealed_code && value.template !== 'password.reset_code') {
      ctx.addIssue({ code: 'custom', path: ['params', 'sealed_code'], message: 'only a reset code carries a code' });
    }
    if (value.channel === 'log' && value.recipient !== '') {
      ctx.addIssue({ code: 'custom', path: ['recipient'], message: 'the log channel takes no recipient' });
    }
    if (value.params.security_event_token || value.params.client_id) {
      ctx.addIssue({ code: 'custom', path: ['params'], message: 'only the set channel carries a security event' });
    }
    if (value.template === 'verification.expiring' && !value.params.expires_at) {
      ctx.addIssue({ code: 'custom', path: ['params', 'expires_at'], message: 'required for verification.expiring' });
    }
  });

/** A signed Security Event Token to push to a merchant's events endpoint (src/merchant-events/). */
export interface SecurityEventPush {
  clientId: string;
  /** The merchant's registered events endpoint. */
  endpoint: string;
  /** The signed SET, compact JWS. */
  token: string;
  /** The SET's `jti`: one row per SET. */
  jti: string;
}

/** A pushed SET as the operator sees it (`events list`). */
export interface SecurityEventDelivery {
  id: string;
  clientId: string;
  endpoint: string;
  /** The signed SET, to decode and show. */
  token: string;
  status: OutboxRow['status'];
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
  nextAttemptAt: Date;
}

const securityEventSchema = z.object({
  clientId: z.string().min(1).max(200),
  endpoint: z.url({ protocol: /^https?$/ }).max(2000),
  token: templateParams.shape.security_event_token.unwrap(),
  jti: z.string().min(1).max(100),
});

/** A reminder's default dedupe key: once per template, account and calendar month (UTC). */
export function monthlyDedupeKey(template: TemplateName, accountId: string, at = new Date()): string {
  return `${template}:${accountId}:${at.toISOString().slice(0, 7)}`;
}

/** Exponential backoff: `baseMs` after the first failed attempt, doubling, at most `maxMs`. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Reminders are queued in the database and delivered later (the transactional outbox pattern):
 * queueing can share the caller's transaction, and a channel that is down only delays messages.
 * Delivery is at least once: a worker that dies after sending but before recording it leaves the
 * message to be sent again when its lease ends (the mail's Message-ID stays the same).
 */
export class Outbox {
  private readonly notifiers = new Map<Channel, Notifier>();
  private readonly options: Required<Omit<OutboxOptions, 'box' | 'onDeliveryError'>>;
  private readonly box: SecretBox | undefined;
  private readonly onDeliveryError: (err: unknown) => void;
  /** The delivery deliverSoon() started and whether another was asked for while it ran. */
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly db: Db,
    notifiers: Notifier[],
    options: OutboxOptions,
  ) {
    for (const notifier of notifiers) {
      if (this.notifiers.has(notifier.channel)) throw new Error(`two notifiers for the ${notifier.channel} channel`);
      this.notifiers.set(notifier.channel, notifier);
    }
    this.options = {
      issuer: options.issuer,
      maxAttempts: options.maxAttempts ?? 5,
      batchSize: options.batchSize ?? 50,
      retryBaseMs: options.retryBaseMs ?? 60_000,
      retryMaxMs: options.retryMaxMs ?? 6 * 3600_000,
      leaseMs: options.leaseMs ?? 5 * 60_000,
      timeZone: options.timeZone ?? 'Asia/Shanghai',
    };
    this.box = options.box;
    this.onDeliveryError = options.onDeliveryError ?? (() => {});
  }

  /** Whether messages on `channel` can go anywhere here (a notifier is configured for it). */
  carries(channel: Channel): boolean {
    return this.notifiers.has(channel);
  }

  /**
   * Starts a delivery now, without waiting for it: a one-time code should not wait for the next
   * scheduled run. Calls while one runs make one more run after it, not one each.
   */
  deliverSoon(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.deliver().catch(this.onDeliveryError);
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Queues a reminder (in `db`, e.g. the caller's transaction); false when already queued. */
  async enqueue(reminder: Reminder, db: Queryable = this.db): Promise<boolean> {
    const parsed = reminderSchema.safeParse(reminder);
    if (!parsed.success) {
      throw new InvalidInput(
        parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), code: issue.code, message: issue.message })),
      );
    }
    const value = parsed.data;
    return insertMessage(db, {
      id: randomUUID(),
      account_id: value.accountId,
      channel: value.channel,
      recipient: value.recipient,
      template: value.template,
      params: value.params,
      dedupe_key: value.dedupeKey ?? monthlyDedupeKey(value.template, value.accountId),
    });
  }

  /**
   * Queues a Security Event Token for the `set` channel, in `db` (the transaction of the change it
   * reports: it is sent only if that change commits). The row holds the signed token, whose only
   * subject is the pairwise `sub` the merchant already knows, and the endpoint; no identity data,
   * and no account: it survives the account's closure, whose SETs it may carry.
   */
  async enqueueSecurityEvent(push: SecurityEventPush, db: Queryable = this.db): Promise<void> {
    const parsed = securityEventSchema.parse(push);
    await insertMessage(db, {
      id: randomUUID(),
      account_id: null,
      channel: 'set',
      recipient: parsed.endpoint,
      template: SECURITY_EVENT_TEMPLATE,
      params: { locale: 'zh-CN', security_event_token: parsed.token, client_id: parsed.clientId },
      dedupe_key: `set:${parsed.jti}`,
    });
  }

  /** The latest SETs pushed or waiting, newest first; only those given up on with `failed`. */
  async securityEvents(filter: { failed?: boolean } = {}, limit = 100): Promise<SecurityEventDelivery[]> {
    const rows = await listMessages(this.db, { channel: 'set', ...(filter.failed ? { status: 'failed' } : {}) }, limit);
    return rows.map((row) => ({
      id: row.id,
      clientId: String(row.params.client_id ?? ''),
      endpoint: row.recipient,
      token: String(row.params.security_event_token ?? ''),
      status: row.status,
      attempts: row.attempts,
      lastError: row.last_error,
      createdAt: row.created_at,
      sentAt: row.sent_at,
      nextAttemptAt: row.next_attempt_at,
    }));
  }

  /** Messages of these templates since `since`, by template and status (the operator console). */
  async templateCounts(templates: string[], since: Date) {
    return countByTemplate(this.db, templates, since);
  }

  /** How many SETs are pending, sent and failed (for the metrics). */
  async securityEventCounts(): Promise<Record<string, number>> {
    return countByStatus(this.db, 'set');
  }

  /** Sends one batch of due messages and records each result. */
  async deliver(): Promise<DeliveryReport> {
    const { batchSize, leaseMs, maxAttempts } = this.options;
    const claimed = await inTransaction(this.db, (tx) => claimDueMessages(tx, batchSize, leaseMs));
    const report: DeliveryReport = { sent: 0, failed: 0, retried: 0 };
    for (const row of claimed) {
      // More attempts than allowed means earlier workers claimed it and never reported back
      // (they died mid-send); stop trying rather than crash-loop on it.
      if (row.attempts > maxAttempts) {
        await markAttemptFailed(this.db, row.id, 'abandoned: earlier attempts did not finish', null);
        report.failed += 1;
        continue;
      }
      try {
        await this.send(row);
      } catch (err) {
        // A refusal for good (DeliveryRefused) is not tried again; anything else is, with backoff.
        const giveUp = err instanceof DeliveryRefused || row.attempts >= maxAttempts;
        const retryIn = giveUp ? null : retryDelay(row.attempts, this.options.retryBaseMs, this.options.retryMaxMs);
        await markAttemptFailed(this.db, row.id, describeError(err), retryIn);
        report[giveUp ? 'failed' : 'retried'] += 1;
        continue;
      }
      await markSent(this.db, row.id);
      report.sent += 1;
    }
    return report;
  }

  private async send(row: OutboxRow): Promise<void> {
    const notifier = this.notifiers.get(row.channel);
    if (!notifier) throw new Error(`no notifier configured for the ${row.channel} channel`);
    if (row.channel === 'set') return this.push(notifier, row);
    if (!isTemplateName(row.template)) throw new Error(`unknown template ${row.template}`);
    const params = templateParams.parse(row.params);
    const code =
      params.sealed_code && params.reset_id
        ? this.opener().openText(params.sealed_code, resetCodeContext(params.reset_id))
        : undefined;
    const rendered = renderTemplate(row.template, params, {
      ...this.options,
      ...(code ? { code } : {}),
      footer: row.channel !== 'sms',
    });
    await notifier.send({
      id: row.id,
      accountId: row.account_id ?? '',
      template: row.template,
      to: row.recipient,
      ...rendered,
    });
  }

  /** A SET is pushed as it was signed when queued: nothing to render. */
  private async push(notifier: Notifier, row: OutboxRow): Promise<void> {
    const { security_event_token: token } = templateParams.parse(row.params);
    if (!token) throw new DeliveryRefused('no security event token in the row');
    await notifier.send({
      id: row.id,
      accountId: '',
      template: row.template,
      to: row.recipient,
      subject: row.template,
      text: token,
    });
  }

  private opener(): SecretBox {
    if (!this.box) throw new Error('this outbox has no SecretBox to open one-time codes with');
    return this.box;
  }
}

// Kept in the row for operators; a relay's reply may contain anything, so make it storable.
function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.slice(0, 1000).replaceAll('\u0000', '').toWellFormed() || 'unknown error';
}
