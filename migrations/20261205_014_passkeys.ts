import type { Knex } from 'knex';

// Passkeys (WebAuthn credentials) of accounts, the challenges of their ceremonies, and each
// account's choice of a passkey as the second factor after the password.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('passkeys', (t) => {
    // The credential id (base64url), unique across every authenticator (WebAuthn L3 §6.1).
    t.text('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    // The COSE public key as the authenticator gave it (WebAuthn L3 §6.5.1.1).
    t.binary('public_key').notNullable();
    // The signature counter last seen; a lower one later means a cloned authenticator (§6.1.1).
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports').notNullable().defaultTo('[]');
    t.text('name').notNullable();
    // Backup eligible (synced to other devices) or bound to one device: the BE flag (§6.3.3).
    t.text('device_type').notNullable().checkIn(['singleDevice', 'multiDevice']);
    t.boolean('backed_up').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });

  // Each challenge is taken once, by the response that signs it, and only before it expires.
  await knex.schema.createTable('passkey_challenges', (t) => {
    t.text('challenge').primary();
    t.text('purpose').notNullable().checkIn(['register', 'sign_in', 'second_factor']);
    // Who may answer it: the account adding a passkey, the interaction signing in, or both.
    t.uuid('account_id').references('id').inTable('accounts').onDelete('CASCADE');
    t.text('interaction_uid');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
    t.index(['account_id']);
    t.index(['interaction_uid']);
  });

  await knex.schema.createTable('passkey_settings', (t) => {
    t.uuid('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    // A password sign-in must be followed by a passkey before it counts.
    t.boolean('second_factor').notNullable().defaultTo(false);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('passkey_settings');
  await knex.schema.dropTableIfExists('passkey_challenges');
  await knex.schema.dropTableIfExists('passkeys');
}
