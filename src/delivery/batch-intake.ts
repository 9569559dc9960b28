/**
 * Accepting a batch (docs/batch-delivery.md, Flow 1): validate everything — the header, every
 * recipient, every template variable of every recipient — while the recipients stream into a
 * durable recipient file, then record the batch, then answer. Nothing is created when anything
 * is invalid: the 400 names each bad recipient by index (at most MAX_DETAILS of them).
 *
 * JSON bodies (≤ 10,000 recipients) arrive parsed and schema-checked by the route; NDJSON bodies
 * (≤ 1,000,000) are read line by line from the request stream and never held in memory.
 * `idempotencyKey`: a request whose key names an existing batch answers that batch (checked at
 * the start, and again just before recording, so two racing requests create one batch).
 * `authorize`: the caller's say on channels — asked for the request's channel as soon as the header
 * is read (before any recipient is stored), and for the channel of a batch an idempotency key
 * names before that batch is answered; it refuses by throwing.
 */
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { schemaErrors } from "../config/validate.js";
import { ConflictError, TooLargeError, ValidationError, type ErrorDetail } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { BatchRecord, BatchState } from "./delivery-state.js";
import type { DeliveryStorage } from "./storage/delivery-storage.js";
import type { RecipientSink, StoredRecipient } from "./recipient-files.js";
import type { ChannelName } from "./types.js";
import { RecipientIds } from "./recipient-ids.js";
import { BatchHeaderSchema, checkHeader, checkRecipient, MAX_STREAM_RECIPIENTS, RecipientSchema, type BatchHeader, type BatchRequest, type RecipientInput } from "./schemas.js";
import { compileTemplate, type CompiledTemplate } from "./templates.js";
import { MAX_JSON_DEPTH, jsonDepthExceeds } from "../util/json-depth.js";

export interface BatchAccepted {
  batchId: string;
  total: number;
  /** The idempotency key named an existing batch: this is that batch, nothing new was created. */
  duplicate: boolean;
}

/** Throws to refuse a batch on `channel` (or the answer of an existing batch on it). */
export type ChannelCheck = (channel: ChannelName) => void;

const allChannels: ChannelCheck = () => undefined;

const MAX_DETAILS = 100;
/** Bounds the memory one recipient line may hold (UTF-16 characters, so at most ~4 MiB of UTF-8). */
const MAX_LINE_CHARS = 1024 * 1024;

interface PreparedHeader {
  header: BatchHeader;
  authorize: ChannelCheck;
  template: CompiledTemplate;
  templateId?: string;
}

export class BatchIntake {
  readonly #store: DeliveryStorage;
  readonly #onCreated: (batchId: string) => void;
  readonly #maxStreamRecipients: number;
  readonly #chunkSize: number | undefined;

  constructor(store: DeliveryStorage, onCreated: (batchId: string) => void, options: { maxStreamRecipients?: number; chunkSize?: number } = {}) {
    this.#store = store;
    this.#onCreated = onCreated;
    this.#maxStreamRecipients = options.maxStreamRecipients ?? MAX_STREAM_RECIPIENTS;
    this.#chunkSize = options.chunkSize;
  }

  /** A JSON body, already checked against `BatchRequestSchema`. */
  async fromJson(request: BatchRequest, authorize: ChannelCheck = allChannels): Promise<BatchAccepted> {
    const { recipients, ...header } = request;
    authorize(header.channel);
    await this.#store.sync(); // a shared storage: templates and keys other processes recorded
    const existing = this.#existing(header.idempotencyKey, authorize);
    if (existing) return existing;
    const prepared = this.#prepare(header, authorize);
    const details: ErrorDetail[] = [];
    recipients.forEach((recipient, index) => {
      if (details.length < MAX_DETAILS) this.#checkRecipient(prepared, recipient, index, details);
    });
    if (details.length > 0) throw recipientErrors(details, recipients.length);
    return this.#accept(prepared, async (sink) => {
      for (const recipient of recipients) await sink.write(normalise(recipient));
      return recipients.length;
    });
  }

  /** An NDJSON stream: a header line, then one recipient per line. */
  async fromNdjson(body: Readable, authorize: ChannelCheck = allChannels): Promise<BatchAccepted> {
    const lines = ndjsonLines(body);
    try {
      const first = await lines.next();
      if (first.done) throw new ValidationError("NDJSON body is empty: the first line must be the batch header", [{ path: "/0", message: "missing header" }]);
      const header = parseLine(first.value, "header (line 1)") as BatchHeader;
      if (!checkHeader.Check(header)) {
        const details = schemaErrors(BatchHeaderSchema, header, "/header");
        throw new ValidationError(`NDJSON header (line 1): ${details[0]?.path} ${details[0]?.message}`, details);
      }
      authorize(header.channel);
      await this.#store.sync(); // a shared storage: templates and keys other processes recorded
      const existing = this.#existing(header.idempotencyKey, authorize);
      if (existing) {
        await drain(lines); // read the rest, so the client sees the answer rather than a closed socket
        return existing;
      }
      const prepared = this.#prepare(header, authorize);
      return await this.#accept(prepared, async (sink) => {
        const details: ErrorDetail[] = [];
        let count = 0;
        for (;;) {
          const next = await lines.next();
          if (next.done) break;
          const index = count++;
          if (count > this.#maxStreamRecipients) {
            await drain(lines);
            throw new TooLargeError(`a batch takes at most ${this.#maxStreamRecipients} recipients; the stream has more`);
          }
          if (details.length >= MAX_DETAILS) continue; // keep counting, stop checking
          const read = readJsonLine(next.value);
          if ("problem" in read) {
            details.push({ path: `/recipients/${index}`, message: `line ${index + 2} ${read.problem}` });
            continue;
          }
          const recipient = read.value;
          if (this.#checkRecipient(prepared, recipient, index, details) && details.length === 0) await sink.write(normalise(recipient as RecipientInput));
        }
        if (details.length > 0) throw recipientErrors(details, count);
        return count;
      });
    } catch (error) {
      await drain(lines);
      throw error;
    }
  }

  /** The answer for the batch `key` names, if any (refused when its channel is not the caller's). */
  #existing(key: string | undefined, authorize: ChannelCheck): BatchAccepted | undefined {
    const batch = this.#named(key);
    if (batch === undefined) return undefined;
    authorize(batch.channel);
    return { batchId: batch.id, total: batch.total, duplicate: true };
  }

  #named(key: string | undefined): BatchState | undefined {
    const id = key === undefined ? undefined : this.#store.state.idempotency.get(key);
    return id === undefined ? undefined : this.#store.state.batches.get(id);
  }

  #prepare(header: BatchHeader, authorize: ChannelCheck): PreparedHeader {
    if ((header.template === undefined) === (header.templateId === undefined)) {
      throw new ValidationError("give either template or templateId", [{ path: "/template", message: "expected exactly one of template, templateId" }]);
    }
    if (header.webhook?.url !== undefined) checkUrl(header.webhook.url, "/webhook/url");
    if (header.templateId !== undefined) {
      const stored = this.#store.state.templates.get(header.templateId);
      if (!stored) throw new ValidationError(`template "${header.templateId}" does not exist`, [{ path: "/templateId", message: "unknown template" }]);
      return { header, authorize, template: compileTemplate(stored, `template "${stored.id}"`), templateId: stored.id };
    }
    return { header, authorize, template: compileTemplate(header.template!, "/template") };
  }

  /** Checks one recipient; pushes what is wrong to `details`; returns whether it is valid. */
  #checkRecipient(prepared: PreparedHeader, recipient: unknown, index: number, details: ErrorDetail[]): boolean {
    const path = `/recipients/${index}`;
    if (!checkRecipient.Check(recipient)) {
      const problem = schemaErrors(RecipientSchema, recipient, path)[0];
      details.push({ path: problem?.path ?? path, message: `recipient ${index}: ${problem?.message ?? "invalid"}` });
      return false;
    }
    const missing = prepared.template.missing(recipient.vars);
    if (missing !== undefined) {
      details.push({ path: `${path}/vars`, message: `recipient ${index} (${JSON.stringify(recipient.id)}): missing variable "${missing}"` });
      return false;
    }
    if (prepared.header.channel === "webhook") {
      const address = recipient.address ?? prepared.header.webhook?.url;
      if (address === undefined) {
        details.push({ path: `${path}/address`, message: `recipient ${index} (${JSON.stringify(recipient.id)}): no address and the batch has no webhook.url` });
        return false;
      }
      if (recipient.address !== undefined && !isHttpUrl(recipient.address)) {
        details.push({ path: `${path}/address`, message: `recipient ${index}: address must be an http(s) URL, got ${JSON.stringify(recipient.address)}` });
        return false;
      }
    }
    return true;
  }

  async #accept(prepared: PreparedHeader, fill: (sink: RecipientSink) => Promise<number>): Promise<BatchAccepted> {
    const batchId = newId();
    const file = this.#store.recipients.create(batchId);
    const ids = new RecipientIds();
    let written = 0;
    const sink: RecipientSink = {
      write: (recipient) => {
        ids.fill(written++, recipient.id);
        return file.write(recipient);
      },
      commit: () => file.commit(),
      abort: () => file.abort(),
    };
    let total: number;
    try {
      total = await fill(sink);
      if (total === 0) throw new ValidationError("a batch needs at least one recipient", [{ path: "/recipients", message: "empty" }]);
      await sink.commit();
    } catch (error) {
      await sink.abort();
      throw error;
    }
    // Two requests with one key may have raced through validation: the first recorded wins.
    if (prepared.header.idempotencyKey !== undefined) await this.#store.sync();
    const raced = this.#named(prepared.header.idempotencyKey);
    if (raced !== undefined) {
      await this.#store.recipients.remove(batchId);
      prepared.authorize(raced.channel);
      return { batchId: raced.id, total: raced.total, duplicate: true };
    }
    const { header, template } = prepared;
    const record: BatchRecord = { id: batchId, channel: header.channel, total, createdAt: Date.now(), template: template.source };
    if (this.#chunkSize !== undefined) record.chunkSize = this.#chunkSize;
    if (prepared.templateId !== undefined) record.templateId = prepared.templateId;
    if (header.webhook !== undefined) record.webhook = header.webhook;
    if (header.mock !== undefined) record.mock = header.mock;
    if (header.priority !== undefined) record.priority = header.priority;
    if (header.idempotencyKey !== undefined) record.idempotencyKey = header.idempotencyKey;
    if (!(await this.#store.write({ k: "batch", batch: record }))) {
      // Refused (a storage shared by processes): a batch another process recorded meanwhile holds the key.
      await this.#store.recipients.remove(batchId);
      const holder = this.#named(prepared.header.idempotencyKey);
      if (holder === undefined) throw new ConflictError(`idempotency key ${JSON.stringify(prepared.header.idempotencyKey)} names a batch being recorded: try again`);
      prepared.authorize(holder.channel);
      return { batchId: holder.id, total: holder.total, duplicate: true };
    }
    // Pending entries show their recipient before the expander reaches them.
    const state = this.#store.state.batches.get(batchId);
    state?.recipientIds.fillFrom(ids);
    this.#onCreated(batchId);
    return { batchId, total, duplicate: false };
  }
}

function normalise(recipient: RecipientInput): StoredRecipient {
  const out: StoredRecipient = { id: recipient.id };
  if (recipient.vars !== undefined) out.vars = recipient.vars;
  if (recipient.address !== undefined) out.address = recipient.address;
  return out;
}

function recipientErrors(details: ErrorDetail[], total: number): ValidationError {
  const more = details.length > 1 ? ` (and ${details.length - 1} more${details.length >= MAX_DETAILS ? ", listing stopped" : ""})` : "";
  const checked = `${total} recipient${total === 1 ? "" : "s"} checked`;
  return new ValidationError(`${details[0].message}${more}; no batch was created (${checked})`, details);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function checkUrl(text: string, path: string): void {
  if (!isHttpUrl(text)) throw new ValidationError(`${path}: expected an http(s) URL, got ${JSON.stringify(text)}`, [{ path, message: "expected an http(s) URL" }]);
}

type LineRead = { value: unknown } | { problem: string; detail: string };

/** A line's JSON value, or why there is none; nesting is bounded first, as for JSON bodies (util/json-depth.ts). */
function readJsonLine(line: string): LineRead {
  if (jsonDepthExceeds(line, MAX_JSON_DEPTH)) {
    const detail = `nested deeper than ${MAX_JSON_DEPTH} levels`;
    return { problem: `is ${detail} (arrays and objects)`, detail };
  }
  try {
    return { value: JSON.parse(line) };
  } catch (error) {
    return { problem: `is not JSON: ${(error as Error).message}`, detail: "not JSON" };
  }
}

function parseLine(line: string, what: string): unknown {
  const read = readJsonLine(line);
  if ("problem" in read) throw new ValidationError(`NDJSON ${what} ${read.problem}`, [{ path: "/header", message: read.detail }]);
  return read.value;
}

/** Non-empty lines of a byte stream; a line over MAX_LINE_CHARS is refused. */
async function* ndjsonLines(stream: Readable): AsyncGenerator<string, void, undefined> {
  let carry = "";
  const decoder = new StringDecoder("utf8"); // a character split across chunks stays whole
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const text = carry + (typeof chunk === "string" ? chunk : decoder.write(chunk));
    let start = 0;
    for (let end = text.indexOf("\n", start); end >= 0; end = text.indexOf("\n", start)) {
      if (end - start > MAX_LINE_CHARS) throw lineTooLong();
      const line = text.slice(start, end).trim();
      start = end + 1;
      if (line !== "") yield line;
    }
    carry = text.slice(start);
    if (carry.length > MAX_LINE_CHARS) throw lineTooLong();
  }
  const last = (carry + decoder.end()).trim();
  if (last !== "") yield last;
}

function lineTooLong(): TooLargeError {
  return new TooLargeError(`an NDJSON line is longer than ${MAX_LINE_CHARS} characters`);
}

async function drain(lines: AsyncGenerator<string, void, undefined>): Promise<void> {
  try {
    for (;;) if ((await lines.next()).done) return;
  } catch {
    // Only read to the end so the client gets the answer: a broken stream or an over-long line
    // here does not change that answer.
  }
}
