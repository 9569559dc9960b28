/** Every batch the key reaches, newest first, each with a progress bar by status, live from /v1/events. */
import { useEffect, useState } from "preact/hooks";
import { StackedBar } from "../components/stacked-bar.js";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { Time } from "../components/time.js";
import { get } from "../lib/api.js";
import { useBatchEvents } from "../lib/server-events.js";
import { count } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { href } from "../lib/router.js";
import { BATCH_STATUSES, type BatchCounts, type BatchSummary } from "../lib/types.js";

interface MessageStats {
  counts: BatchCounts;
  batches: BatchSummary[];
}

export function Batches() {
  const loaded = useLoad((signal) => get<MessageStats>("/v1/stats/messages", signal), []);
  const [batches, setBatches] = useState<BatchSummary[] | undefined>();
  useEffect(() => {
    if (loaded.data) setBatches(loaded.data.batches);
  }, [loaded.data]);
  useBatchEvents((summary) =>
    setBatches((previous) => {
      if (previous === undefined) return previous;
      const at = previous.findIndex((batch) => batch.id === summary.id);
      if (at < 0) return [summary, ...previous];
      const next = [...previous];
      next[at] = { ...next[at], ...summary };
      return next;
    }),
  );
  if (loaded.error) return <ErrorBox error={loaded.error} retry={loaded.reload} />;
  if (batches === undefined) return <Loading what="batches" />;
  return (
    <>
      <h1>Batches</h1>
      {batches.length === 0 ? (
        <Empty>No batches yet. POST /v1/batches (or spool batch send) creates one.</Empty>
      ) : (
        <ul class="batch-list">
          {batches.map((batch) => (
            <BatchRow key={batch.id} batch={batch} />
          ))}
        </ul>
      )}
    </>
  );
}

export function doneOf(batch: BatchSummary): number {
  return batch.counts.sent + batch.counts.delivered + batch.counts.read + batch.counts.failed;
}

function BatchRow({ batch }: { batch: BatchSummary }) {
  return (
    <li class="card" data-batch={batch.id}>
      <div class="batch-head">
        <a href={href("batches", batch.id)}>
          <code>{batch.id}</code>
        </a>
        <span class="badge">{batch.channel}</span>
        {batch.completedAt ? <span class="badge good">complete</span> : <span class="badge info">running</span>}
        <span class="muted">
          {count(doneOf(batch))} of {count(batch.total)} done
        </span>
        {batch.createdAt !== undefined && <Time at={batch.createdAt} compact />}
      </div>
      <StackedBar counts={batch.counts} total={batch.total} />
      <p class="mini-legend">
        {BATCH_STATUSES.filter((status) => batch.counts[status] > 0).map((status) => (
          <span key={status} class={`t-${status}`}>
            {status} {count(batch.counts[status])}
          </span>
        ))}
      </p>
    </li>
  );
}
