/** GET /metrics over HTTP: per-queue totals and depths, lease-to-ack timing of HTTP consumers, request durations. */
import { afterEach, describe, expect, it } from "vitest";
import { SpoolMetrics } from "../../src/metrics/metrics.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { uniqueQueueName } from "../helpers/poll-until.js";

let server: TestServer | undefined;
afterEach(async () => server?.close());

/** The value of one sample line, e.g. `spool_messages_published_total{queue="q"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const close = line.lastIndexOf("}");
    const pairs = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => pairs[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

describe("GET /metrics", () => {
  it("exposes totals, depths, lease-to-ack and request durations for HTTP traffic", async () => {
    server = await startTestServer({ metrics: (spool) => new SpoolMetrics(spool, { defaultMetrics: false }) });
    const q = uniqueQueueName("metrics");
    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const leased = await server.call("POST", `/v1/queues/${q}/lease`, { max: 2 });
    const [a, b] = leased.body.messages as Array<{ id: string; leaseToken: string }>;
    await server.call("POST", `/v1/messages/${a.id}/ack`, { leaseToken: a.leaseToken });
    await server.call("POST", "/v1/acks", { acks: [{ id: b.id, leaseToken: b.leaseToken }] });

    const answer = await server.call("GET", "/metrics");
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toContain("text/plain");
    const text = answer.text;
    expect(sample(text, "spool_messages_published_total", { queue: q })).toBe(3);
    expect(sample(text, "spool_messages_completed_total", { queue: q })).toBe(2);
    expect(sample(text, "spool_queue_messages", { queue: q, state: "ready" })).toBe(1);
    expect(sample(text, "spool_lease_to_ack_seconds_count", { queue: q })).toBe(2);
    expect(sample(text, "spool_http_request_duration_seconds_count", { method: "POST", route: "/v1/queues/:q/lease", status_code: "200" })).toBe(1);
  });
});
