/**
 * A client workload against a real `spool serve`, recorded for the total-queue checker
 * (test/helpers/total-queue.ts): producers publish `{producer, seq}` bodies, one at a time and as
 * publishMany batches, several requests in flight each; consumers lease, then ack one by one, ack
 * in batches (`POST /v1/acks`), or abandon the lease.
 *
 * It speaks plain HTTP (fetch), not SpoolClient, because the checker must tell apart what
 * SpoolClient folds into one `unavailable` error:
 *
 *   201 / 204 / ok:true      ok        the server said durable
 *   503 unavailable           refused   the server said NOT written: a publish refused so must
 *                                       never turn up later (`refused` set; acked-after-fault)
 *   no answer (socket died)   unknown   may or may not have happened
 *   409 lease_lost on an ack  not acked (a lease record lost in a fault: allowed, counted)
 *
 * Any other answer is recorded in `errors`, which the tests require to be empty.
 */
import { randomInt, seededRandom } from "../helpers/seeded-random.js";
import { History, keyOf, type Body } from "../helpers/total-queue.js";

export class NetworkError extends Error {}

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the server, checked by the callers
  json: any;
}

/** One HTTP request; throws `NetworkError` when no answer came (refused, reset, closed early). */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await response.text();
  } catch (error) {
    throw new NetworkError(`${method} ${path}: no answer (${(error as Error).cause ?? error})`, { cause: error });
  }
  return { status: response.status, json: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

/** The error code of a Spool error envelope, if any. */
export function errorCodeOf(answer: Answer): string | undefined {
  return answer.json?.error?.code;
}

export interface LoadOptions {
  url: string;
  queues: readonly string[];
  seed: number;
  producers?: ReadonlyArray<{ name: string; window: number }>;
  /** Chance that a publish is a publishMany of 2–6 messages (default 0.3). */
  batchChance?: number;
  consumersPerQueue?: number;
  leaseMs?: number;
  /** Stop once this many publish requests were sent (default: until `stop()` or the server is gone). */
  maxPublishRequests?: number;
  /**
   * Chance that a message is published with a timer on it: `delayMs`, an `availableAt` or a
   * `ttlMs` of up to `timedMaxMs` (default 0: none).
   */
  timedChance?: number;
  timedMaxMs?: number;
  /** Chance that a consumer nacks a leased message with a `delayMs` of up to `timedMaxMs` (default 0). */
  nackChance?: number;
  /** The history to record into (default: a new one); loads against successive servers share one. */
  history?: History;
}

export interface LoadCounts {
  publishRequests: number;
  published: number;
  refusedPublishes: number;
  unknownPublishes: number;
  leased: number;
  acked: number;
  refusedAcks: number;
  leaseLostAcks: number;
  unknownAcks: number;
  abandoned: number;
  refusedLeases: number;
  nacked: number;
  /** Leases of a message whose ack had been answered 204/ok before: never allowed. */
  ackedRedelivered: number;
}

export const DEFAULT_PRODUCERS = [
  { name: "p0", window: 1 },
  { name: "p1", window: 4 },
  { name: "p2", window: 12 },
] as const;

export class Load {
  readonly history: History;
  /** Keys whose publish was answered 503: never written, so never to be found. */
  readonly refused = new Set<string>();
  /** The messages of the first few 503s, for the reports. */
  readonly refusals: string[] = [];
  /** Unexpected answers (anything but the outcomes above). */
  readonly errors: string[] = [];
  readonly counts: LoadCounts = {
    publishRequests: 0,
    published: 0,
    refusedPublishes: 0,
    unknownPublishes: 0,
    leased: 0,
    acked: 0,
    refusedAcks: 0,
    leaseLostAcks: 0,
    unknownAcks: 0,
    abandoned: 0,
    refusedLeases: 0,
    nacked: 0,
    ackedRedelivered: 0,
  };
  /** Leases seen per key, to tell whether one came between an ack's request and its 204. */
  readonly #leases = new Map<string, number>();
  /** Set once a request got no answer: the server is gone (killed), so the load stops. */
  serverGone = false;
  readonly #options: Required<Omit<LoadOptions, "history">>;
  readonly #random: () => number;
  #stopped = false;

  constructor(options: LoadOptions) {
    this.#options = {
      producers: DEFAULT_PRODUCERS,
      batchChance: 0.3,
      consumersPerQueue: 2,
      leaseMs: 30_000,
      maxPublishRequests: Number.POSITIVE_INFINITY,
      timedChance: 0,
      timedMaxMs: 2_000,
      nackChance: 0,
      ...options,
    };
    this.#random = seededRandom(options.seed);
    this.history = options.history ?? new History();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Producers and consumers stop taking new work; `run()` resolves once their requests are answered. */
  stop(): void {
    this.#stopped = true;
  }

  /** Runs until `stop()`, `maxPublishRequests`, or the server stops answering. */
  async run(): Promise<void> {
    const { producers, queues, consumersPerQueue } = this.#options;
    const producing = Promise.all(producers.map((p) => this.#produce(p.name, p.window)));
    const consuming = Promise.all(queues.flatMap((q) => Array.from({ length: consumersPerQueue }, () => this.#consume(q))));
    await producing;
    this.stop(); // the publish budget is spent: consumers stop too
    await consuming;
  }

  #gone(): void {
    this.serverGone = true;
    this.stop();
  }

  async #produce(producer: string, window: number): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; !this.#stopped && this.counts.publishRequests < this.#options.maxPublishRequests; ) {
      const queue = this.#options.queues[Math.floor(this.#random() * this.#options.queues.length)];
      const count = this.#random() < this.#options.batchChance ? randomInt(this.#random, 2, 6) : 1;
      const bodies: Body[] = [];
      for (let i = 0; i < count; i++) bodies.push({ producer, seq: seq++ });
      this.counts.publishRequests++;
      const request = this.publish(queue, bodies).then(() => undefined);
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /** One publish request (a single publish, or publishMany for several bodies), recorded. */
  async publish(queue: string, bodies: Body[]): Promise<"ok" | "refused" | "unknown"> {
    const keys = bodies.map(keyOf);
    for (const key of keys) this.history.publishInvoked(key);
    const path = `/v1/queues/${encodeURIComponent(queue)}/messages`;
    const items = bodies.map((body) => ({ body, ...this.#timer() }));
    let answer: Answer;
    try {
      answer = bodies.length === 1 ? await call(this.#options.url, "POST", path, items[0]) : await call(this.#options.url, "POST", `${path}/batch`, { messages: items });
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      this.counts.unknownPublishes += keys.length;
      this.#gone();
      return "unknown";
    }
    if (answer.status === 201) {
      const results: Array<{ id: string }> = bodies.length === 1 ? [answer.json] : answer.json.results;
      keys.forEach((key, i) => this.history.publishOk(key, results[i].id));
      this.counts.published += keys.length;
      return "ok";
    }
    if (answer.status === 503 && errorCodeOf(answer) === "unavailable") {
      for (const key of keys) this.refused.add(key);
      if (this.refusals.length < 5) this.refusals.push(String(answer.json.error.message));
      this.counts.refusedPublishes += keys.length;
      return "refused";
    }
    this.errors.push(`publish ${keys.join(",")}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
    return "unknown";
  }

  /** The timer a publish carries, if the dice say so: a delay, an absolute time, or a TTL. */
  #timer(): Record<string, number> {
    const { timedChance, timedMaxMs } = this.#options;
    if (timedChance === 0 || this.#random() >= timedChance) return {};
    const ms = randomInt(this.#random, 1, timedMaxMs);
    const kind = this.#random();
    if (kind < 0.4) return { delayMs: ms };
    if (kind < 0.7) return { availableAt: Date.now() + ms };
    return { ttlMs: ms };
  }

  async #consume(queue: string): Promise<void> {
    const base = this.#options.url;
    while (!this.#stopped) {
      let answer: Answer;
      try {
        answer = await call(base, "POST", `/v1/queues/${encodeURIComponent(queue)}/lease`, { max: randomInt(this.#random, 1, 8), leaseMs: this.#options.leaseMs, waitMs: 50 });
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        this.#gone();
        return;
      }
      if (answer.status === 503 && errorCodeOf(answer) === "unavailable") {
        this.counts.refusedLeases++;
        continue;
      }
      if (answer.status !== 200) {
        this.errors.push(`lease ${queue}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
        return;
      }
      const messages: Array<{ id: string; leaseToken: string; body: Body }> = answer.json.messages;
      const single: typeof messages = [];
      const batch: typeof messages = [];
      const nacks: typeof messages = [];
      for (const m of messages) {
        const key = keyOf(m.body);
        if (this.history.acks.get(key)?.outcome === "ok") this.#ackedRedelivered(key, m.id);
        this.#leases.set(key, (this.#leases.get(key) ?? 0) + 1);
        this.history.leased(key, m.id);
        this.counts.leased++;
        const choice = this.#random();
        if (choice < this.#options.nackChance) nacks.push(m);
        else if (choice < 0.45) single.push(m);
        else if (choice < 0.9) batch.push(m);
        else this.counts.abandoned++; // redelivered once its lease ends (after the restart, in the drain)
      }
      await Promise.all([...single.map((m) => this.#ack([m])), batch.length > 0 ? this.#ack(batch) : undefined, ...nacks.map((m) => this.#nack(m))]);
    }
  }

  #ackedRedelivered(key: string, id: string): void {
    this.counts.ackedRedelivered++;
    this.errors.push(`acked message leased again: ${key} (${id})`);
  }

  /** Nacks with a delay (a retry later, counted as an attempt); the outcome is only counted. */
  async #nack(m: { id: string; leaseToken: string; body: Body }): Promise<void> {
    const delayMs = randomInt(this.#random, 0, this.#options.timedMaxMs);
    let answer: Answer;
    try {
      answer = await call(this.#options.url, "POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, delayMs, error: { message: "later", kind: "transient" } });
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      this.#gone();
      return;
    }
    if (answer.status === 200 || answer.status === 204) this.counts.nacked++;
    else if (!(answer.status === 409 || answer.status === 503)) this.errors.push(`nack ${keyOf(m.body)}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
  }

  /** Acks one message (`POST /v1/messages/:id/ack`) or several (`POST /v1/acks`), recorded. */
  async #ack(messages: Array<{ id: string; leaseToken: string; body: Body }>): Promise<void> {
    const keys = messages.map((m) => keyOf(m.body));
    messages.forEach((m, i) => this.history.ackInvoked(keys[i], m.id));
    // A lease of the same key that arrives between this request and its 204 was handed out after the ack.
    const leasesBefore = keys.map((key) => this.#leases.get(key) ?? 0);
    const acked = (i: number) => {
      if ((this.#leases.get(keys[i]) ?? 0) !== leasesBefore[i]) this.#ackedRedelivered(keys[i], messages[i].id);
      this.history.ackOk(keys[i], messages[i].id);
      this.counts.acked++;
    };
    let answer: Answer;
    try {
      answer =
        messages.length === 1
          ? await call(this.#options.url, "POST", `/v1/messages/${messages[0].id}/ack`, { leaseToken: messages[0].leaseToken })
          : await call(this.#options.url, "POST", "/v1/acks", { acks: messages.map((m) => ({ id: m.id, leaseToken: m.leaseToken })) });
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      this.counts.unknownAcks += messages.length;
      this.#gone();
      return;
    }
    if (answer.status === 204) {
      acked(0);
    } else if (answer.status === 200 && messages.length > 1) {
      const results: Array<{ id: string; ok: boolean }> = answer.json.results;
      results.forEach((result, i) => {
        if (result.ok) {
          acked(i);
        } else {
          this.counts.leaseLostAcks++;
        }
      });
    } else if (answer.status === 409 && errorCodeOf(answer) === "lease_lost") {
      this.counts.leaseLostAcks++;
    } else if (answer.status === 503 && errorCodeOf(answer) === "unavailable") {
      this.counts.refusedAcks += messages.length;
    } else {
      this.errors.push(`ack ${keys.join(",")}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
    }
  }
}
