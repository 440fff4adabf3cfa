import type { Knex } from 'knex';

// Level 3 (docs/product.md#grant-levels, authorization content c): the full dossier is released
// only after the person re-confirms with partial knowledge of the document
// (docs/background.md#partial-knowledge). Failed confirmations are counted per account; enough of
// them lock the dossier for a while.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('partial_confirmations', (t) => {
    t.uuid('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('partial_confirmations');
}
