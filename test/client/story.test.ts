/**
 * SpoolClient and the remote worker tell a message's story as the library does: `ctx.progress`
 * and `ctx.log` in a remote handler reach the server (`POST /v1/messages/:id/progress`), the
 * handler's return value becomes the result, `client.ack` takes a result, `client.report`
 * reports, and `nack` with `reject` dead-letters at once (routed by the queue's deadLetter).
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import type { MessageStatus } from "../../src/index.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";

let server: RemoteServer;
let q: string;
beforeEach(async () => {
  server = await startRemoteServer();
  q = uniqueQueueName("story");
});
afterEach(async () => server.close());

it("a remote handler's progress and log show in the status while it runs, its return value is the result", async () => {
  const client = server.client();
  const { id } = await client.publish(q, { n: 21 });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reported!: () => void;
  const reportedOnce = new Promise<void>((resolve) => (reported = resolve));
  const worker = client.queue<{ n: number }>(q).work(async (message, ctx) => {
    await ctx.progress(0.5);
    await ctx.log("working on it");
    reported();
    await gate;
    return { answer: message.body.n * 2 };
  });
  try {
    await reportedOnce;
    const running = (await client.status(id)) as MessageStatus;
    expect(running).toMatchObject({ state: "leased", progress: 0.5 });
    expect(running.log?.map((entry) => entry.line)).toEqual(["working on it"]);
    expect(server.count("POST /v1/messages/:id/progress")).toBe(2);
    release();
    const done = await pollUntil(async () => {
      const status = await client.status(id);
      return status?.state === "completed" ? status : undefined;
    });
    expect(done.result).toEqual({ answer: 42 });
  } finally {
    release();
    await worker.close();
  }
});

it("client.report, client.ack with a result, and nack with reject", async () => {
  const client = server.client();
  const dlq = uniqueQueueName("dlq");
  await server.spool.queue(q, { deadLetter: { queue: dlq } }).info();
  await client.publish(q, "a");
  await client.publish(q, "b");
  const [a, b] = await client.queue(q).lease({ max: 2 });
  await client.report(a.id, a.leaseToken, { progress: { rows: 10 }, log: ["read 10 rows"] });
  await client.ack(a.id, a.leaseToken, { result: "10 rows" });
  expect(await client.status(a.id)).toMatchObject({ state: "completed", result: "10 rows", progress: { rows: 10 } });
  expect(await client.queue(q).nack(b.id, b.leaseToken, { reject: true, error: "no" })).toMatchObject({ state: "dead", deadReason: "rejected" });
  const [copy] = await client.queue(dlq).lease();
  expect(copy.headers).toMatchObject({ "x-death-reason": "rejected", "x-death-id": b.id, "x-death-queue": q });
});
