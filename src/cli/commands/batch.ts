/**
 * `spool batch send FILE`: streams a batch file to POST /v1/batches — `.ndjson` / `.jsonl` as
 * NDJSON (the header line, then one recipient per line; up to 1,000,000), anything else as one
 * JSON body (up to 10,000 recipients) — then shows a progress bar on stderr until every recipient
 * has a final status, following the server's event stream. `spool batch status ID`: a batch's counts.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { errorFromResponse, unreachable } from "../../client/remote-errors.js";
import { SpoolError } from "../../core/errors.js";
import type { BatchSummary } from "../../delivery/message-log.js";
import { addJsonOption, addRemoteOptions, type RemoteOptions } from "../options.js";
import { formatCount, formatDuration, formatPairs, formatTime, printJson, printLine, printNote } from "../output.js";

interface SendFlags extends RemoteOptions {
  json?: boolean;
  wait: boolean;
}

const STATUSES = ["pending", "queued", "sent", "delivered", "read", "failed"] as const;

export function registerBatch(program: Command): void {
  const batch = program.command("batch").description("batch delivery: send a batch file, follow a batch");

  const send = batch
    .command("send")
    .description("send a batch file (JSON, or NDJSON by extension .ndjson/.jsonl) and follow it until done")
    .argument("<file>", "the batch: {template|templateId, channel, recipients, …} as JSON, or NDJSON: the header line, then one recipient per line")
    .option("--no-wait", "print the batch id once accepted, without following it")
    .addHelpText("after", "\nExamples:\n  spool batch send welcome.json\n  spool batch send million.ndjson --json > summary.json");
  addRemoteOptions(send);
  addJsonOption(send, "print the final summary as JSON");
  send.action(async (file: string, flags: SendFlags) => {
    const startedAt = Date.now();
    const accepted = await postBatch(flags, file);
    if (accepted.duplicate) printNote(`duplicate: this idempotency key was already used; following batch ${accepted.batchId}`);
    if (!flags.wait) {
      if (flags.json) return printJson(accepted);
      return printLine(accepted.batchId);
    }
    printNote(`batch ${accepted.batchId}: ${formatCount(accepted.total)} recipients accepted in ${formatDuration(Date.now() - startedAt)}`);
    const bar = progressBar();
    const summary = await follow(flags, accepted.batchId, (progress) => bar.draw(progress));
    bar.done();
    if (flags.json) return printJson(summary);
    printLine(describe(summary));
  });

  const status = batch.command("status").description("a batch's counts by status and progress").argument("<id>", "batch id");
  addRemoteOptions(status);
  addJsonOption(status, "print the batch as JSON");
  status.action(async (id: string, flags: RemoteOptions & { json?: boolean }) => {
    const summary = await request<BatchSummary>(flags, "GET", `/v1/batches/${encodeURIComponent(id)}`);
    if (flags.json) return printJson(summary);
    printLine(describe(summary));
  });
}

function describe(summary: BatchSummary): string {
  const counts = STATUSES.filter((s) => summary.counts[s] > 0 || s === "sent" || s === "failed").map((s) => [s, formatCount(summary.counts[s])] as const);
  return formatPairs([
    ["batch", summary.id],
    ["channel", summary.channel],
    ["recipients", formatCount(summary.total)],
    ...counts,
    ["progress", `${(summary.progress * 100).toFixed(1)}%`],
    ["created", formatTime(summary.createdAt)],
    ["completed", summary.completedAt === undefined ? "not yet" : `${formatTime(summary.completedAt)} (${formatDuration(summary.completedAt - summary.createdAt)})`],
  ]);
}

async function postBatch(flags: RemoteOptions, file: string): Promise<{ batchId: string; total: number; duplicate: boolean }> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new SpoolError("validation_failed", `batch file ${JSON.stringify(file)} does not exist or is not a file`);
  const ndjson = /\.(ndjson|jsonl)$/i.test(file);
  const body = Readable.toWeb(createReadStream(file, { highWaterMark: 256 * 1024 })) as ReadableStream;
  return request(flags, "POST", "/v1/batches", { body, contentType: ndjson ? "application/x-ndjson" : "application/json" });
}

/**
 * Follows a batch through the server's event stream (GET /v1/events) until it completes. The
 * batch is read once after the stream is open, so a batch that finished before we listened is
 * not waited for forever.
 */
async function follow(flags: RemoteOptions, batchId: string, onProgress: (summary: BatchSummary) => void): Promise<BatchSummary> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (flags.key) headers.authorization = `Bearer ${flags.key}`;
  const stop = new AbortController();
  let response: Response;
  try {
    response = await fetch(flags.url.replace(/\/+$/, "") + "/v1/events", { headers, signal: stop.signal });
  } catch (error) {
    throw unreachable(`GET /v1/events at ${flags.url}`, error);
  }
  if (response.status >= 400 || response.body === null) throw errorFromResponse(response.status, await response.text(), "GET /v1/events");
  try {
    let summary = await request<BatchSummary>(flags, "GET", `/v1/batches/${encodeURIComponent(batchId)}`);
    onProgress(summary);
    if (summary.completedAt !== undefined) return summary;
    for await (const data of sseData(response.body)) {
      const event = JSON.parse(data) as BatchSummary;
      if (event.id !== batchId) continue;
      summary = event;
      onProgress(summary);
      if (summary.completedAt !== undefined) return summary;
    }
    throw new SpoolError("unavailable", `the server closed its event stream before batch ${batchId} completed`);
  } finally {
    stop.abort();
  }
}

/** The `data:` payloads of a server-sent event stream (one line each, as /v1/events sends them). */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let carry = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    carry += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = carry.indexOf("\n")) >= 0) {
      const line = carry.slice(0, end);
      carry = carry.slice(end + 1);
      if (line.startsWith("data: ")) yield line.slice(6);
    }
  }
}

async function request<R>(flags: RemoteOptions, method: string, path: string, send?: { body: ReadableStream; contentType: string }): Promise<R> {
  const what = `${method} ${path}`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (flags.key) headers.authorization = `Bearer ${flags.key}`;
  if (send) headers["content-type"] = send.contentType;
  let response: Response;
  try {
    response = await fetch(flags.url.replace(/\/+$/, "") + path, { method, headers, body: send?.body, duplex: send ? "half" : undefined } as RequestInit);
  } catch (error) {
    throw unreachable(`${what} at ${flags.url}`, error);
  }
  const text = await response.text();
  let payload: unknown;
  try {
    payload = text === "" ? undefined : JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (response.status >= 400) throw errorFromResponse(response.status, payload ?? text, what);
  return payload as R;
}

/** A one-line bar redrawn in place on a terminal; plain lines (at most one a second) otherwise. */
function progressBar(): { draw(summary: BatchSummary): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let lastLine = "";
  let lastAt = 0;
  return {
    draw(summary) {
      const width = 30;
      const filled = Math.round(summary.progress * width);
      const counts = STATUSES.filter((s) => summary.counts[s] > 0).map((s) => `${s} ${formatCount(summary.counts[s])}`).join(", ");
      const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(summary.progress * 100).toFixed(1).padStart(5)}%  ${counts}`;
      if (line === lastLine) return;
      lastLine = line;
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastAt >= 1000 || summary.completedAt !== undefined) {
        lastAt = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
    done() {
      if (tty) process.stderr.write("\n");
    },
  };
}
