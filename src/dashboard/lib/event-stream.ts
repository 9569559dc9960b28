/**
 * Server-sent events read with fetch, not EventSource: EventSource cannot send an
 * Authorization header, and the key must never go into a URL. Reconnects with a growing pause
 * (up to 10 s) after the stream ends or the server cannot be reached; stops for good on 401/403.
 */
import { ApiError, authHeaders, errorOf, reportRefused } from "./api.js";

export type StreamState = "connecting" | "live" | "reconnecting" | "refused";

export interface StreamHandlers {
  onEvent(event: string, data: string): void;
  onState?(state: StreamState, error?: ApiError): void;
}

/** Opens `path` and keeps it open until the returned function is called. */
export function openEventStream(path: string, handlers: StreamHandlers): () => void {
  const abort = new AbortController();
  void run(path, handlers, abort.signal);
  return () => abort.abort();
}

async function run(path: string, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
  let pauseMs = 500;
  handlers.onState?.("connecting");
  while (!signal.aborted) {
    // What the server answered, when it answered (a 503): "reconnecting" then says it rather than "does not answer".
    let failure: ApiError | undefined;
    try {
      const response = await fetch(path, { headers: { ...authHeaders(), accept: "text/event-stream" }, signal });
      if (!response.ok) {
        const error = await errorOf(response);
        if (error.kind === "unauthorized" || error.kind === "forbidden") {
          // A revoked key: the app asks for another, as it does when a request is refused (a page may read only streams).
          if (error.kind === "unauthorized") reportRefused(error);
          return handlers.onState?.("refused", error);
        }
        throw error;
      }
      handlers.onState?.("live");
      pauseMs = 500;
      await readEvents(response, handlers, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) failure = error;
    }
    handlers.onState?.("reconnecting", failure);
    await sleep(pauseMs, signal);
    pauseMs = Math.min(pauseMs * 2, 10_000);
  }
}

/** Splits the stream into events (blank-line separated), joining `data:` lines; comments are skipped. */
async function readEvents(response: Response, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) handlers.onEvent(event, data.join("\n"));
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
