import type { AccountService } from '../accounts/service.js';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { NotFound } from '../errors.js';
import { deleteOperator, findOperator, insertOperator, listOperators } from './store.js';

/** Who acts as operator: the account of a signed-in operator, or the CLI on the database itself. */
export interface OperatorActor {
  type: 'operator';
  /** The operator's account; absent for the CLI run with direct database access. */
  id?: string;
}

export interface OperatorInfo {
  account_id: string;
  login: string;
  since: string;
  disabled: boolean;
}

/**
 * The people who run the platform: person accounts made operators with `operator add LOGIN`
 * (docs/operations.md#operators). Each change is audited (`operator.added`, `operator.removed`)
 * in the transaction that makes it.
 */
export class OperatorService {
  constructor(private readonly deps: { db: Db; audit: AuditLog; accounts: AccountService }) {}

  /** Makes the account with this login an operator; `changed` is false when it already was one. */
  async add(login: string, actor: OperatorActor): Promise<{ account_id: string; login: string; changed: boolean }> {
    const account = await this.accountOf(login);
    const changed = await inTransaction(this.deps.db, async (tx) => {
      const inserted = await insertOperator(tx, account.id);
      if (inserted)
        await this.deps.audit.append(tx, {
          type: 'operator.added',
          actor,
          subjects: { account: account.id },
          payload: {},
        });
      return inserted;
    });
    return { account_id: account.id, login: account.login, changed };
  }

  /** Ends the operator role of the account with this login (its operator clients stop working with it). */
  async remove(login: string, actor: OperatorActor): Promise<{ account_id: string; login: string; changed: boolean }> {
    const account = await this.accountOf(login);
    const changed = await inTransaction(this.deps.db, async (tx) => {
      const deleted = await deleteOperator(tx, account.id);
      if (deleted)
        await this.deps.audit.append(tx, {
          type: 'operator.removed',
          actor,
          subjects: { account: account.id },
          payload: {},
        });
      return deleted;
    });
    return { account_id: account.id, login: account.login, changed };
  }

  async list(): Promise<OperatorInfo[]> {
    const rows = await listOperators(this.deps.db);
    const operators: OperatorInfo[] = [];
    for (const row of rows) {
      const account = await this.deps.accounts.find(row.account_id);
      if (!account) continue;
      operators.push({
        account_id: row.account_id,
        login: account.login,
        since: new Date(row.created_at).toISOString(),
        disabled: account.disabledAt !== undefined,
      });
    }
    return operators;
  }

  /** Whether the account may act as operator now: it is one, and it is not disabled or closing. */
  async isActive(accountId: string): Promise<boolean> {
    if (!(await findOperator(this.deps.db, accountId))) return false;
    const account = await this.deps.accounts.find(accountId);
    return account !== undefined && account.disabledAt === undefined && account.closingAt === undefined;
  }

  /** The account with this login, or NotFound. */
  async accountOf(login: string) {
    const account = await this.deps.accounts.findByLogin(login);
    if (!account) throw new NotFound(`No account has the login ${login}.`);
    return account;
  }
}
