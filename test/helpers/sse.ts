/** A live server-sent-events stream read from a test: every event so far, and a wait for more. */
export interface SseEvent {
  event: string;
  data: unknown;
}

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
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let carry = "";
  const parse = () => {
    let end: number;
    while ((end = carry.indexOf("\n\n")) >= 0) {
      const block = carry.slice(0, end);
      carry = carry.slice(end + 2);
      let event = "message";
      let data: string | undefined;
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (data !== undefined) events.push({ event, data: JSON.parse(data) });
    }
  };
  return {
    status: response.status,
    events,
    async until(predicate, what = "the events awaited") {
      while (!predicate(events)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the event stream ended before ${what}: ${JSON.stringify(events).slice(0, 2000)}`);
        carry += value;
        parse();
      }
    },
    async close() {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}
