/**
 * One batch: its progress by status (live from /v1/events), its failed recipients' last errors,
 * and the per-recipient log with a status filter and cursor paging.
 */
import { useEffect, useState } from "preact/hooks";
import { StackedBar, StatusLegend } from "../components/stacked-bar.js";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { Time } from "../components/time.js";
import { get, seg } from "../lib/api.js";
import { useBatchEvents } from "../lib/server-events.js";
import { count } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { href } from "../lib/router.js";
import { BATCH_STATUSES, type BatchLogEntry, type BatchSummary } from "../lib/types.js";
import { doneOf } from "./batches.js";

const LOG_PAGE = 50;
/** While a batch runs, its log and errors are asked again this often (the summary follows events). */
const RUNNING_REFRESH_MS = 2000;

interface LogPage {
  items: BatchLogEntry[];
  nextCursor?: string;
}

export function BatchPage({ id, status }: { id: string; status?: string }) {
  const loaded = useLoad((signal) => get<BatchSummary>(`/v1/batches/${seg(id)}`, signal), [id]);
  const [summary, setSummary] = useState<BatchSummary | undefined>();
  useEffect(() => {
    if (loaded.data) setSummary(loaded.data);
  }, [loaded.data]);
  useBatchEvents((next) => {
    if (next.id === id) setSummary((previous) => ({ ...previous, ...next }));
  });
  if (summary === undefined)
    return (
      <>
        <h1 class="id-title">
          Batch <code>{id}</code>
        </h1>
        {loaded.error ? <ErrorBox error={loaded.error} retry={loaded.reload} /> : <Loading what="the batch" />}
      </>
    );
  const running = summary.completedAt === undefined;
  return (
    <>
      <p class="crumbs">
        <a href={href("batches")}>Batches</a> / batch
      </p>
      <h1 class="id-title">
        Batch <code>{summary.id}</code>
      </h1>
      <section class="card">
        <p class="batch-head">
          <span class="badge">{summary.channel}</span>
          {running ? <span class="badge info">running</span> : <span class="badge good" data-testid="batch-complete">complete</span>}
          <span>
            <strong data-testid="batch-done">{count(doneOf(summary))}</strong> of <strong>{count(summary.total)}</strong> done
          </span>
        </p>
        <StackedBar counts={summary.counts} total={summary.total} />
        <StatusLegend counts={summary.counts} />
        <dl class="pairs">
          <dt>Created</dt>
          <dd>
            <Time at={summary.createdAt} />
          </dd>
          <dt>Completed</dt>
          <dd>{summary.completedAt ? <Time at={summary.completedAt} /> : <span class="muted">not yet</span>}</dd>
          {summary.templateId && (
            <>
              <dt>Template</dt>
              <dd>
                <code>{summary.templateId}</code>
              </dd>
            </>
          )}
        </dl>
      </section>
      {summary.counts.failed > 0 && <LastErrors id={id} running={running} failed={summary.counts.failed} />}
      <RecipientLog id={id} status={status} running={running} />
    </>
  );
}

function LastErrors({ id, running, failed }: { id: string; running: boolean; failed: number }) {
  const errors = useLoad((signal) => get<LogPage>(`/v1/batches/${seg(id)}/messages?status=failed&limit=10`, signal), [id, failed, running], running ? RUNNING_REFRESH_MS : undefined);
  return (
    <section class="card">
      <h2>Failed recipients</h2>
      {errors.error && <ErrorBox error={errors.error} />}
      <ul class="plain errors">
        {errors.data?.items.map((entry) => (
          <li key={entry.logId}>
            <strong>{entry.recipientId}</strong> <span class="error-text">{entry.lastError?.message ?? "failed"}</span> {entry.failedAt !== undefined && <Time at={entry.failedAt} compact />}
          </li>
        ))}
      </ul>
      {failed > 10 && (
        <p>
          <a href={href("batches", id, { status: "failed" })}>All {count(failed)} failed recipients</a>
        </p>
      )}
    </section>
  );
}

function RecipientLog({ id, status, running }: { id: string; status?: string; running: boolean }) {
  // Cursor paging: the cursors of the pages before this one, so "Previous" goes back.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => setCursors([]), [id, status]);
  const query = new URLSearchParams({ limit: String(LOG_PAGE) });
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  const page = useLoad((signal) => get<LogPage>(`/v1/batches/${seg(id)}/messages?${query}`, signal), [id, status, cursor, running], running ? RUNNING_REFRESH_MS : undefined);
  return (
    <section class="card">
      <h2>Recipients</h2>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Status{" "}
          <select value={status ?? ""} onChange={(event) => (location.hash = href("batches", id, { status: event.currentTarget.value }))}>
            <option value="">any</option>
            {BATCH_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </form>
      {page.error && <ErrorBox error={page.error} retry={page.reload} />}
      {page.data === undefined ? (
        <Loading what="recipients" />
      ) : page.data.items.length === 0 ? (
        <Empty>No recipients{status ? ` with status ${status}` : ""}.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="responsive log-table">
            <thead>
              <tr>
                <th scope="col" class="num">#</th>
                <th scope="col">Recipient</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((entry) => (
                <tr key={entry.logId} data-recipient={entry.recipientId}>
                  <td class="num" data-label="#">
                    {count(entry.index)}
                  </td>
                  <th scope="row" data-label="Recipient">
                    {entry.recipientId}
                  </th>
                  <td data-label="Status">
                    <span class={`badge st-${entry.status}`}>{entry.status}</span>
                  </td>
                  <td class="num" data-label="Attempts">
                    {entry.attempts}
                  </td>
                  <td data-label="Last error" class="error-text">
                    {entry.lastError?.message}
                  </td>
                  <td data-label="Updated">
                    <Time at={entry.failedAt ?? entry.readAt ?? entry.deliveredAt ?? entry.sentAt ?? entry.createdAt} compact />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((previous) => previous.slice(0, -1))}>
          Previous
        </button>
        <button type="button" disabled={!page.data?.nextCursor} onClick={() => page.data?.nextCursor && setCursors((previous) => [...previous, page.data!.nextCursor!])}>
          Next
        </button>
      </div>
    </section>
  );
}
