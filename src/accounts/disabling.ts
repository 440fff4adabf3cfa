import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { isStorableText } from '../db/text.js';
import { inTransaction } from '../db/transaction.js';
import { InvalidInput, PlatformError } from '../errors.js';
import type { AccountSessions, SecurityLog } from '../security/service.js';
import { disableAccount, enableAccount } from './store.js';

// An operator disables an account (OWASP ASVS 5.0 §7.4.2: disabling an account ends its
// sessions), for one reported stolen or under investigation, and enables it again. Reversible, so
// the merchants' grants and the account's data stay; what could act for the person goes: every
// session and every token. While disabled, nothing new can be issued: sign-in refuses (after the
// right password only, so the state is not told to whoever lacks it), and oidc-provider finds no
// such account (src/oidc/find-account.ts), so userinfo, refresh and any leftover session fail.

/** A sign-in to a disabled account, refused once the password (or passkey) was right. */
export class AccountDisabled extends PlatformError {
  constructor() {
    super('account-disabled', 403, 'This account has been disabled; contact the operator.');
  }
}

/** The tokens issued to an account (declared here, implemented by oidc/grants.ts). */
export interface AccountTokens {
  /** Deletes every access token, refresh token and code issued to the account; returns how many live tokens went. */
  revokeAll(accountId: string): Promise<number>;
}

export interface AccountDisablingOptions {
  db: Db;
  audit: AuditLog;
  log: SecurityLog;
  sessions: AccountSessions;
  tokens: AccountTokens;
}

/** What disabling did: nothing when the account was disabled already. */
export type DisableOutcome =
  { disabled: true; sessionsEnded: number; tokensRevoked: number } | { disabled: false; alreadyDisabled: true };

/** The operator's note on why, kept with the account: a ticket number, a few words; never personal data. */
export const REASON_MAX = 200;

export class AccountDisabling {
  constructor(private readonly options: AccountDisablingOptions) {}

  /**
   * Disables the account and ends everything acting for it, in one transaction: the mark, every
   * session (oidc-provider's and the listed ones), every token, the security-log event the person
   * sees and the `account.disabled` audit event with the operator as actor. Disabling a disabled
   * account changes and records nothing.
   */
  async disable(
    accountId: string,
    reason?: string,
    actor: { type: 'operator'; id?: string } = { type: 'operator' },
  ): Promise<DisableOutcome> {
    const note = reason?.trim() || null;
    if (note !== null && !isStorableText(note, REASON_MAX))
      throw new InvalidInput([
        { field: 'reason', code: 'invalid', message: `--reason must be text of at most ${REASON_MAX} characters` },
      ]);
    const { db, audit, log, sessions, tokens } = this.options;
    return inTransaction(db, async (tx) => {
      if (!(await disableAccount(tx, accountId, note))) return { disabled: false, alreadyDisabled: true };
      const sessionsEnded = await sessions.endAll(accountId, false);
      const tokensRevoked = await tokens.revokeAll(accountId);
      // The reason goes to the security log (the operator's view, pruned), not the audit trail (permanent).
      await log.record(
        'account_disabled',
        accountId,
        {},
        {
          sessions_ended: sessionsEnded,
          tokens_revoked: tokensRevoked,
          ...(note ? { reason: note } : {}),
        },
      );
      await audit.append(tx, {
        type: 'account.disabled',
        actor,
        subjects: { account: accountId },
        payload: { sessions_ended: sessionsEnded, tokens_revoked: tokensRevoked },
      });
      return { disabled: true, sessionsEnded, tokensRevoked };
    });
  }

  /** Enables a disabled account: its owner signs in as before. False (nothing recorded) when it was not disabled. */
  async enable(accountId: string, actor: { type: 'operator'; id?: string } = { type: 'operator' }): Promise<boolean> {
    const { db, audit, log } = this.options;
    return inTransaction(db, async (tx) => {
      if (!(await enableAccount(tx, accountId))) return false;
      await log.record('account_enabled', accountId);
      await audit.append(tx, {
        type: 'account.enabled',
        actor,
        subjects: { account: accountId },
        payload: {},
      });
      return true;
    });
  }
}
