import type { Knex } from 'knex';

// An audit append in one statement, so one round trip while the append lock is held.
//
// audit_append(time, heads, tails, types, actor_types, actor_ids, accounts, persons, clients)
// appends one leaf per array element (all arrays the same length, in leaf order) and returns the
// index of the first; the others follow without gaps. Under the same transaction-scoped advisory
// lock the appends took before (pg_advisory_xact_lock(0x61756469), so instances running the
// previous code still serialize with this one) it:
//   1. reads the next leaf index (the lock is held to commit, so a writer that got it before us
//      has committed, and each statement of a VOLATILE function takes a fresh snapshot in READ
//      COMMITTED: max(leaf_index) sees its leaves);
//   2. inserts each leaf as heads[i] || (start + i - 1) || tails[i], the leaf's canonical JSON with
//      its leaf_index spliced in (the TypeScript side builds the two halves, see AuditLog.append),
//      with leaf_hash = SHA-256(0x00 || leaf), exactly what the audit_check_leaf trigger verifies;
//   3. inserts every perfect-subtree node the new leaves complete, node = SHA-256(0x01 || l || r),
//      reading at most one stored left sibling a level (the same walk as merkle.ts's
//      completedNodes, level 0 holding the leaf hashes).
// The triggers of 20261123_002 still check every leaf; nothing here bypasses them.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION audit_append(
      p_time timestamptz,
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
      IF coalesce(array_length(p_tails, 1), 0) <> v_count OR coalesce(array_length(p_types, 1), 0) <> v_count
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
        SELECT e.leaf_index, p_time, e.type, e.actor_type, e.actor_id, e.account_id, e.person_index, e.client_id,
               e.leaf, sha256('\\x00'::bytea || convert_to(e.leaf, 'UTF8'))
        FROM (
          SELECT s.i,
                 v_start + s.i - 1 AS leaf_index,
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
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION audit_append(timestamptz, text[], text[], text[], text[], text[], text[], text[], text[])');
}
