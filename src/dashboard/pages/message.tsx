/**
 * One message's whole story from `GET /v1/messages/:id`: state, attempts, timestamps, last
 * error, progress, log and result, refreshed while it is still on its way; its body and headers
 * from `GET /v1/messages/:id/body` (admin keys) while the queue keeps them.
 */
import { useEffect, useState } from "preact/hooks";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { Time } from "../components/time.js";
import { get, seg } from "../lib/api.js";
import { json, prettyBody } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { useIdentity } from "../lib/identity.js";
import { href } from "../lib/router.js";
import type { MessageStatus } from "../lib/types.js";

export const SETTLED = new Set(["completed", "dead", "expired"]);
const REFRESH_MS = 1000;

export function MessagePage({ id }: { id: string }) {
  // Asked again every second until the message settles; then it no longer changes.
  const [settled, setSettled] = useState(false);
  const status = useLoad((signal) => get<MessageStatus>(`/v1/messages/${seg(id)}`, signal), [id], settled ? undefined : REFRESH_MS);
  const message = status.data;
  useEffect(() => setSettled(message !== undefined && message.id === id && SETTLED.has(message.state)), [id, message?.id, message?.state]);
  if (message === undefined)
    return (
      <>
        <h1 class="id-title">
          Message <code>{id}</code>
        </h1>
        {status.error ? <ErrorBox error={status.error} retry={status.reload} /> : <Loading what="its story" />}
      </>
    );
  return (
    <>
      <p class="crumbs">
        <a href={href()}>Overview</a> / <a href={href("queues", message.queue)}>{message.queue}</a> / message
      </p>
      <h1 class="id-title">
        Message <code>{message.id}</code>
      </h1>
      <p>
        <StateBadge state={message.state} /> {!SETTLED.has(message.state) && !status.error && <span class="muted">(refreshed every second)</span>}
      </p>
      {status.error && (
        // The story below is the last one received: say so rather than let an old state pass for a live one.
        <div class="state error" role="alert">
          <strong>Not up to date</strong>
          <p>
            The server answered “{status.error.message}”. What follows is the last story received; the page keeps asking.
          </p>
        </div>
      )}
      <section class="card">
        <h2>Story</h2>
        <dl class="pairs">
          <dt>Queue</dt>
          <dd>
            <a href={href("queues", message.queue)}>{message.queue}</a>
          </dd>
          <dt>Attempt</dt>
          <dd>
            {message.attempt} of {message.maxAttempts}
          </dd>
          <dt>Priority</dt>
          <dd>{message.priority}</dd>
          {message.groupKey && (
            <>
              <dt>Group</dt>
              <dd>
                <code>{message.groupKey}</code>
              </dd>
            </>
          )}
          <dt>Published</dt>
          <dd>
            <Time at={message.publishedAt} />
          </dd>
          <dt>Available</dt>
          <dd>
            <Time at={message.availableAt} />
          </dd>
          {message.leaseUntil !== undefined && <Stamp label="Lease until" at={message.leaseUntil} />}
          {message.expiresAt !== undefined && <Stamp label="Expires" at={message.expiresAt} />}
          {message.completedAt !== undefined && <Stamp label="Completed" at={message.completedAt} />}
          {message.deadAt !== undefined && <Stamp label="Dead" at={message.deadAt} />}
          {message.deadReason && (
            <>
              <dt>Dead because</dt>
              <dd>
                <span class="badge bad">{message.deadReason}</span>
              </dd>
            </>
          )}
          {message.correlationId && (
            <>
              <dt>Correlation id</dt>
              <dd>
                <code>{message.correlationId}</code>
              </dd>
            </>
          )}
          {message.causationId && (
            <>
              <dt>Caused by</dt>
              <dd>
                <a href={href("messages", message.causationId)}>{message.causationId}</a>
              </dd>
            </>
          )}
        </dl>
      </section>
      {message.lastError && (
        <section class="card">
          <h2>Last error</h2>
          <LastError error={message.lastError} />
        </section>
      )}
      {message.progress !== undefined && (
        <section class="card">
          <h2>Progress</h2>
          <pre>{json(message.progress)}</pre>
        </section>
      )}
      <section class="card">
        <h2>Log</h2>
        {message.log && message.log.length > 0 ? (
          <ol class="log">
            {message.log.map((entry, i) => (
              <li key={i}>
                <Time at={entry.at} compact /> <span>{entry.line}</span>
              </li>
            ))}
          </ol>
        ) : (
          <Empty>The handler logged nothing.</Empty>
        )}
      </section>
      {message.result !== undefined && (
        <section class="card">
          <h2>Result</h2>
          <pre>{json(message.result)}</pre>
        </section>
      )}
      <BodyAndHeaders message={message} />
    </>
  );
}

function Stamp({ label, at }: { label: string; at: number }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>
        <Time at={at} />
      </dd>
    </>
  );
}

export function StateBadge({ state }: { state: string }) {
  const tone = state === "completed" ? "good" : state === "dead" || state === "expired" ? "bad" : state === "leased" ? "info" : "warn";
  return (
    <span class={`badge ${tone}`} data-state={state}>
      {state}
    </span>
  );
}

export function LastError({ error }: { error: { message: string; kind?: string } }) {
  return (
    <div class="last-error">
      {error.kind && <span class="badge bad">{error.kind}</span>} <span class="error-text">{error.message}</span>
    </div>
  );
}

function BodyAndHeaders({ message }: { message: MessageStatus }) {
  const { can } = useIdentity();
  // The body is kept while the message waits, runs or is dead; a completed message's is gone.
  const found = useLoad(
    async (signal) => (can.admin ? get<{ body: unknown; headers?: Record<string, string> }>(`/v1/messages/${seg(message.id)}/body`, signal) : undefined),
    [message.id, can.admin, message.state === "completed"],
  );
  const content = found.data;
  return (
    <section class="card">
      <h2>Body and headers</h2>
      {!can.admin ? (
        <p class="muted">Reading a message's body needs a key with the admin scope.</p>
      ) : content ? (
        <>
          <pre class="body">{prettyBody(content.body)}</pre>
          {content.headers && Object.keys(content.headers).length > 0 ? <pre>{json(content.headers)}</pre> : <p class="muted">No headers.</p>}
        </>
      ) : found.error?.code === "not_found" ? (
        <p class="muted">The body is not kept once a message has completed.</p>
      ) : found.error ? (
        <ErrorBox error={found.error} />
      ) : (
        <Loading what="the body" />
      )}
    </section>
  );
}
