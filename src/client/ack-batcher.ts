/**
 * Collects the acks made during one turn of the event loop and sends them as one request
 * (`POST /v1/acks`), so a remote worker that finishes a leased batch of a thousand handlers
 * makes one round trip, not a thousand. Each ack still settles on its own: a stale token
 * rejects only its own promise with `LeaseLostError`; a failed request rejects all of its acks.
 */
import { limits } from "../config/limits.js";
import { LeaseLostError, SpoolError, UnavailableError } from "../core/errors.js";
import type { AckItem, AckOutcome } from "../core/operations.js";

interface PendingAck {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export type SendAcks = (items: AckItem[]) => Promise<AckOutcome[]>;

export class AckBatcher {
  readonly #send: SendAcks;
  #items: AckItem[] = [];
  #pending: PendingAck[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(send: SendAcks) {
    this.#send = send;
  }

  ack(id: string, leaseToken: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#items.push({ id, leaseToken });
      this.#pending.push({ resolve, reject });
      // setImmediate runs after this turn's I/O callbacks and microtasks: every handler that
      // finished in this turn has queued its ack by then.
      this.#scheduled ??= setImmediate(() => this.#flushNow());
    });
  }

  /** Sends what is queued now and waits for every request still in flight. */
  async flush(): Promise<void> {
    this.#flushNow();
    await Promise.allSettled([...this.#inFlight]);
  }

  #flushNow(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const max = limits.maxPublishBatch; // the route's limit per request
    while (this.#items.length > 0) {
      const items = this.#items.length <= max ? this.#items : this.#items.slice(0, max);
      const pending = this.#items.length <= max ? this.#pending : this.#pending.slice(0, max);
      if (items === this.#items) {
        this.#items = [];
        this.#pending = [];
      } else {
        this.#items = this.#items.slice(max);
        this.#pending = this.#pending.slice(max);
      }
      const sent: Promise<void> = this.#sendBatch(items, pending).finally(() => this.#inFlight.delete(sent));
      this.#inFlight.add(sent);
    }
  }

  async #sendBatch(items: AckItem[], pending: PendingAck[]): Promise<void> {
    let outcomes: AckOutcome[];
    try {
      outcomes = await this.#send(items);
    } catch (error) {
      for (const p of pending) p.reject(error);
      return;
    }
    for (let i = 0; i < pending.length; i++) {
      const outcome = outcomes[i];
      if (outcome === undefined || outcome.id !== items[i].id) {
        pending[i].reject(new UnavailableError(`POST /v1/acks: the answer has no result for message ${items[i].id}`));
      } else if (outcome.ok) {
        pending[i].resolve();
      } else if (outcome.code === "lease_lost" || outcome.code === undefined) {
        pending[i].reject(new LeaseLostError(items[i].id));
      } else {
        pending[i].reject(new SpoolError(outcome.code, `ack of message ${items[i].id} failed: ${outcome.code}`));
      }
    }
  }
}
