import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { describeDevice } from './device.js';
import {
  deleteAccountSessionsBefore,
  deleteAllOfAccount,
  deleteSecurityEventsBefore,
  endAccountSessions,
  insertSecurityEvent,
  liveSessionsOf,
  securityEventsOf,
  securityEventsSince,
  upsertAccountSession,
  type AccountSessionRow,
  type SecurityEventRow,
} from './store.js';

// The person's security log and sessions. Not the audit trail: the audit trail is evidence of
// grants for notaries, append-only and kept for years; these rows hold addresses and device
// names, serve the person (and the operator) watching their own account, are removed after their
// retention, and go with the account.

/** What the log records. Each is written when it took effect, in the same transaction where there is one. */
export const SECURITY_EVENT_KINDS = [
  'sign_in',
  'sign_in_failed',
  'sign_in_locked',
  'signed_out',
  'password_changed',
  'password_reset_code_sent',
  'password_reset_code_failed',
  'password_reset',
  'session_ended',
  'other_sessions_ended',
  'all_sessions_ended_by_operator',
  'passkey_added',
  'passkey_renamed',
  'passkey_removed',
  'second_factor_changed',
  'account_disabled',
  'account_enabled',
  'sign_in_while_disabled',
] as const;
export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

/** Where a request came from: its address and User-Agent header (kept only as a device name). */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

export interface SecurityEvent {
  id: string;
  accountId: string | null;
  kind: SecurityEventKind;
  ip?: string;
  device?: string;
  detail?: Record<string, unknown>;
  at: Date;
}

const toEvent = (row: SecurityEventRow): SecurityEvent => ({
  id: String(row.id),
  accountId: row.account_id,
  kind: row.kind as SecurityEventKind,
  ...(row.ip ? { ip: row.ip } : {}),
  ...(row.device ? { device: row.device } : {}),
  ...(row.detail ? { detail: row.detail } : {}),
  at: row.at,
});

const PRUNE_BATCH = 1000;

export class SecurityLog {
  private readonly db: Db;
  private readonly retentionDays: number;

  constructor(options: { db: Db; retentionDays: number }) {
    this.db = options.db;
    this.retentionDays = options.retentionDays;
  }

  /** Records an event; joins the caller's transaction, so it commits with what it records. */
  async record(
    kind: SecurityEventKind,
    accountId: string | null,
    origin: RequestOrigin = {},
    detail?: Record<string, unknown>,
  ): Promise<void> {
    await insertSecurityEvent(this.db, {
      account_id: accountId,
      kind,
      ip: origin.ip ?? null,
      device: describeDevice(origin.userAgent) ?? null,
      detail: detail ?? null,
    });
  }

  /** The account's latest events, newest first: the "recent security activity" the person sees. */
  async recent(accountId: string, limit = 20): Promise<SecurityEvent[]> {
    return (await securityEventsOf(this.db, accountId, limit)).map(toEvent);
  }

  /** Events since `since` (of one account, or all), oldest first: the operator's view. */
  async since(filter: { since: Date; accountId?: string }, limit = 1000): Promise<SecurityEvent[]> {
    return (await securityEventsSince(this.db, filter, limit)).map(toEvent);
  }

  /** Removes what is past its retention, in batches; returns how many events and sessions went. */
  /** Forgets the account: its events and session rows, for a closed account. Joins the ambient transaction. */
  async forget(accountId: string): Promise<void> {
    await deleteAllOfAccount(this.db, accountId);
  }

  async prune(now = new Date()): Promise<{ events: number; sessions: number }> {
    const before = new Date(now.getTime() - this.retentionDays * 86_400_000);
    const events = await drain((limit) => deleteSecurityEventsBefore(this.db, before, limit));
    // A session row outlives its session only to say when it ended; a day is enough.
    const sessions = await drain((limit) =>
      deleteAccountSessionsBefore(this.db, new Date(now.getTime() - 86_400_000), limit),
    );
    return { events, sessions };
  }
}

async function drain(batch: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await batch(PRUNE_BATCH);
    total += removed;
    if (removed < PRUNE_BATCH) return total;
  }
}

/** The sessions themselves, where they live (oidc-provider's Sessions, in the database or Redis): ending them signs out. */
export interface LiveSessions {
  end(accountId: string, which: { uids: string[] } | { except?: string }): Promise<void>;
}

/** How a session signed in, as RFC 8176 `amr` values, and the rest the session list shows. */
export interface AccountSession {
  uid: string;
  ip?: string;
  device?: string;
  amr: string[];
  signedInAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  current: boolean;
}

const toSession = (row: AccountSessionRow, currentUid?: string): AccountSession => ({
  uid: row.uid,
  ...(row.ip ? { ip: row.ip } : {}),
  ...(row.device ? { device: row.device } : {}),
  amr: row.amr,
  signedInAt: row.signed_in_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
  current: row.uid === currentUid,
});

/** The sessions a person sees on their security page, and ends from there. */
export class AccountSessions {
  private readonly db: Db;
  private readonly live: LiveSessions;
  private readonly log: SecurityLog;

  constructor(options: { db: Db; live: LiveSessions; log: SecurityLog }) {
    this.db = options.db;
    this.live = options.live;
    this.log = options.log;
  }

  /** A session seen in use: recorded on first sight (its sign-in), its last use and expiry after. */
  async seen(session: {
    uid: string;
    accountId: string;
    amr: string[];
    signedInAt: Date;
    expiresAt: Date;
    origin: RequestOrigin;
  }): Promise<void> {
    await upsertAccountSession(this.db, {
      uid: session.uid,
      account_id: session.accountId,
      ip: session.origin.ip ?? null,
      device: describeDevice(session.origin.userAgent) ?? null,
      amr: session.amr,
      signed_in_at: session.signedInAt,
      last_used_at: new Date(),
      expires_at: session.expiresAt,
    });
  }

  /** The person signed out of this session (oidc-provider already removed it). */
  async signedOut(accountId: string, uid: string, origin: RequestOrigin): Promise<void> {
    await inTransaction(this.db, async () => {
      const ended = await endAccountSessions(this.db, accountId, { uids: [uid] }, new Date());
      if (ended.length) await this.log.record('signed_out', accountId, origin);
    });
  }

  /** The account's live sessions, the one making the request marked `current`. */
  async list(accountId: string, currentUid?: string): Promise<AccountSession[]> {
    return (await liveSessionsOf(this.db, accountId, new Date())).map((row) => toSession(row, currentUid));
  }

  /** Ends one of the account's sessions; false when it has no such live session. */
  async end(accountId: string, uid: string, origin: RequestOrigin): Promise<boolean> {
    return inTransaction(this.db, async () => {
      const ended = await endAccountSessions(this.db, accountId, { uids: [uid] }, new Date());
      if (!ended.length) return false;
      await this.live.end(accountId, { uids: [uid] });
      await this.log.record(
        'session_ended',
        accountId,
        origin,
        ended[0]!.device ? { device: ended[0]!.device } : undefined,
      );
      return true;
    });
  }

  /**
   * Ends every session of the account but `currentUid` (all of them without one), those this list
   * knows and any it does not. Joins the caller's transaction (a password change ends them with
   * the change); records `other_sessions_ended` when `record` is set and any ended.
   */
  async endOthers(
    accountId: string,
    currentUid: string | undefined,
    origin: RequestOrigin,
    record = true,
  ): Promise<number> {
    return inTransaction(this.db, async () => {
      const ended = await endAccountSessions(this.db, accountId, { except: currentUid }, new Date());
      await this.live.end(accountId, { except: currentUid });
      if (record && ended.length)
        await this.log.record('other_sessions_ended', accountId, origin, { count: ended.length });
      return ended.length;
    });
  }

  /**
   * Ends every session of the account, those this list knows and any it does not, on an
   * operator's word; recorded as `all_sessions_ended_by_operator` (always: the order itself is the
   * event) unless `record` is false, when the caller records its own event (disabling the
   * account). Joins the caller's transaction. Returns how many listed sessions ended.
   */
  async endAll(accountId: string, record = true): Promise<number> {
    return inTransaction(this.db, async () => {
      const ended = await endAccountSessions(this.db, accountId, {}, new Date());
      await this.live.end(accountId, {});
      if (record) await this.log.record('all_sessions_ended_by_operator', accountId, {}, { count: ended.length });
      return ended.length;
    });
  }
}
