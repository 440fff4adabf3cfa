import type { Knex } from 'knex';

// The audit trail: an append-only event log hashed into an RFC 6962 Merkle tree, the tree's
// stored subtree hashes, and its signed heads. None of the three tables can be changed or emptied:
// triggers refuse UPDATE, DELETE and TRUNCATE, and the privileges are revoked as well. Tree heads
// are meant to be copied outside the database, since a superuser can bypass both.

const PROTECTED = ['audit_events', 'audit_nodes', 'audit_tree_heads'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (t) => {
    // The leaf index: 0, 1, 2, ... without gaps, assigned under the append lock.
    t.bigInteger('leaf_index').primary();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.text('type').notNullable();
    t.text('actor_type').notNullable();
    t.text('actor_id');
    // Subjects, copied out of the leaf to be searchable: the account, the natural person (blind
    // index of the document, hex) and the merchant or notary client the event concerns.
    t.text('account_id');
    t.text('person_index');
    t.text('client_id');
    // The RFC 8785 canonical JSON of the event, exactly the bytes that were hashed.
    t.text('leaf').notNullable();
    t.binary('leaf_hash').notNullable();
  });
  await knex.raw(
    'CREATE INDEX audit_events_account ON audit_events (account_id, leaf_index) WHERE account_id IS NOT NULL',
  );
  await knex.raw(
    'CREATE INDEX audit_events_person ON audit_events (person_index, leaf_index) WHERE person_index IS NOT NULL',
  );
  await knex.raw(
    'CREATE INDEX audit_events_client ON audit_events (client_id, leaf_index) WHERE client_id IS NOT NULL',
  );
  await knex.raw('CREATE INDEX audit_events_type ON audit_events (type, leaf_index)');
  await knex.raw('CREATE INDEX audit_events_created ON audit_events (created_at, leaf_index)');

  // Perfect subtrees: node (level, idx) is the hash of leaves [idx·2^level, (idx+1)·2^level).
  // Level 0 holds the leaf hashes. A proof or root at any size needs O(log n) of these rows.
  await knex.schema.createTable('audit_nodes', (t) => {
    t.smallint('level').notNullable();
    t.bigInteger('idx').notNullable();
    t.binary('hash').notNullable();
    t.primary(['level', 'idx']);
  });

  await knex.schema.createTable('audit_tree_heads', (t) => {
    t.bigInteger('tree_size').primary();
    t.binary('root_hash').notNullable();
    // Milliseconds since the epoch, as signed.
    t.bigInteger('timestamp').notNullable();
    t.text('kid').notNullable();
    // Compact JWS over the canonical JSON of {tree_size, root_hash, timestamp}.
    t.text('signature').notNullable();
    // The same head as a C2SP checkpoint (signed note), when one was made.
    t.text('checkpoint');
  });

  await knex.raw(`
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`);
  // A leaf must be the next index and its stored hash must be SHA-256(0x00 || leaf).
  await knex.raw(`
    CREATE FUNCTION audit_check_leaf() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.leaf_hash <> sha256('\\x00'::bytea || convert_to(NEW.leaf, 'UTF8')) THEN
        RAISE EXCEPTION 'audit leaf % does not match its hash', NEW.leaf_index USING ERRCODE = 'check_violation';
      END IF;
      IF NEW.leaf_index <> (SELECT coalesce(max(leaf_index) + 1, 0) FROM audit_events) THEN
        RAISE EXCEPTION 'audit leaf % is not the next index', NEW.leaf_index USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(
    'CREATE TRIGGER audit_events_check BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_check_leaf()',
  );
  for (const table of PROTECTED) {
    await knex.raw(
      `CREATE TRIGGER ${table}_no_change BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()`,
    );
    await knex.raw(
      `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()`,
    );
    await knex.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM PUBLIC`);
    await knex.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM CURRENT_USER`);
  }
}

export async function down(): Promise<void> {
  throw new Error('The audit trail cannot be rolled back: it is append-only evidence.');
}
