import type { Knex } from 'knex';

// A person's data rights (src/data-rights/). One data key per natural person
// (src/identity/person-keys.ts), wrapped by the master key: the person's name, number, birth date
// and photos are sealed under it, and erasing the person deletes it (crypto-shredding). Values
// sealed before this migration stay under the master key until they are sealed again; both
// open. And when an account asked to be closed is due to be erased (`closing_at`).

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('person_keys', (t) => {
    // No foreign key: the key is deleted with the person, in the same transaction, by the code.
    t.uuid('person_id').primary();
    // The 32-byte key sealed by the master key (SecretBox, context `person-key:<person_id>`).
    t.text('wrapped').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.alterTable('accounts', (t) => {
    // Set while a closure waits out `accountClosure.delayDays`; the hourly job closes it then.
    t.timestamp('closing_at', { useTz: true });
    t.index(['closing_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropIndex(['closing_at']);
    t.dropColumn('closing_at');
  });
  await knex.schema.dropTable('person_keys');
}
