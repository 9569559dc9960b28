/** One queue: its live numbers, options, a message looked up by id, and the admin actions. */
import { Fragment, type ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { useConfirm } from "../components/confirm.js";
import { Sparkline } from "../components/sparkline.js";
import { Empty, ErrorBox, Loading, Notice } from "../components/states.js";
import { Time } from "../components/time.js";
import { get, post, seg } from "../lib/api.js";
import { count, duration, json } from "../lib/format.js";
import { useLoad } from "../lib/hooks.js";
import { useIdentity } from "../lib/identity.js";
import { useLiveStats } from "../lib/live-stats.js";
import { href } from "../lib/router.js";
import type { DeadLetter, QueueStats } from "../lib/types.js";
import { Circuits } from "./overview.js";
import { QueueMessages } from "./queue-messages.js";
import { RecentMessages } from "./recent-messages.js";

export function QueuePage({ name }: { name: string }) {
  const live = useLiveStats();
  // The first answer comes from GET /v1/queues/:q (it also says "not found"); the stream then keeps it current.
  const streamed = live.snapshot?.queues.find((queue) => queue.name === name);
  // Missing from a live snapshot: made a moment ago, or deleted. Asked again each second until the stream has it, so a deleted queue says "not found" instead of showing its numbers from when the page opened.
  const missing = streamed === undefined && live.state === "live";
  const first = useLoad((signal) => get<QueueStats>(`/v1/queues/${seg(name)}`, signal), [name], missing ? 1000 : undefined);
  const queue = streamed ?? (first.error ? undefined : first.data);
  const [notice, setNotice] = useState<{ text: string; failed?: boolean } | undefined>();
  const { can } = useIdentity();
  if (queue === undefined)
    return (
      <>
        <h1>{name}</h1>
        {first.error ? <ErrorBox error={first.error} retry={first.reload} /> : <Loading what="the queue" />}
      </>
    );
  const points = live.history.get(name) ?? [];
  return (
    <>
      <p class="crumbs">
        <a href={href()}>Overview</a> / queue
      </p>
      <h1>
        {name} {queue.paused && <span class="badge warn">paused</span>}
      </h1>
      <QueueActions queue={queue} onDone={(text) => setNotice({ text })} onFailed={(text) => setNotice({ text, failed: true })} />
      <Notice notice={notice} />
      <section class="cards" aria-label="Depths">
        <Figure label="Ready" value={count(queue.ready)} />
        <Figure label="Delayed" value={count(queue.delayed)} />
        <Figure label="Leased" value={count(queue.leased)} />
        <Figure label="Dead" value={queue.dead > 0 ? <a href={href("dead", { queue: name })}>{count(queue.dead)}</a> : count(queue.dead)} />
        <Figure label="Oldest ready" value={queue.oldestReadyAgeMs > 0 ? duration(queue.oldestReadyAgeMs) : "–"} />
      </section>
      <section class="card">
        <h2>Flow</h2>
        <dl class="pairs">
          <dt>Published / s</dt>
          <dd>
            <Sparkline values={points.map((p) => p.published)} label="publishes per second" />
          </dd>
          <dt>Acked / s</dt>
          <dd>
            <Sparkline values={points.map((p) => p.completed)} label="acks per second" />
          </dd>
          <dt>Totals</dt>
          <dd>
            {count(queue.totals.published)} published · {count(queue.totals.completed)} completed · {count(queue.totals.retried)} retried · {count(queue.totals.dead)} dead
          </dd>
          <dt>Circuits</dt>
          <dd>
            <Circuits states={queue.circuits} />
          </dd>
          <dt>Ready by priority</dt>
          <dd>
            <PriorityBars byPriority={queue.readyByPriority} />
          </dd>
        </dl>
      </section>
      <section class="card">
        <h2>Messages</h2>
        {can.admin ? (
          <QueueMessages queue={name} stats={queue} />
        ) : (
          <p class="muted">Listing a queue's messages needs a key with the admin scope; their counts are above, and what happens to each is below.</p>
        )}
        <MessageLookup />
        <RecentMessages queue={name} />
        <RecentDead queue={name} />
      </section>
      <section class="card">
        <h2>Options</h2>
        <Options options={queue.options} />
      </section>
    </>
  );
}

function Figure({ label, value }: { label: string; value: ComponentChildren }) {
  return (
    <div class="figure card">
      <span class="label">{label}</span>
      <span class="value" data-figure={label.toLowerCase()}>
        {value}
      </span>
    </div>
  );
}

function QueueActions({ queue, onDone, onFailed }: { queue: QueueStats; onDone(text: string): void; onFailed(text: string): void }) {
  const { can } = useIdentity();
  const { ask, dialog } = useConfirm();
  if (!can.admin) return null;
  const q = seg(queue.name);
  return (
    <div class="actions toolbar">
      {queue.paused ? (
        <button type="button" onClick={() => void post(`/v1/queues/${q}/resume`).then(() => onDone(`Queue ${queue.name} resumed.`), (e: Error) => onFailed(`Resume failed: ${e.message}`))}>
          Resume
        </button>
      ) : (
        <button
          type="button"
          onClick={() =>
            ask({
              title: `Pause ${queue.name}?`,
              body: <p>Workers get no more messages from it until it is resumed. Publishes still land.</p>,
              action: "Pause",
              run: async () => onDone(`Queue ${(await post<{ name: string }>(`/v1/queues/${q}/pause`)).name} paused.`),
            })
          }
        >
          Pause
        </button>
      )}
      <button
        type="button"
        class="danger"
        onClick={() =>
          ask({
            title: `Purge ${queue.name}?`,
            body: (
              <p>
                This removes every waiting message, <strong>{count(queue.ready + queue.delayed)}</strong> now (ready and delayed). Leased messages and dead letters stay. It cannot be undone.
              </p>
            ),
            action: "Purge",
            run: async () => onDone(`Purged ${count((await post<{ purged: number }>(`/v1/queues/${q}/purge`)).purged)} messages from ${queue.name}.`),
          })
        }
      >
        Purge…
      </button>
      {dialog}
    </div>
  );
}

function PriorityBars({ byPriority }: { byPriority: number[] }) {
  const max = Math.max(1, ...byPriority);
  if (byPriority.every((n) => n === 0)) return <span class="muted">none ready</span>;
  return (
    <ol class="priorities" reversed>
      {byPriority
        .map((n, priority) => ({ n, priority }))
        .reverse()
        .filter(({ n }) => n > 0)
        .map(({ n, priority }) => (
          <li key={priority}>
            <span class="p">p{priority}</span>
            <span class="bar" style={{ width: `${(n / max) * 100}%` }} />
            <span>{count(n)}</span>
          </li>
        ))}
    </ol>
  );
}

function MessageLookup() {
  const [id, setId] = useState("");
  return (
    <form
      class="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (id.trim()) location.hash = href("messages", id.trim());
      }}
    >
      <label for="message-id">Message id</label>
      <input id="message-id" value={id} onInput={(event) => setId(event.currentTarget.value)} placeholder="01J…" spellcheck={false} />
      <button type="submit">Show its story</button>
    </form>
  );
}

function RecentDead({ queue }: { queue: string }) {
  const { can } = useIdentity();
  const dead = useLoad((signal) => (can.admin ? get<{ items: DeadLetter[] }>(`/v1/queues/${seg(queue)}/dead?limit=5`, signal) : Promise.resolve(undefined)), [queue, can.admin]);
  if (!can.admin || dead.data === undefined) return null;
  if (dead.data.items.length === 0) return <Empty>No dead letters in this queue.</Empty>;
  return (
    <>
      <h3>Oldest dead letters</h3>
      <ul class="plain">
        {dead.data.items.map((item) => (
          <li key={item.id}>
            <a href={href("messages", item.id)}>{item.id}</a> <span class="badge bad">{item.reason}</span> <Time at={item.deadAt} compact /> <span class="muted">{item.lastError?.message}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** `86400000` under a `…Ms` name reads `86,400,000 ms (24 h)`; objects are shown as JSON. */
function OptionValue({ name, value }: { name: string; value: unknown }) {
  if (typeof value === "object" && value !== null) return <pre>{json(value)}</pre>;
  if (typeof value !== "number") return <code>{String(value)}</code>;
  if (!name.endsWith("Ms")) return <code>{count(value)}</code>;
  return (
    <>
      <code>{count(value)} ms</code> <span class="muted">({duration(value)})</span>
    </>
  );
}

function Options({ options }: { options: Record<string, unknown> }) {
  const entries = Object.entries(options);
  if (entries.length === 0) return <Empty>Default options.</Empty>;
  return (
    <dl class="pairs">
      {entries.map(([key, value]) => (
        <Fragment key={key}>
          <dt>{key}</dt>
          <dd>
            <OptionValue name={key} value={value} />
          </dd>
        </Fragment>
      ))}
    </dl>
  );
}
