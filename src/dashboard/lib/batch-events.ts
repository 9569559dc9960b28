/**
 * Batch summaries as they change, from `GET /v1/events` (`batch.progress`, `batch.completed`);
 * other events on that stream (per-message queue events) are not needed here and are ignored.
 */
import { useEffect, useRef } from "preact/hooks";
import { openEventStream } from "./event-stream.js";
import type { BatchSummary } from "./types.js";

export function useBatchEvents(onSummary: (summary: BatchSummary, completed: boolean) => void): void {
  const handler = useRef(onSummary);
  handler.current = onSummary;
  useEffect(
    () =>
      openEventStream("/v1/events", {
        onEvent: (event, data) => {
          if (event === "batch.progress" || event === "batch.completed") handler.current(JSON.parse(data) as BatchSummary, event === "batch.completed");
        },
      }),
    [],
  );
}
