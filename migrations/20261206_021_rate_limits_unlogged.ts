import type { Knex } from 'knex';

// The rate limits' counts, where they are kept in the database (PostgreSQL without Redis), need
// no write-ahead log: every count was its own transaction waiting for a WAL flush while it held
// its key's row, so the requests of one client or address queued behind each other's fsync
// (measured with pgbench, 8 clients upserting 4 keys: 1,171/s logged, 7,376/s unlogged). An
// unlogged table is emptied after a crash, as the in-memory counts are at a restart, and is not
// copied to replicas, which count nothing.

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE rate_limits SET UNLOGGED');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE rate_limits SET LOGGED');
}
