/**
 * Queue events on PostgreSQL (migrations/004-events.ts): the database's triggers send every
 * process's changes as notifications `e:[…]`, read here from the wake-up connection. Triggers
 * send only while `events_wanted.until` is in the future: while this process has listeners it
 * pushes that time ahead (now + 15 s, every 5 s). The first push, and the one when the wake-up
 * connection is back, are awaited by the store's next statements (`opening`), so a change this
 * process makes after subscribing (or after an outage) is never missed.
 */
import type { QueueEvent, QueueEventSink } from "../../core/queue-events.js";
import { EventFanout } from "../event-fanout.js";

const WANTED_FOR_MS = 15_000;
const RENEW_EVERY_MS = 5_000;

export class PgEventFeed {
  readonly #fanout: EventFanout;
  readonly #want: () => Promise<unknown>;
  #timer: NodeJS.Timeout | undefined;
  /** The first push of `until` after the first listener came, while it runs. */
  opening: Promise<void> | undefined;

  /** `run` executes one statement on the wake-up connection (never behind a busy pool). */
  constructor(schema: string, run: (text: string) => Promise<unknown>) {
    this.#want = () => run(`UPDATE ${schema}.events_wanted SET until = greatest(until, ${schema}.now_ms() + ${WANTED_FOR_MS})`);
    this.#fanout = new EventFanout((active) => (active ? this.#start() : this.#stop()));
  }

  subscribe(sink: QueueEventSink): () => void {
    return this.#fanout.subscribe(sink);
  }

  /** A notification's payload after `e:`: a JSON array of events, as the triggers wrote them. */
  receive(json: string): void {
    if (!this.#fanout.active) return;
    let events: QueueEvent[];
    try {
      events = JSON.parse(json) as QueueEvent[];
    } catch {
      return; // not ours to fail on: a notification cut or sent by something else
    }
    this.#fanout.deliver(events);
  }

  /**
   * The wake-up connection is back: renew now, awaited like the first. Renewals failed while it
   * was down, so `until` may have lapsed, and the next timed one could be 5 s away.
   */
  reconnected(): void {
    if (this.#fanout.active) this.#renewAwaited();
  }

  close(): void {
    this.#stop();
  }

  #start(): void {
    this.#renewAwaited();
    this.#timer = setInterval(this.#renew, RENEW_EVERY_MS);
    this.#timer.unref();
  }

  readonly #renew = (): Promise<unknown> => this.#want().catch(() => undefined); // down now: the next renewal tries again

  /** A renewal the store's next statements wait for (`opening`), so that their changes are heard. */
  #renewAwaited(): void {
    const renewal = this.#renew().then(() => {
      if (this.opening === renewal) this.opening = undefined;
    });
    this.opening = renewal;
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.opening = undefined;
    // `until` is left to lapse: another process may be listening.
  }
}
