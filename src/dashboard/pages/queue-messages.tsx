/**
 * A queue's messages in one state, without leasing them (`GET /v1/queues/:q/messages`, admin):
 * ready in lease order, delayed by due time, leased by lease end, completed newest first, a page
 * of LIMIT at a time. Asked again when the queue's live counts move and every few seconds; each
 * links to its whole story.
 */
import { useState } from "preact/hooks";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { Time } from "../components/time.js";
import { get, seg } from "../lib/api.js";
import { count } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { href } from "../lib/router.js";
import { BROWSE_STATES, type BrowsedMessage, type BrowseState, type QueueStats } from "../lib/types.js";

const LIMIT = 20;
const REFRESH_MS = 3000;
const PREVIEW_CHARS = 120;

/** When the row's state began or ends, by state. */
function whenOf(message: BrowsedMessage, state: BrowseState): { label: string; at: number | undefined } {
  if (state === "delayed") return { label: "due", at: message.availableAt };
  if (state === "leased") return { label: "lease ends", at: message.leaseUntil };
  if (state === "completed") return { label: "completed", at: message.completedAt };
  return { label: "published", at: message.publishedAt };
}

function preview(body: unknown): string {
  if (body === undefined) return "";
  const text = JSON.stringify(body) ?? "";
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

export function QueueMessages({ queue, stats }: { queue: string; stats: QueueStats }) {
  const [state, setState] = useState<BrowseState>("ready");
  const [offset, setOffset] = useState(0);
  const show = (next: BrowseState) => {
    setState(next);
    setOffset(0);
  };
  // Asked again when the live counts move (a purge, a publish, an ack), and every few seconds for what counts do not show.
  const moved = [stats.ready, stats.delayed, stats.leased, stats.totals.completed].join();
  const page = useLoad(
    (signal) => get<{ messages: BrowsedMessage[] }>(`/v1/queues/${seg(queue)}/messages?state=${state}&limit=${LIMIT}&offset=${offset}`, signal),
    [queue, state, offset, moved],
    REFRESH_MS,
  );
  const total: Record<BrowseState, number | undefined> = { ready: stats.ready, delayed: stats.delayed, leased: stats.leased, completed: undefined };
  return (
    <>
      <div class="tabs" role="group" aria-label="Which messages">
        {BROWSE_STATES.map((s) => (
          <button key={s} type="button" aria-pressed={state === s} onClick={() => show(s)}>
            {s}
            {total[s] !== undefined && <span class="muted"> {count(total[s])}</span>}
          </button>
        ))}
      </div>
      {page.error ? (
        <ErrorBox error={page.error} retry={page.reload} />
      ) : page.data === undefined ? (
        <Loading what="messages" />
      ) : page.data.messages.length === 0 && offset === 0 ? (
        <Empty>No {state} messages.</Empty>
      ) : (
        <>
          <ul class="plain browse" data-browse={state}>
            {page.data.messages.map((message) => {
              const when = whenOf(message, state);
              return (
                <li key={message.id} data-message={message.id}>
                  <div class="browse-head">
                    <a href={href("messages", message.id)}>
                      <code>{message.id}</code>
                    </a>
                    <span class="muted">p{message.priority}</span>
                    <span class="muted">
                      attempt {message.attempt} of {message.maxAttempts}
                    </span>
                    <span>
                      <span class="muted">{when.label} </span>
                      <Time at={when.at} compact />
                    </span>
                  </div>
                  {message.body !== undefined && <code class="preview">{preview(message.body)}</code>}
                </li>
              );
            })}
          </ul>
          <Pager
            offset={offset}
            shown={page.data.messages.length}
            total={total[state]}
            onPage={setOffset}
          />
        </>
      )}
    </>
  );
}

/** "21–40 of 1,234" with Previous / Next; Next while a page came back full (completed has no total). */
function Pager({ offset, shown, total, onPage }: { offset: number; shown: number; total: number | undefined; onPage: (offset: number) => void }) {
  const hasMore = total === undefined ? shown === LIMIT : offset + shown < total;
  if (offset === 0 && !hasMore) return null;
  return (
    <div class="actions pager">
      <span class="muted">
        {shown === 0 ? "None here" : `${count(offset + 1)}–${count(offset + shown)}`}
        {total !== undefined && ` of ${count(total)}`}
      </span>
      <button type="button" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - LIMIT))}>
        Previous
      </button>
      <button type="button" disabled={!hasMore} onClick={() => onPage(offset + LIMIT)}>
        Next
      </button>
    </div>
  );
}
