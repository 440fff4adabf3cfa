import type { Knex } from 'knex';

// Password reset by a one-time code (src/recovery/): one row per code sent. The code itself is
// never stored, only its HMAC under a platform key, so a copy of the table does not let anyone
// reset a password. The outbox learns an `sms` channel for codes to mobile numbers.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('password_resets', (t) => {
    t.uuid('id').primary();
    // The codes go with the account.
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    // HMAC-SHA256 of `<id>:<code>`, base64url.
    t.text('code_hash').notNullable();
    // Wrong codes tried against this row; at the limit it can no longer be used.
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    // Set when the code was used, or when a later code or a password change made it void.
    t.timestamp('ended_at', { useTz: true });
    t.index(['account_id', 'created_at']);
    t.index(['expires_at']);
  });
  await replaceChannelCheck(knex, ['log', 'email', 'sms']);
}

export async function down(knex: Knex): Promise<void> {
  await knex('notification_outbox').where({ channel: 'sms' }).delete();
  await replaceChannelCheck(knex, ['log', 'email']);
  await knex.schema.dropTable('password_resets');
}

/** Replaces the outbox's CHECK on `channel` (knex named it when 005 created the table). */
async function replaceChannelCheck(knex: Knex, channels: string[]): Promise<void> {
  const { rows } = await knex.raw<{ rows: Array<{ conname: string }> }>(
    `SELECT conname FROM pg_constraint
      WHERE conrelid = 'notification_outbox'::regclass AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%channel%' AND pg_get_constraintdef(oid) NOT LIKE '%recipient%'`,
  );
  for (const { conname } of rows) await knex.raw('ALTER TABLE notification_outbox DROP CONSTRAINT ??', [conname]);
  // DDL takes no bind parameters; the channels are this file's own constants.
  const list = channels.map((channel) => `'${channel}'`).join(', ');
  await knex.raw(
    `ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_channel CHECK (channel IN (${list}))`,
  );
}
