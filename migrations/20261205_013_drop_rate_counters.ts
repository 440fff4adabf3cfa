import type { Knex } from 'knex';

// rate_counters held the fixed-window counters of the first per-client limits. Since migration 010
// every limit lives in rate_limits (rate-limiter-flexible's table), and nothing reads or writes
// rate_counters any more; its rows were short-lived windows, so nothing of value goes with it.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_counters');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_counters', (t) => {
    t.text('key').notNullable();
    t.bigInteger('window').notNullable();
    t.integer('count').notNullable();
    t.primary(['key', 'window']);
  });
}
