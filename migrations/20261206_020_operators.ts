import type { Knex } from 'knex';

// Operators: person accounts an operator made operators (`operator add LOGIN`), who may use the
// admin API and the console at /admin. An operator's own API clients (kind `operator`) are bound
// to its account, so removing the operator (or disabling the account) stops them at once.
// Clients can be disabled (`disabled_at`): oidc-provider then finds no such client. `updated_at`
// tells every process that a registration changed.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('operators', (t) => {
    t.uuid('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // The kind check of the first migration, found by what it checks (knex named it itself).
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `SELECT conname FROM pg_constraint WHERE conrelid = 'clients'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%kind%'`,
  );
  await knex.schema.alterTable('clients', (t) => {
    for (const { conname } of rows) t.dropChecks(conname);
    t.uuid('operator_account_id').references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('disabled_at', { useTz: true });
    // Every process compares the registrations' latest change with what it has kept
    // (src/oidc/live-settings.ts), so a change made anywhere takes effect everywhere.
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `ALTER TABLE clients ADD CONSTRAINT clients_kind_check CHECK (kind IN ('merchant', 'notary', 'operator'))`,
  );
  // An operator client names its operator; no other kind does.
  await knex.raw(
    `ALTER TABLE clients ADD CONSTRAINT clients_operator_account_check CHECK ((kind = 'operator') = (operator_account_id IS NOT NULL))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex('clients').where({ kind: 'operator' }).delete();
  await knex.raw(`ALTER TABLE clients DROP CONSTRAINT clients_operator_account_check`);
  await knex.raw(`ALTER TABLE clients DROP CONSTRAINT clients_kind_check`);
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('updated_at');
    t.dropColumn('disabled_at');
    t.dropColumn('operator_account_id');
  });
  await knex.raw(`ALTER TABLE clients ADD CONSTRAINT clients_kind_check CHECK (kind IN ('merchant', 'notary'))`);
  await knex.schema.dropTable('operators');
}
