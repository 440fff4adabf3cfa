import type { Knex } from 'knex';

// Level 2 (docs/product.md#grant-levels, authorization content b): a merchant-scoped username and the argon2id hash
// of a password generated at consent. The password itself is shown to the person once and never
// stored; the merchant receives only the hash and verifies later logins with it.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('merchant_credentials', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id').notNullable();
    t.text('username').notNullable();
    t.text('password_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'client_id']);
    t.unique(['client_id', 'username']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('merchant_credentials');
}
