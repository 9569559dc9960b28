/**
 * Migration: queue events (core/queue-events.ts) across processes. Statement triggers on
 * `messages` read what each statement changed (its transition tables), and `report` its progress;
 * they send the events as NOTIFY `e:[…]` on the schema's channel, at most ~7 KB a notification (NOTIFY refuses
 * a payload of 8,000 bytes or more, failing the statement: a `failed` event's error message is cut
 * to 1,000 characters, so one event always fits, and chunks are measured in bytes); PostgreSQL
 * delivers them at commit, in commit order, so per message they arrive in the order made.
 * Nobody listening costs one read of `events_wanted` per statement: a process with listeners
 * keeps its `until` in the future (postgres-store.ts). A nack says what it was (release or not)
 * in a transaction-local setting, since its two statements alone cannot tell a release from a retry.
 */
export function migrationEvents(s: string, channel: string): string {
  const lit = `'${channel}'`;
  return String.raw/* sql */ `
CREATE TABLE ${s}.events_wanted (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  until bigint NOT NULL
);
INSERT INTO ${s}.events_wanted (until) VALUES (0);

CREATE FUNCTION ${s}.events_on() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT until > ${s}.now_ms() FROM ${s}.events_wanted
$$;

-- Sends events (JSON texts, in order) in notifications of at most ~7,000 bytes (not characters:
-- the 8,000-byte limit counts bytes, and error messages or progress may hold multi-byte ones).
CREATE FUNCTION ${s}.send_events(p_events text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_chunk text := ''; v_event text;
BEGIN
  IF p_events IS NULL THEN RETURN; END IF;
  FOREACH v_event IN ARRAY p_events LOOP
    -- An event too long alone (a progress value jsonb writes out longer than it came: 1e300 is 301
    -- digits) goes without its value, rather than failing the statement that made the change.
    IF octet_length(v_event) > 7000 THEN v_event := (v_event::jsonb - 'progress')::text; END IF;
    IF octet_length(v_chunk) + octet_length(v_event) > 7000 AND v_chunk <> '' THEN
      PERFORM pg_notify(${lit}, 'e:[' || v_chunk || ']');
      v_chunk := '';
    END IF;
    v_chunk := CASE WHEN v_chunk = '' THEN v_event ELSE v_chunk || ',' || v_event END;
  END LOOP;
  IF v_chunk <> '' THEN PERFORM pg_notify(${lit}, 'e:[' || v_chunk || ']'); END IF;
END $$;

-- New rows: a publish, a dead-letter copy, a schedule's fire.
CREATE FUNCTION ${s}.events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ${s}.events_on() THEN RETURN NULL; END IF;
  PERFORM ${s}.send_events(ARRAY(
    SELECT json_build_object('type', 'published', 'queue', n.queue, 'id', n.id, 'at', n.published_at, 'availableAt', n.available_at)::text
    FROM new_rows n ORDER BY n.seq));
  RETURN NULL;
END $$;

-- State changes: leased (active), a failed attempt then its retry or death, a release, a death
-- while waiting (TTL, overflow), a replay.
CREATE FUNCTION ${s}.events_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE v_now bigint; v_release boolean;
BEGIN
  IF NOT ${s}.events_on() THEN RETURN NULL; END IF;
  v_now := ${s}.now_ms();
  v_release := coalesce(current_setting('spool.nack', true), '') = 'release';
  PERFORM ${s}.send_events(ARRAY(
    SELECT e.ev::text FROM old_rows o JOIN new_rows n ON n.id = o.id,
      LATERAL (
        SELECT 1 AS k, json_build_object('type', 'active', 'queue', n.queue, 'id', n.id, 'at', v_now, 'attempt', n.attempt, 'leaseUntil', n.lease_until) AS ev
          WHERE o.state <> 2 AND n.state = 2
        UNION ALL
        SELECT 1, json_build_object('type', 'released', 'queue', n.queue, 'id', n.id, 'at', v_now, 'availableAt', n.available_at)
          WHERE o.state = 2 AND n.state <> 2 AND v_release
        UNION ALL
        -- 1,000 characters are at most ~6,000 bytes as JSON (\u001b escapes): the event fits a notification.
        SELECT 1, json_build_object('type', 'failed', 'queue', n.queue, 'id', n.id, 'at', v_now, 'attempt', n.attempt,
            'error', n.last_error || jsonb_build_object('message', left(n.last_error->>'message', 1000)))
          WHERE o.state = 2 AND n.state <> 2 AND NOT v_release
        UNION ALL
        SELECT 2, json_build_object('type', 'retry', 'queue', n.queue, 'id', n.id, 'at', v_now, 'attempt', n.attempt, 'availableAt', n.available_at)
          WHERE o.state = 2 AND n.state IN (0, 1, 3) AND NOT v_release
        UNION ALL
        SELECT 2, json_build_object('type', 'dead', 'queue', n.queue, 'id', n.id, 'at', v_now, 'reason', n.dead_reason, 'attempt', n.attempt)
          WHERE o.state <> 4 AND n.state = 4
        UNION ALL
        SELECT 1, json_build_object('type', 'replayed', 'queue', n.queue, 'id', n.id, 'at', v_now)
          WHERE o.state = 4 AND n.state <> 4
      ) e
    ORDER BY n.seq, n.id, e.k));
  RETURN NULL;
END $$;

-- Deleted leased rows are acks (a deleted queue's rows go after its queues row: not counted).
CREATE FUNCTION ${s}.events_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE v_now bigint;
BEGIN
  IF NOT ${s}.events_on() THEN RETURN NULL; END IF;
  v_now := ${s}.now_ms();
  PERFORM ${s}.send_events(ARRAY(
    SELECT json_build_object('type', 'completed', 'queue', o.queue, 'id', o.id, 'at', v_now, 'attempt', o.attempt)::text
    FROM old_rows o WHERE o.state = 2 AND EXISTS (SELECT 1 FROM ${s}.queues q WHERE q.name = o.queue) ORDER BY o.seq));
  RETURN NULL;
END $$;

CREATE TRIGGER messages_events_inserted AFTER INSERT ON ${s}.messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.events_inserted();
CREATE TRIGGER messages_events_updated AFTER UPDATE ON ${s}.messages
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.events_updated();
CREATE TRIGGER messages_events_deleted AFTER DELETE ON ${s}.messages
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.events_deleted();

-- report as before, sending a progress event for every progress it reports (a trigger on stories
-- could only tell a changed value, and would miss the same value reported again, as the engine sends).
CREATE OR REPLACE FUNCTION ${s}.report(p_id text, p_token text, p_progress jsonb, p_lines text[], p_max_lines int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v_now bigint := ${s}.now_ms(); v_queue text;
BEGIN
  SELECT queue INTO v_queue FROM ${s}.messages WHERE id = p_id AND lease_token = p_token AND state = 2 AND lease_until > v_now FOR UPDATE;
  IF NOT FOUND THEN RETURN false; END IF;
  INSERT INTO ${s}.stories AS st (id, progress, log)
    VALUES (p_id, p_progress, CASE WHEN p_lines IS NULL THEN NULL ELSE ${s}.append_log(NULL, p_lines, v_now, p_max_lines) END)
    ON CONFLICT (id) DO UPDATE SET progress = coalesce(EXCLUDED.progress, st.progress),
      log = CASE WHEN p_lines IS NULL THEN st.log ELSE ${s}.append_log(st.log, p_lines, v_now, p_max_lines) END;
  IF p_progress IS NOT NULL AND ${s}.events_on() THEN
    PERFORM ${s}.send_events(ARRAY[json_build_object('type', 'progress', 'queue', v_queue, 'id', p_id, 'at', v_now, 'progress', p_progress)::text]);
  END IF;
  RETURN true;
END $$;

-- apply_nack as before, telling the triggers whether it is a release.
CREATE OR REPLACE FUNCTION ${s}.apply_nack(p_id text, p_action text, p_available_at bigint, p_reason text, p_error jsonb, p_attempt int, p_now bigint)
RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE v_queue text; v_state smallint;
BEGIN
  PERFORM set_config('spool.nack', p_action, true);
  IF p_action = 'dead' THEN
    SELECT queue INTO v_queue FROM ${s}.messages WHERE id = p_id;
    IF ${s}.kill(p_id, p_reason, p_error, p_now) THEN PERFORM ${s}.wake(v_queue); END IF;
    PERFORM set_config('spool.nack', '', true);
    RETURN 4;
  END IF;
  UPDATE ${s}.messages SET attempt = coalesce(p_attempt, attempt), last_error = coalesce(p_error, last_error)
    WHERE id = p_id RETURNING queue INTO v_queue;
  IF p_action = 'retry' THEN PERFORM ${s}.count_totals(v_queue, 0, 0, 1, 0); END IF;
  v_state := ${s}.reschedule(p_id, p_available_at, p_now);
  PERFORM ${s}.wake(v_queue);
  PERFORM set_config('spool.nack', '', true);
  RETURN v_state;
END $$;
`;
}
