/** Every queue the key reaches, live from the stats stream, and the server's health. */
import { Sparkline } from "../components/sparkline.js";
import { Empty, ErrorBox, Loading } from "../components/states.js";
import { Time } from "../components/time.js";
import { count, duration } from "../lib/format.js";
import { useLiveStats, type LiveStats } from "../lib/live-stats.js";
import { href } from "../lib/router.js";
import type { QueueStats } from "../lib/types.js";

export function Overview() {
  const live = useLiveStats();
  const snapshot = live.snapshot;
  return (
    <>
      <h1>Overview</h1>
      <Health live={live} />
      {snapshot === undefined ? (
        live.error ? <ErrorBox error={live.error} /> : <Loading what="the queues" />
      ) : snapshot.queues.length === 0 ? (
        <Empty>No queues yet. A queue appears here once something publishes to it (or PUT /v1/queues/:q).</Empty>
      ) : (
        <QueueTable queues={ordered(snapshot.queues)} live={live} />
      )}
    </>
  );
}

/** By name, with the batch-delivery queues (`delivery.*`) after the application's own. */
function ordered(queues: QueueStats[]): QueueStats[] {
  const internal = (name: string) => (name.startsWith("delivery.") ? 1 : 0);
  return [...queues].sort((a, b) => internal(a.name) - internal(b.name) || a.name.localeCompare(b.name));
}

function Health({ live }: { live: LiveStats }) {
  const snapshot = live.snapshot;
  const reconnecting = live.error ? `the server answered “${live.error.message}”: trying again…` : "the server does not answer: reconnecting…";
  const streamText = { connecting: "connecting…", live: "live", reconnecting, refused: "the key was refused" }[live.state];
  const ready = snapshot?.health.status === "ready";
  return (
    <section class="health card" aria-label="Server health">
      <div>
        <span class="label">Server</span>
        {snapshot === undefined || live.state !== "live" ? (
          <span class={`badge ${live.state === "reconnecting" ? "bad" : ""}`}>{streamText}</span>
        ) : (
          <span class={`badge ${ready ? "good" : "bad"}`} data-testid="health">
            {ready ? "ready" : `unavailable: ${snapshot.health.problem ?? ""}`}
          </span>
        )}
      </div>
      <div>
        <span class="label">Store</span>
        {snapshot ? (
          <span>
            {snapshot.store.name}{" "}
            {snapshot.store.writeProblem ? <span class="badge bad">writes fail: {snapshot.store.writeProblem}</span> : <span class="badge good">writes ok</span>}
          </span>
        ) : (
          <span class="muted">–</span>
        )}
      </div>
      <div>
        <span class="label">Updated</span>
        {snapshot ? <Time at={snapshot.at} compact /> : <span class="muted">–</span>}
        <span class="muted">{live.state === "live" ? " (every second)" : " (the last numbers received; not live)"}</span>
      </div>
    </section>
  );
}

function QueueTable({ queues, live }: { queues: QueueStats[]; live: LiveStats }) {
  return (
    <div class="table-wrap">
      <table class="queues responsive">
        <caption class="sr-only">Queues</caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col" class="num">Ready</th>
            <th scope="col" class="num">Delayed</th>
            <th scope="col" class="num">Leased</th>
            <th scope="col" class="num">Dead</th>
            <th scope="col">Published</th>
            <th scope="col">Acked</th>
            <th scope="col">Oldest ready</th>
            <th scope="col">Circuits</th>
          </tr>
        </thead>
        <tbody>
          {queues.map((queue) => {
            const points = live.history.get(queue.name) ?? [];
            return (
              <tr key={queue.name} data-queue={queue.name}>
                <th scope="row" data-label="Queue">
                  <a href={href("queues", queue.name)}>{queue.name}</a>
                  {queue.paused && <span class="badge warn">paused</span>}
                </th>
                <td class="num" data-label="Ready" data-count="ready">
                  {count(queue.ready)}
                </td>
                <td class="num" data-label="Delayed" data-count="delayed">
                  {count(queue.delayed)}
                </td>
                <td class="num" data-label="Leased" data-count="leased">
                  {count(queue.leased)}
                </td>
                <td class="num" data-label="Dead" data-count="dead">
                  {queue.dead > 0 ? <a href={href("dead", { queue: queue.name })}>{count(queue.dead)}</a> : count(queue.dead)}
                </td>
                <td data-label="Published">
                  <Sparkline values={points.map((p) => p.published)} label={`${queue.name} publishes per second`} />
                </td>
                <td data-label="Acked">
                  <Sparkline values={points.map((p) => p.completed)} label={`${queue.name} acks per second`} />
                </td>
                <td data-label="Oldest ready">{queue.oldestReadyAgeMs > 0 ? duration(queue.oldestReadyAgeMs) : <span class="muted">–</span>}</td>
                <td data-label="Circuits">
                  <Circuits states={queue.circuits} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Circuits({ states }: { states: string[] }) {
  if (states.length === 0) return <span class="muted" title="No worker in this server's process runs on the queue (remote workers have their own)">none</span>;
  return (
    <span class="circuits">
      {states.map((state, i) => (
        <span key={i} class={`badge ${state === "closed" ? "good" : state === "open" ? "bad" : "warn"}`}>
          {state}
        </span>
      ))}
    </span>
  );
}
