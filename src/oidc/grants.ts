import type { AccountTokens } from '../accounts/disabling.js';
import type { Db } from '../db/index.js';
import type { StoredGrants } from '../grants/service.js';
import { destroyGrant, findGrantsOfAccount, revokeTokensOfAccount, revokeTokensOfGrant } from './store.js';

/**
 * The grants oidc-provider stored in `oidc_payloads`, as the grant levels (GrantService) change
 * and revoke them. Queries go through the handle from createDb, so inside `inTransaction` they
 * run in that transaction.
 */
export class ProviderGrants implements StoredGrants {
  constructor(private readonly db: Db) {}

  ofAccount(accountId: string): Promise<Array<{ id: string; payload: Record<string, unknown> }>> {
    return findGrantsOfAccount(this.db, accountId);
  }

  revokeTokens(grantId: string): Promise<number> {
    return revokeTokensOfGrant(this.db, grantId);
  }

  destroy(grantId: string): Promise<void> {
    return destroyGrant(this.db, grantId);
  }
}

/**
 * Every token oidc-provider issued to an account, as disabling the account revokes them: its
 * grants stay (a disabled account is enabled again with its merchants), nothing issued under
 * them before works any more.
 */
export class ProviderAccountTokens implements AccountTokens {
  constructor(private readonly db: Db) {}

  revokeAll(accountId: string): Promise<number> {
    return revokeTokensOfAccount(this.db, accountId);
  }
}
