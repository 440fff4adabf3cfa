import type { Knex } from 'knex';

// Security Event Tokens pushed to merchants (RFC 8417, RFC 8935; src/merchant-events/): the outbox
// learns a `set` channel. Each row carries one signed SET (only the pairwise subject the merchant
// already knows) and the merchant's events endpoint as its recipient, queued in the transaction of
// the grant change it reports, so it is sent exactly when that change took effect. A `set` row
// belongs to no account: closing an account deletes the account row, and what cascades from it
// must not take with it the SETs that tell merchants (the SET names the person only by the
// merchant's pairwise `sub`).

const CHANNELS_BEFORE = ['log', 'email', 'sms'];

export async function up(knex: Knex): Promise<void> {
  await replaceChannelCheck(knex, [...CHANNELS_BEFORE, 'set']);
  await knex.raw('ALTER TABLE notification_outbox ALTER COLUMN account_id DROP NOT NULL');
  await knex.raw(
    `ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_account CHECK (channel = 'set' OR account_id IS NOT NULL)`,
  );
  // The operator's view of failed deliveries (`events list --failed`) reads by channel and status.
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.index(['channel', 'status', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notification_outbox', (t) => {
    t.dropIndex(['channel', 'status', 'created_at']);
  });
  await knex('notification_outbox').where({ channel: 'set' }).delete();
  await knex.raw('ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_account');
  await knex.raw('ALTER TABLE notification_outbox ALTER COLUMN account_id SET NOT NULL');
  await replaceChannelCheck(knex, CHANNELS_BEFORE);
}

/** Replaces the outbox's CHECK on `channel` (named by migration 016). */
async function replaceChannelCheck(knex: Knex, channels: string[]): Promise<void> {
  await knex.raw('ALTER TABLE notification_outbox DROP CONSTRAINT IF EXISTS notification_outbox_channel');
  // DDL takes no bind parameters; the channels are this file's own constants.
  const list = channels.map((channel) => `'${channel}'`).join(', ');
  await knex.raw(
    `ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_channel CHECK (channel IN (${list}))`,
  );
}
