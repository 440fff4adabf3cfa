import type { Account } from '../accounts/service.js';
import type { AuditLog } from '../audit/log.js';
import { BoundedMap } from '../bounded-map.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { InvalidInput, NotFound, PlatformError } from '../errors.js';
import type { Standing, VerificationMethod, VerificationService } from '../identity/service.js';
import { clearPartialFailures, countPartialAttempt, partialLockedUntil } from './store.js';
import { dossierClaims, type VerifiedClaims } from './verified-claims.js';

export interface DossierOptions {
  db: Db;
  audit: AuditLog;
  verifications: VerificationService;
  issuer: string;
  /** The registered name of a notary body (a legal entity), by its client id. */
  organizationOf: (clientId: string) => Promise<string | undefined>;
  /** Failed partial-knowledge answers allowed in `windowSeconds` before the dossier locks. */
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

/** How many results' verification leaves DossierService keeps in memory (about 100 bytes each). */
const VERIFICATION_LEAVES_KEPT = 10_000;

/** Where a dossier image is served (to the bearer of an access token of the grant). */
export const ATTACHMENT_PATH = '/api/dossier/attachments';

/**
 * Level 3, the full dossier (docs/product.md#grant-levels): built from the person's sealed identity
 * data when a merchant holding the grant asks, released only after the person re-confirmed with
 * partial knowledge (docs/background.md#partial-knowledge), its images served only with an access token of that grant.
 */
export class DossierService {
  private readonly db: Db;
  private readonly audit: AuditLog;
  private readonly verifications: VerificationService;
  /**
   * Result ids → the leaf of their `identity.verified` event, which never changes once the event
   * is integrated (a leaf is never rewritten): read at every dossier release.
   */
  private readonly verificationLeaves = new BoundedMap<string, number>(VERIFICATION_LEAVES_KEPT);

  constructor(private readonly options: DossierOptions) {
    ({ db: this.db, audit: this.audit, verifications: this.verifications } = options);
  }

  /**
   * The whole dossier of the account's person, vouched for by a result at least as strong as
   * `method`; no look-up of the account when the caller read it just now and hands it over, nor of
   * the results when it hands over the standing it read for the same answer.
   */
  async verifiedClaimsOf(
    accountId: string,
    method: VerificationMethod,
    account?: Pick<Account, 'id' | 'personId'>,
    standing?: Standing,
  ): Promise<VerifiedClaims | undefined> {
    const dossier = await this.verifications.dossierOf(accountId, method, account, standing);
    if (!dossier) return undefined;
    const leaf = await this.verificationLeaf(accountId, dossier.result.id, account);
    // Schema Definition 1.0 §5.4.4.2: `organization` is the legal entity that performed the check
    // when the platform did not. A notary body is one; a verification provider is named only by
    // its configuration name (`sandbox`, `http`), which is no legal entity, so none is given.
    const organization = dossier.result.notary ? await this.options.organizationOf(dossier.result.notary) : undefined;
    return dossierClaims(dossier, {
      issuer: this.options.issuer,
      verificationProcess: leaf === undefined ? undefined : `${this.options.issuer}/api/notary/leaves/${leaf}`,
      attachmentUrl: (imageId) => `${this.options.issuer}${ATTACHMENT_PATH}/${imageId}`,
      ...(organization ? { organization } : {}),
    });
  }

  /** Until when the account's dossier is locked after wrong answers, if it is. */
  async lockedUntil(accountId: string): Promise<Date | undefined> {
    return partialLockedUntil(this.db, accountId);
  }

  /**
   * Checks the person's answer to the partial-knowledge question: the last six characters of
   * the document number. The attempt is counted before the answer is looked at, so a burst of
   * parallel guesses gets at most `maxFailures` answers checked; a wrong answer is audited; the
   * `maxFailures`-th attempt locks the dossier unless it is right (the other levels stay open).
   * Throws a 400 naming the attempts left, or a 429 while locked.
   */
  async confirm(accountId: string, partial: string | undefined): Promise<void> {
    const { maxFailures: max, windowSeconds, lockSeconds } = this.options;
    const { attempt, lockedUntil } = await countPartialAttempt(this.db, accountId, { max, windowSeconds, lockSeconds });
    if (attempt > max) throw new DossierLocked(lockedUntil ?? new Date(Date.now() + lockSeconds * 1000));
    if (partial && (await this.verifications.confirmsPartial(accountId, partial))) {
      await clearPartialFailures(this.db, accountId);
      return;
    }
    const person = await this.verifications.personIndexOf(accountId);
    await inTransaction(this.db, (tx) =>
      this.audit.append(tx, {
        type: 'consent.reconfirmation_failed',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, ...(person ? { person } : {}) },
        payload: {
          level: 'dossier',
          failures: attempt,
          ...(lockedUntil ? { locked_until: lockedUntil.toISOString() } : {}),
        },
      }),
    );
    if (lockedUntil) throw new DossierLocked(lockedUntil);
    throw new InvalidInput([
      {
        field: 'partial',
        code: 'partial_mismatch',
        message: `that is not the end of your document number; ${max - attempt} attempt(s) left`,
      },
    ]);
  }

  /**
   * A dossier image for the bearer of an access token of a dossier grant, audited as released
   * (`claims.released` via `dossier_document`) in the same transaction as it is read.
   */
  async attachment(
    token: { accountId: string; clientId: string; grantId?: string },
    imageId: string,
  ): Promise<{ contentType: string; data: Buffer }> {
    const person = await this.verifications.personIndexOf(token.accountId);
    return inTransaction(this.db, async (tx) => {
      const image = await this.verifications.dossierImage(token.accountId, imageId);
      if (!image) throw new NotFound('No such document image in this grant.');
      await this.audit.append(tx, {
        type: 'claims.released',
        actor: { type: 'client', id: token.clientId },
        subjects: { account: token.accountId, client: token.clientId, ...(person ? { person } : {}) },
        payload: {
          ...(token.grantId ? { grant_id: token.grantId } : {}),
          level: 'dossier',
          via: 'dossier_document',
          claims: [image.kind],
        },
      });
      return { contentType: image.contentType, data: image.data };
    });
  }

  /**
   * The leaf index of the `identity.verified` event that recorded the result, once integrated (within
   * `audit.integrateInterval` of the verification; until then the dossier names no leaf).
   */
  private async verificationLeaf(
    accountId: string,
    resultId: string,
    account?: Pick<Account, 'id' | 'personId'>,
  ): Promise<number | undefined> {
    const known = this.verificationLeaves.get(resultId);
    if (known !== undefined) return known;
    const person = await this.verifications.personIndexOf(accountId, account);
    if (!person) return undefined;
    const events = await this.audit.search({ person, types: ['identity.verified'] }, 1000);
    const event = events.find(
      (row) => (JSON.parse(row.leaf) as { payload: { result_id?: string } }).payload.result_id === resultId,
    );
    if (event) this.verificationLeaves.set(resultId, event.leaf_index);
    return event?.leaf_index;
  }
}

/** The dossier is locked after wrong partial-knowledge answers, until `lockedUntil`. */
export class DossierLocked extends PlatformError {
  constructor(readonly lockedUntil: Date) {
    const seconds = Math.max(1, Math.ceil((lockedUntil.getTime() - Date.now()) / 1000));
    super(
      'partial-locked',
      429,
      `Too many wrong answers: the full dossier is locked until ${lockedUntil.toISOString()}. The other levels stay available.`,
      {
        headers: { 'Retry-After': String(seconds) },
      },
    );
  }
}
