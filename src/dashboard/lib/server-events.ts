/**
 * Live events from the server, as a hook: `useServerEvents(path, handler)` keeps a stream open
 * while the component is mounted. `useBatchEvents` follows batch summaries on `GET /v1/events`
 * (`batch.progress`, `batch.completed`), `useQueueEvents` one queue's message events.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { openEventStream, type StreamState } from "./event-stream.js";
import type { BatchSummary, QueueEvent } from "./types.js";

/** Returns the stream's state: "live" once the server has answered and events flow. */
export function useServerEvents(path: string, onEvent: (event: string, data: string) => void): StreamState {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [state, setState] = useState<StreamState>("connecting");
  useEffect(() => openEventStream(path, { onEvent: (event, data) => handler.current(event, data), onState: (next) => setState(next) }), [path]);
  return state;
}

export function useBatchEvents(onSummary: (summary: BatchSummary, completed: boolean) => void): StreamState {
  return useServerEvents("/v1/events?types=batch.progress,batch.completed", (event, data) => {
    if (event === "batch.progress" || event === "batch.completed") onSummary(JSON.parse(data) as BatchSummary, event === "batch.completed");
  });
}

const MESSAGE_TYPES = ["published", "active", "completed", "failed", "retry", "released", "dead", "replayed"];

/** The message events of `queue` (its name as a glob: a `*` in it is matched literally below). */
export function useQueueEvents(queue: string, onEvent: (event: QueueEvent) => void): StreamState {
  const query = new URLSearchParams({ queue, types: MESSAGE_TYPES.map((type) => `message.${type}`).join(",") });
  return useServerEvents(`/v1/events?${query}`, (name, data) => {
    if (!name.startsWith("message.")) return;
    const event = JSON.parse(data) as QueueEvent;
    if (event.queue === queue) onEvent(event);
  });
}
