import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { Conflict, InvalidInput, Unauthorized } from '../errors.js';
import { normalizeLogin } from './login.js';
import type { PasswordHasher } from './password.js';
import { findAccountById, findAccountByLogin, insertAccount, updatePasswordHash, type AccountRow } from './store.js';

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; a generous cap bounds hashing work. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface Account {
  id: string;
  login: string;
  loginType: 'email' | 'phone';
  createdAt: Date;
}

function toAccount(row: AccountRow): Account {
  return { id: row.id, login: row.login, loginType: row.login_type, createdAt: row.created_at };
}

export class AccountService {
  constructor(
    private readonly db: Db,
    private readonly hasher: PasswordHasher,
    private readonly log: AuditLog,
  ) {}

  /** Creates an account; the login must be a valid email or mobile number and not taken. */
  async register(input: { login: string; password: string }): Promise<Account> {
    const login = normalizeLogin(input.login);
    const errors = [];
    if (!login) errors.push({ field: 'login', code: 'login_invalid' });
    const length = [...input.password].length;
    if (length < PASSWORD_MIN) errors.push({ field: 'password', code: 'password_too_short' });
    if (length > PASSWORD_MAX) errors.push({ field: 'password', code: 'password_too_long' });
    if (errors.length || !login) throw new InvalidInput(errors);

    // Hash before opening the transaction: a slow hash must not hold a connection.
    const passwordHash = await this.hasher.hash(input.password);
    const id = randomUUID();
    return this.db.transaction(async (tx) => {
      const inserted = await insertAccount(tx, { id, login: login.login, login_type: login.type, password_hash: passwordHash });
      if (!inserted) throw new Conflict('login-taken', 'An account with this login already exists.');
      await this.log.append(tx, {
        type: 'account.registered',
        actor: { type: 'account', id },
        subjects: { account: id },
        payload: { login_type: login.type },
      });
      return toAccount((await findAccountById(tx, id))!);
    });
  }

  /** Checks a login and password; the same error (and time) for an unknown login and a wrong password. */
  async authenticate(input: { login: string; password: string }): Promise<Account> {
    const login = normalizeLogin(input.login);
    const row = login && [...input.password].length <= PASSWORD_MAX ? await findAccountByLogin(this.db, login.login) : undefined;
    const ok = row ? await this.hasher.verify(row.password_hash, input.password) : await this.hasher.verifyNothing(input.password);
    if (!row || !ok) throw new Unauthorized('invalid-credentials', 'The login or password is wrong.');
    // Parameters raised since this hash was made: upgrade it now that we know the password.
    if (this.hasher.needsRehash(row.password_hash)) {
      await updatePasswordHash(this.db, row.id, await this.hasher.hash(input.password));
    }
    return toAccount(row);
  }

  async find(id: string): Promise<Account | undefined> {
    const row = await findAccountById(this.db, id);
    return row && toAccount(row);
  }
}
