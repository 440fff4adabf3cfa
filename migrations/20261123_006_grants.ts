import type { Knex } from 'knex';

// What level each person chose for each merchant, to pre-select it next time
// (docs/background.md#unified-authorization): for the same merchant, or failing that for merchants
// of the same category.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('consent_choices', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id').notNullable();
    t.text('category').notNullable();
    t.text('level').notNullable().checkIn(['result', 'credentials', 'dossier']);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'client_id']);
    t.index(['account_id', 'category', 'updated_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('consent_choices');
}
