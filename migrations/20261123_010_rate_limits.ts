import type { Knex } from 'knex';

// Rate limits (rate-limiter-flexible's RateLimiterPostgres) counted in the database, so every
// instance sees the same counts. The columns are the ones the library's own CREATE TABLE makes
// (lib/RateLimiterPostgres.js `_getCreateTableStmt`); it is told the table exists. `expire` is in
// milliseconds since the epoch; expired rows are deleted by the library's periodic clean-up.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
    t.index(['expire']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
}
