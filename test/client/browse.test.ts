/** SpoolClient looks at a queue as the library does: `queue.browse` and `client.peek`, over HTTP. */
import { afterEach, beforeEach, expect, it } from "vitest";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";

let server: RemoteServer;
beforeEach(async () => {
  server = await startRemoteServer();
});
afterEach(async () => server.close());

it("browses ready and delayed messages with their bodies, and peeks at one until it is acked", async () => {
  const client = server.client();
  const q = uniqueQueueName("browse");
  const queue = client.queue<{ n: number }>(q);
  const now = await queue.publish({ n: 1 }, { headers: { h: "v" } });
  const later = await queue.publish({ n: 2 }, { delayMs: 60_000 });
  expect((await queue.browse()).map((m) => [m.id, m.body])).toEqual([[now.id, { n: 1 }]]);
  expect((await queue.browse({ state: "delayed", limit: 1 })).map((m) => m.id)).toEqual([later.id]);
  expect(await client.peek(now.id)).toEqual({ id: now.id, queue: q, body: { n: 1 }, headers: { h: "v" } });
  const [m] = await queue.lease();
  await queue.ack(m.id, m.leaseToken);
  expect(await client.peek(now.id)).toBeUndefined();
  expect((await queue.browse({ state: "completed" })).map((c) => c.id)).toEqual([now.id]);
  await expect(client.queue(uniqueQueueName("none")).browse()).rejects.toMatchObject({ code: "not_found" });
});
