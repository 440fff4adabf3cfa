import { createHmac, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Account, AccountService } from '../accounts/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { Unauthorized } from '../errors.js';
import type { VerificationService } from '../identity/service.js';
import type { Image } from '../identity/providers/types.js';
import type { Channel, Outbox } from '../notifications/service.js';
import { resetCodeContext, type Locale } from '../notifications/templates.js';
import type { PasskeyService } from '../passkeys/service.js';
import type { RateLimits } from '../rate-limits/service.js';
import type { RequestOrigin, SecurityLog } from '../security/service.js';
import { countFailure, deleteExpiredResets, endOpenResets, insertReset, openResetOf } from './store.js';

// Password reset for a person who cannot sign in (docs/product.md#password-reset), two ways: a
// one-time code to the account's login (its email or mobile number), or proving again, with a
// new person-document match, to be the person the account is verified as. Neither signs anyone
// in: the person signs in afterwards with the new password, so a second factor they turned on
// (a passkey after the password) is still asked for. Only the re-verification, a proof at the
// level of the account's own verification, may also remove lost passkeys.

/** A one-time code: eight digits, typed from a text message or a mail. */
const CODE = /^\d{8}$/;

export interface RecoveryOptions {
  db: Db;
  accounts: AccountService;
  verifications: VerificationService;
  passkeys: PasskeyService;
  outbox: Outbox;
  limits: RateLimits;
  log: SecurityLog;
  /** Seals the code for the outbox, which opens it just before sending. */
  box: SecretBox;
  /** The key the stored HMAC of each code is made with (a platform secret). */
  codeKey: string;
  /** Seconds a code works for. */
  codeSeconds: number;
  /** Wrong codes a code survives. */
  maxCodeFailures: number;
}

/** How a re-verification ended: the password was reset, or why not. */
export type ReverifyOutcome =
  | { status: 'reset'; passkeysRemoved: number }
  /** The account is unknown, was never verified, or the document and name are not its person's: no provider call. */
  | { status: 'not-confirmed' }
  /** The provider did not match the new photos to the person (a call was made and paid for). */
  | { status: 'mismatch' };

export class PasswordRecovery {
  constructor(private readonly options: RecoveryOptions) {
    options.accounts.onPasswordSet((accountId) => this.endOpenCodes(accountId));
  }

  /**
   * Ends every code still open for the account, in the transaction that set its password: a code
   * used, or asked for and then not needed (the person remembered the password and changed it,
   * or reset it another way), opens nothing afterwards.
   */
  private async endOpenCodes(accountId: string): Promise<void> {
    await endOpenResets(this.options.db, accountId);
  }

  /**
   * Sends a one-time code to the login, when an account has it and a transport can carry it
   * (email needs SMTP, a mobile number an SMS gateway: Outbox.carries). The caller's answer must
   * be the same either way, so nothing is returned; counted per IP and per login first
   * (RateLimits.countPasswordReset), whoever has the login. The newest code is the only one
   * that works.
   */
  async sendCode(login: string, locale: Locale, origin: RequestOrigin & { ip: string }): Promise<void> {
    const { accounts, outbox, limits, box } = this.options;
    await limits.countPasswordReset({ ip: origin.ip, login });
    const account = await accounts.findByLogin(login);
    const channel = account && channelOf(account);
    // A disabled account gets no code: whoever the operator locked out must not reset the password
    // meanwhile (src/accounts/disabling.ts). The answer stays the same.
    if (!account || account.disabledAt || !channel || !outbox.carries(channel)) return;
    const id = randomUUID();
    const code = String(randomInt(0, 100_000_000)).padStart(8, '0');
    await inTransaction(this.options.db, async (tx) => {
      await insertReset(tx, {
        id,
        account_id: account.id,
        code_hash: this.codeHash(id, code),
        expires_at: new Date(Date.now() + this.options.codeSeconds * 1000),
      });
      await outbox.enqueue(
        {
          accountId: account.id,
          channel,
          recipient: account.login,
          template: 'password.reset_code',
          params: {
            locale,
            reset_id: id,
            sealed_code: box.seal(code, resetCodeContext(id)),
            valid_minutes: Math.ceil(this.options.codeSeconds / 60),
          },
          dedupeKey: `password.reset_code:${id}`,
        },
        tx,
      );
      await this.options.log.record('password_reset_code_sent', account.id, origin, { channel });
    });
    outbox.deliverSoon();
  }

  /**
   * Sets a new password with the code sent last to the login. An unknown login and a wrong,
   * used, expired or spent code are refused alike (Unauthorized `reset-code-wrong`), after the
   * same work; a new password that is not allowed is refused first (InvalidInput) without
   * spending the code. The caller counts attempts under the sign-in limits (a code is a secret of
   * the login, as a password is). Every session of the account ends; its owner is told.
   */
  async resetWithCode(
    input: { login: string; code: string; password: string; locale: Locale },
    origin: RequestOrigin,
  ): Promise<void> {
    const { accounts, db } = this.options;
    const passwordHash = await accounts.hashNewPassword(input.password, input.login);
    const account = await accounts.findByLogin(input.login);
    const code = input.code.replace(/\s+/g, '');
    const outcome = await inTransaction(db, async (tx) => {
      const row = account && !account.disabledAt && (await openResetOf(tx, account.id, this.options.maxCodeFailures));
      if (!row) return 'wrong';
      const given = Buffer.from(CODE.test(code) ? this.codeHash(row.id, code) : '');
      const expected = Buffer.from(row.code_hash);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        await countFailure(tx, row.id);
        await this.options.log.record('password_reset_code_failed', row.account_id, origin);
        return 'wrong';
      }
      // Ends this code and every other open one with it (see endOpenCodes).
      await accounts.resetPassword(row.account_id, passwordHash, 'code', origin);
      await this.noticeReset(account, input.locale);
      return 'reset';
    });
    if (outcome === 'wrong') throw new Unauthorized('reset-code-wrong', 'The code is wrong, used or expired.');
    this.options.outbox.deliverSoon();
  }

  /**
   * Resets the password of a verified account whose person proves themselves again: the
   * document and name on record, and new photos matched by the provider
   * (VerificationService.reverify). With `lostPasskeys`, every passkey of the account goes too
   * (and with them the passkey after the password). Counted per IP and login, and against the
   * account's verification limit before the provider is asked. Every session ends; the owner is told.
   */
  async resetByVerification(
    input: {
      login: string;
      documentType: string;
      documentNumber: string;
      name: string;
      portrait?: Image;
      documentFront?: Image;
      password: string;
      lostPasskeys: boolean;
      locale: Locale;
    },
    origin: RequestOrigin & { ip: string },
  ): Promise<ReverifyOutcome> {
    const { accounts, verifications, limits, passkeys, db } = this.options;
    const passwordHash = await accounts.hashNewPassword(input.password, input.login);
    await limits.countPasswordReset({ ip: origin.ip, login: input.login });
    const account = await accounts.findByLogin(input.login);
    if (!account || account.disabledAt) return { status: 'not-confirmed' };
    const claim = {
      documentType: input.documentType,
      documentNumber: input.documentNumber,
      name: input.name,
      ...(input.portrait ? { portrait: input.portrait } : {}),
      ...(input.documentFront ? { documentFront: input.documentFront } : {}),
    };
    await limits.countVerification(account.id);
    const outcome = await verifications.reverify(account.id, claim);
    if (!outcome) return { status: 'not-confirmed' };
    if (outcome.status !== 'passed') return { status: 'mismatch' };
    const passkeysRemoved = await inTransaction(db, async () => {
      await accounts.resetPassword(account.id, passwordHash, 'person_match', origin);
      const removed = input.lostPasskeys ? await passkeys.removeAll(account.id, origin) : 0;
      await this.noticeReset(account, input.locale);
      return removed;
    });
    this.options.outbox.deliverSoon();
    return { status: 'reset', passkeysRemoved };
  }

  /** Removes codes past their expiry (hourly, with the security log's pruning). */
  async prune(): Promise<number> {
    return deleteExpiredResets(this.options.db, new Date());
  }

  /** HMAC-SHA256 of the reset's id and code: without the key, a stolen table cannot be tried offline. */
  private codeHash(resetId: string, code: string): string {
    return createHmac('sha256', this.options.codeKey).update(`password-reset:${resetId}:${code}`).digest('base64url');
  }

  /** Tells the owner, on their login's channel where one is configured, that the password was reset. */
  private async noticeReset(account: Account, locale: Locale): Promise<void> {
    const channel = channelOf(account);
    const deliverable = this.options.outbox.carries(channel);
    await this.options.outbox.enqueue({
      accountId: account.id,
      channel: deliverable ? channel : 'log',
      ...(deliverable ? { recipient: account.login } : {}),
      template: 'password.reset_done',
      params: { locale },
      dedupeKey: `password.reset_done:${randomUUID()}`,
    });
  }
}

/** Where a message to the account's login goes: its email, or its mobile number by text message. */
function channelOf(account: Account): Channel {
  return account.loginType === 'email' ? 'email' : 'sms';
}
