/**
 * Migration 1: the queue engine in SQL. Every store operation that must be atomic is one
 * function here, so it is one round trip and one transaction (or one more statement in the
 * caller's, for the outbox). The rules are the ones core/ decides (lifecycle.ts, overflow.ts,
 * retention.ts, rate-window.ts); where a rule is simple enough to apply inside a statement it is
 * mirrored here and named after its TypeScript twin, and the conformance suite holds both to it.
 *
 * Time is the database's: `now_ms()` is read once per function call and every deadline is
 * stamped and compared on it (store.ts, "Time has one owner").
 *
 * Message states (column `state`): 0 ready, 1 delayed, 2 leased, 3 waiting behind the active
 * message of its ordering group, 4 dead. A completed message leaves `messages` for `completed`
 * (its status, for the queue's retention), so the hot table holds live messages only.
 *
 * Ordering groups: a group's active message is its one ready/delayed/leased message; whoever
 * changes which message is active holds the group's advisory lock (`lock_group`), and the turn is
 * passed (`pass_turn`) after the active message's change, so a publish racing an ack never leaves
 * a waiting message with no active one.
 */
export function migration001(s: string, channel: string): string {
  const lockSeed = `'spool:' || ${literal(s)} || ':'`;
  return /* sql */ `
CREATE TABLE ${s}.queues (
  name text PRIMARY KEY,
  options jsonb NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  created_at bigint NOT NULL,
  created_seq bigint GENERATED ALWAYS AS IDENTITY
);

-- Totals are counters spread over shards (by backend) so concurrent acks do not queue on one row.
CREATE TABLE ${s}.queue_totals (
  queue text NOT NULL,
  shard int NOT NULL,
  published bigint NOT NULL DEFAULT 0,
  completed bigint NOT NULL DEFAULT 0,
  retried bigint NOT NULL DEFAULT 0,
  dead bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, shard)
);

CREATE SEQUENCE ${s}.message_seq;
CREATE SEQUENCE ${s}.dead_seq;

CREATE TABLE ${s}.messages (
  id text PRIMARY KEY,
  queue text NOT NULL,
  state smallint NOT NULL,
  priority smallint NOT NULL,
  -- Place in line within a priority: when the message became (or becomes) ready, then seq.
  ready_at bigint NOT NULL,
  seq bigint NOT NULL,
  published_at bigint NOT NULL,
  available_at bigint NOT NULL,
  expires_at bigint,
  ttl_ms bigint,
  attempt int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL,
  lease_token text,
  lease_until bigint,
  body text NOT NULL,
  headers jsonb,
  group_key text,
  dedup_key text,
  holds_dedup boolean NOT NULL DEFAULT false,
  correlation_id text,
  causation_id text,
  last_error jsonb,
  dead_reason text,
  dead_at bigint,
  dead_seq bigint
);
-- The next message to lease: per queue, highest priority first, FIFO within one.
CREATE INDEX messages_ready ON ${s}.messages (queue, priority DESC, ready_at, seq) WHERE state = 0;
-- What falls due, across queues (few rows are due at any moment, so a queue filter is cheap).
CREATE INDEX messages_delayed ON ${s}.messages (available_at) WHERE state = 1;
CREATE INDEX messages_leased ON ${s}.messages (lease_until) WHERE state = 2;
CREATE INDEX messages_ttl ON ${s}.messages (expires_at) WHERE state IN (0, 1, 3) AND expires_at IS NOT NULL;
-- Counts by state for stats, maxLength, purge. Not for state 0: a fresh table has no statistics,
-- and a planner that saw this index for "queue = $1 AND state = 0" would read and sort every
-- ready message of the queue to lease the first 64 (messages_ready gives them in order).
-- Not for state 2 either: a lease changes state 0 → 2, and every index the new row version
-- matches is one more write per leased message (messages_leased counts those).
CREATE INDEX messages_queue_state ON ${s}.messages (queue, state) WHERE state NOT IN (0, 2);
CREATE INDEX messages_group ON ${s}.messages (queue, group_key, seq) WHERE group_key IS NOT NULL;
CREATE UNIQUE INDEX messages_dedup ON ${s}.messages (queue, dedup_key) WHERE holds_dedup;
CREATE INDEX messages_dead ON ${s}.messages (queue, dead_seq) WHERE state = 4;

CREATE TABLE ${s}.completed (
  n bigint GENERATED ALWAYS AS IDENTITY,
  id text PRIMARY KEY,
  queue text NOT NULL,
  completed_at bigint NOT NULL,
  attempt int NOT NULL,
  max_attempts int NOT NULL,
  priority smallint NOT NULL,
  group_key text,
  published_at bigint NOT NULL,
  available_at bigint NOT NULL,
  correlation_id text,
  causation_id text
);
-- Both retention rules walk this one (sweep): every ack writes a completed row, so each index
-- on this table is one more write per message.
CREATE INDEX completed_by_queue ON ${s}.completed (queue, n);

CREATE TABLE ${s}.idempotency (
  queue text NOT NULL,
  key text NOT NULL,
  id text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (queue, key)
);
CREATE INDEX idempotency_expiry ON ${s}.idempotency (expires_at);

-- Leases granted on rate-limited queues, for the sliding window (core/rate-window.ts).
CREATE TABLE ${s}.rate_stamps (
  queue text NOT NULL,
  at bigint NOT NULL,
  count int NOT NULL
);
CREATE INDEX rate_stamps_by_queue ON ${s}.rate_stamps (queue, at);

CREATE TABLE ${s}.exchanges (
  name text PRIMARY KEY,
  type text NOT NULL,
  created_seq bigint GENERATED ALWAYS AS IDENTITY
);
CREATE TABLE ${s}.bindings (
  exchange text NOT NULL REFERENCES ${s}.exchanges (name) ON DELETE CASCADE,
  queue text NOT NULL,
  binding_key text NOT NULL,
  created_seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (exchange, queue, binding_key)
);

CREATE FUNCTION ${s}.now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;

CREATE FUNCTION ${s}.wake(p_queue text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify(${literal(channel)}, 'q:' || p_queue)
$$;

-- Something falls due at p_at: every process arms its timer for it.
CREATE FUNCTION ${s}.due_hint(p_at bigint) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify(${literal(channel)}, 'd:' || p_at)
$$;

CREATE FUNCTION ${s}.count_totals(p_queue text, p_published bigint, p_completed bigint, p_retried bigint, p_dead bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO ${s}.queue_totals (queue, shard, published, completed, retried, dead)
  VALUES (p_queue, pg_backend_pid() % 16, p_published, p_completed, p_retried, p_dead)
  ON CONFLICT (queue, shard) DO UPDATE SET
    published = ${s}.queue_totals.published + EXCLUDED.published,
    completed = ${s}.queue_totals.completed + EXCLUDED.completed,
    retried = ${s}.queue_totals.retried + EXCLUDED.retried,
    dead = ${s}.queue_totals.dead + EXCLUDED.dead
$$;

CREATE FUNCTION ${s}.lock_group(p_queue text, p_group text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended(${lockSeed} || 'group:' || p_queue || chr(1) || p_group, 0))
$$;

CREATE FUNCTION ${s}.lock_queue(p_queue text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended(${lockSeed} || 'queue:' || p_queue, 0))
$$;

-- A message waiting again (a retry, a replay) takes its dedupKey back unless a newer one holds it.
-- Under the queue's lock, as a publish decides keys under it: the two never both take the key.
CREATE FUNCTION ${s}.may_hold_dedup(p_id text, p_queue text, p_key text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF p_key IS NULL THEN RETURN false; END IF;
  PERFORM ${s}.lock_queue(p_queue);
  RETURN NOT EXISTS (SELECT 1 FROM ${s}.messages WHERE queue = p_queue AND dedup_key = p_key AND holds_dedup AND id <> p_id);
END $$;

-- Moves a live message to the dead letters, without passing its group's turn on.
CREATE FUNCTION ${s}.bury(p_id text, p_reason text, p_error jsonb, p_now bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_queue text;
BEGIN
  UPDATE ${s}.messages SET state = 4, dead_reason = p_reason, dead_at = p_now, dead_seq = nextval('${s}.dead_seq'),
    last_error = coalesce(p_error, last_error), lease_token = NULL, lease_until = NULL, holds_dedup = false
  WHERE id = p_id RETURNING queue INTO v_queue;
  PERFORM ${s}.count_totals(v_queue, 0, 0, 0, 1);
  PERFORM ${s}.dead_letter(p_id, v_queue, p_reason, p_now); -- dead-letter routing, below
END $$;

-- The group's turn passes to its oldest waiting message once no message of it is active
-- (core/lifecycle.ts passesGroupTurn). Waiting messages whose TTL ran out go dead on the way.
CREATE FUNCTION ${s}.pass_turn(p_queue text, p_group text, p_now bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v_next record;
BEGIN
  PERFORM ${s}.lock_group(p_queue, p_group);
  IF EXISTS (SELECT 1 FROM ${s}.messages WHERE queue = p_queue AND group_key = p_group AND state IN (0, 1, 2)) THEN
    RETURN false;
  END IF;
  LOOP
    SELECT id, expires_at, available_at, dedup_key, holds_dedup INTO v_next FROM ${s}.messages
      WHERE queue = p_queue AND group_key = p_group AND state = 3 ORDER BY seq LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
    IF v_next.expires_at IS NOT NULL AND v_next.expires_at <= p_now THEN
      PERFORM ${s}.bury(v_next.id, 'expired', NULL, p_now);
      CONTINUE;
    END IF;
    UPDATE ${s}.messages SET
      state = CASE WHEN available_at > p_now THEN 1 ELSE 0 END,
      ready_at = greatest(available_at, p_now), seq = nextval('${s}.message_seq'),
      holds_dedup = holds_dedup OR ${s}.may_hold_dedup(id, queue, dedup_key)
    WHERE id = v_next.id;
    IF v_next.available_at > p_now THEN PERFORM ${s}.due_hint(v_next.available_at); END IF;
    RETURN v_next.available_at <= p_now;
  END LOOP;
END $$;

-- Kills a live message and passes its group's turn on if it was the active one. Returns whether a message became ready.
CREATE FUNCTION ${s}.kill(p_id text, p_reason text, p_error jsonb, p_now bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v_row record;
BEGIN
  SELECT queue, group_key, state INTO v_row FROM ${s}.messages WHERE id = p_id;
  PERFORM ${s}.bury(p_id, p_reason, p_error, p_now);
  IF v_row.group_key IS NOT NULL AND v_row.state <> 3 THEN
    RETURN ${s}.pass_turn(v_row.queue, v_row.group_key, p_now);
  END IF;
  RETURN false;
END $$;

-- Puts a message that is waiting again (retry, lease expiry, release) back in line: dead if its
-- TTL ran out (core/lifecycle.ts isExpired), else delayed or ready at p_available_at.
CREATE FUNCTION ${s}.reschedule(p_id text, p_available_at bigint, p_now bigint) RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE v_row record;
BEGIN
  SELECT expires_at INTO v_row FROM ${s}.messages WHERE id = p_id;
  IF v_row.expires_at IS NOT NULL AND v_row.expires_at <= p_now THEN
    PERFORM ${s}.kill(p_id, 'expired', NULL, p_now);
    RETURN 4;
  END IF;
  UPDATE ${s}.messages SET
    state = CASE WHEN p_available_at > p_now THEN 1 ELSE 0 END,
    available_at = p_available_at, ready_at = p_available_at, seq = nextval('${s}.message_seq'),
    lease_token = NULL, lease_until = NULL,
    holds_dedup = ${s}.may_hold_dedup(id, queue, dedup_key)
  WHERE id = p_id;
  IF p_available_at > p_now THEN
    PERFORM ${s}.due_hint(p_available_at);
    RETURN 1;
  END IF;
  RETURN 0;
END $$;

-- Applies what has fallen due (TTLs, delays, lease expiries) on one queue, or on all (p_queue
-- NULL), and wakes the queues that may have become leasable. In the background (p_wait false)
-- rows another transaction holds are skipped: that one is applying them. Before a read or a
-- lease of one queue (p_wait true) it waits for them, so what the caller sees is up to date.
CREATE FUNCTION ${s}.apply_due(p_queue text, p_wait boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms();
  v_row record;
  v_woken text[] := '{}';
  v_expired jsonb := '{"message":"lease expired before the message was acked","kind":"error"}';
BEGIN
  -- The common case, checked with three index probes: nothing is due.
  IF NOT EXISTS (SELECT 1 FROM ${s}.messages WHERE state IN (0, 1, 3) AND expires_at <= v_now AND (p_queue IS NULL OR queue = p_queue))
     AND NOT EXISTS (SELECT 1 FROM ${s}.messages WHERE state = 1 AND available_at <= v_now AND (p_queue IS NULL OR queue = p_queue))
     AND NOT EXISTS (SELECT 1 FROM ${s}.messages WHERE state = 2 AND lease_until <= v_now AND (p_queue IS NULL OR queue = p_queue)) THEN
    RETURN;
  END IF;
  IF p_wait THEN
    -- Rows locked by this transaction are not skipped below.
    PERFORM 1 FROM ${s}.messages WHERE state IN (0, 1, 3) AND expires_at <= v_now AND queue = p_queue FOR UPDATE;
    PERFORM 1 FROM ${s}.messages WHERE state = 1 AND available_at <= v_now AND queue = p_queue FOR UPDATE;
    PERFORM 1 FROM ${s}.messages WHERE state = 2 AND lease_until <= v_now AND queue = p_queue FOR UPDATE;
  END IF;
  FOR v_row IN SELECT id, queue FROM ${s}.messages
      WHERE state IN (0, 1, 3) AND expires_at <= v_now AND (p_queue IS NULL OR queue = p_queue)
      ORDER BY expires_at LIMIT 5000 FOR UPDATE SKIP LOCKED LOOP
    IF ${s}.kill(v_row.id, 'expired', NULL, v_now) THEN v_woken := v_woken || v_row.queue; END IF;
  END LOOP;

  WITH due AS (
    SELECT id FROM ${s}.messages WHERE state = 1 AND available_at <= v_now AND (p_queue IS NULL OR queue = p_queue)
    ORDER BY available_at LIMIT 10000 FOR UPDATE SKIP LOCKED
  ), promoted AS (
    UPDATE ${s}.messages m SET state = 0, ready_at = m.available_at FROM due WHERE m.id = due.id RETURNING m.queue
  )
  SELECT v_woken || coalesce(array_agg(DISTINCT queue), '{}') INTO v_woken FROM promoted;

  -- An expired lease is a failed attempt (core/lifecycle.ts decideLeaseExpiry).
  FOR v_row IN SELECT id, queue, attempt, max_attempts FROM ${s}.messages
      WHERE state = 2 AND lease_until <= v_now AND (p_queue IS NULL OR queue = p_queue)
      ORDER BY lease_until LIMIT 5000 FOR UPDATE SKIP LOCKED LOOP
    IF v_row.attempt >= v_row.max_attempts THEN
      IF ${s}.kill(v_row.id, 'max_attempts', v_expired, v_now) THEN v_woken := v_woken || v_row.queue; END IF;
    ELSE
      UPDATE ${s}.messages SET last_error = v_expired WHERE id = v_row.id;
      PERFORM ${s}.count_totals(v_row.queue, 0, 0, 1, 0);
      IF ${s}.reschedule(v_row.id, v_now, v_now) = 0 THEN v_woken := v_woken || v_row.queue; END IF;
    END IF;
  END LOOP;

  PERFORM ${s}.wake(q) FROM (SELECT DISTINCT unnest(v_woken) AS q) woken;
END $$;

-- apply_due, then the earliest later due time (NULL: none), for the caller's timer.
CREATE FUNCTION ${s}.tick(p_queue text, p_wait boolean) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ${s}.apply_due(p_queue, p_wait);
  RETURN ${s}.next_due();
END $$;

CREATE FUNCTION ${s}.next_due() RETURNS bigint LANGUAGE sql AS $$
  SELECT least(
    (SELECT min(available_at) FROM ${s}.messages WHERE state = 1),
    (SELECT min(lease_until) FROM ${s}.messages WHERE state = 2),
    (SELECT min(expires_at) FROM ${s}.messages WHERE state IN (0, 1, 3) AND expires_at IS NOT NULL))
$$;

-- The oldest ready message of a queue, whatever its priority (drop-oldest, oldest age): the
-- earliest of each priority's head, by availableAt then seq.
CREATE FUNCTION ${s}.oldest_ready(p_queue text) RETURNS TABLE (id text, available_at bigint) LANGUAGE sql AS $$
  SELECT h.id, h.available_at FROM generate_series(0, 9) AS p(level),
    LATERAL (SELECT m.id, m.available_at, m.seq FROM ${s}.messages m
             WHERE m.queue = p_queue AND m.state = 0 AND m.priority = p.level ORDER BY m.ready_at, m.seq LIMIT 1) h
  ORDER BY h.available_at, h.seq LIMIT 1
$$;

-- Publishes a batch atomically (store.ts publish). Unknown queues are created with p_defaults.
-- Returns a row for each input that did not enqueue a new message (i: its 1-based index; a
-- replaced message, or a duplicate with the original's id); every other input got its p_ids id.
CREATE FUNCTION ${s}.publish(
  p_defaults jsonb, p_ids text[], p_queues text[], p_bodies text[], p_headers jsonb[], p_priorities int[],
  p_available_at bigint[], p_delay_ms bigint[], p_ttl_ms bigint[], p_max_attempts int[],
  p_dedup_keys text[], p_idempotency_keys text[], p_group_keys text[], p_correlation_ids text[], p_causation_ids text[]
) RETURNS TABLE (i int, id text, replaced boolean) LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms();
  v_n int := coalesce(array_length(p_ids, 1), 0);
  v_queue_names text[];
  v_simple boolean;
  v_q record;
  v_options jsonb;
  v_waiting jsonb := '{}';
  v_count bigint;
  v_max bigint;
  v_holder record;
  v_dup text;
  v_ttl bigint;
  v_avail bigint;
  v_state smallint;
  v_oldest record;
  v_min_due bigint;
  k int;
BEGIN
  SELECT array_agg(DISTINCT q ORDER BY q) INTO v_queue_names FROM unnest(p_queues) AS q;
  INSERT INTO ${s}.queues (name, options, created_at)
    SELECT q, p_defaults, v_now FROM unnest(v_queue_names) AS q ON CONFLICT (name) DO NOTHING;

  v_simple := NOT EXISTS (SELECT 1 FROM unnest(p_dedup_keys, p_idempotency_keys, p_group_keys) AS k(d, ik, g)
                          WHERE d IS NOT NULL OR ik IS NOT NULL OR g IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM ${s}.queues WHERE name = ANY (v_queue_names) AND options ? 'maxLength');

  IF v_simple THEN
    INSERT INTO ${s}.messages (id, queue, state, priority, ready_at, seq, published_at, available_at, expires_at, ttl_ms,
                               max_attempts, body, headers, correlation_id, causation_id)
    SELECT x.id, x.queue, CASE WHEN x.av > v_now THEN 1 ELSE 0 END, x.priority, x.av, nextval('${s}.message_seq'), v_now, x.av,
           v_now + x.ttl, x.ttl, x.max_attempts, x.body, x.headers, x.correlation_id, x.causation_id
    FROM (
      SELECT u.id, u.queue, u.priority, u.body, u.headers, u.correlation_id, u.causation_id,
        -- core/lifecycle.ts availableAtFor; a publish with neither time takes the queue's delayMs.
        CASE WHEN u.delay_ms IS NOT NULL THEN v_now + u.delay_ms WHEN u.available_at > v_now THEN u.available_at
             WHEN u.available_at IS NULL AND q.options ? 'delayMs' THEN v_now + (q.options->>'delayMs')::bigint ELSE v_now END AS av,
        coalesce(u.ttl_ms, (q.options->>'ttlMs')::bigint) AS ttl,
        coalesce(u.max_attempts, (q.options->>'maxAttempts')::int) AS max_attempts, u.ord
      FROM unnest(p_ids, p_queues, p_bodies, p_headers, p_priorities, p_available_at, p_delay_ms, p_ttl_ms, p_max_attempts, p_correlation_ids, p_causation_ids)
             WITH ORDINALITY AS u(id, queue, body, headers, priority, available_at, delay_ms, ttl_ms, max_attempts, correlation_id, causation_id, ord)
      JOIN ${s}.queues q ON q.name = u.queue
      ORDER BY u.ord
    ) x;
    PERFORM ${s}.count_totals(q, c, 0, 0, 0) FROM (SELECT q, count(*) AS c FROM unnest(p_queues) AS q GROUP BY q) t;
  ELSE
    -- One publisher at a time per queue decides keys and length (sorted: no deadlock between batches).
    PERFORM ${s}.lock_queue(q) FROM unnest(v_queue_names) AS q;
    FOR k IN 1 .. v_n LOOP
      SELECT options INTO v_options FROM ${s}.queues WHERE name = p_queues[k];
      IF p_idempotency_keys[k] IS NOT NULL THEN
        SELECT d.id INTO v_dup FROM ${s}.idempotency d WHERE d.queue = p_queues[k] AND d.key = p_idempotency_keys[k] AND d.expires_at > v_now;
        IF FOUND THEN
          i := k; id := v_dup; replaced := false; RETURN NEXT;
          CONTINUE;
        END IF;
      END IF;
      IF p_dedup_keys[k] IS NOT NULL THEN
        SELECT m.id, m.state INTO v_holder FROM ${s}.messages m
          WHERE m.queue = p_queues[k] AND m.dedup_key = p_dedup_keys[k] AND m.holds_dedup FOR UPDATE;
        IF FOUND THEN
          UPDATE ${s}.messages SET body = p_bodies[k], headers = p_headers[k], priority = p_priorities[k] WHERE messages.id = v_holder.id;
          IF p_idempotency_keys[k] IS NOT NULL THEN
            INSERT INTO ${s}.idempotency (queue, key, id, expires_at)
              VALUES (p_queues[k], p_idempotency_keys[k], v_holder.id, v_now + (v_options->>'idempotencyWindowMs')::bigint)
              ON CONFLICT (queue, key) DO UPDATE SET id = EXCLUDED.id, expires_at = EXCLUDED.expires_at;
          END IF;
          i := k; id := v_holder.id; replaced := true; RETURN NEXT;
          CONTINUE;
        END IF;
      END IF;

      v_ttl := coalesce(p_ttl_ms[k], (v_options->>'ttlMs')::bigint);
      v_avail := CASE WHEN p_delay_ms[k] IS NOT NULL THEN v_now + p_delay_ms[k]
                      WHEN p_available_at[k] > v_now THEN p_available_at[k]
                      WHEN p_available_at[k] IS NULL AND v_options ? 'delayMs' THEN v_now + (v_options->>'delayMs')::bigint ELSE v_now END;
      v_state := CASE WHEN v_avail > v_now THEN 1 ELSE 0 END;
      IF p_group_keys[k] IS NOT NULL THEN
        PERFORM ${s}.lock_group(p_queues[k], p_group_keys[k]);
        IF EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.queue = p_queues[k] AND m.group_key = p_group_keys[k] AND m.state IN (0, 1, 2)) THEN
          v_state := 3;
        END IF;
      END IF;
      INSERT INTO ${s}.messages (id, queue, state, priority, ready_at, seq, published_at, available_at, expires_at, ttl_ms,
                                 max_attempts, body, headers, group_key, dedup_key, holds_dedup, correlation_id, causation_id)
      VALUES (p_ids[k], p_queues[k], v_state, p_priorities[k], v_avail, nextval('${s}.message_seq'), v_now, v_avail, v_now + v_ttl, v_ttl,
              coalesce(p_max_attempts[k], (v_options->>'maxAttempts')::int), p_bodies[k], p_headers[k], p_group_keys[k],
              p_dedup_keys[k], p_dedup_keys[k] IS NOT NULL, p_correlation_ids[k], p_causation_ids[k]);
      IF p_idempotency_keys[k] IS NOT NULL THEN
        INSERT INTO ${s}.idempotency (queue, key, id, expires_at)
          VALUES (p_queues[k], p_idempotency_keys[k], p_ids[k], v_now + (v_options->>'idempotencyWindowMs')::bigint)
          ON CONFLICT (queue, key) DO UPDATE SET id = EXCLUDED.id, expires_at = EXCLUDED.expires_at;
      END IF;
      PERFORM ${s}.count_totals(p_queues[k], 1, 0, 0, 0);

      -- maxLength (core/overflow.ts decideOverflow): the waiting count is read once per queue, then kept.
      v_max := (v_options->>'maxLength')::bigint;
      IF v_max IS NOT NULL THEN
        IF v_waiting ? p_queues[k] THEN
          v_count := (v_waiting->>p_queues[k])::bigint + 1;
        ELSE
          v_count := (SELECT count(*) FROM ${s}.messages m WHERE m.queue = p_queues[k] AND m.state = 0)
                   + (SELECT count(*) FROM ${s}.messages m WHERE m.queue = p_queues[k] AND m.state IN (1, 3));
        END IF;
        IF v_count > v_max THEN
          IF v_options->>'overflow' IN ('reject', 'block') THEN
            RAISE EXCEPTION 'queue "%" is full: maxLength % reached', p_queues[k], v_max
              USING ERRCODE = 'SP429', DETAIL = json_build_object('queue', p_queues[k], 'maxLength', v_max, 'overflow', v_options->>'overflow')::text;
          END IF;
          WHILE v_count > v_max LOOP
            SELECT * INTO v_oldest FROM ${s}.oldest_ready(p_queues[k]);
            EXIT WHEN v_oldest.id IS NULL;
            PERFORM ${s}.kill(v_oldest.id, 'overflow', NULL, v_now);
            v_count := v_count - 1;
          END LOOP;
        END IF;
        v_waiting := jsonb_set(v_waiting, ARRAY[p_queues[k]], to_jsonb(v_count));
      END IF;
    END LOOP;
  END IF;

  PERFORM ${s}.wake(q) FROM unnest(v_queue_names) AS q;
  SELECT min(m.available_at) INTO v_min_due FROM ${s}.messages m WHERE m.id = ANY (p_ids) AND m.state = 1;
  IF v_min_due IS NOT NULL THEN PERFORM ${s}.due_hint(v_min_due); END IF;
END $$;

-- Hands out up to p_max leasable messages (store.ts lease), after applying what fell due on
-- the queue, within its rate limit. When the rate limit held messages back, a last row with a
-- NULL id carries, in lease_until, when the window reopens.
CREATE FUNCTION ${s}.lease(p_queue text, p_max int, p_lease_ms bigint) RETURNS SETOF ${s}.messages LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint;
  v_queue record;
  v_allowed int := p_max;
  v_limit jsonb;
  v_in_window bigint;
  v_leased int;
  v_reopen ${s}.messages;
BEGIN
  SELECT paused, options INTO v_queue FROM ${s}.queues WHERE name = p_queue;
  IF NOT FOUND OR v_queue.paused THEN RETURN; END IF;
  p_lease_ms := coalesce(p_lease_ms, (v_queue.options->>'leaseMs')::bigint);
  -- What fell due on this queue first; the next due time is the timers' business, not the lease's.
  PERFORM ${s}.apply_due(p_queue, true);
  v_now := ${s}.now_ms();
  v_limit := v_queue.options->'rateLimit';
  IF v_limit IS NOT NULL THEN
    PERFORM ${s}.lock_queue('rate:' || p_queue);
    DELETE FROM ${s}.rate_stamps WHERE queue = p_queue AND at <= v_now - (v_limit->>'intervalMs')::bigint;
    SELECT coalesce(sum(count), 0) INTO v_in_window FROM ${s}.rate_stamps WHERE queue = p_queue;
    v_allowed := least(p_max, greatest(0, (v_limit->>'max')::bigint - v_in_window));
  END IF;
  IF v_allowed > 0 THEN
    RETURN QUERY
    WITH picked AS (
      SELECT m.id FROM ${s}.messages m WHERE m.queue = p_queue AND m.state = 0
      ORDER BY m.priority DESC, m.ready_at, m.seq LIMIT v_allowed FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE ${s}.messages m SET state = 2, attempt = m.attempt + 1, lease_until = v_now + p_lease_ms, holds_dedup = false,
        lease_token = gen_random_uuid()::text
      FROM picked WHERE m.id = picked.id RETURNING m.*
    )
    SELECT * FROM leased ORDER BY priority DESC, ready_at, seq;
    GET DIAGNOSTICS v_leased = ROW_COUNT;
  ELSE
    v_leased := 0;
  END IF;
  IF v_limit IS NOT NULL THEN
    IF v_leased > 0 THEN
      INSERT INTO ${s}.rate_stamps (queue, at, count) VALUES (p_queue, v_now, v_leased);
    END IF;
    IF v_leased >= v_allowed AND EXISTS (SELECT 1 FROM ${s}.messages WHERE queue = p_queue AND state = 0 AND lease_token IS NULL)
       AND (SELECT coalesce(sum(count), 0) FROM ${s}.rate_stamps WHERE queue = p_queue) >= (v_limit->>'max')::bigint THEN
      v_reopen.lease_until := (SELECT min(at) FROM ${s}.rate_stamps WHERE queue = p_queue) + (v_limit->>'intervalMs')::bigint;
      RETURN NEXT v_reopen;
    END IF;
  END IF;
END $$;

-- completedRetentionCount (core/retention.ts): a queue that keeps few completed statuses forgets
-- the oldest at once; one that keeps many (more than 1,000) leaves it to the sweep, so an ack
-- never walks a long list.
CREATE FUNCTION ${s}.trim_completed(p_queue text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_keep bigint := (SELECT (options->>'completedRetentionCount')::bigint FROM ${s}.queues WHERE name = p_queue);
BEGIN
  IF v_keep IS NULL OR v_keep > 1000 THEN RETURN; END IF;
  DELETE FROM ${s}.completed c WHERE c.queue = p_queue AND c.n <= (
    SELECT n FROM ${s}.completed WHERE queue = p_queue ORDER BY n DESC OFFSET v_keep LIMIT 1);
END $$;

-- Completes every item whose token is its message's current lease; returns the ids completed.
CREATE FUNCTION ${s}.ack_many(p_ids text[], p_tokens text[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms();
  v_ids text[];
  v_queues text[];
  v_groups text[];
  v_group record;
BEGIN
  WITH done AS (
    DELETE FROM ${s}.messages m USING unnest(p_ids, p_tokens) AS a(id, token)
    WHERE m.id = a.id AND m.lease_token = a.token AND m.state = 2 AND m.lease_until > v_now
    RETURNING m.*
  ), kept AS (
    INSERT INTO ${s}.completed (id, queue, completed_at, attempt, max_attempts, priority, group_key, published_at, available_at, correlation_id, causation_id)
    SELECT d.id, d.queue, v_now, d.attempt, d.max_attempts, d.priority, d.group_key, d.published_at, d.available_at, d.correlation_id, d.causation_id
    FROM done d JOIN ${s}.queues q ON q.name = d.queue
    WHERE (q.options->>'completedRetentionMs')::bigint > 0 AND (q.options->>'completedRetentionCount')::bigint > 0
  )
  SELECT array_agg(d.id), array_agg(d.queue), array_agg(d.group_key) INTO v_ids, v_queues, v_groups FROM done d;
  IF v_ids IS NULL THEN RETURN; END IF;
  PERFORM ${s}.count_totals(q, 0, count(*), 0, 0) FROM unnest(v_queues) AS q GROUP BY q;
  PERFORM ${s}.trim_completed(q) FROM (SELECT DISTINCT unnest(v_queues) AS q) t;
  FOR v_group IN SELECT DISTINCT q, g FROM unnest(v_queues, v_groups) AS x(q, g) WHERE g IS NOT NULL ORDER BY 1, 2 LOOP
    IF ${s}.pass_turn(v_group.q, v_group.g, v_now) THEN PERFORM ${s}.wake(v_group.q); END IF;
  END LOOP;
  RETURN QUERY SELECT unnest(v_ids);
END $$;

-- Applies a nack decided in TypeScript (core/retry-policy.ts decideFailure, lifecycle.ts
-- decideRelease) to a message the caller holds locked: p_action 'dead' | 'retry' | 'release'.
-- Returns the state it ends in (0 ready, 1 delayed, 4 dead).
CREATE FUNCTION ${s}.apply_nack(p_id text, p_action text, p_available_at bigint, p_reason text, p_error jsonb, p_attempt int, p_now bigint)
RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE v_queue text; v_state smallint;
BEGIN
  IF p_action = 'dead' THEN
    SELECT queue INTO v_queue FROM ${s}.messages WHERE id = p_id;
    IF ${s}.kill(p_id, p_reason, p_error, p_now) THEN PERFORM ${s}.wake(v_queue); END IF;
    RETURN 4;
  END IF;
  UPDATE ${s}.messages SET attempt = coalesce(p_attempt, attempt), last_error = coalesce(p_error, last_error)
    WHERE id = p_id RETURNING queue INTO v_queue;
  IF p_action = 'retry' THEN PERFORM ${s}.count_totals(v_queue, 0, 0, 1, 0); END IF;
  v_state := ${s}.reschedule(p_id, p_available_at, p_now);
  PERFORM ${s}.wake(v_queue);
  RETURN v_state;
END $$;

-- A dead letter back in line (core/lifecycle.ts replayed): attempts start over, ready now (or
-- behind its group's active message), with a fresh TTL from its own ttlMs.
CREATE FUNCTION ${s}.replay(p_queue text, p_ids text[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms();
  v_row record;
  v_count int := 0;
BEGIN
  FOR v_row IN SELECT id, group_key FROM ${s}.messages
      WHERE queue = p_queue AND state = 4 AND (p_ids IS NULL OR id = ANY (p_ids)) ORDER BY dead_seq FOR UPDATE LOOP
    IF v_row.group_key IS NOT NULL THEN PERFORM ${s}.lock_group(p_queue, v_row.group_key); END IF;
    UPDATE ${s}.messages SET
      state = CASE WHEN group_key IS NOT NULL AND EXISTS (
                SELECT 1 FROM ${s}.messages a WHERE a.queue = p_queue AND a.group_key = v_row.group_key AND a.state IN (0, 1, 2))
              THEN 3 ELSE 0 END,
      attempt = 0, available_at = v_now, ready_at = v_now, seq = nextval('${s}.message_seq'),
      expires_at = v_now + ttl_ms, dead_reason = NULL, dead_at = NULL, dead_seq = NULL,
      holds_dedup = ${s}.may_hold_dedup(id, queue, dedup_key)
    WHERE id = v_row.id;
    v_count := v_count + 1;
  END LOOP;
  IF v_count > 0 THEN PERFORM ${s}.wake(p_queue); END IF;
  RETURN v_count;
END $$;

-- Removes every waiting message of a queue (ready, delayed, behind its group); leased ones finish.
CREATE FUNCTION ${s}.purge(p_queue text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE v_count int;
BEGIN
  PERFORM ${s}.apply_due(p_queue, true);
  DELETE FROM ${s}.messages WHERE queue = p_queue AND state IN (0, 1, 3);
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- Forgets what the retention rules no longer keep: completed statuses past their time or beyond
-- their count (core/retention.ts), idempotency keys past their window, rate stamps out of window.
CREATE FUNCTION ${s}.sweep() RETURNS void LANGUAGE plpgsql AS $$
DECLARE v_now bigint := ${s}.now_ms(); v_queue record;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended(${lockSeed} || 'sweep', 0)) THEN RETURN; END IF;
  FOR v_queue IN SELECT name, (options->>'completedRetentionMs')::bigint AS ms, (options->>'completedRetentionCount')::bigint AS count,
                        (options->'rateLimit'->>'intervalMs')::bigint AS window FROM ${s}.queues LOOP
    -- Past their time: the rows before (by n) the first one still within it, so the walk is
    -- over what it deletes. n follows completed_at except across concurrent acks, where an old
    -- row after a young one is only kept a little longer (status reads check the age themselves).
    DELETE FROM ${s}.completed c WHERE c.queue = v_queue.name AND c.n < coalesce(
      (SELECT y.n FROM ${s}.completed y WHERE y.queue = v_queue.name AND y.completed_at + v_queue.ms > v_now ORDER BY y.n LIMIT 1),
      (SELECT max(a.n) + 1 FROM ${s}.completed a WHERE a.queue = v_queue.name));
    DELETE FROM ${s}.completed c WHERE c.queue = v_queue.name AND c.n <= (
      SELECT n FROM ${s}.completed WHERE queue = v_queue.name ORDER BY n DESC OFFSET v_queue.count LIMIT 1);
    DELETE FROM ${s}.rate_stamps r WHERE r.queue = v_queue.name AND (v_queue.window IS NULL OR r.at <= v_now - v_queue.window);
  END LOOP;
  DELETE FROM ${s}.idempotency WHERE expires_at <= v_now;
  PERFORM ${s}.forget_stories();
END $$;
${storyAndDeadLetterSql(s)}`;
}

/**
 * A message's story (core/story.ts) and dead-letter routing (core/dead-letter.ts), kept apart
 * from the engine above: the story lives in a table of its own (`stories`, one row for a message
 * that reported progress or a log line or was acked with a result), so `ack_many`, the hot path,
 * never touches it; `ack_results` is the ack that carries results. `bury` calls `dead_letter`,
 * so every death publishes its copies in the transaction that records it.
 */
function storyAndDeadLetterSql(s: string): string {
  return String.raw/* sql */ `
CREATE TABLE ${s}.stories (
  id text PRIMARY KEY,
  progress jsonb,
  log jsonb,
  result jsonb
);

-- core/story.ts appendLog: the log with p_lines added at p_at, its newest p_max entries (lines arrive cut).
CREATE FUNCTION ${s}.append_log(p_log jsonb, p_lines text[], p_at bigint, p_max int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(e ORDER BY n), '[]'::jsonb) FROM (
    SELECT e, n, count(*) OVER () AS total FROM (
      SELECT x.e, x.n FROM jsonb_array_elements(coalesce(p_log, '[]'::jsonb)) WITH ORDINALITY AS x(e, n)
      UNION ALL
      SELECT jsonb_build_object('at', p_at, 'line', y.l), jsonb_array_length(coalesce(p_log, '[]'::jsonb)) + y.k
      FROM unnest(p_lines) WITH ORDINALITY AS y(l, k)
    ) lines
  ) numbered WHERE n > total - p_max
$$;

-- store.ts report: progress (replacing) and log lines (appended) on a message leased with p_token. False: lease_lost.
CREATE FUNCTION ${s}.report(p_id text, p_token text, p_progress jsonb, p_lines text[], p_max_lines int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v_now bigint := ${s}.now_ms();
BEGIN
  PERFORM 1 FROM ${s}.messages WHERE id = p_id AND lease_token = p_token AND state = 2 AND lease_until > v_now FOR UPDATE;
  IF NOT FOUND THEN RETURN false; END IF;
  INSERT INTO ${s}.stories AS st (id, progress, log)
    VALUES (p_id, p_progress, CASE WHEN p_lines IS NULL THEN NULL ELSE ${s}.append_log(NULL, p_lines, v_now, p_max_lines) END)
    ON CONFLICT (id) DO UPDATE SET progress = coalesce(EXCLUDED.progress, st.progress),
      log = CASE WHEN p_lines IS NULL THEN st.log ELSE ${s}.append_log(st.log, p_lines, v_now, p_max_lines) END;
  RETURN true;
END $$;

-- ack_many, then each completed item's result (NULL: none) kept in its story. Returns the ids completed.
CREATE FUNCTION ${s}.ack_results(p_ids text[], p_tokens text[], p_results jsonb[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE v_done text[];
BEGIN
  SELECT array_agg(a) INTO v_done FROM ${s}.ack_many(p_ids, p_tokens) AS a;
  IF v_done IS NULL THEN RETURN; END IF;
  INSERT INTO ${s}.stories AS st (id, result)
    SELECT DISTINCT ON (r.id) r.id, r.result FROM unnest(p_ids, p_results) WITH ORDINALITY AS r(id, result, k)
    WHERE r.result IS NOT NULL AND r.id = ANY (v_done) ORDER BY r.id, r.k
    ON CONFLICT (id) DO UPDATE SET result = EXCLUDED.result;
  RETURN QUERY SELECT unnest(v_done);
END $$;

-- Stories of messages no longer kept (completed past the retention, deleted, purged): run by the
-- sweep, at most 10,000 a time so one sweep stays short (status reads never show a story without its message).
CREATE FUNCTION ${s}.forget_stories() RETURNS void LANGUAGE sql AS $$
  DELETE FROM ${s}.stories WHERE id IN (
    SELECT st.id FROM ${s}.stories st WHERE NOT EXISTS (SELECT 1 FROM ${s}.messages m WHERE m.id = st.id)
      AND NOT EXISTS (SELECT 1 FROM ${s}.completed c WHERE c.id = st.id) LIMIT 10000)
$$;

-- A ULID (core/ids.ts): 48-bit ms time and 80 random bits, Crockford base32.
CREATE FUNCTION ${s}.new_id(p_now bigint) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_alphabet text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  v_out text := '';
  v_t bigint := p_now;
BEGIN
  FOR i IN 1 .. 10 LOOP
    v_out := substr(v_alphabet, (v_t % 32)::int + 1, 1) || v_out;
    v_t := v_t / 32;
  END LOOP;
  FOR i IN 1 .. 16 LOOP
    v_out := v_out || substr(v_alphabet, floor(random() * 32)::int + 1, 1);
  END LOOP;
  RETURN v_out;
END $$;

-- routing/topic-matcher.ts as a regular expression over '.' || routingKey: a word w is '\.w'
-- (its regex metacharacters escaped; any other character, letters included, is itself), '*' one word '\.[^.]*', '#' zero or more words '(\.[^.]*)*'. Checked against the
-- TypeScript matcher by a property test (test/backends/postgres-topic-regex.test.ts).
CREATE FUNCTION ${s}.topic_regex(p_pattern text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '^' || string_agg(CASE w WHEN '*' THEN '\.[^.]*' WHEN '#' THEN '(\.[^.]*)*'
                                ELSE '\.' || regexp_replace(w, '([]^$*+?(){}|.\\[])', '\\\1', 'g') END, '' ORDER BY k) || '$'
  FROM unnest(CASE WHEN p_pattern = '' THEN ARRAY[''] ELSE string_to_array(p_pattern, '.') END) WITH ORDINALITY AS x(w, k)
$$;

CREATE FUNCTION ${s}.topic_matches(p_pattern text, p_key text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT ('.' || p_key) ~ ${s}.topic_regex(p_pattern)
$$;

-- core/dead-letter.ts: publishes the copies of message p_id, which just died in p_queue, to the
-- queue's deadLetter target: its queue, or the queues its exchange's bindings route the copy to
-- now (routing/route.ts routeMessage), each once, in binding order. Never refused for room.
CREATE FUNCTION ${s}.dead_letter(p_id text, p_queue text, p_reason text, p_now bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_target jsonb;
  v_msg record;
  v_path text;
  v_type text;
  v_key text;
  v_queues text[];
  v_headers jsonb;
  v_into record;
BEGIN
  SELECT options->'deadLetter' INTO v_target FROM ${s}.queues WHERE name = p_queue;
  IF v_target IS NULL OR jsonb_typeof(v_target) <> 'object' THEN RETURN; END IF;
  SELECT attempt, priority, body, headers, last_error, correlation_id INTO v_msg FROM ${s}.messages WHERE id = p_id;
  v_path := v_msg.headers->>'x-death-path';
  -- core/dead-letter.ts mayDeadLetter: never out of a queue the lineage already died in.
  IF v_path IS NOT NULL AND p_queue = ANY (string_to_array(v_path, ',')) THEN RETURN; END IF;
  IF v_target ? 'queue' THEN
    v_queues := ARRAY[v_target->>'queue'];
  ELSE
    SELECT type INTO v_type FROM ${s}.exchanges WHERE name = v_target->>'exchange';
    IF NOT FOUND THEN RETURN; END IF;
    v_key := coalesce(v_target->>'routingKey', p_queue);
    SELECT array_agg(r.queue ORDER BY r.first) INTO v_queues FROM (
      SELECT b.queue, min(b.created_seq) AS first FROM ${s}.bindings b
      WHERE b.exchange = v_target->>'exchange'
        AND (v_type = 'fanout' OR (v_type = 'direct' AND b.binding_key = v_key) OR (v_type = 'topic' AND ${s}.topic_matches(b.binding_key, v_key)))
      GROUP BY b.queue) r;
    IF v_queues IS NULL THEN RETURN; END IF;
  END IF;
  -- core/dead-letter.ts deadLetterHeaders
  v_headers := (coalesce(v_msg.headers, '{}'::jsonb) - 'x-death-last-error') || jsonb_build_object(
    'x-death-reason', p_reason, 'x-death-attempts', v_msg.attempt::text, 'x-death-queue', p_queue, 'x-death-id', p_id,
    'x-death-path', CASE WHEN v_path IS NULL OR v_path = '' THEN p_queue ELSE v_path || ',' || p_queue END);
  IF v_msg.last_error IS NOT NULL THEN
    v_headers := v_headers || jsonb_build_object('x-death-last-error', left(v_msg.last_error->>'message', 1000));
  END IF;
  FOR v_into IN SELECT q.name, (q.options->>'ttlMs')::bigint AS ttl, (q.options->>'maxAttempts')::int AS max_attempts
      FROM unnest(v_queues) WITH ORDINALITY AS t(name, k) JOIN ${s}.queues q ON q.name = t.name ORDER BY t.k LOOP
    INSERT INTO ${s}.messages (id, queue, state, priority, ready_at, seq, published_at, available_at, expires_at, ttl_ms,
                               max_attempts, body, headers, correlation_id, causation_id)
    VALUES (${s}.new_id(p_now), v_into.name, 0, v_msg.priority, p_now, nextval('${s}.message_seq'), p_now, p_now, p_now + v_into.ttl, v_into.ttl,
            v_into.max_attempts, v_msg.body, v_headers, v_msg.correlation_id, p_id);
    PERFORM ${s}.count_totals(v_into.name, 1, 0, 0, 0);
    PERFORM ${s}.wake(v_into.name);
    IF v_into.ttl IS NOT NULL THEN PERFORM ${s}.due_hint(p_now + v_into.ttl); END IF;
  END LOOP;
END $$;
`;
}

/** A SQL string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
