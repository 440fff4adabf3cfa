import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Outbox } from '../notifications/service.js';
import type { Locale } from '../notifications/templates.js';
import { isCommonPassword } from './common-passwords.js';
import { AccountDisabled } from './disabling.js';
import type { Db, Queryable, Tx } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { Conflict, InvalidInput, NotFound, Unauthorized } from '../errors.js';
import type { AccountSessions, RequestOrigin, SecurityLog } from '../security/service.js';
import { normalizeLogin, type NormalizedLogin } from './login.js';
import type { PasswordHasher } from './password.js';
import {
  accountsInIdOrder,
  closuresDue,
  setClosingAt,
  deleteAccount,
  otherAccountsOfPerson,
  unlinkPerson,
  findAccountById,
  findAccountByLogin,
  insertAccount,
  linkPerson,
  personOfAccount,
  updatePasswordHash,
  type AccountRow,
  type LinkedAccountRow,
} from './store.js';

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; a generous cap bounds hashing work. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface Account {
  id: string;
  login: string;
  loginType: 'email' | 'phone';
  createdAt: Date;
  /** When the closure the person asked for erases the account, while one waits. */
  closingAt?: Date;
  /** When an operator disabled the account (src/accounts/disabling.ts); absent while it is enabled. */
  disabledAt?: Date;
  /** The person the account is verified as, when it is linked to one (see personOf). */
  personId?: string;
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    login: row.login,
    loginType: row.login_type,
    createdAt: row.created_at,
    ...(row.closing_at ? { closingAt: new Date(row.closing_at) } : {}),
    ...(row.disabled_at ? { disabledAt: new Date(row.disabled_at) } : {}),
    ...(row.person_id ? { personId: row.person_id } : {}),
  };
}

/** Where the notice to an account's owner goes: the outbox, by mail when mail is set up and the login is an email. */
export interface OwnerNotices {
  outbox: Outbox;
  channel: 'log' | 'email';
}

/** Where sign-ins and password changes are recorded, and the sessions a password change ends. */
export interface AccountSecurity {
  log: SecurityLog;
  sessions: AccountSessions;
}

export interface AccountServiceOptions {
  db: Db;
  hasher: PasswordHasher;
  audit: AuditLog;
  notices?: OwnerNotices;
  security?: AccountSecurity;
}

/** Told of a password set (changed or reset), inside the transaction that sets it: it joins it. */
export type PasswordSetListener = (accountId: string) => Promise<void>;

export class AccountService {
  private readonly passwordSetListeners: PasswordSetListener[] = [];
  private readonly db: Db;
  private readonly hasher: PasswordHasher;
  private readonly audit: AuditLog;
  private readonly notices: OwnerNotices | undefined;
  private readonly security: AccountSecurity | undefined;

  constructor(options: AccountServiceOptions) {
    ({ db: this.db, hasher: this.hasher, audit: this.audit, notices: this.notices, security: this.security } = options);
  }

  /**
   * Calls `listener` whenever a password is set, in the transaction that sets it: what it writes
   * commits with the new password or not at all (the password reset domain ends the codes still
   * open, src/recovery/).
   */
  onPasswordSet(listener: PasswordSetListener): void {
    this.passwordSetListeners.push(listener);
  }

  /** The new hash, and whatever the listeners do about it, in the caller's transaction. */
  private async setPassword(accountId: string, passwordHash: string): Promise<void> {
    await updatePasswordHash(this.db, accountId, passwordHash);
    for (const listener of this.passwordSetListeners) await listener(accountId);
  }

  /** Creates an account; the login must be a valid email or mobile number and not taken. */
  async register(input: { login: string; password: string }): Promise<Account> {
    const { login, passwordHash } = await this.prepare(input);
    return inTransaction(this.db, async (tx) => {
      const account = await this.insert(tx, login, passwordHash);
      if (!account) throw new Conflict('login-taken', 'An account with this login already exists.');
      return account;
    });
  }

  /**
   * A registration from the sign-up page, answered the same way whether or not the login is
   * taken, so the page cannot be asked who has an account here (OWASP ASVS 5.0 §6.3.8's
   * concern): a new login gets its account (the person signs in with it next); a taken one gets
   * nothing, and its owner a notice in the outbox, queued with the attempt (at most one an hour).
   * Either way the same work is done first: the input checked, the password hashed.
   */
  async registerQuietly(input: { login: string; password: string }, locale: Locale): Promise<void> {
    const { login, passwordHash } = await this.prepare(input);
    await inTransaction(this.db, async (tx) => {
      if (await this.insert(tx, login, passwordHash)) return;
      const owner = await findAccountByLogin(tx, login.login);
      if (!owner || !this.notices) return;
      const email = this.notices.channel === 'email' && owner.login_type === 'email';
      await this.notices.outbox.enqueue(
        {
          accountId: owner.id,
          channel: email ? 'email' : 'log',
          ...(email ? { recipient: owner.login } : {}),
          template: 'registration.attempted',
          params: { locale },
          dedupeKey: `registration.attempted:${owner.id}:${new Date().toISOString().slice(0, 13)}`,
        },
        tx,
      );
    });
  }

  /** The login normalized and the password checked and hashed, or InvalidInput listing every problem. */
  private async prepare(input: {
    login: string;
    password: string;
  }): Promise<{ login: NormalizedLogin; passwordHash: string }> {
    const login = normalizeLogin(input.login);
    const errors = login
      ? passwordProblems(input.password, login.login)
      : [{ field: 'login', code: 'login_invalid' }, ...passwordProblems(input.password)];
    if (errors.length || !login) throw new InvalidInput(errors);
    // Hash before opening the transaction: a slow hash must not hold a connection.
    return { login, passwordHash: await this.hasher.hash(input.password) };
  }

  /** Inserts the account and its audit event; undefined when the login is taken. */
  private async insert(tx: Tx, login: NormalizedLogin, passwordHash: string): Promise<Account | undefined> {
    const id = randomUUID();
    const inserted = await insertAccount(tx, {
      id,
      login: login.login,
      login_type: login.type,
      password_hash: passwordHash,
    });
    if (!inserted) return undefined;
    await this.audit.append(tx, {
      type: 'account.registered',
      actor: { type: 'account', id },
      subjects: { account: id },
      payload: { login_type: login.type },
    });
    return toAccount((await findAccountById(tx, id))!);
  }

  /**
   * Checks a login and password; the same error (and time) for an unknown login and a wrong
   * password. A wrong password goes to the security log, against the account when there is one.
   */
  async authenticate(input: { login: string; password: string }, origin?: RequestOrigin): Promise<Account> {
    const login = normalizeLogin(input.login);
    const row =
      login && [...input.password].length <= PASSWORD_MAX ? await findAccountByLogin(this.db, login.login) : undefined;
    const ok = row
      ? await this.hasher.verify(row.password_hash, input.password)
      : await this.hasher.verifyNothing(input.password);
    if (!row || !ok) {
      if (origin) await this.security?.log.record('sign_in_failed', row?.id ?? null, origin);
      throw new Unauthorized('invalid-credentials', 'The login or password is wrong.');
    }
    // Only now, with the password right, may the page say the account is disabled.
    if (row.disabled_at) await this.refuseDisabled(row.id, origin);
    // Parameters raised since this hash was made: upgrade it now that we know the password.
    if (this.hasher.needsRehash(row.password_hash)) {
      await updatePasswordHash(this.db, row.id, await this.hasher.hash(input.password));
    }
    return toAccount(row);
  }

  /**
   * Refuses a sign-in to a disabled account, recorded in its security log, once its owner proved
   * who they are (a right password, a passkey); does nothing for an enabled account.
   */
  async refuseIfDisabled(accountId: string, origin?: RequestOrigin): Promise<void> {
    const row = await findAccountById(this.db, accountId);
    if (row?.disabled_at) await this.refuseDisabled(accountId, origin);
  }

  private async refuseDisabled(accountId: string, origin?: RequestOrigin): Promise<never> {
    if (origin) await this.security?.log.record('sign_in_while_disabled', accountId, origin);
    throw new AccountDisabled();
  }

  /** A sign-in refused because the login or address is locked out: recorded against the account, if any. */
  async signInRefused(login: string, origin: RequestOrigin): Promise<void> {
    const account = await this.findByLogin(login);
    await this.security?.log.record('sign_in_locked', account?.id ?? null, origin);
  }

  /** A sign-in that completed, with how (RFC 8176 `amr`): recorded for the person to see. */
  async signedIn(accountId: string, origin: RequestOrigin, amr: readonly string[]): Promise<void> {
    await this.security?.log.record('sign_in', accountId, origin, { amr: [...amr] });
  }

  /**
   * Changes the password of a signed-in person who gave the current one. Every other session of
   * the account ends with the change (a thief signed in elsewhere is out), in one transaction
   * with the new hash and its security-log event; `currentUid` is the session making the change.
   */
  async changePassword(
    accountId: string,
    input: { current: string; next: string },
    currentUid: string | undefined,
    origin: RequestOrigin,
  ): Promise<{ otherSessionsEnded: number }> {
    const row = await findAccountById(this.db, accountId);
    if (!row) throw new NotFound('There is no such account.');
    const ok =
      [...input.current].length <= PASSWORD_MAX && (await this.hasher.verify(row.password_hash, input.current));
    if (!ok) {
      await this.security?.log.record('sign_in_failed', accountId, origin, { during: 'password_change' });
      throw new Unauthorized('current-password-wrong', 'The current password is wrong.');
    }
    const problems = passwordProblems(input.next, row.login);
    if (!problems.length && input.next === input.current)
      problems.push({ field: 'password', code: 'password_unchanged' });
    if (problems.length) throw new InvalidInput(problems);
    const passwordHash = await this.hasher.hash(input.next);
    return inTransaction(this.db, async () => {
      await this.setPassword(accountId, passwordHash);
      const otherSessionsEnded = this.security
        ? await this.security.sessions.endOthers(accountId, currentUid, origin, false)
        : 0;
      await this.security?.log.record('password_changed', accountId, origin, {
        other_sessions_ended: otherSessionsEnded,
      });
      return { otherSessionsEnded };
    });
  }

  /**
   * A new password checked (passwordProblems, against `login`) and hashed, or InvalidInput. Run it
   * before opening a transaction: the hash is slow and must not hold a connection.
   */
  async hashNewPassword(password: string, login: string): Promise<string> {
    const problems = passwordProblems(password, normalizeLogin(login)?.login ?? login);
    if (problems.length) throw new InvalidInput(problems);
    return this.hasher.hash(password);
  }

  /**
   * Sets the password of a person who proved, without it, that the account is theirs (a
   * one-time code or a new person-document match, src/recovery/): every session of the account
   * ends, as whoever knew the old password may be signed in. Recorded as `password_reset` with
   * how. Joins the caller's transaction (the proof is used up in it).
   */
  async resetPassword(
    accountId: string,
    passwordHash: string,
    method: 'code' | 'person_match',
    origin: RequestOrigin,
  ): Promise<{ sessionsEnded: number }> {
    return inTransaction(this.db, async () => {
      await this.setPassword(accountId, passwordHash);
      const sessionsEnded = this.security
        ? await this.security.sessions.endOthers(accountId, undefined, origin, false)
        : 0;
      await this.security?.log.record('password_reset', accountId, origin, { method, sessions_ended: sessionsEnded });
      return { sessionsEnded };
    });
  }

  /** The account with this login (as a person types it: normalized first), if any. */
  async findByLogin(login: string): Promise<Account | undefined> {
    const normalized = normalizeLogin(login);
    const row = normalized ? await findAccountByLogin(this.db, normalized.login) : undefined;
    return row && toAccount(row);
  }

  async find(id: string): Promise<Account | undefined> {
    const row = await findAccountById(this.db, id);
    return row && toAccount(row);
  }

  /**
   * The person the account is verified as (the link identity's VerificationService sets): null
   * while it has none, undefined when there is no such account.
   */
  async personOf(accountId: string): Promise<string | null | undefined> {
    return personOfAccount(this.db, accountId);
  }

  /** Sets (a date) or cancels (null) the account's waiting closure. Joins the ambient transaction. */
  async setClosingAt(accountId: string, at: Date | null): Promise<void> {
    await setClosingAt(this.db, accountId, at);
  }

  /** Accounts whose waiting closure is due. */
  async closuresDue(now: Date, limit: number): Promise<string[]> {
    return closuresDue(this.db, now, limit);
  }

  /** Unlinks the account from its person. Joins the ambient transaction. */
  async unlinkPerson(accountId: string): Promise<void> {
    await unlinkPerson(this.db, accountId);
  }

  /** Whether an account other than `exceptAccountId` is linked to the person. */
  async personHasOtherAccounts(personId: string, exceptAccountId: string): Promise<boolean> {
    return (await otherAccountsOfPerson(this.db, personId, exceptAccountId)) > 0;
  }

  /**
   * Deletes the account row, and with it (ON DELETE CASCADE) its queued messages, consent
   * choices, merchant credentials, partial-knowledge counts, passkeys and reset codes. The rest
   * of a closure (src/data-rights/) runs before it. Joins the ambient transaction.
   */
  async delete(accountId: string): Promise<boolean> {
    return deleteAccount(this.db, accountId);
  }

  /**
   * Links the account to a verified person; only an unlinked account (or the same link) changes.
   * Returns false when the account is linked to another person. Joins the ambient transaction.
   */
  async linkPerson(accountId: string, personId: string): Promise<boolean> {
    return linkPerson(this.db, accountId, personId);
  }
}

/**
 * What is wrong with a new password, as InvalidInput problems (none: it may be used): NIST SP
 * 800-63B §5.1.1.2 asks for a length of at least 8, a check against passwords known to be common
 * or breached (common-passwords.ts says which list), and against context-specific words: the
 * login and the service's own words, CONTEXT_WORDS (OWASP ASVS 5.0 §6.1.2, §6.2.11).
 */
export function passwordProblems(password: string, login?: string): Array<{ field: string; code: string }> {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return [{ field: 'password', code: 'password_too_short' }];
  if (length > PASSWORD_MAX) return [{ field: 'password', code: 'password_too_long' }];
  if (isCommonPassword(password)) return [{ field: 'password', code: 'password_common' }];
  if (login && containsLogin(password, login)) return [{ field: 'password', code: 'password_login' }];
  const folded = password.normalize('NFKC').toLowerCase();
  if (CONTEXT_WORDS.some((word) => folded.includes(word))) return [{ field: 'password', code: 'password_context' }];
  return [];
}

/**
 * Words of this service that a guesser tries first (OWASP ASVS 5.0 §6.1.2): its name and what it
 * does, in Chinese and in pinyin and English as people type them.
 */
const CONTEXT_WORDS = ['实名', '认证', '授权平台', 'shiming', 'renzheng', 'realname', 'real-name'];

/** The password holds the login, or for an email its name before the @ (4 characters or more). */
function containsLogin(password: string, login: string): boolean {
  const lower = password.toLowerCase();
  const local = login.toLowerCase().split('@')[0]!;
  return lower.includes(login.toLowerCase()) || (local.length >= 4 && lower.includes(local));
}

/**
 * Up to `limit` accounts in id order, after `afterId` when given, with the person each is linked
 * to: the periodic self-check (identity/selfcheck.ts) walks every account with it. A function, not
 * an AccountService method, as the self-check runs from the CLI with a database alone.
 */
export function accountsAfter(db: Queryable, afterId: string | undefined, limit: number): Promise<LinkedAccountRow[]> {
  return accountsInIdOrder(db, afterId, limit);
}
