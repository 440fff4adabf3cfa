import type { Knex } from 'knex';

// The audit trail's write path: a queue that writers fill without waiting for each other, and an
// integrator that turns queued events into leaves of the Merkle tree (docs/architecture.md).
//
// audit_queue: the transaction of every state change inserts its events here, so the event
// commits with the change or not at all, and takes no lock: writers never queue behind each
// other's commits. A row holds the leaf's canonical JSON split around its leaf_index value (the
// TypeScript side builds the halves, see AuditLog.append) and the columns searches use. Rows are
// never changed; only audit_integrate removes them, as it makes them leaves.
//
// audit_integrate(limit) takes the append lock (pg_advisory_xact_lock(0x61756469), held to commit,
// so integrations never interleave), removes up to `limit` committed rows in queue order and
// appends them with audit_append, in one transaction: an event is in the queue or in the tree,
// never in both or neither. Returns how many it integrated.
//
// audit_append(times, heads, tails, types, actor_types, actor_ids, accounts, persons, clients)
// appends one leaf per array element (all arrays the same length, in leaf order) and returns the
// index of the first; the others follow without gaps. Under the append lock it:
//   1. reads the next leaf index (the lock is held to commit, so an integration that got it before
//      has committed, and each statement of a VOLATILE function takes a fresh snapshot in READ
//      COMMITTED: max(leaf_index) sees its leaves);
//   2. inserts each leaf as heads[i] || (start + i - 1) || tails[i], the leaf's canonical JSON with
//      its leaf_index spliced in, with leaf_hash = SHA-256(0x00 || leaf), exactly what the
//      audit_check_leaf trigger verifies, and created_at = times[i];
//   3. inserts every perfect-subtree node the new leaves complete, node = SHA-256(0x01 || l || r),
//      reading at most one stored left sibling a level (the same walk as merkle.ts's
//      completedNodes, level 0 holding the leaf hashes).
// The triggers of 20261123_002 still check every leaf; nothing here bypasses them.

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_queue', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.text('head').notNullable();
    t.text('tail').notNullable();
    t.text('type').notNullable();
    t.text('actor_type').notNullable();
    t.text('actor_id');
    t.text('account_id');
    t.text('person_index');
    t.text('client_id');
  });
  // Queued events are evidence too: never changed, never truncated, removed only by
  // audit_integrate's own DELETE, as the call stack says (PG_CONTEXT names the functions running,
  // not anything a session can set; a session flag could be set by anyone).
  await knex.raw(`
    CREATE FUNCTION audit_queue_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_context text;
    BEGIN
      IF TG_OP = 'DELETE' THEN
        GET DIAGNOSTICS v_context = PG_CONTEXT;
        IF v_context ~ '(^|\\n)PL/pgSQL function audit_integrate\\(integer\\) line \\d+ at SQL statement' THEN
          RETURN OLD;
        END IF;
      END IF;
      RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`);
  await knex.raw(
    'CREATE TRIGGER audit_queue_no_change BEFORE UPDATE OR DELETE ON audit_queue FOR EACH ROW EXECUTE FUNCTION audit_queue_guard()',
  );
  await knex.raw(
    'CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue FOR EACH STATEMENT EXECUTE FUNCTION audit_queue_guard()',
  );
  // Dead rows slow every integration down (see src/audit/store.ts vacuumQueue): autovacuum acts
  // on a fixed number of them, not on a share of a table that is nearly always empty.
  await knex.raw(
    'ALTER TABLE audit_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000)',
  );
  await knex.raw('REVOKE UPDATE, TRUNCATE ON audit_queue FROM PUBLIC');
  await knex.raw('REVOKE UPDATE, TRUNCATE ON audit_queue FROM CURRENT_USER');

  await knex.raw(`
    CREATE FUNCTION audit_append(
      p_times timestamptz[],
      p_heads text[],
      p_tails text[],
      p_types text[],
      p_actor_types text[],
      p_actor_ids text[],
      p_accounts text[],
      p_persons text[],
      p_clients text[]
    ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      v_count int := coalesce(array_length(p_heads, 1), 0);
      v_start bigint;
      v_level smallint := 0;
      v_first bigint;
      v_len int;
      v_right bigint;
      v_left bytea;
      v_row bytea[];
      v_parents bytea[];
      v_k int;
      v_m int := 0;
      v_node_levels smallint[] := '{}';
      v_node_idxs bigint[] := '{}';
      v_node_hashes bytea[] := '{}';
    BEGIN
      IF coalesce(array_length(p_times, 1), 0) <> v_count OR coalesce(array_length(p_tails, 1), 0) <> v_count
        OR coalesce(array_length(p_types, 1), 0) <> v_count
        OR coalesce(array_length(p_actor_types, 1), 0) <> v_count OR coalesce(array_length(p_actor_ids, 1), 0) <> v_count
        OR coalesce(array_length(p_accounts, 1), 0) <> v_count OR coalesce(array_length(p_persons, 1), 0) <> v_count
        OR coalesce(array_length(p_clients, 1), 0) <> v_count THEN
        RAISE EXCEPTION 'audit_append: the arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
      END IF;

      PERFORM pg_advisory_xact_lock(1635083369); -- 0x61756469, "audi"
      SELECT coalesce(max(leaf_index) + 1, 0) INTO v_start FROM audit_events;
      IF v_count = 0 THEN
        RETURN v_start;
      END IF;

      -- The leaves, in index order (the trigger requires each to be the next index).
      WITH inserted AS (
        INSERT INTO audit_events (leaf_index, created_at, type, actor_type, actor_id, account_id, person_index, client_id, leaf, leaf_hash)
        SELECT e.leaf_index, e.created_at, e.type, e.actor_type, e.actor_id, e.account_id, e.person_index, e.client_id,
               e.leaf, sha256('\\x00'::bytea || convert_to(e.leaf, 'UTF8'))
        FROM (
          SELECT s.i,
                 v_start + s.i - 1 AS leaf_index,
                 p_times[s.i] AS created_at,
                 p_heads[s.i] || (v_start + s.i - 1)::text || p_tails[s.i] AS leaf,
                 p_types[s.i] AS type, p_actor_types[s.i] AS actor_type, p_actor_ids[s.i] AS actor_id,
                 p_accounts[s.i] AS account_id, p_persons[s.i] AS person_index, p_clients[s.i] AS client_id
          FROM generate_series(1, v_count) AS s(i)
        ) e
        ORDER BY e.i
        RETURNING audit_events.leaf_index, audit_events.leaf_hash
      )
      SELECT array_agg(inserted.leaf_hash ORDER BY inserted.leaf_index) INTO v_row FROM inserted;

      -- v_row holds the new nodes of level v_level, indices v_first .. v_first + v_len - 1. A
      -- parent completes exactly when its right child (an odd index) is new; its left child is new
      -- too, or (only for the first) a stored node.
      v_first := v_start;
      LOOP
        v_len := coalesce(array_length(v_row, 1), 0);
        EXIT WHEN v_len = 0;
        FOR i IN 1..v_len LOOP
          v_m := v_m + 1;
          v_node_levels[v_m] := v_level;
          v_node_idxs[v_m] := v_first + i - 1;
          v_node_hashes[v_m] := v_row[i];
        END LOOP;
        v_parents := '{}';
        v_k := 0;
        v_right := CASE WHEN v_first % 2 = 1 THEN v_first ELSE v_first + 1 END;
        WHILE v_right < v_first + v_len LOOP
          IF v_right - 1 >= v_first THEN
            v_left := v_row[(v_right - v_first)::int];
          ELSE
            SELECT n.hash INTO v_left FROM audit_nodes n WHERE n.level = v_level AND n.idx = v_right - 1;
            IF NOT FOUND THEN
              RAISE EXCEPTION 'Merkle node (%, %) is not stored', v_level, v_right - 1 USING ERRCODE = 'data_corrupted';
            END IF;
          END IF;
          v_k := v_k + 1;
          v_parents[v_k] := sha256('\\x01'::bytea || v_left || v_row[(v_right - v_first + 1)::int]);
          v_right := v_right + 2;
        END LOOP;
        v_level := v_level + 1;
        v_first := v_first / 2;
        v_row := v_parents;
      END LOOP;

      INSERT INTO audit_nodes (level, idx, hash)
      SELECT * FROM unnest(v_node_levels, v_node_idxs, v_node_hashes);
      RETURN v_start;
    END $$`);

  await knex.raw(`
    CREATE FUNCTION audit_integrate(p_limit int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      v_times timestamptz[];
      v_heads text[];
      v_tails text[];
      v_types text[];
      v_actor_types text[];
      v_actor_ids text[];
      v_accounts text[];
      v_persons text[];
      v_clients text[];
    BEGIN
      PERFORM pg_advisory_xact_lock(1635083369); -- 0x61756469, "audi"
      WITH taken AS (
        DELETE FROM audit_queue q
        USING (SELECT id FROM audit_queue ORDER BY id LIMIT p_limit) s
        WHERE q.id = s.id
        RETURNING q.*
      )
      SELECT array_agg(t.created_at ORDER BY t.id), array_agg(t.head ORDER BY t.id), array_agg(t.tail ORDER BY t.id),
             array_agg(t.type ORDER BY t.id), array_agg(t.actor_type ORDER BY t.id), array_agg(t.actor_id ORDER BY t.id),
             array_agg(t.account_id ORDER BY t.id), array_agg(t.person_index ORDER BY t.id), array_agg(t.client_id ORDER BY t.id)
        INTO v_times, v_heads, v_tails, v_types, v_actor_types, v_actor_ids, v_accounts, v_persons, v_clients
        FROM taken t;
      IF v_heads IS NULL THEN
        RETURN 0;
      END IF;
      PERFORM audit_append(v_times, v_heads, v_tails, v_types, v_actor_types, v_actor_ids, v_accounts, v_persons, v_clients);
      RETURN array_length(v_heads, 1);
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION audit_integrate(int)');
  await knex.raw(
    'DROP FUNCTION audit_append(timestamptz[], text[], text[], text[], text[], text[], text[], text[], text[])',
  );
  await knex.schema.dropTable('audit_queue');
  await knex.raw('DROP FUNCTION audit_queue_guard()');
}
