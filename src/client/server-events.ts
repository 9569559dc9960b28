/**
 * Server-sent events as the server sends them (`event: <name>` and one `data: <json>` line, then
 * a blank line; `:` comments keep the stream alive): parsed from the stream's text as it comes.
 */
export interface ServerEvent {
  event: string;
  data: unknown;
}

export async function* serverEvents(chunks: AsyncIterable<string>): AsyncGenerator<ServerEvent> {
  let carry = "";
  for await (const chunk of chunks) {
    carry += chunk;
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
      if (data !== undefined) yield { event, data: JSON.parse(data) as unknown };
    }
  }
}
