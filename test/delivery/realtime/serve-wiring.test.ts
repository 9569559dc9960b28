/**
 * `spool serve` wires real-time delivery on its own: a websocket batch published over HTTP
 * reaches a recipient who connects with a token from the server, and the ack shows in the batch.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { serverDefaults } from "../../../src/config/server-config.js";
import { startServer, type RunningServer } from "../../../src/server/serve.js";
import { pollUntil } from "../../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../../helpers/temp-dir.js";
import { TestClient } from "./realtime-server.js";

let dataDir: string;
let running: RunningServer | undefined;

beforeEach(async () => {
  dataDir = await makeTempDir("spool-realtime-serve-");
});
afterEach(async () => {
  await running?.close();
  await removeTempDir(dataDir);
});

async function post(path: string, body: unknown) {
  const response = await fetch(running!.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

it("pushes a websocket batch to a recipient who connects later, and records the ack", async () => {
  running = await startServer({ ...serverDefaults, port: 0, dataDir, logLevel: "silent" });
  const accepted = await post("/v1/batches", {
    template: { body: "hi {{name}}" },
    recipients: [{ id: "alice", vars: { name: "Alice" } }],
    channel: "websocket",
  });
  expect(accepted.status).toBe(202);
  const batchId = accepted.body.batchId as string;
  await pollUntil(async () => ((await (await fetch(`${running!.url}/v1/batches/${batchId}`)).json()) as { counts: { queued: number } }).counts.queued === 1, {
    what: "the message to be held for the offline recipient",
  });

  const token = await post("/v1/recipients/alice/token", {});
  expect(token.status).toBe(200);
  const client = await TestClient.open(`${running.url.replace("http", "ws")}/v1/stream?token=${encodeURIComponent(token.body.token as string)}`, {});
  await client.until((frames) => frames.some((f) => f.type === "message"), "the held message");
  const message = client.frames.find((f) => f.type === "message");
  expect(message).toMatchObject({ batchId, content: { body: "hi Alice" } });
  client.send({ type: "ack", id: message.id });
  await pollUntil(async () => ((await (await fetch(`${running!.url}/v1/batches/${batchId}`)).json()) as { counts: { delivered: number } }).counts.delivered === 1, {
    what: "the ack to reach the batch",
  });
  client.ws.close();
});
