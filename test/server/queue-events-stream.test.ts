/**
 * GET /v1/events?queue=<glob>: a client follows jobs without polling. Message events arrive in
 * order per message as `message.<type>`; the glob and the key's queue globs both filter; `types`
 * narrows (an unknown name is a 400 saying which); a stream is bounded at EVENTS_PER_SECOND and
 * says how many it dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-keys.js";
import http from "node:http";
import { EVENTS_PER_SECOND, MAX_EVENT_STREAMS } from "../../src/server/routes/events.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { openSse, type SseEvent, type SseReader } from "../helpers/sse.js";

const LIMITED = generateApiKey();
const ADMIN = generateApiKey();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    keys: [
      { name: "admin", hash: hashApiKey(ADMIN), scopes: ["admin"] },
      { name: "limited", hash: hashApiKey(LIMITED), scopes: ["publish", "consume"], queues: ["ev.a.*"] },
    ],
  });
});
afterAll(async () => server?.close());

const admin = { key: ADMIN };
const ofMessage = (events: SseEvent[], id: string) => events.filter((e) => (e.data as { id?: string }).id === id);

describe("GET /v1/events?queue=…", () => {
  it("follows a job over HTTP: published, active, progress, completed, in order, with what changed", async () => {
    const q = uniqueQueueName("ev.a.q");
    const stream = await openSse(`${server.url}/v1/events?queue=${q}`, ADMIN);
    try {
      expect(stream.status).toBe(200);
      const { body: published } = await server.call("POST", `/v1/queues/${q}/messages`, { body: { n: 1 } }, admin);
      const { body: leased } = await server.call("POST", `/v1/queues/${q}/lease`, { max: 1 }, admin);
      const [m] = leased.messages;
      expect((await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: m.leaseToken, progress: 50 }, admin)).status).toBe(204);
      expect((await server.call("POST", `/v1/messages/${m.id}/ack`, { leaseToken: m.leaseToken }, admin)).status).toBe(204);
      await stream.until((events) => ofMessage(events, published.id).some((e) => e.event === "message.completed"), "the completed event");
      const seen = ofMessage(stream.events, published.id);
      expect(seen.map((e) => e.event)).toEqual(["message.published", "message.active", "message.progress", "message.completed"]);
      expect(seen[1].data).toMatchObject({ type: "active", queue: q, id: published.id, attempt: 1, leaseUntil: m.leaseUntil });
      expect(seen[2].data).toMatchObject({ type: "progress", progress: 50 });
    } finally {
      await stream.close();
    }
  });

  it("sends only the queues its glob matches and its key reaches; types narrows to the names asked for", async () => {
    const a = uniqueQueueName("ev.a.q");
    const b = uniqueQueueName("ev.b.q");
    const everything = await openSse(`${server.url}/v1/events?queue=ev.*`, LIMITED);
    const onlyB = await openSse(`${server.url}/v1/events?queue=${b}`, ADMIN);
    const deadOnly = await openSse(`${server.url}/v1/events?queue=*&types=message.dead`, ADMIN);
    try {
      const inB = await server.call("POST", `/v1/queues/${b}/messages`, { body: "b" }, admin);
      const inA = await server.call("POST", `/v1/queues/${a}/messages`, { body: "a" }, admin);
      await everything.until((events) => ofMessage(events, inA.body.id).length > 0, "a's publish");
      await onlyB.until((events) => ofMessage(events, inB.body.id).length > 0, "b's publish");
      const { body: leased } = await server.call("POST", `/v1/queues/${a}/lease`, { max: 1 }, admin);
      await server.call("POST", `/v1/messages/${leased.messages[0].id}/nack`, { leaseToken: leased.messages[0].leaseToken, reject: true }, admin);
      await deadOnly.until((events) => events.length > 0, "the dead event");
      await everything.until((events) => ofMessage(events, inA.body.id).some((e) => e.event === "message.dead"), "a's dead event");
      // The key reaches ev.a.* only: nothing of b, whatever its glob says.
      expect(everything.events.every((e) => (e.data as { queue: string }).queue.startsWith("ev.a."))).toBe(true);
      expect(onlyB.events.every((e) => (e.data as { queue: string }).queue === b)).toBe(true);
      expect(deadOnly.events.map((e) => [e.event, (e.data as { id: string }).id, (e.data as { reason: string }).reason])).toEqual([["message.dead", inA.body.id, "rejected"]]);
    } finally {
      await Promise.all([everything.close(), onlyB.close(), deadOnly.close()]);
    }
  });

  it("a glob of many stars (a careless or hostile client) does not hold the server up, and matches as a glob", async () => {
    const q = uniqueQueueName("ev.a.q");
    // 14 stars then a letter the queue name does not end in: as a backtracking RegExp, about a minute of a blocked event loop.
    const starry = await openSse(`${server.url}/v1/events?queue=${"*".repeat(14)}z`, ADMIN);
    const plain = await openSse(`${server.url}/v1/events?queue=${q}*`, ADMIN);
    try {
      const other = await server.call("POST", `/v1/queues/${q}/messages`, { body: 1 }, admin);
      const ending = await server.call("POST", `/v1/queues/${q}z/messages`, { body: 2 }, admin);
      await plain.until((events) => ofMessage(events, ending.body.id).length > 0, "the publishes");
      await starry.until((events) => ofMessage(events, ending.body.id).length > 0, "the publish in the queue ending in z");
      expect(ofMessage(plain.events, other.body.id)).toHaveLength(1);
      expect(ofMessage(starry.events, other.body.id)).toEqual([]);
    } finally {
      await Promise.all([starry.close(), plain.close()]);
    }
  });

  it("refuses an unknown event name or an invalid glob with 400 naming it", async () => {
    const unknown = await server.call("GET", `/v1/events?queue=x&types=message.completed,message.finished`, undefined, admin);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: "validation_failed", details: [{ path: "/types" }] });
    expect(unknown.body.error.message).toContain('"message.finished"');
    const extra = await server.call("GET", `/v1/events?queue=x&follow=1`, undefined, admin);
    expect(extra.status).toBe(400);
  });

  it(`sends at most ${EVENTS_PER_SECOND} events a second and says how many it dropped`, async () => {
    const q = uniqueQueueName("ev.a.q");
    const stream = await openSse(`${server.url}/v1/events?queue=${q}&types=message.published`, ADMIN);
    try {
      const total = EVENTS_PER_SECOND * 3;
      const items = Array.from({ length: total }, (_, i) => ({ body: i }));
      expect((await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: items }, admin)).status).toBe(201);
      await stream.until((events) => events.some((e) => e.event === "dropped"), "the dropped notice");
      const sent = stream.events.filter((e) => e.event === "message.published").length;
      const dropped = stream.events.filter((e) => e.event === "dropped").reduce((sum, e) => sum + (e.data as { count: number }).count, 0);
      expect(sent).toBeLessThanOrEqual(2 * EVENTS_PER_SECOND); // one window, or two if the burst straddled a second
      expect(sent).toBeGreaterThanOrEqual(EVENTS_PER_SECOND);
      expect(sent + dropped).toBe(total);
    } finally {
      await stream.close();
    }
  });

  it("a dozen open streams raise no listener-leak warning (one shutdown listener for them all)", async () => {
    const own = await startTestServer({});
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    const streams: SseReader[] = [];
    try {
      for (let i = 0; i < 12; i++) streams.push(await openSse(`${own.url}/v1/events?queue=none`));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
      own.shutdown.abort(); // the server begins to shut down: every stream ends
      for (const stream of streams) await expect(stream.until(() => false)).rejects.toThrow(/ended/);
    } finally {
      process.off("warning", onWarning);
      await Promise.all(streams.map((stream) => stream.close()));
      await own.close();
    }
  });

  it(`holds at most ${MAX_EVENT_STREAMS} streams open: one more is 503, and a closed one makes room`, async () => {
    const open: http.ClientRequest[] = [];
    const get = () =>
      new Promise<{ status: number; request: http.ClientRequest; body: Promise<string> }>((resolve, reject) => {
        const request = http.get(`${server.url}/v1/events?queue=none`, { agent: false, headers: { authorization: `Bearer ${ADMIN}` } }, (response) => {
          const body = new Promise<string>((done) => {
            let text = "";
            response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
            response.on("end", () => done(text));
            if (response.statusCode === 200) done(""); // a stream: nothing to wait for
          });
          resolve({ status: response.statusCode ?? 0, request, body });
        });
        request.on("error", reject);
      });
    try {
      for (let i = 0; i < MAX_EVENT_STREAMS; i += 100) {
        const batch = await Promise.all(Array.from({ length: Math.min(100, MAX_EVENT_STREAMS - i) }, get));
        for (const answer of batch) {
          expect(answer.status).toBe(200);
          open.push(answer.request);
        }
      }
      const refused = await get();
      expect(refused.status).toBe(503);
      expect(JSON.parse(await refused.body).error.message).toContain(`${MAX_EVENT_STREAMS} event streams open`);
      open.pop()!.destroy();
      await pollUntil(async () => (await get().then((a) => (a.status === 200 ? (open.push(a.request), true) : false))), { what: "room for a stream again" });
    } finally {
      for (const request of open) request.destroy();
    }
  });
});
