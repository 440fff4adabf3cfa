import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Account, AccountService } from '../accounts/service.js';
import { BoundedMap } from '../bounded-map.js';
import type { AuditLog } from '../audit/log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db, Tx } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { Conflict, InvalidInput, PlatformError } from '../errors.js';
import { personIndex } from './blind-index.js';
import { checkDocumentNumber, type DocumentType } from './document-number.js';
import { PersonKeys } from './person-keys.js';
import { sniffImageType } from './images.js';
import {
  ProviderUnavailable,
  type Image,
  type PhoneCarrier,
  type ProviderAnswer,
  type VerificationProvider,
} from './providers/types.js';
import {
  findImage,
  findPerson,
  findPersonByIndex,
  personIndexOf,
  imagesOfVerification,
  imageData,
  queriesByClient,
  spendQuery,
  insertImages,
  insertProviderCall,
  insertVerification,
  updatePersonIdentity,
  upsertPerson,
  validResults,
  verificationsOfAccount,
  type VerificationMethod,
  type VerificationRow,
  deletePerson,
  deleteVerificationsOfAccount,
  personHasVerifications,
  imagesOfPerson,
  personsWithoutKey,
  updateImageData,
  releaseRead,
  type PersonRow,
  type ImageRow,
  type ReleaseRead,
} from './store.js';

export type { VerificationMethod };

/**
 * An account's standing: the person it is verified as and their current usable result at least
 * as strong as asked. `valid` carries the results it was chosen from, so that a dossier released
 * in the same answer (dossierOf) does not read them again.
 */
export interface Standing {
  personId?: string;
  result?: Result;
  valid?: { accountId: string; rows: readonly VerificationRow[] };
}

/**
 * How strong a method's evidence is. A merchant's requirement is met by a result at least as
 * strong (docs/product.md#step-up): a person-document match satisfies a document check, never the reverse.
 * An offline registration is matched online by name and number only, so what the online account
 * proves is knowledge of a notary-vouched identity: as strong as a document check, not a face.
 */
export const METHOD_STRENGTH: Record<VerificationMethod, number> = {
  document: 1,
  phone_three_element: 1,
  offline_notary: 1,
  person_match: 2,
};

/**
 * Whether a result of the person speaks for this account: a result proven by knowledge (name and
 * number) speaks for every account of the person; a person-document match proved one face, that
 * of the account holder who did it, so it speaks for that account only.
 */
function speaksFor(row: VerificationRow, accountId: string): boolean {
  return row.method !== 'person_match' || row.account_id === accountId;
}

/** Names are compared as typed on the document, with width and spacing folded. */
function normalizeName(raw: string): string {
  return raw.normalize('NFKC').trim().replace(/\s+/g, ' ');
}

/** A refused document number as a form error, on the field that is wrong. */
function documentProblem(document: Extract<ReturnType<typeof checkDocumentNumber>, { ok: false }>) {
  return {
    field: document.code === 'unknown_type' ? 'document_type' : 'document_number',
    code: document.code,
    message: document.message,
  };
}

/** The method a merchant's security level requires (1: document check; 2 and 3: person match). */
export function requiredMethod(securityLevel: number): 'document' | 'person_match' {
  return securityLevel >= 2 ? 'person_match' : 'document';
}

export interface Submission {
  /** `phone_three_element` checks the account's own mobile login with the carrier (docs/verification.md). */
  method: 'document' | 'person_match' | 'phone_three_element';
  documentType: string;
  documentNumber: string;
  name: string;
  portrait?: Image;
  documentFront?: Image;
  /** Ask the provider again even when a usable result exists (step-up: a face matched now). */
  fresh?: boolean;
}

/**
 * What the platform holds about an account's person, opened from its sealed fields: the
 * material of the level 3 dossier. Only the dossier and the person's own pages use it.
 */
export interface Dossier {
  documentType: DocumentType;
  documentNumber: string;
  name: string;
  birthDate?: string;
  gender?: 'male' | 'female';
  /**
   * The result the dossier vouches with, who gave it (`notary` when a notary body registered the
   * person at its counter: that body's client id) and the giver's reference of the check.
   */
  result: Result & { provider: string; notary?: string; reference?: string };
  /** The images that result kept; `digest` is the base64 SHA-256 of the image bytes. */
  images: Array<{ id: string; kind: 'portrait' | 'document_front'; contentType: string; digest: string }>;
}

/** What identity holds about an account, opened: the person's part of their data export. */
export interface IdentityExport {
  /** The verified person, with `person_index`, the blind index the audit trail names them by. */
  person:
    | {
        document_type: DocumentType;
        document_number: string;
        name: string;
        birth_date?: string;
        gender?: string;
        person_index: string;
      }
    | undefined;
  /** Every verification attempt of the account, oldest first. */
  verifications: Array<{
    id: string;
    method: VerificationMethod;
    provider: string;
    status: 'passed' | 'failed';
    reason?: string;
    provider_reference?: string;
    verified_at: string;
    expires_at?: string;
    max_queries?: number;
    queries_used: number;
    images: Array<{ id: string; kind: string; content_type: string; data_base64: string }>;
  }>;
}

/** What the check API answers (docs/product.md#http-surface): times in seconds since the epoch, like the claims. */
export interface CheckAnswer {
  verified: boolean;
  method: VerificationMethod | null;
  verified_at: number | null;
  expires_at: number | null;
  /** Queries of this result left to this merchant; null when unlimited. */
  queries_left: number | null;
}

const NOT_VERIFIED: CheckAnswer = {
  verified: false,
  method: null,
  verified_at: null,
  expires_at: null,
  queries_left: null,
};

/**
 * The identities notary bodies registered at their counters (src/notary/registry.ts). Handed in:
 * the notary domain builds on this one (document numbers, the blind index), not the reverse.
 */
export interface OfflineRegistrations {
  /** The newest registration of a person (blind index) under exactly this name, if any. */
  findVerified(
    personIndex: string,
    name: string,
  ): Promise<{ id: string; notaryClientId: string; verifiedAt: Date } | undefined>;
}

export interface VerificationOptions {
  db: Db;
  box: SecretBox;
  audit: AuditLog;
  /** The account ↔ person link lives on the account (migration 004). */
  accounts: AccountService;
  provider: VerificationProvider;
  phones: PhoneCarrier;
  registry: OfflineRegistrations;
  blindIndexKey: string;
  /** Cost of one call in fen, by method. */
  costFen: Record<'document' | 'person_match' | 'phone_three_element', number>;
  validityDays: number;
  /** 0: no limit. */
  maxQueries: number;
  /** Counts one check API call of a merchant; throws (429) once it is over its limit. */
  countCheck: (clientId: string) => Promise<void>;
}

/** A usable result as merchants see it. */
export interface Result {
  id: string;
  method: VerificationMethod;
  verifiedAt: Date;
  expiresAt: Date | null;
  queriesLeft: number | null;
}

export interface Outcome {
  status: 'passed' | 'failed';
  method: VerificationMethod;
  /** True when an existing result (or a notary's offline registration) served, with no provider call. */
  reused: boolean;
  reason?: string;
  result?: Result;
}

export function toResult(row: VerificationRow): Result {
  return {
    id: row.id,
    method: row.method,
    verifiedAt: new Date(row.verified_at),
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
    queriesLeft: row.max_queries === null ? null : row.max_queries - row.queries_used,
  };
}

/** A result from a notary's offline registration names `notary:<the notary body's client id>` as its provider. */
const NOTARY_PROVIDER = 'notary:';

/** Sealing contexts: a value sealed for one field and row opens for no other. */
const sealed = {
  name: (id: string) => `persons:name:${id}`,
  number: (id: string) => `persons:number:${id}`,
  birthDate: (id: string) => `persons:birth_date:${id}`,
  image: (id: string) => `verification_images:data:${id}`,
};

/** How many persons' blind indexes VerificationService keeps in memory (about 100 bytes each). */
const PERSON_INDEXES_KEPT = 10_000;
/** How many images' digests VerificationService keeps in memory (about 100 bytes each). */
const IMAGE_DIGESTS_KEPT = 10_000;

/**
 * Verifying a person once and reusing the result (docs/background.md#unified-authorization,
 * docs/background.md#result-reuse). Document numbers are validated before any provider is called; a
 * provider that cannot answer yields "try again later", never a pass; every call is recorded with
 * its cost.
 */
export class VerificationService {
  private readonly db: Db;
  private readonly box: SecretBox;
  private readonly audit: AuditLog;
  private readonly accounts: AccountService;
  private readonly provider: VerificationProvider;
  private readonly phones: PhoneCarrier;
  private readonly registry: OfflineRegistrations;
  private readonly keys: PersonKeys;
  /**
   * Person ids → their blind index, which never changes (a person row is inserted once and never
   * updated; a deleted id is never made again): read at every token and userinfo release.
   */
  private readonly indexes = new BoundedMap<string, string>(PERSON_INDEXES_KEPT);
  /**
   * Image ids → the SHA-256 of the image in clear, which never changes (re-sealing under a new key
   * keeps the content): read at every dossier release, it would otherwise cost reading and
   * opening every image of the result each time.
   */
  private readonly imageDigests = new BoundedMap<string, string>(IMAGE_DIGESTS_KEPT);

  constructor(private readonly options: VerificationOptions) {
    ({
      db: this.db,
      box: this.box,
      audit: this.audit,
      accounts: this.accounts,
      provider: this.provider,
      phones: this.phones,
      registry: this.registry,
    } = options);
    this.keys = new PersonKeys(this.box);
  }

  /** The configured providers and, for those with a circuit breaker, its state in this process. */
  providerHealth(): Array<{ provider: string; circuit: string | null }> {
    return [this.provider, this.phones as { name: string; circuit?(): string }].map((p) => ({
      provider: p.name,
      circuit: p.circuit ? p.circuit() : null,
    }));
  }

  /** The person an account is verified as: from `account` when the caller just read it, else looked up. */
  private async personIdOf(
    accountId: string,
    account?: Pick<Account, 'id' | 'personId'>,
  ): Promise<string | null | undefined> {
    return account?.id === accountId ? account.personId : this.accounts.personOf(accountId);
  }

  /**
   * The blind index of the person an account is verified as (for audit subjects), if any; no
   * look-up of the account when the caller read it just now and hands it over (`account`).
   */
  async personIndexOf(accountId: string, account?: Pick<Account, 'id' | 'personId'>): Promise<string | undefined> {
    const personId = await this.personIdOf(accountId, account);
    if (!personId) return undefined;
    const known = this.indexes.get(personId);
    if (known) return known;
    const index = await personIndexOf(this.db, personId);
    if (index) this.indexes.set(personId, index);
    return index;
  }

  /**
   * The person an account is verified as, and their current usable result at least as strong as
   * `method`, from one look-up of the account's person (none when the caller read the account
   * just now and hands it over: `account`).
   */
  async standingOf(
    accountId: string,
    method: VerificationMethod = 'document',
    account?: Pick<Account, 'id' | 'personId'>,
  ): Promise<Standing> {
    const personId = await this.personIdOf(accountId, account);
    if (!personId) return {};
    const results = await validResults(this.db, personId, new Date());
    const rows = results.filter((r) => speaksFor(r, accountId));
    const row = rows.find((r) => METHOD_STRENGTH[r.method] >= METHOD_STRENGTH[method]);
    return { personId, result: row && toResult(row), valid: { accountId, rows } };
  }

  /** The person's current usable result at least as strong as `method`, if any. */
  async resultOfAccount(accountId: string, method: VerificationMethod = 'document'): Promise<Result | undefined> {
    return (await this.standingOf(accountId, method)).result;
  }

  /**
   * The dossier of the account's person, vouched for by its strongest usable result at least as
   * strong as `method`; undefined when the account has no such result.
   */
  async dossierOf(
    accountId: string,
    method: VerificationMethod = 'document',
    account?: Pick<Account, 'id' | 'personId'>,
    standing?: Standing,
  ): Promise<Dossier | undefined> {
    const personId = await this.personIdOf(accountId, account);
    if (!personId) return undefined;
    const valid =
      standing?.personId === personId && standing.valid?.accountId === accountId
        ? standing.valid.rows
        : (await validResults(this.db, personId, new Date())).filter((r) => speaksFor(r, accountId));
    const row = valid
      .filter((r) => METHOD_STRENGTH[r.method] >= METHOD_STRENGTH[method])
      .sort((a, b) => METHOD_STRENGTH[b.method] - METHOD_STRENGTH[a.method])[0];
    if (!row) return undefined;
    const read = await releaseRead(this.db, personId, row.id);
    if (!read) return undefined;
    const { person } = read;
    const box = this.keys.openingWith(person.id, read.wrapped);
    const images = await this.digestedImages(read.images, box);
    return {
      ...this.identityOf(person, box),
      ...(person.gender === 'male' || person.gender === 'female' ? { gender: person.gender } : {}),
      result: {
        ...toResult(row),
        provider: row.provider,
        ...(row.provider.startsWith(NOTARY_PROVIDER) ? { notary: row.provider.slice(NOTARY_PROVIDER.length) } : {}),
        ...(row.provider_reference ? { reference: row.provider_reference } : {}),
      },
      images,
    };
  }

  /** A result's images with the digests of their content, opening only those whose digest is not kept. */
  private async digestedImages(
    images: ReleaseRead['images'],
    box: SecretBox,
  ): Promise<Array<{ id: string; kind: ImageRow['kind']; contentType: string; digest: string }>> {
    // Read from this call's own map: setting a digest in the full cache may drop another one.
    const digests = new Map(
      images.flatMap((image) => {
        const known = this.imageDigests.get(image.id);
        return known === undefined ? [] : [[image.id, known] as const];
      }),
    );
    const missing = images.filter((image) => !digests.has(image.id)).map((image) => image.id);
    if (missing.length > 0) {
      for (const [id, data] of await imageData(this.db, missing)) {
        const digest = createHash('sha256')
          .update(box.open(data, sealed.image(id)))
          .digest('base64');
        digests.set(id, digest);
        this.imageDigests.set(id, digest);
      }
    }
    return images.map((image) => ({
      id: image.id,
      kind: image.kind,
      contentType: image.content_type,
      digest: digests.get(image.id)!,
    }));
  }

  /** The person's identity on record, opened with `box`: their data key's (or the master key, for values sealed before keys). */
  private identityOf(
    person: PersonRow,
    box: SecretBox,
  ): { documentType: DocumentType; documentNumber: string; name: string; birthDate?: string } {
    return {
      documentType: person.document_type as DocumentType,
      documentNumber: box.openText(person.number_encrypted, sealed.number(person.id)),
      name: box.openText(person.name_encrypted, sealed.name(person.id)),
      ...(person.birth_date_encrypted
        ? { birthDate: box.openText(person.birth_date_encrypted, sealed.birthDate(person.id)) }
        : {}),
    };
  }

  /**
   * One image of the dossier, if it belongs to a passed, still valid result that speaks for this
   * account (a person-document match speaks for the account that did it only).
   */
  async dossierImage(
    accountId: string,
    imageId: string,
  ): Promise<{ kind: string; contentType: string; data: Buffer } | undefined> {
    const image = await findImage(this.db, imageId);
    const personId = await this.accounts.personOf(accountId);
    if (!image || !personId) return undefined;
    const { verification } = image;
    const valid =
      verification.status === 'passed' && (!verification.expires_at || new Date(verification.expires_at) > new Date());
    if (!valid || verification.person_id !== personId || !speaksFor(verification, accountId)) return undefined;
    return {
      kind: image.kind,
      contentType: image.content_type,
      data: (await this.keys.opening(this.db, verification.person_id)).open(
        image.data_encrypted,
        sealed.image(image.id),
      ),
    };
  }

  /**
   * Whether `partial` is the last six characters of the account's document number (the person
   * re-confirms with partial knowledge, docs/background.md#partial-knowledge). Compared in constant time, case folded.
   */
  async confirmsPartial(accountId: string, partial: string): Promise<boolean> {
    const personId = await this.accounts.personOf(accountId);
    const person = personId ? await findPerson(this.db, personId) : undefined;
    if (!person) return false;
    const box = await this.keys.opening(this.db, person.id);
    const number = box.openText(person.number_encrypted, sealed.number(person.id)).toUpperCase();
    const expected = Buffer.from(number.slice(-6));
    const given = Buffer.from(partial.normalize('NFKC').trim().toUpperCase());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Step-up (docs/product.md#step-up): a fresh person-document match of the account's verified person, with new
   * photos and the identity already on record; the provider is asked even if a match is on file.
   */
  async stepUp(accountId: string, photos: { portrait?: Image; documentFront?: Image }): Promise<Outcome> {
    const personId = await this.accounts.personOf(accountId);
    const person = personId ? await findPerson(this.db, personId) : undefined;
    if (!person) throw new Conflict('not-verified', 'This account has no verified identity yet: verify first.');
    const { documentType, documentNumber, name } = this.identityOf(person, await this.keys.opening(this.db, person.id));
    return this.verify(accountId, {
      method: 'person_match',
      documentType,
      documentNumber,
      name,
      ...photos,
      fresh: true,
    });
  }

  /**
   * Account recovery (docs/product.md#password-reset): the person claims to be the one the account
   * is verified as, with that person's document and name, and new photos. Only when the claim is
   * that person (the document's blind index and the name on record) is a fresh person-document
   * match asked of the provider, and recorded and paid for like any other. Undefined, with no
   * call, when the account has no verified person (it was never verified) or the claim is another.
   * The input is validated as the verification form's is (InvalidInput).
   */
  async reverify(
    accountId: string,
    claim: { documentType: string; documentNumber: string; name: string; portrait?: Image; documentFront?: Image },
  ): Promise<Outcome | undefined> {
    const submission: Submission = { method: 'person_match', ...claim, fresh: true };
    const { document, name } = this.validate(submission);
    const personId = await this.accounts.personOf(accountId);
    const person = personId ? await findPerson(this.db, personId) : undefined;
    const index = personIndex(this.options.blindIndexKey, document.type, document.number);
    if (!person || person.person_index !== index) return undefined;
    const box = await this.keys.opening(this.db, person.id);
    if (box.openText(person.name_encrypted, sealed.name(person.id)) !== name) return undefined;
    return this.verify(accountId, submission);
  }

  /**
   * Everything identity holds about the account, opened, for the person's own export
   * (docs/product.md#your-data): the person's document data in clear, and every verification
   * attempt of the account with its photos (base64).
   */
  async exportOf(accountId: string): Promise<IdentityExport> {
    const personId = await this.accounts.personOf(accountId);
    const person = personId ? await findPerson(this.db, personId) : undefined;
    const attempts = await verificationsOfAccount(this.db, accountId, 100_000);
    const verifications = [];
    for (const row of attempts.reverse()) {
      const box = await this.keys.opening(this.db, row.person_id);
      const images = (await imagesOfVerification(this.db, row.id)).map((image) => ({
        id: image.id,
        kind: image.kind,
        content_type: image.content_type,
        data_base64: box.open(image.data_encrypted, sealed.image(image.id)).toString('base64'),
      }));
      verifications.push({
        id: row.id,
        method: row.method,
        provider: row.provider,
        status: row.status,
        ...(row.reason ? { reason: row.reason } : {}),
        ...(row.provider_reference ? { provider_reference: row.provider_reference } : {}),
        verified_at: new Date(row.verified_at).toISOString(),
        ...(row.expires_at ? { expires_at: new Date(row.expires_at).toISOString() } : {}),
        ...(row.max_queries !== null ? { max_queries: row.max_queries } : {}),
        queries_used: row.queries_used,
        images,
      });
    }
    const identity = person && this.identityOf(person, await this.keys.opening(this.db, person.id));
    return {
      person: person &&
        identity && {
          document_type: identity.documentType,
          document_number: identity.documentNumber,
          name: identity.name,
          ...(identity.birthDate ? { birth_date: identity.birthDate } : {}),
          ...(person.gender ? { gender: person.gender } : {}),
          person_index: person.person_index,
        },
      verifications,
    };
  }

  /**
   * Erases what identity holds about the account, for its closure (src/data-rights/): every
   * verification of it with its photos and the merchant queries they served, and each person it
   * named that nothing else names (no other account linked, no other account's verification):
   * that person's row and data key are deleted, so nothing sealed under the key opens again, in
   * this database or in any copy made after the key was first used. Returns the blind index of
   * the account's person (for the closure's audit event) and whether that person was erased.
   * Joins the ambient transaction.
   */
  async erase(accountId: string): Promise<{ personIndex?: string; personErased: boolean }> {
    const linked = (await this.accounts.personOf(accountId)) ?? undefined;
    const personIndex = linked ? await personIndexOf(this.db, linked) : undefined;
    if (linked) await this.accounts.unlinkPerson(accountId);
    const named = await deleteVerificationsOfAccount(this.db, accountId);
    let personErased = false;
    for (const personId of new Set([...named, ...(linked ? [linked] : [])])) {
      if (await this.accounts.personHasOtherAccounts(personId, accountId)) continue;
      if (await personHasVerifications(this.db, personId)) continue;
      await deletePerson(this.db, personId);
      await this.keys.destroy(this.db, personId);
      if (personId === linked) personErased = true;
    }
    return { ...(personIndex ? { personIndex } : {}), personErased };
  }

  /**
   * Moves up to `limit` persons sealed before data keys existed under keys of their own: each gets
   * its key, and its name, number, birth date and the photos of its verifications are sealed again
   * under it, one transaction per batch (the hourly job, until none is left). Returns how many.
   */
  async sealUnderPersonKeys(limit = 100): Promise<number> {
    return inTransaction(this.db, async (tx) => {
      const persons = await personsWithoutKey(tx, limit);
      for (const person of persons) {
        const box = await this.keys.sealing(tx, person.id);
        const again = (value: string, context: string) => box.seal(box.open(value, context), context);
        await updatePersonIdentity(tx, person.id, {
          name_encrypted: again(person.name_encrypted, sealed.name(person.id)),
          number_encrypted: again(person.number_encrypted, sealed.number(person.id)),
          birth_date_encrypted:
            person.birth_date_encrypted && again(person.birth_date_encrypted, sealed.birthDate(person.id)),
          gender: person.gender,
        });
        for (const image of await imagesOfPerson(tx, person.id))
          await updateImageData(tx, image.id, again(image.data_encrypted, sealed.image(image.id)));
      }
      return persons.length;
    });
  }

  /** Whether the account signs in with a mobile number, so the three-element check is open to it. */
  async hasPhoneLogin(accountId: string): Promise<boolean> {
    return (await this.phoneOf(accountId)) !== undefined;
  }

  /** The account's login when it is a mobile number (E.164), else undefined. */
  private async phoneOf(accountId: string): Promise<string | undefined> {
    const account = await this.accounts.find(accountId);
    return account?.loginType === 'phone' ? account.login : undefined;
  }

  /** What the account's status page shows: the person (masked) and the recent attempts. */
  async statusOf(accountId: string) {
    const personId = await this.accounts.personOf(accountId);
    const person = personId ? await findPerson(this.db, personId) : undefined;
    const number = person
      ? (await this.keys.opening(this.db, person.id)).openText(person.number_encrypted, sealed.number(person.id))
      : undefined;
    const results = personId
      ? (await validResults(this.db, personId, new Date())).filter((r) => speaksFor(r, accountId))
      : [];
    const best = [...results].sort((a, b) => METHOD_STRENGTH[b.method] - METHOD_STRENGTH[a.method])[0];
    return {
      person: person && {
        documentType: person.document_type as DocumentType,
        maskedNumber: `${'*'.repeat(Math.max(0, number!.length - 4))}${number!.slice(-4)}`,
      },
      result: best && toResult(best),
      attempts: (await verificationsOfAccount(this.db, accountId)).map((r) => ({
        ...toResult(r),
        status: r.status,
        reason: r.reason,
        createdAt: new Date(r.created_at),
      })),
    };
  }

  /**
   * Verifies the account's person. In order: the input is validated; an account already linked
   * to another person is refused; a still-valid result of this person as strong as asked is reused
   * (a person-document match is never inherited by another account: it proves a face, so each
   * account shows its own); a notary's offline registration under the same name is used; only
   * then is the provider called.
   */
  async verify(accountId: string, submission: Submission): Promise<Outcome> {
    const { document, name } = this.validate(submission);
    const phone = submission.method === 'phone_three_element' ? await this.phoneOf(accountId) : undefined;
    if (submission.method === 'phone_three_element' && !phone) {
      throw new InvalidInput([
        { field: 'phone_check', code: 'no_phone', message: 'this account does not sign in with a mobile number' },
      ]);
    }
    const index = personIndex(this.options.blindIndexKey, document.type, document.number);
    const linked = await this.accounts.personOf(accountId);
    const existing = await findPersonByIndex(this.db, index);
    if (linked && linked !== existing?.id) {
      throw new Conflict('account-linked', 'This account is already verified as another person.');
    }

    const sameName =
      existing &&
      (await this.keys.opening(this.db, existing.id)).openText(existing.name_encrypted, sealed.name(existing.id)) ===
        name;
    if (existing && sameName && !submission.fresh) {
      const reusable = (await validResults(this.db, existing.id, new Date())).find(
        (r) => METHOD_STRENGTH[r.method] >= METHOD_STRENGTH[submission.method] && speaksFor(r, accountId),
      );
      if (reusable) {
        await this.accounts.linkPerson(accountId, existing.id);
        return { status: 'passed', method: reusable.method, reused: true, result: toResult(reusable) };
      }
    }

    const offline = submission.fresh ? undefined : await this.registry.findVerified(index, name);
    if (offline && METHOD_STRENGTH.offline_notary >= METHOD_STRENGTH[submission.method]) {
      const row = await this.record(
        accountId,
        { index, document, name },
        {
          method: 'offline_notary',
          provider: `${NOTARY_PROVIDER}${offline.notaryClientId}`,
          answer: { result: 'match', reference: offline.id },
        },
        offline.verifiedAt,
      );
      return { status: 'passed', method: 'offline_notary', reused: true, result: toResult(row) };
    }

    const answer = await this.callProvider(submission, document, name, phone);
    const providerName = submission.method === 'phone_three_element' ? this.phones.name : this.provider.name;
    const row = await this.record(
      accountId,
      { index, document, name },
      { method: submission.method, provider: providerName, answer },
      new Date(),
      submission,
    );
    return answer.result === 'match'
      ? { status: 'passed', method: submission.method, reused: false, result: toResult(row) }
      : { status: 'failed', method: submission.method, reused: false, reason: answer.reason };
  }

  /**
   * The check API (docs/integrating.md#check-api): does the person the merchant names (document and name) hold a
   * usable result? Spends one query of it, audited in the same transaction. Says nothing about
   * a person the merchant did not name exactly: an unknown document and a wrong name look alike.
   */
  async check(
    merchant: { clientId: string; maxAgeDays: number | null; maxQueries: number | null },
    input: { documentType: string; documentNumber: string; name: string },
  ): Promise<CheckAnswer> {
    // Counted before the transaction below opens: a refused or failed check still counts.
    await this.options.countCheck(merchant.clientId);
    const document = checkDocumentNumber(input.documentType, input.documentNumber);
    if (!document.ok) throw new InvalidInput([documentProblem(document)]);
    const name = normalizeName(input.name);
    const index = personIndex(this.options.blindIndexKey, document.type, document.number);
    const person = await findPersonByIndex(this.db, index);
    const named =
      person &&
      (await this.keys.opening(this.db, person.id)).openText(person.name_encrypted, sealed.name(person.id)) === name;
    let candidates: VerificationRow[] = [];
    if (person && named) {
      const oldest = merchant.maxAgeDays ? Date.now() - merchant.maxAgeDays * 86_400_000 : 0;
      candidates = (await validResults(this.db, person.id, new Date()))
        .filter((r) => new Date(r.verified_at).getTime() >= oldest)
        .sort((a, b) => METHOD_STRENGTH[b.method] - METHOD_STRENGTH[a.method]);
    }
    return inTransaction(this.db, async (tx) => {
      let answer = NOT_VERIFIED;
      for (const row of candidates) {
        const mine = await queriesByClient(tx, row.id, merchant.clientId);
        if (merchant.maxQueries !== null && mine >= merchant.maxQueries) continue;
        const used = await spendQuery(tx, row.id, merchant.clientId, 'check_api');
        if (used === undefined) continue;
        const globalLeft = row.max_queries === null ? null : row.max_queries - used;
        const merchantLeft = merchant.maxQueries === null ? null : merchant.maxQueries - mine - 1;
        const left =
          globalLeft === null ? merchantLeft : merchantLeft === null ? globalLeft : Math.min(globalLeft, merchantLeft);
        const seconds = (date: Date | null) => (date ? Math.floor(new Date(date).getTime() / 1000) : null);
        answer = {
          verified: true,
          method: row.method,
          verified_at: seconds(row.verified_at),
          expires_at: seconds(row.expires_at),
          queries_left: left,
        };
        break;
      }
      await this.audit.append(tx, {
        type: 'verification.checked',
        actor: { type: 'client', id: merchant.clientId },
        subjects: { client: merchant.clientId, ...(person && named ? { person: index } : {}) },
        payload: { verified: answer.verified, queries_left: answer.queries_left },
      });
      return answer;
    });
  }

  private validate(submission: Submission) {
    const errors: Array<{ field: string; code: string; message?: string }> = [];
    const document = checkDocumentNumber(submission.documentType, submission.documentNumber);
    if (!document.ok) errors.push(documentProblem(document));
    const name = normalizeName(submission.name);
    if (!name || name.length > 100)
      errors.push({ field: 'name', code: 'name_invalid', message: 'enter the name exactly as on the document' });
    if (submission.method === 'person_match') {
      for (const [field, image] of [
        ['portrait', submission.portrait],
        ['document_front', submission.documentFront],
      ] as const) {
        if (!image) errors.push({ field, code: 'image_required', message: 'a photo is required' });
        else if (sniffImageType(image.data) !== image.contentType)
          errors.push({ field, code: 'image_type', message: 'only PNG or JPEG photos' });
      }
    }
    if (errors.length || !document.ok) throw new InvalidInput(errors);
    return { document, name };
  }

  /** Calls the provider and records the call and its cost, whatever happens. */
  private async callProvider(
    submission: Submission,
    document: { type: DocumentType; number: string },
    name: string,
    phone?: string,
  ): Promise<ProviderAnswer> {
    const started = performance.now();
    const request = { documentType: document.type, documentNumber: document.number, name };
    const cost = this.options.costFen[submission.method];
    const provider = submission.method === 'phone_three_element' ? this.phones.name : this.provider.name;
    try {
      const answer =
        submission.method === 'person_match'
          ? await this.provider.matchPerson({
              ...request,
              portrait: submission.portrait!,
              documentFront: submission.documentFront!,
            })
          : submission.method === 'phone_three_element'
            ? await this.phones.checkPhone({ ...request, phone: phone! })
            : await this.provider.checkDocument(request);
      await insertProviderCall(this.db, {
        provider,
        method: submission.method,
        outcome: answer.result,
        cost_fen: cost,
        duration_ms: Math.round(performance.now() - started),
      });
      return answer;
    } catch (err) {
      if (!(err instanceof ProviderUnavailable)) throw err;
      await insertProviderCall(this.db, {
        provider,
        method: submission.method,
        outcome: 'unavailable',
        cost_fen: 0,
        duration_ms: Math.round(performance.now() - started),
      });
      throw new PlatformError(
        'provider-unavailable',
        503,
        'The verification service is not answering right now. Nothing was lost: please try again in a few minutes.',
      );
    }
  }

  /** Writes the person, the link, the result, the images and the audit event in one transaction. */
  private async record(
    accountId: string,
    who: {
      index: string;
      document: { type: DocumentType; number: string; birthDate?: string; gender?: string };
      name: string;
    },
    what: { method: VerificationMethod; provider: string; answer: ProviderAnswer },
    verifiedAt: Date,
    submission?: Submission,
  ): Promise<VerificationRow> {
    const passed = what.answer.result === 'match';
    return inTransaction(this.db, async (tx) => {
      const personId = passed ? await this.savePerson(tx, who) : (await findPersonByIndex(tx, who.index))?.id;
      if (passed && !(await this.accounts.linkPerson(accountId, personId!))) {
        throw new Conflict('account-linked', 'This account is already verified as another person.');
      }
      const row = {
        id: randomUUID(),
        account_id: accountId,
        person_id: personId ?? null,
        method: what.method,
        provider: what.provider,
        status: passed ? ('passed' as const) : ('failed' as const),
        reason: what.answer.result === 'mismatch' ? what.answer.reason.slice(0, 100) : null,
        provider_reference: what.answer.reference?.slice(0, 200) ?? null,
        verified_at: verifiedAt,
        expires_at: passed ? new Date(verifiedAt.getTime() + this.options.validityDays * 86_400_000) : null,
        max_queries: passed && this.options.maxQueries > 0 ? this.options.maxQueries : null,
      };
      await insertVerification(tx, row);
      if (submission?.method === 'person_match') {
        // Under the person's data key; a failed attempt by someone not yet known, under the master key.
        const box = personId ? await this.keys.sealing(tx, personId) : this.box;
        await insertImages(
          tx,
          (['portrait', 'documentFront'] as const).map((kind) => {
            const id = randomUUID();
            const image = submission[kind]!;
            return {
              id,
              verification_id: row.id,
              kind: kind === 'portrait' ? 'portrait' : 'document_front',
              content_type: image.contentType,
              data_encrypted: box.seal(image.data, sealed.image(id)),
            };
          }),
        );
      }
      await this.audit.append(tx, {
        type: passed ? 'identity.verified' : 'identity.verification_failed',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, person: who.index },
        payload: passed
          ? { method: what.method, provider: what.provider, result_id: row.id }
          : { method: what.method, provider: what.provider, reason: row.reason ?? 'mismatch' },
      });
      return { ...row, queries_used: 0, created_at: new Date() };
    });
  }

  /** The person record, created or brought up to date with the verified name and birth date. */
  private async savePerson(
    tx: Tx,
    who: {
      index: string;
      document: { type: DocumentType; number: string; birthDate?: string; gender?: string };
      name: string;
    },
  ): Promise<string> {
    const existing = await findPersonByIndex(tx, who.index);
    if (!existing) {
      const id = randomUUID();
      const box = await this.keys.sealing(tx, id);
      const person = await upsertPerson(tx, {
        id,
        person_index: who.index,
        document_type: who.document.type,
        name_encrypted: box.seal(who.name, sealed.name(id)),
        number_encrypted: box.seal(who.document.number, sealed.number(id)),
        birth_date_encrypted: who.document.birthDate ? box.seal(who.document.birthDate, sealed.birthDate(id)) : null,
        gender: who.document.gender ?? null,
      });
      if (person.id === id) return id;
      // Another transaction created the person first: its row stands, and this key was never used.
      await this.keys.destroy(tx, id);
    }
    // An existing person verified again (e.g. a renewed document or a changed name): the values
    // are sealed again under the person's data key, as are values sealed before keys existed.
    const person = (await findPersonByIndex(tx, who.index))!;
    const box = await this.keys.sealing(tx, person.id);
    const birthDate =
      who.document.birthDate ??
      (person.birth_date_encrypted && box.openText(person.birth_date_encrypted, sealed.birthDate(person.id)));
    await updatePersonIdentity(tx, person.id, {
      name_encrypted: box.seal(who.name, sealed.name(person.id)),
      number_encrypted: box.seal(who.document.number, sealed.number(person.id)),
      birth_date_encrypted: birthDate ? box.seal(birthDate, sealed.birthDate(person.id)) : null,
      gender: who.document.gender ?? person.gender,
    });
    return person.id;
  }
}
