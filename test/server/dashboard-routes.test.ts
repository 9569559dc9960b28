/**
 * What the dashboard needs from the server, tested without a browser: the page and its assets
 * (or, unbuilt, a page saying how to build them), GET /v1/whoami, and the stats stream
 * (GET /v1/stats/stream: one `stats` event a second with what GET /v1/queues answers, ended by
 * shutdown, HEAD without a body). test/dashboard drives the page itself in Chromium.
 */
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-keys.js";
import { MAX_STATS_STREAMS } from "../../src/server/routes/stats-stream.js";
import { STATS_INTERVAL_MS } from "../../src/server/stats-broadcast.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const ADMIN = generateApiKey();
const MAILER = generateApiKey();
const KEYS = [
  { name: "ops", hash: hashApiKey(ADMIN), scopes: ["admin" as const] },
  { name: "mailer", hash: hashApiKey(MAILER), scopes: ["publish" as const, "consume" as const], queues: ["emails.*"] },
];

let server: TestServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) await removeTempDir(dir);
  dir = undefined;
});

/** Reads a stream's text until `done(text)` says enough. */
async function readStream(response: Response, done: (text: string) => boolean): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!done(text)) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

function statsEvents(text: string): Array<{ at: number; queues: Array<{ name: string }>; health: { status: string }; store: { name: string } }> {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event: stats\n"))
    .map((block) => JSON.parse(block.slice(block.indexOf("data: ") + 6)));
}

describe("GET / and /assets/*", () => {
  it("serves the built page with a policy that allows nothing from elsewhere, and its assets", async () => {
    dir = await makeTempDir("spool-dashboard-built-");
    await mkdir(path.join(dir, "assets"));
    await writeFile(path.join(dir, "index.html"), "<!doctype html><title>Spool</title>");
    await writeFile(path.join(dir, "assets", "main.js"), "console.log(1)");
    server = await startTestServer({ keys: KEYS, dashboardDir: dir });
    const page = await server.call("GET", "/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.text).toContain("<title>Spool</title>");
    const script = await server.call("GET", "/assets/main.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    const missing = await server.call("GET", "/assets/nope.js");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error.code).toBe("not_found");
  });

  it("still starts without the built files, and / says how to build them", async () => {
    dir = await makeTempDir("spool-dashboard-unbuilt-");
    server = await startTestServer({ dashboardDir: path.join(dir, "absent") });
    const page = await server.call("GET", "/");
    expect(page.status).toBe(503);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.text).toContain("npm run build:dashboard");
    expect((await server.call("GET", "/health/ready")).status).toBe(200);
  });
});

describe("GET /v1/whoami", () => {
  it("answers the key's name, scopes and globs; {auth: false} without keys", async () => {
    server = await startTestServer({ keys: KEYS });
    expect((await server.call("GET", "/v1/whoami", undefined, { key: ADMIN })).body).toEqual({ auth: true, name: "ops", scopes: ["admin"], queues: null });
    expect((await server.call("GET", "/v1/whoami", undefined, { key: MAILER })).body).toEqual({ auth: true, name: "mailer", scopes: ["publish", "consume"], queues: ["emails.*"] });
    expect((await server.call("GET", "/v1/whoami")).status).toBe(401);
    await server.close();
    server = await startTestServer();
    expect((await server.call("GET", "/v1/whoami")).body).toEqual({ auth: false });
  });

  it("is in /openapi.json, with the stats stream", async () => {
    server = await startTestServer();
    const paths = Object.keys((await server.call("GET", "/openapi.json")).body.paths);
    expect(paths).toContain("/v1/whoami");
    expect(paths).toContain("/v1/stats/stream");
  });
});

describe("GET /v1/stats/stream", () => {
  it("sends `stats` at once and then every second: the queues as GET /v1/queues answers them, health and store", async () => {
    server = await startTestServer({ keys: KEYS });
    await server.spool.queue("emails.welcome").publish({ n: 1 });
    await server.spool.queue("billing").publish({ n: 2 });
    const listed = (await server.call("GET", "/v1/queues", undefined, { key: ADMIN })).body.queues;
    const response = await fetch(`${server.url}/v1/stats/stream`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const text = await readStream(response, (read) => statsEvents(read).length >= 2);
    const [first, second] = statsEvents(text);
    expect(second.at - first.at).toBeGreaterThanOrEqual(STATS_INTERVAL_MS - 50);
    expect(first.health).toEqual({ status: "ready" });
    expect(first.store).toEqual({ name: "memory" });
    expect(first.queues.map((queue) => queue.name).sort()).toEqual(listed.map((queue: { name: string }) => queue.name).sort());
    // The same object, but for the age of the oldest ready message, which grows between the two reads.
    const withoutAge = (queue: object | undefined) => ({ ...queue, oldestReadyAgeMs: 0 });
    expect(withoutAge(first.queues.find((queue) => queue.name === "billing"))).toEqual(withoutAge(listed.find((queue: { name: string }) => queue.name === "billing")));
  });

  it("shows a key with globs only the queues it reaches", async () => {
    server = await startTestServer({ keys: KEYS });
    await server.spool.queue("emails.welcome").publish({ n: 1 });
    await server.spool.queue("billing").publish({ n: 2 });
    const response = await fetch(`${server.url}/v1/stats/stream`, { headers: { authorization: `Bearer ${MAILER}` } });
    const [event] = statsEvents(await readStream(response, (read) => statsEvents(read).length >= 1));
    expect(event.queues.map((queue) => queue.name)).toEqual(["emails.welcome"]);
  });

  it("answers HEAD with the headers and no body, and ends open streams when the server shuts down", async () => {
    server = await startTestServer();
    const head = await fetch(`${server.url}/v1/stats/stream`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/event-stream");
    expect(await head.text()).toBe("");

    const response = await fetch(`${server.url}/v1/stats/stream`);
    const reading = readStream(response, () => false);
    server.shutdown.abort();
    // The stream ends (the read finishes) rather than holding shutdown up.
    expect(await reading).toContain(": spool events");
    await server.app.close();
  });

  it(`holds at most ${MAX_STATS_STREAMS} streams open (one more is 503), with no listener-leak warning`, async () => {
    server = await startTestServer();
    const url = `${server.url}/v1/stats/stream`;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    const open: http.ClientRequest[] = [];
    const get = () =>
      new Promise<{ status: number; request: http.ClientRequest }>((resolve, reject) => {
        const request = http.get(url, { agent: false }, (response) => resolve({ status: response.statusCode ?? 0, request }));
        request.on("error", reject);
      });
    try {
      for (let i = 0; i < MAX_STATS_STREAMS; i++) {
        const answer = await get();
        expect(answer.status).toBe(200);
        open.push(answer.request);
      }
      const refused = await get();
      open.push(refused.request);
      expect(refused.status).toBe(503);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      for (const request of open) request.destroy();
    }
  });
});
