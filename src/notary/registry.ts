import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db, Tx } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { parseInput, text } from '../validation.js';
import { personIndex } from '../identity/blind-index.js';
import { checkDocumentNumber, DOCUMENT_TYPES } from '../identity/document-number.js';
import type { OfflineRegistrations } from '../identity/service.js';
import { findRegistration, findRegistrationsOfPerson, insertRegistration } from './store.js';

// A batch fits the default 16 KiB body limit (about 200 bytes a record); send more in batches.
const MAX_RECORDS = 50;

export const uploadSchema = z.object({ records: z.array(z.unknown()).min(1).max(MAX_RECORDS) }).strict();

export const recordSchema = z
  .object({
    external_id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._:\-/]+$/, 'letters, digits and . _ : - / only'),
    document_type: z.enum(DOCUMENT_TYPES),
    document_number: z.string().min(1).max(64),
    name: text(100)
      .transform((v) => v.trim())
      .pipe(z.string().min(1, 'a name is required')),
    verified_at: z.iso
      .datetime({ offset: true })
      .refine((v) => Date.parse(v) <= Date.now() + 60_000, 'must not be in the future'),
    birth_date: z.iso.date().optional(),
  })
  .strict();

export type RecordStatus = 'accepted' | 'unchanged' | 'rejected';

export interface RecordResult {
  index: number;
  external_id?: string;
  status: RecordStatus;
  registration_id?: string;
  errors?: Array<{ field: string; code: string; message?: string }>;
}

/**
 * Offline registrations: identities a notary body verified at its counter
 * (docs/background.md#unified-authorization). An upload is validated record by record: good records
 * are kept (each with its `registry.uploaded` event in the same transaction), bad ones are
 * reported. Re-sending a record (same notary and `external_id`, same content) changes nothing;
 * different content under the same id is refused.
 */
export interface RegistryOptions {
  db: Db;
  box: SecretBox;
  audit: AuditLog;
  blindIndexKey: string;
}

export class Registry implements OfflineRegistrations {
  private readonly db: Db;
  private readonly box: SecretBox;
  private readonly audit: AuditLog;
  private readonly blindIndexKey: string;

  constructor(options: RegistryOptions) {
    ({ db: this.db, box: this.box, audit: this.audit, blindIndexKey: this.blindIndexKey } = options);
  }

  /**
   * The newest offline registration of a person (blind index) under exactly this name: a person
   * verified at a notary's counter is matched when they verify online.
   */
  async findVerified(
    personIndex: string,
    name: string,
  ): Promise<{ id: string; notaryClientId: string; verifiedAt: Date } | undefined> {
    for (const row of await findRegistrationsOfPerson(this.db, personIndex)) {
      if (this.box.openText(row.name_encrypted, `offline_registrations:name:${row.id}`) === name) {
        return { id: row.id, notaryClientId: row.notary_client_id, verifiedAt: new Date(row.verified_at) };
      }
    }
    return undefined;
  }

  async upload(notaryClientId: string, body: unknown) {
    const { records } = parseInput(body && typeof body === 'object' ? body : {}, uploadSchema);
    const results: RecordResult[] = [];
    for (const [index, raw] of records.entries()) {
      results.push(await this.uploadOne(notaryClientId, index, raw));
    }
    const count = (status: RecordStatus) => results.filter((r) => r.status === status).length;
    return { accepted: count('accepted'), unchanged: count('unchanged'), rejected: count('rejected'), results };
  }

  private async uploadOne(notaryClientId: string, index: number, raw: unknown): Promise<RecordResult> {
    const externalId = (raw as { external_id?: unknown } | null)?.external_id;
    const base = {
      index,
      ...(typeof externalId === 'string' && externalId.length <= 200 ? { external_id: externalId } : {}),
    };
    const parsed = recordSchema.safeParse(raw);
    if (!parsed.success) {
      return {
        ...base,
        status: 'rejected',
        errors: parsed.error.issues.map((i) => ({
          field: i.path.join('.') || '(record)',
          code: i.code,
          message: i.message,
        })),
      };
    }
    const record = parsed.data;
    const document = checkDocumentNumber(record.document_type, record.document_number);
    if (!document.ok) {
      return {
        ...base,
        status: 'rejected',
        errors: [{ field: 'document_number', code: document.code, message: document.message }],
      };
    }
    if (record.birth_date && document.birthDate && record.birth_date !== document.birthDate) {
      return {
        ...base,
        status: 'rejected',
        errors: [
          { field: 'birth_date', code: 'mismatch', message: 'differs from the birth date in the document number' },
        ],
      };
    }
    const person = personIndex(this.blindIndexKey, document.type, document.number);
    const birthDate = record.birth_date ?? document.birthDate;

    return inTransaction(this.db, async (tx) => {
      const id = randomUUID();
      const inserted = await insertRegistration(tx, {
        id,
        notary_client_id: notaryClientId,
        external_id: record.external_id,
        document_type: document.type,
        person_index: person,
        name_encrypted: this.box.seal(record.name, `offline_registrations:name:${id}`),
        number_encrypted: this.box.seal(document.number, `offline_registrations:number:${id}`),
        birth_date_encrypted: birthDate ? this.box.seal(birthDate, `offline_registrations:birth_date:${id}`) : null,
        verified_at: new Date(record.verified_at),
      });
      if (!inserted) {
        const wanted = { person, name: record.name, verifiedAt: Date.parse(record.verified_at), birthDate };
        return this.compareExisting(tx, notaryClientId, record.external_id, wanted, base);
      }
      await this.audit.append(tx, {
        type: 'registry.uploaded',
        actor: { type: 'notary', id: notaryClientId },
        subjects: { person, client: notaryClientId },
        payload: { registration_id: id, document_type: document.type, external_id: record.external_id },
      });
      return { ...base, status: 'accepted', registration_id: id };
    });
  }

  /** A re-sent record is `unchanged` only if every field it carries is the same. */
  private async compareExisting(
    tx: Tx,
    notaryClientId: string,
    externalId: string,
    wanted: { person: string; name: string; verifiedAt: number; birthDate?: string },
    base: { index: number; external_id?: string },
  ): Promise<RecordResult> {
    const row = (await findRegistration(tx, notaryClientId, externalId))!;
    const storedBirthDate = row.birth_date_encrypted
      ? this.box.openText(row.birth_date_encrypted, `offline_registrations:birth_date:${row.id}`)
      : undefined;
    const same =
      row.person_index === wanted.person &&
      this.box.openText(row.name_encrypted, `offline_registrations:name:${row.id}`) === wanted.name &&
      new Date(row.verified_at).getTime() === wanted.verifiedAt &&
      storedBirthDate === wanted.birthDate;
    if (same) return { ...base, status: 'unchanged', registration_id: row.id };
    return {
      ...base,
      status: 'rejected',
      errors: [
        {
          field: 'external_id',
          code: 'conflict',
          message: 'a different record was already uploaded under this external_id',
        },
      ],
    };
  }
}
