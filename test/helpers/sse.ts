/** A live server-sent-events stream read from a test: every event so far, and a wait for more. */
import { serverEvents, type ServerEvent } from "../../src/client/server-events.js";

export type SseEvent = ServerEvent;

export interface SseReader {
  status: number;
  events: SseEvent[];
  /** Reads until `predicate(events)` holds; fails if the stream ends first. */
  until(predicate: (events: SseEvent[]) => boolean, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openSse(url: string, key?: string): Promise<SseReader> {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const response = await fetch(url, { headers, signal: abort.signal });
  const text = response.body!.pipeThrough(new TextDecoderStream()) as unknown as AsyncIterable<string>;
  // The same parser SpoolClient.events uses.
  const parsed = serverEvents(text);
  const events: SseEvent[] = [];
  return {
    status: response.status,
    events,
    async until(predicate, what = "the events awaited") {
      while (!predicate(events)) {
        const { value, done } = await parsed.next();
        if (done) throw new Error(`the event stream ended before ${what}: ${JSON.stringify(events).slice(0, 2000)}`);
        events.push(value);
      }
    },
    async close() {
      abort.abort();
      await parsed.return(undefined).catch(() => undefined);
    },
  };
}
