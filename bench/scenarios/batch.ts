/**
 * batch: batch delivery through `spool serve` (a child process on the system's store settings):
 * one batch of 100,000 recipients streamed as NDJSON to POST /v1/batches on the mock channel
 * (zero latency, no failures). Figures: the time to the 202 (the recipients are durable and the
 * batch recorded), and the time until every message is `sent` (the `batch.completed` event on
 * /v1/events), with the msg/s that makes, and the server's peak RSS by the 202 and by the end
 * (the kernel's high-water mark, Linux only). With `BENCH_BATCH_RECIPIENTS=1000000` the figures
 * are checked against DESIGN §5's batch targets (202 within 10 s, peak RSS ≤ 600 MB).
 * Batch delivery is Spool's own feature: no peer runs it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SPOOL_CLI, startServerChild } from "../lib/server-child.js";
import { peakRssOf } from "../lib/proc-memory.js";
import { ratePerSec } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import { BENCH_DATA_ROOT } from "../systems/spool.js";
import { atMost, value, type Cell, type Scenario } from "./scenario.js";

const RECIPIENTS = Number(process.env.BENCH_BATCH_RECIPIENTS ?? 100_000);
/** DESIGN §5's batch targets are set for a batch of this size; smaller runs print no target. */
const TARGET_RECIPIENTS = 1_000_000;
const atTargetSize = RECIPIENTS === TARGET_RECIPIENTS;
/** MB here is 10^6 bytes, as in the rss scenario (the stricter reading of "600 MB"). */
const MB = 1_000_000;
const ROWS = ["batch-accept", "batch-sent", "batch-rate", "batch-rss-accept", "batch-rss-peak"];

function ndjson(n: number): ReadableStream {
  const lines = function* () {
    yield JSON.stringify({ channel: "mock", template: { subject: "Hello {{name}}", body: "Hi {{name}}, your code is {{code}}." } }) + "\n";
    for (let i = 0; i < n; i += 1000) {
      const end = Math.min(n, i + 1000);
      let chunk = "";
      for (let k = i; k < end; k++) chunk += JSON.stringify({ id: `user-${k}`, vars: { name: `User ${k}`, code: k.toString(36) } }) + "\n";
      yield chunk;
    }
  };
  return Readable.toWeb(Readable.from(lines())) as ReadableStream;
}

/** Resolves with the time `batch.completed` arrives for `batchId` on the SSE stream. */
async function completion(url: string, signal: AbortSignal): Promise<(batchId: string) => Promise<number>> {
  const response = await fetch(`${url}/v1/events`, { signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const completed = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  void (async () => {
    let buffer = "";
    for (;;) {
      const { value: text, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += text;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith("event: batch.completed")) continue;
        const id = (JSON.parse(block.slice(block.indexOf("data: ") + 6)) as { id: string }).id;
        const at = performance.now();
        completed.set(id, at);
        waiters.get(id)?.(at);
      }
    }
  })();
  return (batchId) => {
    const at = completed.get(batchId);
    return at !== undefined ? Promise.resolve(at) : new Promise((resolve) => waiters.set(batchId, resolve));
  };
}

export const batch: Scenario = {
  name: "batch",
  rows: [
    {
      id: "batch-accept",
      label: `batch of ${formatCount(RECIPIENTS)} (NDJSON, mock channel): time to 202`,
      unit: "ms",
      better: "lower",
      ratios: false,
      target: atTargetSize ? atMost(10_000, "10 s") : undefined,
    },
    { id: "batch-sent", label: `batch of ${formatCount(RECIPIENTS)}: time until every message is sent`, unit: "ms", better: "lower", ratios: false },
    { id: "batch-rate", label: `batch of ${formatCount(RECIPIENTS)}: delivered`, unit: "msg/s", better: "higher", ratios: false },
    { id: "batch-rss-accept", label: `batch of ${formatCount(RECIPIENTS)}: server peak RSS by the 202`, unit: "MB", better: "lower", ratios: false },
    {
      id: "batch-rss-peak",
      label: `batch of ${formatCount(RECIPIENTS)}: server peak RSS until every message is sent`,
      unit: "MB",
      better: "lower",
      ratios: false,
      target: atTargetSize ? atMost(600, "600 MB") : undefined,
    },
  ],
  async run(system, context, record) {
    if (system.serveFlags === undefined) {
      const none = { kind: "none", text: system.kind === "peer" ? "n/a (Spool feature)" : "n/a" } as const;
      for (const row of ROWS) record(row, none);
      return;
    }
    mkdirSync(BENCH_DATA_ROOT, { recursive: true });
    const dataDir = mkdtempSync(join(BENCH_DATA_ROOT, `batch-${system.name}-`));
    const configFile = join(dataDir, "spool.config.json");
    writeFileSync(configFile, JSON.stringify({ delivery: { expandChunkSize: 5_000 } }));
    const flags = [...system.serveFlags, "--log-level", "warn", "--config", configFile];
    const server = await startServerChild(SPOOL_CLI, ["serve", "--port", "0", "--data-dir", join(dataDir, "data"), ...flags]);
    const stop = new AbortController();
    try {
      const completedAt = await completion(server.url, stop.signal);
      const started = performance.now();
      const response = await fetch(`${server.url}/v1/batches`, {
        method: "POST",
        headers: { "content-type": "application/x-ndjson" },
        body: ndjson(RECIPIENTS),
        duplex: "half",
      } as RequestInit);
      const accepted = (await response.json()) as { batchId: string; total: number };
      const acceptedAt = performance.now();
      const rssAtAccept = peakRssOf(server.pid);
      if (response.status !== 202) throw new Error(`POST /v1/batches: HTTP ${response.status} ${JSON.stringify(accepted)}`);
      const doneAt = await completedAt(accepted.batchId);
      const rssPeak = peakRssOf(server.pid);
      const summary = (await (await fetch(`${server.url}/v1/batches/${accepted.batchId}`)).json()) as { counts: { sent: number; failed: number } };
      if (summary.counts.sent !== RECIPIENTS) throw new Error(`batch ended with ${summary.counts.sent} sent, ${summary.counts.failed} failed`);
      const detail = `n=${formatCount(RECIPIENTS)}`;
      const sentMs = doneAt - started;
      record("batch-accept", value(acceptedAt - started, detail));
      record("batch-sent", value(sentMs, detail));
      record("batch-rate", value(ratePerSec(RECIPIENTS, sentMs), detail));
      record("batch-rss-accept", megabytes(rssAtAccept, detail));
      record("batch-rss-peak", megabytes(rssPeak, detail));
      context.log(
        `batch: 202 after ${formatNumber(acceptedAt - started)} ms, all sent after ${formatNumber(sentMs)} ms (${formatNumber(ratePerSec(RECIPIENTS, sentMs))} msg/s); ` +
          `server peak RSS ${rssText(rssAtAccept)} by the 202, ${rssText(rssPeak)} in all`,
      );
      context.note(`${system.name} batch: \`spool serve ${flags.join(" ")}\` in a child process; one NDJSON upload, expander chunks of 5,000, mock workers at the default concurrency`);
    } finally {
      stop.abort();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

function megabytes(bytes: number | undefined, detail: string): Cell {
  return bytes === undefined ? { kind: "none", text: "n/a (no /proc)" } : value(bytes / MB, detail);
}

function rssText(bytes: number | undefined): string {
  return bytes === undefined ? "n/a" : `${formatNumber(bytes / MB)} MB`;
}
