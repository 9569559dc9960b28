/**
 * `spool serve` killed with SIGKILL at seeded random moments and started again on the SAME data
 * directory, cycle after cycle, with every kind of timer due at each restart:
 *
 *   - leases of 300 ms that the consumers abandon, or hold past their end (the ack is then 409);
 *   - nacks with a delay, and publishes with `delayMs`, `availableAt` and `ttlMs` of up to 1.5 s;
 *   - a webhook batch per cycle whose endpoint answers some recipients 500 once, some 429 with
 *     `Retry-After: 1` once, and some 404 (permanent): retries and Retry-After pauses are pending
 *     at the kill;
 *   - a websocket batch per cycle to three connected recipients that leave some pushes unacked,
 *     so ack deadlines (500 ms) are running at the kill; they reconnect to every new server.
 *
 * Each restart must come up (spawn → /health/ready, the figure reported as p50/p99). At the end a
 * last server finishes every batch (each recipient sent or failed, never left pending), then the
 * directory is drained with the library (every websocket message delivered, in order per recipient) and the total-queue checker runs over the whole history:
 * lost = 0, acked-redelivered = 0 (also checked live: no acked message is ever leased again),
 * unexpected = 0, duplicated = 0.
 *
 * Cycles: SPOOL_RESTART_CYCLES (default 8 in the suite; the closing figures come from 100).
 * SPOOL_SEED=<seed> replays the kill moments and the load's choices (not the exact interleaving).
 */
import { performance } from "node:perf_hooks";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { pollUntil } from "../helpers/poll-until.js";
import { randomInt, seededRandom, testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { History } from "../helpers/total-queue.js";
import { allMessages, startWebhookTarget, type WebhookTarget } from "../delivery/delivery-server.js";
import { call, Load } from "../faults/http-load.js";
import { formatReport, reopenAndCheck } from "../faults/reopen-check.js";
import { startServe, type ServeProcess } from "../faults/serve-process.js";

const QUEUES = ["orders", "emails"];
const LEASE_MS = 300;
const TIMED_MAX_MS = 1_500;
const RECIPIENTS = 120;
const WS_RECIPIENTS = ["ws-a", "ws-b", "ws-c"];
const WS_PER_RECIPIENT = 5;
const QUEUE_OPTIONS = { maxAttempts: 10_000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };
const CONFIG = {
  logLevel: "warn",
  journal: { fsync: "always", snapshotEveryOps: 3_000, segmentMaxBytes: 256 * 1024 },
  delivery: { ackTimeoutMs: 500 },
  queues: {
    orders: QUEUE_OPTIONS,
    emails: QUEUE_OPTIONS,
    // Short leases and quick retries, so jobs are leased, retried and paused at every kill.
    "delivery.webhook": { leaseMs: 2_000, maxAttempts: 8, backoff: { type: "fixed", baseMs: 200, jitter: "none" } },
    "delivery.websocket": { maxAttempts: 10_000 },
  },
};

const cycles = Number(process.env.SPOOL_RESTART_CYCLES ?? (process.env.SPOOL_SEED ? 1 : 8));
const baseSeed = testSeed();

/** What the endpoint answers recipient n (of id `…-r<n>`) on its k-th request (k from 1). */
function answerFor(n: number, k: number): { status: number; headers?: Record<string, string> } {
  if (n % 25 === 0) return { status: 404 };
  if (n % 10 === 1 && k === 1) return { status: 500 };
  if (n % 10 === 2 && k === 1) return { status: 429, headers: { "retry-after": "1" } };
  return { status: 200 };
}

function startTarget(): Promise<WebhookTarget> {
  const seen = new Map<string, number>();
  return startWebhookTarget((request, res) => {
    const id = request.json.recipientId;
    const k = (seen.get(id) ?? 0) + 1;
    seen.set(id, k);
    const { status, headers } = answerFor(Number(id.slice(id.lastIndexOf("r") + 1)), k);
    res.writeHead(status, headers).end();
  });
}

/**
 * A recipient's live connection to one server: it acks what it is pushed, except (while `flaky`)
 * a seeded share of first pushes, whose ack deadline then redelivers them. It records the order
 * in which each batch's messages were first pushed to it (several may be in flight at once, so
 * acks may come in any order; first pushes come in publish order).
 */
class Recipient {
  socket: WebSocket | undefined;
  readonly firstPushed = new Map<string, string[]>();
  readonly #seen = new Set<string>();

  constructor(
    readonly id: string,
    readonly random: () => number,
  ) {}

  async connect(url: string, flaky: boolean): Promise<void> {
    const token = await call(url, "POST", `/v1/recipients/${this.id}/token`, {});
    if (token.status !== 200) throw new Error(`token for ${this.id}: HTTP ${token.status} ${JSON.stringify(token.json)}`);
    const socket = new WebSocket(`${url.replace("http", "ws")}/v1/stream?token=${encodeURIComponent(token.json.token)}`);
    this.socket = socket;
    socket.on("error", () => undefined); // the server is killed under it: the close follows
    socket.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; batchId?: string; content?: { body: string } };
      if (frame.type !== "message") return;
      const first = !this.#seen.has(frame.id!);
      this.#seen.add(frame.id!);
      if (first) {
        let order = this.firstPushed.get(frame.batchId!);
        if (!order) this.firstPushed.set(frame.batchId!, (order = []));
        order.push(frame.content!.body);
      }
      if (flaky && first && this.random() < 0.3) return; // no ack: the deadline redelivers it
      socket.send(JSON.stringify({ type: "ack", id: frame.id }));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
  }

  close(): void {
    this.socket?.terminate();
  }
}

async function readyAfterStart(dataDir: string): Promise<{ server: ServeProcess; restartMs: number }> {
  const started = performance.now();
  const server = await startServe({ dataDir, config: CONFIG });
  await pollUntil(async () => (await call(server.url, "GET", "/health/ready").catch(() => ({ status: 0 }))).status === 200, {
    timeoutMs: 30_000,
    what: `the restarted server to be ready\n${server.output()}`,
  });
  return { server, restartMs: performance.now() - started };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

describe("spool serve restarts after kill -9 with timers due (real processes, one data directory)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it(`comes back every time and loses nothing acknowledged (${cycles} seeded cycles)`, async () => {
    const root = await makeTempDir("spool-restarts-");
    dirs.push(root);
    const dataDir = path.join(root, "data");
    const target = await startTarget();
    const history = new History();
    const wsRecipients = WS_RECIPIENTS.map((id, i) => new Recipient(id, seededRandom(baseSeed + 7919 * (i + 1))));
    const wsBatches: string[] = [];
    const loads: Load[] = [];
    const batches: string[] = [];
    const restartMs: number[] = [];
    try {
      for (let cycle = 0; cycle < cycles; cycle++) {
        const seed = (baseSeed + cycle) >>> 0;
        const random = seededRandom(seed);
        const where = `cycle ${cycle} (SPOOL_SEED=${seed} SPOOL_RESTART_CYCLES=1 replays its choices)`;
        const { server, restartMs: ms } = await readyAfterStart(dataDir);
        if (cycle > 0) restartMs.push(ms);
        try {
          const recipients = Array.from({ length: RECIPIENTS }, (_, n) => ({ id: `c${cycle}-r${n}`, vars: { n: String(n) } }));
          const batch = await call(server.url, "POST", "/v1/batches", { channel: "webhook", webhook: { url: target.url }, template: { body: "hello {{n}}" }, recipients });
          expect(batch.status, `${where}: ${JSON.stringify(batch.json)}`).toBe(202);
          batches.push(batch.json.batchId);
          for (const r of wsRecipients) await r.connect(server.url, true);
          const wsMessages = WS_RECIPIENTS.flatMap((id) => Array.from({ length: WS_PER_RECIPIENT }, (_, k) => ({ id, vars: { k: `${cycle}.${k}` } })));
          const wsBatch = await call(server.url, "POST", "/v1/batches", { channel: "websocket", template: { body: "{{k}}" }, recipients: wsMessages });
          expect(wsBatch.status, `${where}: ${JSON.stringify(wsBatch.json)}`).toBe(202);
          wsBatches.push(wsBatch.json.batchId);
          const load = new Load({
            url: server.url,
            queues: QUEUES,
            seed,
            history,
            producers: [
              { name: `c${cycle}p0`, window: 1 },
              { name: `c${cycle}p1`, window: 4 },
              { name: `c${cycle}p2`, window: 12 },
            ],
            leaseMs: LEASE_MS,
            timedChance: 0.3,
            timedMaxMs: TIMED_MAX_MS,
            nackChance: 0.1,
          });
          loads.push(load);
          const running = load.run();
          // Kill at a seeded moment: some cycles before the first timers fall due, most after.
          const killAfterMs = randomInt(random, 100, 2_500);
          await new Promise((resolve) => setTimeout(resolve, killAfterMs)); // the kill moment itself is the test's input, not a wait for an event
          await server.kill();
          for (const r of wsRecipients) r.close();
          await running;
          expect(load.errors, `${where}: unexpected answers`).toEqual([]);
        } finally {
          await server.kill();
        }
      }

      // A last server: every batch finishes (retries and Retry-After pauses included).
      const { server, restartMs: ms } = await readyAfterStart(dataDir);
      restartMs.push(ms);
      try {
        for (const r of wsRecipients) await r.connect(server.url, false);
        for (const batchId of wsBatches) {
          const done = await pollUntil(
            async () => {
              const answer = await call(server.url, "GET", `/v1/batches/${batchId}`);
              return answer.json?.completedAt !== undefined ? answer.json : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 50, what: `websocket batch ${batchId} to complete\n${server.output()}` },
          );
          expect(done.counts, `websocket batch ${batchId}`).toMatchObject({ pending: 0, queued: 0, failed: 0, delivered: WS_RECIPIENTS.length * WS_PER_RECIPIENT });
        }
        // Per recipient, each batch's messages were first pushed in publish order, across restarts.
        wsBatches.forEach((batchId, cycle) => {
          for (const r of wsRecipients) {
            expect(r.firstPushed.get(batchId), `${r.id}, batch of cycle ${cycle}`).toEqual(Array.from({ length: WS_PER_RECIPIENT }, (_, k) => `${cycle}.${k}`));
          }
        });
        for (const r of wsRecipients) r.close();
        for (const batchId of batches) {
          const done = await pollUntil(
            async () => {
              const answer = await call(server.url, "GET", `/v1/batches/${batchId}`);
              return answer.json?.completedAt !== undefined ? answer.json : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 50, what: `batch ${batchId} to complete\n${server.output()}` },
          );
          const failedExpected = Math.ceil(RECIPIENTS / 25);
          expect(done.counts, `batch ${batchId}`).toMatchObject({ pending: 0, queued: 0, sent: RECIPIENTS - failedExpected, failed: failedExpected });
          const failed = await allMessages(server.url, batchId, "failed");
          expect(failed.map((m: { recipientId: string }) => Number(m.recipientId.split("-r")[1]) % 25)).toEqual(new Array(failedExpected).fill(0));
        }
        await server.stop(); // a clean close: the drain below opens the directory with the library
      } finally {
        await server.kill();
      }

      // The report's view of every cycle: one shared history, every refused publish.
      const all = new Load({ url: "", queues: QUEUES, seed: 0, history });
      for (const load of loads) for (const key of load.refused) all.refused.add(key);
      const report = await reopenAndCheck(dataDir, all, QUEUES, TIMED_MAX_MS + LEASE_MS);
      const sum = (pick: (l: Load) => number) => loads.reduce((n, l) => n + pick(l), 0);
      const line = formatReport(`serve restarts: ${cycles} kill -9 cycles`, report, all, {
        "acked-redelivered-live": sum((l) => l.counts.ackedRedelivered),
        nacked: sum((l) => l.counts.nacked),
        abandoned: sum((l) => l.counts.abandoned),
        "lease-lost-acks": sum((l) => l.counts.leaseLostAcks),
        "restart-p50-ms": percentile(restartMs, 50).toFixed(0),
        "restart-p99-ms": percentile(restartMs, 99).toFixed(0),
        "webhook-requests": target.requests.length,
      });
      console.log(line);
      expect(report.figures.lost, line).toBe(0);
      expect(report.figures.ackedRedelivered, line).toBe(0);
      expect(sum((l) => l.counts.ackedRedelivered), line).toBe(0);
      expect(report.figures.ackedNotCompleted, line).toBe(0);
      expect(report.figures.unexpected, line).toBe(0);
      expect(report.figures.duplicated, line).toBe(0);
      expect(report.figures.okPublishes, line).toBeGreaterThan(0);
    } finally {
      await target.close();
    }
  }, 600_000);
});

