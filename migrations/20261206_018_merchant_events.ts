import type { Knex } from 'knex';

// Security Event Tokens pushed to merchants (RFC 8417, RFC 8935; src/merchant-events/): the outbox
// learns a `set` channel. Each row carries one signed SET (only the pairwise subject the merchant
// already knows) and the merchant's events endpoint as its recipient, queued in the transaction of
// the grant change it reports, so it is sent exactly when that change took effect.

const CHANNELS_BEFORE = ['log', 'email', 'sms'];

export async function up(knex: Knex): Promise<void> {
  await replaceChannelCheck(knex, [...CHANNELS_BEFORE, 'set']);
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
