import type { Knex } from 'knex';

// The person's security log and the sessions they can see and end (src/security/). Kept apart
// from the audit trail: these rows hold addresses and device names, are pruned after their
// retention and go with the account; the audit trail is evidence of grants and never changes.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('security_events', (t) => {
    t.bigIncrements('id').primary();
    // Null for a failed sign-in with a login no account has: the operator still sees the address.
    t.uuid('account_id');
    t.text('kind').notNullable();
    t.text('ip');
    t.text('device');
    t.jsonb('detail');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'at']);
    t.index(['at']);
  });

  // One row per oidc-provider Session (by its uid, which is not the cookie value): what the
  // session list shows. The Session itself stays in oidc_payloads.
  await knex.schema.createTable('account_sessions', (t) => {
    t.text('uid').primary();
    t.uuid('account_id').notNullable();
    t.text('ip');
    t.text('device');
    t.jsonb('amr').notNullable();
    t.timestamp('signed_in_at', { useTz: true }).notNullable();
    t.timestamp('last_used_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true });
    t.index(['account_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_sessions');
  await knex.schema.dropTable('security_events');
}
