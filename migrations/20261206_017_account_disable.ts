import type { Knex } from 'knex';

// An operator can disable an account (OWASP ASVS 5.0 §7.4.2) and enable it again: while
// `disabled_at` is set nothing signs in to it and oidc-provider finds no such account. The reason
// is the operator's own note (a ticket number, "reported stolen"), never personal data.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.timestamp('disabled_at', { useTz: true });
    t.text('disabled_reason');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('disabled_reason');
    t.dropColumn('disabled_at');
  });
}
