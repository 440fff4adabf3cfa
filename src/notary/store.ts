import type { Queryable } from '../db/index.js';

// SQL of offline registrations (identities verified at a notary's counter).

export interface RegistrationRow {
  id: string;
  notary_client_id: string;
  external_id: string;
  document_type: string;
  person_index: string;
  name_encrypted: string;
  number_encrypted: string;
  birth_date_encrypted: string | null;
  verified_at: Date;
}

/** Inserts a registration unless this notary already sent one under the same external id. */
export async function insertRegistration(db: Queryable, row: RegistrationRow): Promise<boolean> {
  const inserted = await db('offline_registrations')
    .insert(row)
    .onConflict(['notary_client_id', 'external_id'])
    .ignore()
    .returning('id');
  return inserted.length > 0;
}

export async function findRegistration(
  db: Queryable,
  notaryClientId: string,
  externalId: string,
): Promise<RegistrationRow | undefined> {
  return db<RegistrationRow>('offline_registrations')
    .where({ notary_client_id: notaryClientId, external_id: externalId })
    .first();
}

/** Registrations of a person (by blind index), newest verification first. */
export async function findRegistrationsOfPerson(db: Queryable, personIndex: string): Promise<RegistrationRow[]> {
  return db<RegistrationRow>('offline_registrations')
    .where({ person_index: personIndex })
    .orderBy('verified_at', 'desc');
}
