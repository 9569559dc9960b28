/** `startServer` on the embedded journal: configuration applied, data kept across restarts, orderly close. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { serverDefaults, type ResolvedServerConfig } from "../../src/config/server-config.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

let dataDir: string;
let running: RunningServer | undefined;

beforeEach(async () => {
  dataDir = await makeTempDir("spool-serve-");
});
afterEach(async () => {
  await running?.close();
  running = undefined;
  await removeTempDir(dataDir);
});

function config(overrides: Partial<ResolvedServerConfig> = {}): ResolvedServerConfig {
  return { ...serverDefaults, port: 0, dataDir, logLevel: "silent", ...overrides };
}

function captureLogs(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink) as unknown as Logger, lines };
}

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("startServer", () => {
  it("declares configured queues, keeps published messages across a restart", async () => {
    running = await startServer(config({ queues: { emails: { maxAttempts: 9 } } }));
    const published = await post(running.url, "/v1/queues/emails/messages", { body: { to: "a@x.io" } });
    expect(published.status).toBe(201);
    await running.close();

    running = await startServer(config());
    const stats = (await (await fetch(`${running.url}/v1/queues/emails`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ ready: 1, options: expect.objectContaining({ maxAttempts: 9 }) });
    const leased = await post(running.url, "/v1/queues/emails/lease", {});
    expect(leased.body.messages).toEqual([expect.objectContaining({ id: published.body.id, body: { to: "a@x.io" } })]);
  });

  it("says when it runs without keys, on loopback only", async () => {
    const { logger, lines } = captureLogs();
    running = await startServer(config(), { logger });
    expect(lines.some((line) => line.level === 40 && String(line.msg).includes("no API keys"))).toBe(true);
    expect(lines.some((line) => String(line.msg) === "spool serving" && line.url === running?.url)).toBe(true);
  });

  it("refuses a non-loopback address without keys, and leaves the data directory free", async () => {
    await expect(startServer(config({ host: "0.0.0.0" }))).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without API keys/);
    running = await startServer(config());
    expect((await fetch(`${running.url}/health/ready`)).status).toBe(200);
  });

  it("refuses a second server on the same data directory", async () => {
    running = await startServer(config());
    await expect(startServer(config())).rejects.toThrow(/already open/);
  });

  it("close ends long-polls, finishes, and releases the directory", async () => {
    running = await startServer(config());
    const store = running.spool.store;
    const watch = store.watch.bind(store);
    let parked = 0;
    // Only the poll's own queue: the server's delivery workers watch theirs too.
    store.watch = (queue, listener) => (queue === "jobs" && parked++, watch(queue, listener));
    const polling = post(running.url, "/v1/queues/jobs/lease", { waitMs: 30_000 });
    await pollUntil(() => parked === 1, { what: "the poll to park" });
    await running.close();
    running = undefined;
    expect((await polling).body).toEqual({ messages: [] });
    running = await startServer(config());
  });
});
