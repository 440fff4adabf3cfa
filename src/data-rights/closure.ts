import type { AccountService } from '../accounts/service.js';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { NotFound } from '../errors.js';
import type { GrantService } from '../grants/service.js';
import type { VerificationService } from '../identity/service.js';
import type { AccountSessions, RequestOrigin, SecurityLog } from '../security/service.js';

// Closing an account (PIPL Art. 47, GDPR Art. 17): everything about the person goes, in one
// transaction, and the audit trail stays as it is, every proof of it still valid
// (docs/product.md#your-data, docs/security.md#key-hierarchy).

export interface ClosureOptions {
  db: Db;
  accounts: AccountService;
  verifications: VerificationService;
  grants: GrantService;
  securityLog: SecurityLog;
  sessions: AccountSessions;
  audit: AuditLog;
  /** Days between the request and the erasure (`accountClosure.delayDays`); 0 closes at once. */
  delayDays: number;
}

/** What a closure request did: the account is gone, or it waits until `closingAt`. */
export type ClosureRequest =
  ({ status: 'closed' } & Closure) | { status: 'scheduled'; closingAt: Date; merchants: string[] };

export interface Closure {
  /** The merchants that held a grant, each now revoked. */
  merchants: string[];
  /** Whether the person's identity and data key were destroyed (no other account is verified as them). */
  personErased: boolean;
}

export class AccountClosure {
  constructor(private readonly options: ClosureOptions) {}

  /**
   * The person asks to close their account. With no delay it is closed at once (close). With one,
   * every grant is revoked and every other session ended now, so no merchant keeps access while
   * the account waits, and the erasure itself happens when the delay is over (closeDue), unless
   * the person cancels before.
   */
  async request(accountId: string, currentUid: string | undefined, origin: RequestOrigin): Promise<ClosureRequest> {
    const { db, accounts, grants, sessions, delayDays } = this.options;
    if (delayDays === 0) return { status: 'closed', ...(await this.close(accountId, origin)) };
    const closingAt = new Date(Date.now() + delayDays * 86_400_000);
    return inTransaction(db, async () => {
      if (!(await accounts.find(accountId))) throw new NotFound('There is no such account.');
      const merchants = await grants.revokeAll(accountId);
      await sessions.endOthers(accountId, currentUid, origin, false);
      await accounts.setClosingAt(accountId, closingAt);
      return { status: 'scheduled' as const, closingAt, merchants };
    });
  }

  /** The person keeps their account after all: the waiting closure is cancelled (grants revoked stay revoked). */
  async cancel(accountId: string): Promise<void> {
    await this.options.accounts.setClosingAt(accountId, null);
  }

  /** Closes every account whose waiting closure is due (the hourly job); returns how many. */
  async closeDue(now = new Date()): Promise<number> {
    let closed = 0;
    for (const accountId of await this.options.accounts.closuresDue(now, 100)) {
      await this.close(accountId, {});
      closed += 1;
    }
    return closed;
  }

  /**
   * Closes the account now, in one transaction: every grant and its tokens revoked (audited one
   * by one), every session ended, the verifications and photos deleted and the person erased
   * (VerificationService.erase), the security log and session list forgotten, the account row
   * deleted with what cascades from it, and `account.closed` appended last. Nothing is half
   * done: a failure rolls all of it back. NotFound when there is no such account.
   */
  async close(accountId: string, origin: RequestOrigin): Promise<Closure> {
    const { db, accounts, verifications, grants, securityLog, sessions, audit } = this.options;
    return inTransaction(db, async (tx) => {
      if (!(await accounts.find(accountId))) throw new NotFound('There is no such account.');
      const merchants = await grants.revokeAll(accountId);
      await sessions.endOthers(accountId, undefined, origin, false);
      const { personIndex, personErased } = await verifications.erase(accountId);
      await securityLog.forget(accountId);
      await accounts.delete(accountId);
      await audit.append(tx, {
        type: 'account.closed',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, ...(personIndex ? { person: personIndex } : {}) },
        payload: { person_erased: personErased, grants_revoked: merchants.length },
      });
      return { merchants, personErased };
    });
  }
}
