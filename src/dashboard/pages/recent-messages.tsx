/**
 * A queue's messages as they move, while the page is open: each message's latest event from
 * `GET /v1/events?queue=` (published, active, completed, failed, retry, released, dead, replayed),
 * newest first. The API cannot list the messages that were waiting before the page opened.
 */
import { useState } from "preact/hooks";
import { Empty } from "../components/states.js";
import { Time } from "../components/time.js";
import { useQueueEvents } from "../lib/server-events.js";
import { href } from "../lib/router.js";
import type { QueueEvent } from "../lib/types.js";

const KEPT = 25;

const TONE: Record<string, string> = { completed: "good", dead: "bad", failed: "bad", active: "info" };

export function RecentMessages({ queue }: { queue: string }) {
  const [recent, setRecent] = useState<QueueEvent[]>([]);
  const state = useQueueEvents(queue, (event) => setRecent((previous) => [event, ...previous.filter((e) => e.id !== event.id)].slice(0, KEPT)));
  return (
    <>
      <h3>
        Recent messages <span class="muted" data-stream={state}>({state === "live" ? "live, since this page opened" : state === "refused" ? "this key may not follow them" : "connecting…"})</span>
      </h3>
      {recent.length === 0 ? (
        <Empty>Nothing has happened to a message of this queue since the page opened.</Empty>
      ) : (
        <ul class="plain recent" aria-live="polite">
          {recent.map((event) => (
            <li key={event.id} data-recent={event.id}>
              <a href={href("messages", event.id)}>
                <code>{event.id}</code>
              </a>
              <span class={`badge ${TONE[event.type] ?? ""}`} data-event={event.type}>
                {event.type}
              </span>
              {event.attempt !== undefined && <span class="muted"> attempt {event.attempt}</span>}
              {event.error && <span class="error-text"> {event.error.message}</span>} <Time at={event.at} compact />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
