/**
 * Migration 2: batch delivery's state (src/delivery/storage/postgres-storage.ts).
 *
 *   delivery_records     the delivery log: every template, batch, expanded chunk, status change and
 *                        forget, as the same JSON records the journal keeps, in one total order
 *                        (`seq`). Every process applies them in that order to its copy of the state,
 *                        so all of them answer alike. `delivery_append` numbers records under the
 *                        row lock of `delivery_head`, held to the end of the appending transaction:
 *                        `seq` order is commit order and has no gaps, so a reader that has seen
 *                        `seq` n has seen everything before it.
 *   delivery_recipients  the recipients of accepted batches, by index, until their batch is expanded.
 *   delivery_uploads     batches whose recipients are being (or were) written: a request that died
 *                        before recording its batch leaves one behind, found and removed later.
 *   delivery_expansions  one row per batch being expanded: the owner's lease (one expander per batch
 *                        across processes) and how far the batch is published (`expanded_up_to`),
 *                        moved in the same transaction as the chunk's publish and its record.
 *   delivery_secret      the secret that signs recipient tokens, made once for every process.
 *   delivery_batch_keys  batch idempotency keys: a batch with a key is recorded only if its key row
 *                        could be inserted in the same transaction, so two requests racing through
 *                        two processes create one batch; a `forget` record frees the key.
 *   delivery_snapshots   the state as of record `upto` (DeliveryState.export): a process starts from
 *                        the newest and applies the records after it; records older than the
 *                        snapshot before the newest are deleted.
 *
 * Notifications on `<schema>_delivery`: `r:<seq>` (records up to seq are committed) and
 * `h:<logId>` (a websocket message handed over: the process holding its recipient pushes it).
 */
export function migration002(s: string, channel: string): string {
  const deliveryChannel = deliveryChannelOf(channel);
  return /* sql */ `
CREATE TABLE ${s}.delivery_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);
INSERT INTO ${s}.delivery_head (id, seq) VALUES (1, 0);

CREATE TABLE ${s}.delivery_records (
  seq bigint PRIMARY KEY,
  kind smallint NOT NULL,
  payload text NOT NULL
);

CREATE TABLE ${s}.delivery_recipients (
  batch_id text NOT NULL,
  idx int NOT NULL,
  recipient_id text NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (batch_id, idx)
);

CREATE TABLE ${s}.delivery_uploads (
  batch_id text PRIMARY KEY,
  started_at bigint NOT NULL
);

CREATE TABLE ${s}.delivery_expansions (
  batch_id text PRIMARY KEY,
  owner text,
  lease_until bigint NOT NULL,
  expanded_up_to int NOT NULL DEFAULT 0
);

CREATE TABLE ${s}.delivery_secret (id int PRIMARY KEY CHECK (id = 1), secret text NOT NULL);

CREATE TABLE ${s}.delivery_batch_keys (key text PRIMARY KEY, batch_id text NOT NULL);
CREATE INDEX ON ${s}.delivery_batch_keys (batch_id);

CREATE TABLE ${s}.delivery_snapshots (
  upto bigint PRIMARY KEY,
  data text NOT NULL,
  made_at bigint NOT NULL
);

-- Appends records in the given order; returns the seq of the last. The head row stays locked until
-- the caller's transaction ends, so appenders commit one after another, in seq order.
CREATE FUNCTION ${s}.delivery_append(p_kinds smallint[], p_payloads text[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_n int := coalesce(array_length(p_kinds, 1), 0);
  v_last bigint;
BEGIN
  UPDATE ${s}.delivery_head SET seq = seq + v_n WHERE id = 1 RETURNING seq INTO v_last;
  INSERT INTO ${s}.delivery_records (seq, kind, payload)
    SELECT v_last - v_n + t.i, t.k, t.p FROM unnest(p_kinds, p_payloads) WITH ORDINALITY AS t(k, p, i);
  -- A forgotten batch's idempotency key may name a new batch from now on (kind 5: forget).
  DELETE FROM ${s}.delivery_batch_keys k USING unnest(p_kinds, p_payloads) AS t(k, p)
    WHERE t.k = 5 AND k.batch_id = (t.p::jsonb ->> 'b');
  PERFORM pg_notify('${deliveryChannel}', 'r:' || v_last);
  RETURN v_last;
END $$;
`;
}

/** The NOTIFY channel of batch delivery for a schema's wake-up channel. */
export function deliveryChannelOf(channel: string): string {
  return channel.replace(/_wake$/, "_delivery");
}
