import type { PgMigration } from "./pg-migration.js";

/**
 * The audit log on PostgreSQL: ONE global chain for every replica, ordered by the store. `latch_append` runs
 * the whole append in one round trip: it locks the head row, chains and hashes each event (the same hash as
 * src/audit/event-hash.ts: SHA-256 over the UTF-8 of `[prevHash,seq,ts,kind,sessionId,data]`, with `data`
 * the client's canonical JSON text, stored byte for byte), inserts the events, keeps the sessions index and
 * moves the head, all in the caller's transaction. The head row lock is held only for that function, never
 * across a network round trip, so replicas' group commits queue behind each other for microseconds.
 * Verification recomputes every hash in the gateway (src/audit/event-hash.ts), not with this function.
 */
export const PG_AUDIT_SCHEMA: PgMigration = {
  name: "audit log: events, chain head, sessions index, latch_append",
  sql: `
CREATE TABLE latch_audit_events (
  seq        bigint PRIMARY KEY,
  ts         text   NOT NULL,
  kind       text   NOT NULL,
  session_id text,
  data       text   NOT NULL,
  prev_hash  text   NOT NULL,
  hash       text   NOT NULL
);
CREATE INDEX latch_audit_events_by_session ON latch_audit_events (session_id, seq);
CREATE INDEX latch_audit_events_by_kind ON latch_audit_events (kind, seq);

CREATE TABLE latch_chain_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint  NOT NULL,
  hash text    NOT NULL
);
INSERT INTO latch_chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

-- Derived from session_start / operation / session_end events, in the same transaction as the event.
CREATE TABLE latch_sessions (
  id             text   PRIMARY KEY,
  protocol       text   NOT NULL,
  connection     text   NOT NULL,
  subject        text   NOT NULL,
  groups         jsonb  NOT NULL,
  client_address text   NOT NULL,
  started_at     text   NOT NULL,
  ended_at       text,
  end_reason     text,
  operations     bigint NOT NULL DEFAULT 0,
  denied         bigint NOT NULL DEFAULT 0
);
CREATE INDEX latch_sessions_by_start ON latch_sessions (started_at);
CREATE INDEX latch_sessions_by_subject ON latch_sessions (subject, started_at);

-- /healthz writes here to prove the store is writable without touching the chain.
CREATE TABLE latch_health_check (id integer PRIMARY KEY CHECK (id = 1), checked_at timestamptz NOT NULL);
INSERT INTO latch_health_check (id, checked_at) VALUES (1, now());

CREATE FUNCTION latch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'latch: % on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME;
END
$fn$;
CREATE TRIGGER latch_audit_events_append_only BEFORE UPDATE OR DELETE ON latch_audit_events
  FOR EACH ROW EXECUTE FUNCTION latch_refuse_change();
CREATE TRIGGER latch_audit_events_no_truncate BEFORE TRUNCATE ON latch_audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION latch_refuse_change();
CREATE TRIGGER latch_chain_head_forward_only BEFORE UPDATE ON latch_chain_head
  FOR EACH ROW WHEN (NEW.seq <= OLD.seq) EXECUTE FUNCTION latch_refuse_change();
CREATE TRIGGER latch_chain_head_no_delete BEFORE DELETE ON latch_chain_head
  FOR EACH ROW EXECUTE FUNCTION latch_refuse_change();

CREATE FUNCTION latch_json_string(p_body jsonb, p_key text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF jsonb_typeof(p_body -> p_key) IS DISTINCT FROM 'string' THEN
    RAISE EXCEPTION 'latch: session_start data.% must be a string', p_key;
  END IF;
  RETURN p_body ->> p_key;
END
$fn$;

CREATE FUNCTION latch_append(p_ts text, p_kinds text[], p_session_ids text[], p_data text[])
RETURNS TABLE (head_seq bigint, head_hash text)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_seq  bigint;
  v_hash text;
  v_prev text;
  v_body jsonb;
  i      integer;
BEGIN
  SELECT h.seq, h.hash INTO v_seq, v_hash FROM latch_chain_head h WHERE h.id = 1 FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
    v_prev := v_hash;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(
      '[' || to_json(v_prev)::text || ',' || v_seq::text || ',' || to_json(p_ts)::text || ',' ||
      to_json(p_kinds[i])::text || ',' || coalesce(to_json(p_session_ids[i])::text, 'null') || ',' ||
      p_data[i] || ']', 'UTF8')), 'hex');
    INSERT INTO latch_audit_events (seq, ts, kind, session_id, data, prev_hash, hash)
      VALUES (v_seq, p_ts, p_kinds[i], p_session_ids[i], p_data[i], v_prev, v_hash);

    IF p_kinds[i] = 'session_start' THEN
      IF p_session_ids[i] IS NULL THEN
        RAISE EXCEPTION 'latch: a session_start event needs a sessionId';
      END IF;
      v_body := p_data[i]::jsonb;
      IF v_body ? 'groups' AND (jsonb_typeof(v_body -> 'groups') <> 'array' OR EXISTS (
          SELECT 1 FROM jsonb_array_elements(v_body -> 'groups') g WHERE jsonb_typeof(g) <> 'string')) THEN
        RAISE EXCEPTION 'latch: session_start data.groups must be an array of strings';
      END IF;
      INSERT INTO latch_sessions (id, protocol, connection, subject, groups, client_address, started_at)
        VALUES (p_session_ids[i], latch_json_string(v_body, 'protocol'), latch_json_string(v_body, 'connection'),
                latch_json_string(v_body, 'subject'), coalesce(v_body -> 'groups', '[]'::jsonb),
                latch_json_string(v_body, 'clientAddress'), p_ts);
    ELSIF p_kinds[i] = 'session_end' AND p_session_ids[i] IS NOT NULL THEN
      v_body := p_data[i]::jsonb;
      UPDATE latch_sessions
         SET ended_at = p_ts,
             end_reason = CASE WHEN jsonb_typeof(v_body -> 'reason') = 'string' THEN v_body ->> 'reason' END
       WHERE id = p_session_ids[i] AND ended_at IS NULL;
    ELSIF p_kinds[i] = 'operation' AND p_session_ids[i] IS NOT NULL THEN
      v_body := p_data[i]::jsonb;
      UPDATE latch_sessions
         SET operations = operations + 1,
             denied = denied + CASE WHEN jsonb_typeof(v_body -> 'verdict') = 'object'
                                     AND v_body -> 'verdict' -> 'decision' = '"deny"'::jsonb THEN 1 ELSE 0 END
       WHERE id = p_session_ids[i];
    END IF;
  END LOOP;
  IF coalesce(array_length(p_kinds, 1), 0) > 0 THEN
    UPDATE latch_chain_head SET seq = v_seq, hash = v_hash WHERE id = 1;
  END IF;
  RETURN QUERY SELECT v_seq, v_hash;
END
$fn$;
`,
};
