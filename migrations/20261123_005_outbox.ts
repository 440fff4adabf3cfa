import type { Knex } from 'knex';

// Notification outbox: reminders are queued in the database (in the caller's transaction) and
// delivered later by Outbox.deliver(), so a mail server outage never loses or blocks one.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notification_outbox', (t) => {
    t.uuid('id').primary();
    // Reminders die with the account: nobody is left to remind, and erasure must not be blocked.
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('channel').notNullable().checkIn(['log', 'email']);
    // An email address for 'email'; empty for 'log'.
    t.text('recipient').notNullable().defaultTo('');
    // e.g. verification.missing | verification.failed | verification.expiring
    t.text('template').notNullable();
    // Rendering parameters only (locale, expires_at), never identity data.
    t.jsonb('params').notNullable().defaultTo('{}');
    // Queues a reminder once per period, e.g. verification.expiring:<account>:<yyyy-mm>.
    t.text('dedupe_key').notNullable().unique();
    t.text('status').notNullable().defaultTo('pending').checkIn(['pending', 'sent', 'failed']);
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('sent_at', { useTz: true });
    // Due time of the next attempt; while a worker holds a message it is the end of its lease.
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'next_attempt_at']);
    t.index(['account_id']);
  });
  await knex.raw(
    `ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_email_recipient CHECK (channel <> 'email' OR recipient <> '')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notification_outbox');
}
