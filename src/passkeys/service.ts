import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeClientDataJSON } from '@simplewebauthn/server/helpers';
import type { Db, Tx } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import type { RequestOrigin, SecurityLog } from '../security/service.js';
import { NotFound, PlatformError } from '../errors.js';
import type { PasskeyUse } from './amr.js';
import {
  countPasskeys,
  deletePasskey,
  deletePasskeysOf,
  findPasskey,
  insertPasskey,
  passkeysOfAccount,
  recordPasskeyUse,
  renamePasskey,
  replaceChallenge,
  secondFactorOf,
  setSecondFactor,
  takeChallenge,
  type ChallengePurpose,
  type PasskeyRow,
} from './store.js';

/** A refused ceremony; `code` says why (and names the page's message). */
export class PasskeyRefused extends PlatformError {
  constructor(code: 'passkey-challenge' | 'passkey-unknown' | 'passkey-invalid' | 'passkey-taken', status: number) {
    const messages = {
      'passkey-challenge': 'This passkey request has expired or was used already. Try again.',
      'passkey-unknown': 'This passkey is not registered here.',
      'passkey-invalid': 'The passkey’s answer could not be verified.',
      'passkey-taken': 'This passkey is registered already.',
    };
    super(code, status, messages[code]);
  }
}

/** A passkey as the account page shows it. */
export interface Passkey {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  synced: boolean;
  backedUp: boolean;
}

/**
 * The changes the person's security log records: each inside the transaction that makes it, so
 * an event is never recorded for a change that rolled back. (A sign-in with a passkey is recorded
 * where it completes, by the sign-in step.)
 */
type PasskeyEvent =
  | { kind: 'passkey_added' | 'passkey_renamed' | 'passkey_removed'; accountId: string; passkeyId: string }
  | { kind: 'second_factor_changed'; accountId: string; on: boolean };

export interface PasskeyServiceOptions {
  db: Db;
  /** The WebAuthn relying party: the issuer's host name (RP ID, WebAuthn L3 §5.1.2) and origin. */
  rpId: string;
  origin: string;
  /** The name authenticators show beside the passkey. */
  rpName: string;
  /** How long a challenge may be answered (seconds). */
  challengeSeconds: number;
  /** The person's security log: passkey changes are recorded there. */
  log?: SecurityLog;
}

/** A verified sign-in: whose it is and what the passkey proved. */
export interface PasskeySignIn extends PasskeyUse {
  accountId: string;
  passkeyId: string;
}

export const PASSKEY_NAME_MAX = 64;

/**
 * Passkeys (WebAuthn Level 3 with @simplewebauthn/server): adding them to an account, signing in
 * with one alone (a discoverable credential, no login typed) or after the password, naming and
 * removing them, and the account's choice of a passkey as the second factor. Every challenge is
 * stored with who may answer it and taken once, whatever the answer's fate.
 */
export class PasskeyService {
  private readonly db: Db;

  constructor(private readonly options: PasskeyServiceOptions) {
    this.db = options.db;
  }

  async list(accountId: string): Promise<Passkey[]> {
    return (await passkeysOfAccount(this.db, accountId)).map(toPasskey);
  }

  async hasPasskeys(accountId: string): Promise<boolean> {
    return (await countPasskeys(this.db, accountId)) > 0;
  }

  /** Whether a password sign-in of this account must be followed by a passkey. */
  async secondFactorRequired(accountId: string): Promise<boolean> {
    return secondFactorOf(this.db, accountId);
  }

  /** Options for navigator.credentials.create(): a discoverable credential for this account. */
  async registrationOptions(account: { id: string; login: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await passkeysOfAccount(this.db, account.id);
    const options = await generateRegistrationOptions({
      rpName: this.options.rpName,
      rpID: this.options.rpId,
      userName: account.login,
      // The user handle is the account id: no personal data (WebAuthn L3 §14.6.1).
      userID: userHandleOf(account.id),
      attestationType: 'none',
      excludeCredentials: existing.map((row) => ({ id: row.id, transports: row.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      timeout: this.options.challengeSeconds * 1000,
    });
    await this.storeChallenge(options.challenge, 'register', { accountId: account.id });
    return options;
  }

  /** Checks a new credential against its challenge and stores it under `name`. */
  async register(
    accountId: string,
    name: string,
    response: RegistrationResponseJSON,
    origin: RequestOrigin = {},
  ): Promise<Passkey> {
    const challenge = await this.take(response.response.clientDataJSON, 'register', { accountId }, 400);
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.options.origin,
        expectedRPID: this.options.rpId,
        requireUserVerification: false,
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      });
    } catch {
      throw new PasskeyRefused('passkey-invalid', 400);
    }
    if (!verified.verified) throw new PasskeyRefused('passkey-invalid', 400);
    const info = verified.registrationInfo;
    return inTransaction(this.db, async (tx) => {
      const row = {
        id: info.credential.id,
        account_id: accountId,
        public_key: Buffer.from(info.credential.publicKey),
        counter: info.credential.counter,
        transports: (info.credential.transports ?? []).filter((t) => TRANSPORTS.has(t)),
        name,
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
      };
      if (!(await insertPasskey(tx, row))) throw new PasskeyRefused('passkey-taken', 409);
      await this.report({ kind: 'passkey_added', accountId, passkeyId: row.id }, origin);
      return toPasskey((await findPasskey(tx, row.id))!);
    });
  }

  /**
   * Options for navigator.credentials.get() on the sign-in page: no credential listed (the
   * authenticator offers the discoverable ones), and user verification required, since the
   * passkey is the only thing checked.
   */
  async signInOptions(interactionUid: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await generateAuthenticationOptions({
      rpID: this.options.rpId,
      userVerification: 'required',
      timeout: this.options.challengeSeconds * 1000,
    });
    await this.storeChallenge(options.challenge, 'sign_in', { interactionUid });
    return options;
  }

  /** Verifies a passkey sign-in of this interaction; the account is the one that owns the passkey. */
  async signIn(interactionUid: string, response: AuthenticationResponseJSON): Promise<PasskeySignIn> {
    const challenge = await this.take(response.response.clientDataJSON, 'sign_in', { interactionUid }, 401);
    return this.verifyUse(response, challenge, { requireUserVerification: true });
  }

  /**
   * After a right password, when a passkey must follow: options listing this account's passkeys,
   * bound to both the account and the interaction, so only this browser's sign-in can use them.
   */
  async secondFactorOptions(interactionUid: string, accountId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const passkeys = await passkeysOfAccount(this.db, accountId);
    const options = await generateAuthenticationOptions({
      rpID: this.options.rpId,
      allowCredentials: passkeys.map((row) => ({ id: row.id, transports: row.transports as never })),
      userVerification: 'preferred',
      timeout: this.options.challengeSeconds * 1000,
    });
    await this.storeChallenge(options.challenge, 'second_factor', { accountId, interactionUid });
    return options;
  }

  /** Verifies the passkey that follows the password; the account is the one the password proved. */
  async secondFactor(interactionUid: string, response: AuthenticationResponseJSON): Promise<PasskeySignIn> {
    const taken = await this.takeRow(response.response.clientDataJSON, 'second_factor', { interactionUid }, 401);
    return this.verifyUse(response, taken.challenge, { requireUserVerification: false, accountId: taken.account_id! });
  }

  async rename(accountId: string, passkeyId: string, name: string, origin: RequestOrigin = {}): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      if (!(await renamePasskey(tx, accountId, passkeyId, name))) throw new NotFound('No such passkey.');
      await this.report({ kind: 'passkey_renamed', accountId, passkeyId }, origin);
    });
  }

  /**
   * Removes a passkey. The password always remains a way to sign in, so any passkey may go; with
   * the last one goes the second-factor requirement, which nothing could satisfy any more.
   */
  async remove(
    accountId: string,
    passkeyId: string,
    origin: RequestOrigin = {},
  ): Promise<{ secondFactorTurnedOff: boolean }> {
    return inTransaction(this.db, async (tx) => {
      if (!(await deletePasskey(tx, accountId, passkeyId))) throw new NotFound('No such passkey.');
      await this.report({ kind: 'passkey_removed', accountId, passkeyId }, origin);
      const turnOff = (await countPasskeys(tx, accountId)) === 0 && (await secondFactorOf(tx, accountId));
      if (turnOff) await this.changeSecondFactor(tx, accountId, false, origin);
      return { secondFactorTurnedOff: turnOff };
    });
  }

  /**
   * Removes every passkey of the account and the second-factor requirement with them: the
   * recovery of a person who lost their passkeys, after a new person-document match
   * (src/recovery/). A lost passkey may be in someone else's hands, so none is kept. Joins the
   * caller's transaction; returns how many were removed.
   */
  async removeAll(accountId: string, origin: RequestOrigin = {}): Promise<number> {
    return inTransaction(this.db, async (tx) => {
      const removed = await deletePasskeysOf(tx, accountId);
      for (const passkeyId of removed) await this.report({ kind: 'passkey_removed', accountId, passkeyId }, origin);
      if (await secondFactorOf(tx, accountId)) await this.changeSecondFactor(tx, accountId, false, origin);
      return removed.length;
    });
  }

  /** Turns the passkey-after-password requirement on (only with a passkey to satisfy it) or off. */
  async setSecondFactor(accountId: string, on: boolean, origin: RequestOrigin = {}): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      if (on && (await countPasskeys(tx, accountId)) === 0)
        throw new PlatformError('passkey-none', 409, 'Add a passkey before asking for one at every sign-in.');
      if ((await secondFactorOf(tx, accountId)) !== on) await this.changeSecondFactor(tx, accountId, on, origin);
    });
  }

  private async changeSecondFactor(tx: Tx, accountId: string, on: boolean, origin: RequestOrigin): Promise<void> {
    await setSecondFactor(tx, accountId, on);
    await this.report({ kind: 'second_factor_changed', accountId, on }, origin);
  }

  /** Checks an assertion by a stored passkey and records its use (counter, backup state, time). */
  private async verifyUse(
    response: AuthenticationResponseJSON,
    challenge: string,
    expect: { requireUserVerification: boolean; accountId?: string },
  ): Promise<PasskeySignIn> {
    const row = await findPasskey(this.db, response.id);
    if (!row || (expect.accountId !== undefined && row.account_id !== expect.accountId))
      throw new PasskeyRefused('passkey-unknown', 401);
    // A discoverable credential names its user; it must be the passkey's account (§7.2 step 6).
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== Buffer.from(userHandleOf(row.account_id)).toString('base64url'))
      throw new PasskeyRefused('passkey-invalid', 401);
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.options.origin,
        expectedRPID: this.options.rpId,
        requireUserVerification: expect.requireUserVerification,
        credential: { id: row.id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter) },
      });
    } catch {
      // Wrong origin or RP id, bad signature, a counter that went back (a cloned authenticator).
      throw new PasskeyRefused('passkey-invalid', 401);
    }
    if (!verified.verified) throw new PasskeyRefused('passkey-invalid', 401);
    const info = verified.authenticationInfo;
    return inTransaction(this.db, async (tx) => {
      const recorded = await recordPasskeyUse(tx, row.id, {
        previousCounter: Number(row.counter),
        counter: info.newCounter,
        backedUp: info.credentialBackedUp,
      });
      if (!recorded) throw new PasskeyRefused('passkey-invalid', 401);
      return {
        accountId: row.account_id,
        passkeyId: row.id,
        deviceType: info.credentialDeviceType,
        userVerified: info.userVerified,
      };
    });
  }

  private async storeChallenge(
    challenge: string,
    purpose: ChallengePurpose,
    holder: { accountId?: string; interactionUid?: string },
  ): Promise<void> {
    const now = new Date();
    await inTransaction(this.db, (tx) =>
      replaceChallenge(
        tx,
        {
          challenge,
          purpose,
          account_id: holder.accountId ?? null,
          interaction_uid: holder.interactionUid ?? null,
          expires_at: new Date(now.getTime() + this.options.challengeSeconds * 1000),
        },
        now,
      ),
    );
  }

  /** Takes the challenge a response signed (from its client data), or refuses it. */
  private async take(
    clientDataJSON: string,
    purpose: ChallengePurpose,
    holder: { accountId?: string; interactionUid?: string },
    status: number,
  ): Promise<string> {
    return (await this.takeRow(clientDataJSON, purpose, holder, status)).challenge;
  }

  private async takeRow(
    clientDataJSON: string,
    purpose: ChallengePurpose,
    holder: { accountId?: string; interactionUid?: string },
    status: number,
  ) {
    let challenge: unknown;
    try {
      challenge = decodeClientDataJSON(clientDataJSON).challenge;
    } catch {
      throw new PasskeyRefused('passkey-invalid', status);
    }
    if (typeof challenge !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(challenge))
      throw new PasskeyRefused('passkey-invalid', status);
    const row = await takeChallenge(this.db, challenge, purpose, holder, new Date());
    if (!row) throw new PasskeyRefused('passkey-challenge', status);
    return row;
  }

  /** Records a change in the security log, in the transaction making it (the ambient one). */
  private async report(event: PasskeyEvent, origin: RequestOrigin): Promise<void> {
    const { kind, accountId, ...detail } = event;
    await this.options.log?.record(kind, accountId, origin, detail);
  }
}

/** ES256, EdDSA and RS256 (WebAuthn L3 §5.8.3 recommends offering ES256 and RS256). */
const SUPPORTED_ALGORITHMS = [-7, -8, -257];

const TRANSPORTS = new Set<string>(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

function userHandleOf(accountId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(accountId.replaceAll('-', ''), 'hex'));
}

function toPasskey(row: PasskeyRow): Passkey {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    synced: row.device_type === 'multiDevice',
    backedUp: row.backed_up,
  };
}
