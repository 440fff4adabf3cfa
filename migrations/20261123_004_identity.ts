import type { Knex } from 'knex';

// Natural persons, their verification results (reused instead of re-verified, docs/background.md#result-reuse), the
// images they uploaded, every paid provider call, and the merchants' queries of a result.

export async function up(knex: Knex): Promise<void> {
  // One row per natural person, found by the blind index of their document (docs/background.md#security-levels: several
  // accounts can map to one person). Identity data is sealed with the SecretBox (AES-256-GCM).
  await knex.schema.createTable('persons', (t) => {
    t.uuid('id').primary();
    t.text('person_index').notNullable().unique();
    t.text('document_type').notNullable();
    t.text('name_encrypted').notNullable();
    t.text('number_encrypted').notNullable();
    t.text('birth_date_encrypted');
    t.text('gender');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.alterTable('accounts', (t) => {
    t.uuid('person_id').references('id').inTable('persons').index();
  });

  // A merchant's own reuse limits (docs/verification.md#reuse), tighter than the platform's: accept only results
  // verified within the last N days; spend at most N queries of one result.
  await knex.schema.alterTable('clients', (t) => {
    t.integer('result_max_age_days');
    t.integer('result_max_queries');
  });

  // A verification attempt and, when it passed, the reusable result: valid until `expires_at`
  // and for at most `max_queries` merchant queries (null = no limit), whichever ends first.
  await knex.schema.createTable('verifications', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').index();
    t.uuid('person_id').references('id').inTable('persons').index();
    t.text('method').notNullable().checkIn(['document', 'person_match', 'offline_notary', 'phone_three_element']);
    t.text('provider').notNullable();
    t.text('status').notNullable().checkIn(['passed', 'failed']);
    t.text('reason');
    t.text('provider_reference');
    t.timestamp('verified_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true });
    t.integer('max_queries');
    t.integer('queries_used').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Uploaded images, sealed; kept with the verification they served.
  await knex.schema.createTable('verification_images', (t) => {
    t.uuid('id').primary();
    t.uuid('verification_id').notNullable().references('id').inTable('verifications').index();
    t.text('kind').notNullable().checkIn(['portrait', 'document_front']);
    t.text('content_type').notNullable().checkIn(['image/png', 'image/jpeg']);
    t.text('data_encrypted').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Every call to a paid provider, with its cost in fen (0.01 yuan), whatever its outcome.
  await knex.schema.createTable('provider_calls', (t) => {
    t.bigIncrements('id').primary();
    t.text('provider').notNullable();
    t.text('method').notNullable();
    t.text('outcome').notNullable().checkIn(['match', 'mismatch', 'unavailable']);
    t.integer('cost_fen').notNullable();
    t.integer('duration_ms').notNullable();
    t.uuid('verification_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['created_at']);
  });

  // Each time a merchant used a result (a token at a realname level, a check API call).
  await knex.schema.createTable('verification_queries', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('verification_id').notNullable().references('id').inTable('verifications');
    t.text('client_id').notNullable();
    t.text('via').notNullable().checkIn(['token', 'check_api']);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['verification_id', 'client_id']);
  });

  // Fixed-window counters for per-client limits (shared by every process through the database).
  await knex.schema.createTable('rate_counters', (t) => {
    t.text('key').notNullable();
    t.bigInteger('window').notNullable();
    t.integer('count').notNullable();
    t.primary(['key', 'window']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_counters');
  await knex.schema.dropTable('verification_queries');
  await knex.schema.dropTable('provider_calls');
  await knex.schema.dropTable('verification_images');
  await knex.schema.dropTable('verifications');
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('result_max_age_days');
    t.dropColumn('result_max_queries');
  });
  await knex.schema.alterTable('accounts', (t) => t.dropColumn('person_id'));
  await knex.schema.dropTable('persons');
}
