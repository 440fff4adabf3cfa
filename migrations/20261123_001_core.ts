import type { Knex } from 'knex';

// Accounts, merchants (OIDC clients), oidc-provider's state, and the platform's keys.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary();
    // Normalized login: lowercase email, or a mobile number in E.164 form.
    t.text('login').notNullable().unique();
    t.text('login_type').notNullable().checkIn(['email', 'phone']);
    t.text('password_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    // The secret is encrypted with the master key, never stored in clear (oidc-provider needs
    // the plain value to authenticate client_secret_basic/post and to key HS256).
    t.text('client_secret_encrypted').notNullable();
    t.text('name').notNullable();
    t.text('kind').notNullable().checkIn(['merchant', 'notary']);
    t.text('category').notNullable();
    t.smallint('security_level').notNullable().checkBetween([1, 3]);
    t.specificType('grant_levels', 'text[]').notNullable();
    // Standard OIDC client metadata (redirect_uris, grant_types, ...), as oidc-provider reads it.
    t.jsonb('metadata').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // One table for every oidc-provider model (Session, Interaction, AuthorizationCode, Grant, ...).
  await knex.schema.createTable('oidc_payloads', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('uid');
    t.text('user_code');
    t.text('account_id');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['uid']);
    t.index(['user_code']);
    t.index(['account_id']);
    t.index(['expires_at']);
  });

  // Platform keys: OIDC signing keys, cookie keys, the pairwise salt. Private parts encrypted.
  await knex.schema.createTable('platform_keys', (t) => {
    t.text('kid').primary();
    t.text('purpose').notNullable();
    t.text('alg').notNullable();
    t.jsonb('public_jwk');
    t.text('secret_encrypted').notNullable();
    t.text('status').notNullable().checkIn(['active', 'retired']);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('retired_at', { useTz: true });
    // A retired key stays published until this time so tokens it signed still verify.
    t.timestamp('expires_at', { useTz: true });
    t.index(['purpose', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('platform_keys');
  await knex.schema.dropTable('oidc_payloads');
  await knex.schema.dropTable('clients');
  await knex.schema.dropTable('accounts');
}
