import { EventEmitter } from "node:events";
import { register as globalRegistry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, PermanentError, Spool, memoryStore, type CircuitState } from "../../src/index.js";
import { SpoolMetrics, type MetricsSource } from "../../src/metrics/metrics.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { parseMetrics } from "./prom-text.js";

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function openSpool(clock = new ManualClock()): Promise<Spool> {
  const spool = await Spool.open({ store: memoryStore({ clock }) });
  open.push(spool);
  return spool;
}

function metricsOf(source: MetricsSource, options: ConstructorParameters<typeof SpoolMetrics>[1] = { defaultMetrics: false }): SpoolMetrics {
  const metrics = new SpoolMetrics(source, options);
  open.push(metrics);
  return metrics;
}

async function scrape(metrics: SpoolMetrics) {
  return parseMetrics(await metrics.render());
}

describe("SpoolMetrics: per-queue figures read at scrape time", () => {
  it("reports totals as counters and depths by state after publishing, leasing, acking and nacking", async () => {
    const spool = await openSpool();
    const metrics = metricsOf(spool);
    const a = spool.queue<{ n: number }>("alpha");
    const b = spool.queue<{ n: number }>("beta");

    await a.publishMany(Array.from({ length: 6 }, (_, n) => ({ body: { n } })));
    await b.publish({ n: 0 }, { delayMs: 60_000 });
    const leased = await a.lease({ max: 4 });
    expect(leased).toHaveLength(4);
    await a.ack(leased[0].id, leased[0].leaseToken);
    await a.ackMany([{ id: leased[1].id, leaseToken: leased[1].leaseToken }]);
    await a.nack(leased[2].id, leased[2].leaseToken, { error: "try later", delayMs: 5_000 }); // retried → delayed
    await a.nack(leased[3].id, leased[3].leaseToken, { error: new PermanentError("bad") }); // dead
    await a.lease({ max: 1 }); // one stays leased

    const m = await scrape(metrics);
    expect(m.value("spool_messages_published_total", { queue: "alpha" })).toBe(6);
    expect(m.value("spool_messages_completed_total", { queue: "alpha" })).toBe(2);
    expect(m.value("spool_messages_retried_total", { queue: "alpha" })).toBe(1);
    expect(m.value("spool_messages_dead_total", { queue: "alpha" })).toBe(1);
    expect(m.value("spool_queue_messages", { queue: "alpha", state: "ready" })).toBe(1);
    expect(m.value("spool_queue_messages", { queue: "alpha", state: "delayed" })).toBe(1);
    expect(m.value("spool_queue_messages", { queue: "alpha", state: "leased" })).toBe(1);
    expect(m.value("spool_queue_messages", { queue: "alpha", state: "dead" })).toBe(1);
    expect(m.value("spool_messages_in_flight", { queue: "alpha" })).toBe(1);
    expect(m.all("spool_queue_ready_by_priority", { queue: "alpha" }).map((s) => [s.labels.priority, s.value])).toEqual([["0", 1]]);

    expect(m.value("spool_messages_published_total", { queue: "beta" })).toBe(1);
    expect(m.value("spool_messages_completed_total", { queue: "beta" })).toBe(0);
    expect(m.value("spool_queue_messages", { queue: "beta", state: "delayed" })).toBe(1);
    expect(m.value("spool_queue_messages", { queue: "beta", state: "ready" })).toBe(0);
    expect(m.value("spool_messages_in_flight", { queue: "beta" })).toBe(0);

    // The figures agree with the library's own stats, and the types are what Prometheus expects.
    const stats = await a.stats();
    expect(m.value("spool_messages_published_total", { queue: "alpha" })).toBe(stats.totals.published);
    expect(m.value("spool_queue_messages", { queue: "alpha", state: "ready" })).toBe(stats.ready);
    expect(m.types.get("spool_messages_published_total")).toBe("counter");
    expect(m.types.get("spool_queue_messages")).toBe("gauge");
    expect(m.types.get("spool_handler_duration_seconds")).toBe("histogram");
  });

  it("follows the store between scrapes: new values, paused state, oldest ready age, deleted queues gone", async () => {
    const clock = new ManualClock();
    const spool = await openSpool(clock);
    const metrics = metricsOf(spool);
    const q = spool.queue("moving");
    await q.publish("x");
    clock.advance(2_500);
    await q.pause();

    let m = await scrape(metrics);
    expect(m.value("spool_queue_paused", { queue: "moving" })).toBe(1);
    expect(m.value("spool_queue_oldest_ready_age_seconds", { queue: "moving" })).toBeCloseTo(2.5, 6);

    await q.resume();
    await q.publish("y");
    m = await scrape(metrics);
    expect(m.value("spool_queue_paused", { queue: "moving" })).toBe(0);
    expect(m.value("spool_messages_published_total", { queue: "moving" })).toBe(2);
    expect(m.value("spool_queue_messages", { queue: "moving", state: "ready" })).toBe(2);

    await q.delete();
    m = await scrape(metrics);
    expect(m.all("spool_messages_published_total", { queue: "moving" })).toEqual([]);
    expect(m.all("spool_queue_messages", { queue: "moving" })).toEqual([]);
  });

  it("reads the store once per queue per scrape, however many metrics use it", async () => {
    const spool = await openSpool();
    await spool.queue("one").publish(1);
    await spool.queue("two").publish(2);
    const calls: string[] = [];
    const store = new Proxy(spool.store, {
      get(target, key, receiver) {
        if (key === "stats") return (name: string) => (calls.push(name), target.stats(name));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const metrics = metricsOf({ queues: () => spool.queues(), store, circuitStates: () => [] });
    await metrics.render();
    expect(calls.sort()).toEqual(["one", "two"]);
    await metrics.render();
    expect(calls).toHaveLength(4);
  });

  it("still renders when the store cannot list queues, and counts the failed scrape", async () => {
    const spool = await openSpool();
    let failing = true;
    const metrics = metricsOf({
      queues: () => (failing ? Promise.reject(new Error("disk on fire")) : spool.queues()),
      store: spool.store,
      circuitStates: () => [],
    });
    await spool.queue("q").publish(1);
    let m = await scrape(metrics);
    expect(m.value("spool_metrics_scrape_errors_total")).toBe(1);
    expect(m.all("spool_messages_published_total")).toEqual([]);
    failing = false;
    m = await scrape(metrics);
    expect(m.value("spool_metrics_scrape_errors_total")).toBe(1);
    expect(m.value("spool_messages_published_total", { queue: "q" })).toBe(1);
  });

  it("exposes the circuit state per queue: the worst of its workers' breakers, and how many are in each state", async () => {
    const spool = await openSpool();
    await spool.queue("guarded").publish(1);
    await spool.queue("plain").publish(1);
    let states: Record<string, CircuitState[]> = { guarded: ["closed", "open", "closed"] };
    const metrics = metricsOf({ queues: () => spool.queues(), store: spool.store, circuitStates: (q) => states[q] ?? [] });

    let m = await scrape(metrics);
    expect(m.value("spool_circuit_state", { queue: "guarded" })).toBe(2);
    expect(m.value("spool_circuit_breakers", { queue: "guarded", state: "open" })).toBe(1);
    expect(m.value("spool_circuit_breakers", { queue: "guarded", state: "closed" })).toBe(2);
    expect(m.value("spool_circuit_breakers", { queue: "guarded", state: "half-open" })).toBe(0);
    expect(m.all("spool_circuit_state", { queue: "plain" })).toEqual([]); // no breaker, no series

    states = { guarded: ["half-open", "closed"] };
    m = await scrape(metrics);
    expect(m.value("spool_circuit_state", { queue: "guarded" })).toBe(1);
    states = { guarded: ["closed"] };
    m = await scrape(metrics);
    expect(m.value("spool_circuit_state", { queue: "guarded" })).toBe(0);
  });
});

describe("SpoolMetrics: isolation", () => {
  it("keeps two instances apart: own registries, own values, nothing in prom-client's global registry", async () => {
    const first = await openSpool();
    const second = await openSpool();
    // Default metrics on both: registering them twice in one process must not throw.
    const m1 = metricsOf(first, {});
    const m2 = metricsOf(second, {});
    const m3 = metricsOf(first, { defaultMetrics: false }); // a second view of the same Spool is fine too
    await first.queue("shared-name").publishMany([{ body: 1 }, { body: 2 }]);
    await second.queue("shared-name").publish(1);
    await second.queue("only-second").publish(1);

    const s1 = await scrape(m1);
    const s2 = await scrape(m2);
    expect(s1.value("spool_messages_published_total", { queue: "shared-name" })).toBe(2);
    expect(s2.value("spool_messages_published_total", { queue: "shared-name" })).toBe(1);
    expect(s1.all("spool_messages_published_total", { queue: "only-second" })).toEqual([]);
    expect(s2.value("spool_messages_published_total", { queue: "only-second" })).toBe(1);
    expect((await scrape(m3)).value("spool_messages_published_total", { queue: "shared-name" })).toBe(2);

    m1.observeHttp("GET", "/v1/queues", 200, 0.01);
    expect((await scrape(m2)).all("spool_http_request_duration_seconds_count")).toEqual([]);
    expect(await globalRegistry.getSingleMetricAsString("spool_messages_published_total").catch(() => "absent")).toBe("absent");
    expect(s1.samples.some((s) => s.name.startsWith("process_") || s.name.startsWith("nodejs_"))).toBe(true);
  });

  it("leaves the default process metrics out when asked, and adds constant labels when given", async () => {
    const spool = await openSpool();
    await spool.queue("q").publish(1);
    const m = await scrape(metricsOf(spool, { defaultMetrics: false, labels: { instance: "spool-a" } }));
    expect(m.samples.some((s) => s.name.startsWith("process_") || s.name.startsWith("nodejs_"))).toBe(false);
    expect(m.value("spool_messages_published_total", { queue: "q", instance: "spool-a" })).toBe(1);
  });

  it("answers with the Prometheus text content type", async () => {
    const metrics = metricsOf(await openSpool());
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe("SpoolMetrics: durations", () => {
  it("feeds the handler histogram from a worker's events, and stops when unobserved", async () => {
    const metrics = metricsOf(await openSpool());
    const worker = new EventEmitter();
    const unobserve = metrics.observeWorker(worker as never);
    worker.emit("message:completed", { id: "1", queue: "jobs", attempt: 1, durationMs: 30 });
    worker.emit("message:completed", { id: "2", queue: "jobs", attempt: 1, durationMs: 700 });
    worker.emit("message:failed", { id: "3", queue: "jobs", attempt: 1, durationMs: 2_000, error: new Error("x"), outcome: undefined });
    worker.emit("message:completed", { id: "4", queue: "jobs", attempt: 1 }); // no duration: skipped

    let m = await scrape(metrics);
    const completed = { queue: "jobs", outcome: "completed" };
    expect(m.value("spool_handler_duration_seconds_count", completed)).toBe(2);
    expect(m.value("spool_handler_duration_seconds_sum", completed)).toBeCloseTo(0.73, 9);
    expect(m.value("spool_handler_duration_seconds_bucket", { ...completed, le: "0.025" })).toBe(0);
    expect(m.value("spool_handler_duration_seconds_bucket", { ...completed, le: "0.05" })).toBe(1);
    expect(m.value("spool_handler_duration_seconds_bucket", { ...completed, le: "1" })).toBe(2);
    expect(m.value("spool_handler_duration_seconds_count", { queue: "jobs", outcome: "failed" })).toBe(1);
    expect(m.value("spool_handler_duration_seconds_bucket", { queue: "jobs", outcome: "failed", le: "1" })).toBe(0);
    expect(m.value("spool_handler_duration_seconds_bucket", { queue: "jobs", outcome: "failed", le: "2.5" })).toBe(1);

    unobserve();
    expect(worker.listenerCount("message:completed")).toBe(0);
    worker.emit("message:completed", { id: "5", queue: "jobs", attempt: 1, durationMs: 1 });
    m = await scrape(metrics);
    expect(m.value("spool_handler_duration_seconds_count", completed)).toBe(2);
  });

  it("observes every worker its Spool makes without being told: attempts to success and circuit changes", async () => {
    const clock = new ManualClock();
    const spool = await openSpool(clock);
    const metrics = metricsOf(spool);
    const retried = spool.queue<number>(uniqueQueueName("attempts"), { backoff: { type: "fixed", baseMs: 0, jitter: "none" } });
    const flaky = retried.work(async (message) => {
      if (message.body === 2 && message.attempt === 1) throw new Error("once");
    });
    await retried.publishMany([{ body: 1 }, { body: 2 }]);
    let m = await pollUntil(async () => {
      const parsed = await scrape(metrics);
      return parsed.value("spool_attempts_to_success_count", { queue: retried.name }) === 2 ? parsed : undefined;
    }, { what: "both messages completed" });
    expect(m.value("spool_attempts_to_success_sum", { queue: retried.name })).toBe(3);
    expect(m.value("spool_attempts_to_success_bucket", { queue: retried.name, le: "1" })).toBe(1);
    expect(m.value("spool_attempts_to_success_bucket", { queue: retried.name, le: "2" })).toBe(2);
    expect(m.value("spool_handler_duration_seconds_count", { queue: retried.name, outcome: "failed" })).toBe(1);
    await flaky.close();

    const broken = spool.queue<number>(uniqueQueueName("circuit"), { backoff: { type: "fixed", baseMs: 60_000, jitter: "none" } });
    const failing = broken.work(async () => {
      throw new Error("down");
    }, { circuitBreaker: { sampleSize: 2, failureThreshold: 0.5, openMs: 60_000 } });
    await broken.publishMany([{ body: 1 }, { body: 2 }]);
    m = await pollUntil(async () => {
      const parsed = await scrape(metrics);
      return parsed.value("spool_circuit_transitions_total", { queue: broken.name, state: "open" }) === 1 ? parsed : undefined;
    }, { what: "the circuit to open" });
    expect(m.value("spool_circuit_transitions_total", { queue: broken.name, state: "closed" })).toBeUndefined();
    await failing.close();
  });

  it("counts the idempotent duplicates and dedup replacements of publishes through its Spool", async () => {
    const spool = await openSpool();
    const metrics = metricsOf(spool);
    const queue = spool.queue<number>(uniqueQueueName("keys"));
    await queue.publish(1, { idempotencyKey: "k" });
    await queue.publish(1, { idempotencyKey: "k" });
    await queue.publishMany([{ body: 1, idempotencyKey: "k" }, { body: 2, dedupKey: "d" }, { body: 3, dedupKey: "d" }]);
    await spool.publishToExchange("", queue.name, 4, { dedupKey: "d" });
    const m = await scrape(metrics);
    expect(m.value("spool_publish_duplicates_total", { queue: queue.name })).toBe(2);
    expect(m.value("spool_publish_replaced_total", { queue: queue.name })).toBe(2);
    expect(m.value("spool_messages_published_total", { queue: queue.name })).toBe(2);
  });

  it("times the handlers of a real worker", async () => {
    const spool = await openSpool(undefined);
    const metrics = metricsOf(spool);
    const name = uniqueQueueName("timed");
    const queue = spool.queue<number>(name);
    const worker = queue.work(async (message) => {
      if (message.body === 3) throw new PermanentError("no threes");
    });
    metrics.observeWorker(worker);
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const m = await pollUntil(async () => {
      const parsed = await scrape(metrics);
      const failed = parsed.value("spool_handler_duration_seconds_count", { queue: name, outcome: "failed" }) ?? 0;
      return failed === 1 && parsed.value("spool_handler_duration_seconds_count", { queue: name, outcome: "completed" }) === 2 ? parsed : undefined;
    }, { what: "three handler runs observed" });
    expect(m.value("spool_messages_completed_total", { queue: name })).toBe(2);
    expect(m.value("spool_messages_dead_total", { queue: name })).toBe(1);
    await worker.close();
  });

  it("measures lease-to-ack for consumers that lease and ack in separate calls", async () => {
    const clock = new ManualClock();
    const spool = await openSpool(clock);
    const metrics = metricsOf(spool);
    const q = spool.queue("pull");
    await q.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const leased = await q.lease({ max: 3 });
    metrics.leased(leased);
    clock.advance(1_500);
    await q.ack(leased[0].id, leased[0].leaseToken);
    metrics.acked(leased[0].id);
    metrics.forgetLease(leased[1].id); // nacked: not a lease-to-ack sample
    metrics.acked(leased[1].id);
    metrics.acked("01UNKNOWNID0000000000000000");
    clock.advance(10_000);
    metrics.acked(leased[2].id);
    metrics.acked(leased[2].id); // twice: counted once

    const m = await scrape(metrics);
    expect(m.value("spool_lease_to_ack_seconds_count", { queue: "pull" })).toBe(2);
    expect(m.value("spool_lease_to_ack_seconds_sum", { queue: "pull" })).toBeCloseTo(13, 9);
    expect(m.value("spool_lease_to_ack_seconds_bucket", { queue: "pull", le: "1" })).toBe(0);
    expect(m.value("spool_lease_to_ack_seconds_bucket", { queue: "pull", le: "2.5" })).toBe(1);
    expect(m.value("spool_lease_to_ack_seconds_bucket", { queue: "pull", le: "30" })).toBe(2);
  });

  it("remembers at most maxTrackedLeases leases, dropping the oldest", async () => {
    const clock = new ManualClock();
    const spool = await openSpool(clock);
    const metrics = metricsOf(spool, { defaultMetrics: false, maxTrackedLeases: 2 });
    metrics.leased([{ id: "a", queue: "q" }, { id: "b", queue: "q" }, { id: "c", queue: "q" }]);
    clock.advance(100);
    for (const id of ["a", "b", "c"]) metrics.acked(id);
    const m = await scrape(metrics);
    expect(m.value("spool_lease_to_ack_seconds_count", { queue: "q" })).toBe(2);
  });

  it("records lease-to-ack from worker events that carry it, and HTTP requests by route", async () => {
    const metrics = metricsOf(await openSpool());
    const worker = new EventEmitter();
    metrics.observeWorker(worker as never);
    worker.emit("message:completed", { id: "1", queue: "w", attempt: 1, durationMs: 1, leaseToAckMs: 4 });
    metrics.observeHttp("POST", "/v1/queues/:q/messages", 201, 0.002);
    metrics.httpRequest("POST", "/v1/queues/:q/messages", 201, 0.004);
    metrics.observeHttp("GET", "/v1/queues/:q", 404, 0.0001);
    metrics.observeHttp("GET", "/v1/queues/:q", 200, Number.NaN); // ignored

    const m = await scrape(metrics);
    expect(m.value("spool_lease_to_ack_seconds_sum", { queue: "w" })).toBeCloseTo(0.004, 9);
    const published = { method: "POST", route: "/v1/queues/:q/messages", status_code: "201" };
    expect(m.value("spool_http_request_duration_seconds_count", published)).toBe(2);
    expect(m.value("spool_http_request_duration_seconds_sum", published)).toBeCloseTo(0.006, 9);
    expect(m.value("spool_http_request_duration_seconds_count", { method: "GET", route: "/v1/queues/:q", status_code: "404" })).toBe(1);
    expect(m.all("spool_http_request_duration_seconds_count", { status_code: "200" })).toEqual([]);
  });

  it("close() detaches from workers and is idempotent", async () => {
    const metrics = new SpoolMetrics(await openSpool(), { defaultMetrics: false });
    const worker = new EventEmitter();
    metrics.observeWorker(worker as never);
    metrics.observeWorker(worker as never); // observed once only
    expect(worker.listenerCount("message:completed")).toBe(1);
    metrics.close();
    metrics.close();
    expect(worker.listenerCount("message:completed")).toBe(0);
    expect(worker.listenerCount("message:failed")).toBe(0);
    expect(await metrics.render()).toBe("\n");
  });
});

describe("docs/alerts.md", () => {
  it("uses only metrics SpoolMetrics exposes, each listed in docs/operations.md", async () => {
    const { readFile } = await import("node:fs/promises");
    const alerts = await readFile(new URL("../../docs/alerts.md", import.meta.url), "utf8");
    const operations = await readFile(new URL("../../docs/operations.md", import.meta.url), "utf8");
    const page = await metricsOf(await openSpool()).render();
    const exposed = new Set([...page.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]));
    const used = new Set([...alerts.matchAll(/\b(spool_[a-z_]+?)(?:_bucket|_count|_sum)?\b/g)].map((match) => match[1]));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) {
      expect(exposed, `${name} is exposed`).toContain(name);
      expect(operations, `${name} is listed in operations.md`).toContain(`| \`${name}\` |`);
    }
  });
});
