import type { Knex } from 'knex';

// Identities verified offline at a notary's counter and uploaded through the notary API
// (docs/background.md#unified-authorization S4). A person who later verifies online is matched to
// these records by the blind index.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('offline_registrations', (t) => {
    t.uuid('id').primary();
    t.text('notary_client_id').notNullable().references('client_id').inTable('clients');
    // The notary's own reference for the record: uploads are idempotent on it.
    t.text('external_id').notNullable();
    t.text('document_type').notNullable();
    // Blind index of the document (hex), the only searchable form of the identity.
    t.text('person_index').notNullable().index();
    // AES-256-GCM (SecretBox) sealed name, document number and birth date.
    t.text('name_encrypted').notNullable();
    t.text('number_encrypted').notNullable();
    t.text('birth_date_encrypted');
    t.timestamp('verified_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['notary_client_id', 'external_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('offline_registrations');
}
