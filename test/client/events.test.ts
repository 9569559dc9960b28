/**
 * `client.events({ queue })` follows jobs over HTTP as `spool.on` does in the library: a remote
 * worker's first attempt fails and its second completes, and the events say so in order; the
 * iteration ends when its signal aborts; bad options and a key out of reach are errors.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-keys.js";
import { SpoolClient, SpoolError, type DroppedEvents, type QueueEvent } from "../../src/index.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";

const ADMIN = generateApiKey();
const LIMITED = generateApiKey();
let server: RemoteServer;
beforeEach(async () => {
  server = await startRemoteServer({
    keys: [
      { name: "admin", hash: hashApiKey(ADMIN), scopes: ["admin"] },
      { name: "limited", hash: hashApiKey(LIMITED), scopes: ["consume"], queues: ["mine.*"] },
    ],
  });
});
afterEach(async () => server.close());

it("follows a job through a failed attempt, its retry and its completion, then stops when aborted", async () => {
  const client = server.client({ apiKey: ADMIN });
  const q = uniqueQueueName("events");
  await client.queue(q).setOptions({ backoff: { type: "fixed", baseMs: 0 } });
  const stop = new AbortController();
  const seen: Array<QueueEvent | DroppedEvents> = [];
  const events = client.events({ queue: q, signal: stop.signal });
  const first = events.next(); // opens the stream
  const { id } = await client.publish(q, { n: 1 });
  let calls = 0;
  const worker = client.queue(q).work(async () => {
    if (++calls === 1) throw new Error("first try fails");
  });
  try {
    seen.push((await first).value as QueueEvent);
    for await (const event of events) {
      seen.push(event);
      if (event.type === "completed") stop.abort();
    }
  } finally {
    await worker.close();
  }
  const mine = seen.filter((e) => e.type !== "dropped" && e.id === id) as QueueEvent[];
  expect(mine.map((e) => e.type)).toEqual(["published", "active", "failed", "retry", "active", "completed"]);
  expect(mine[2]).toMatchObject({ attempt: 1, error: { message: "first try fails" } });
  expect(mine[5]).toMatchObject({ attempt: 2 });
});

it("refuses bad options, and streams only of the queues a key reaches", async () => {
  const admin = server.client({ apiKey: ADMIN });
  await expect(admin.events({ queue: "" }).next()).rejects.toMatchObject({ code: "validation_failed" });
  await expect(admin.events({ queue: "x", types: ["finished" as "completed"] }).next()).rejects.toMatchObject({ code: "validation_failed" });
  await expect(server.client({ apiKey: "wrong" }).events({ queue: "x" }).next()).rejects.toBeInstanceOf(SpoolError);

  const limited = server.client({ apiKey: LIMITED });
  const stop = new AbortController();
  const events = limited.events({ queue: "*", types: ["published"], signal: stop.signal });
  const next = events.next();
  const other = await admin.publish(uniqueQueueName("theirs"), 1);
  const ours = await admin.publish(uniqueQueueName("mine.q"), 2);
  const got = (await next).value as QueueEvent;
  stop.abort();
  expect(got.id).toBe(ours.id);
  expect(got.id).not.toBe(other.id);
});

it("a connection cut mid-stream ends the iteration with unavailable, as every other client call says it", async () => {
  const target = new URL(server.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  try {
    const client = new SpoolClient({ url: proxy.urlFor(server.url), apiKey: ADMIN });
    const q = uniqueQueueName("events");
    const events = client.events({ queue: q });
    const first = events.next(); // opens the stream
    const { id } = await client.publish(q, { n: 1 });
    expect((await first).value).toMatchObject({ type: "published", id });
    await proxy.stop();
    const error = await events.next().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpoolError);
    expect(error).toMatchObject({ code: "unavailable" });
    await client.close();
  } finally {
    await proxy.close();
  }
});
