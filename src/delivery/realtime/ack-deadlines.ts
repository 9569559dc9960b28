/**
 * Ack deadlines with one timer. Every deadline is "now + the same timeout", so deadlines are
 * started in the order they fall due: a FIFO holds them sorted for free, and one timer armed
 * for the front is all it takes. Starting, cancelling and firing are O(1); a cancelled
 * deadline stays in the FIFO, marked, and is dropped when it reaches the front — there is
 * no scan, ever. Memory: at most the deadlines started within one timeout.
 *
 * (A wall clock stepping backwards can leave a later deadline slightly earlier than one ahead
 * of it; it then fires with that one, a little late. Nothing is lost.)
 */
import { Deque } from "../../util/deque.js";
import type { Clock, TimerHandle } from "../../util/clock.js";

export interface Deadline {
  readonly dueAt: number;
  readonly cancelled: boolean;
  cancel(): void;
}

class Entry<T> implements Deadline {
  cancelled = false;
  constructor(
    readonly item: T,
    readonly dueAt: number,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
}

export class AckDeadlines<T> {
  readonly timeoutMs: number;
  readonly #clock: Clock;
  readonly #onDue: (item: T) => void;
  readonly #fifo = new Deque<Entry<T>>();
  #timer: TimerHandle | undefined;
  #closed = false;
  #firing = false;

  constructor(clock: Clock, timeoutMs: number, onDue: (item: T) => void) {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`ack timeout must be a positive integer of ms, got ${timeoutMs}`);
    this.#clock = clock;
    this.timeoutMs = timeoutMs;
    this.#onDue = onDue;
  }

  /** Calls `onDue(item)` `timeoutMs` from now, unless the returned deadline is cancelled first. */
  start(item: T): Deadline {
    const entry = new Entry(item, this.#clock.now() + this.timeoutMs);
    if (this.#closed) {
      entry.cancel();
      return entry;
    }
    this.#fifo.push(entry);
    if (this.#timer === undefined && !this.#firing) this.#arm();
    return entry;
  }

  /** Deadlines in the FIFO, cancelled ones included (for tests and metrics). */
  get size(): number {
    return this.#fifo.length;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#fifo.clear();
  }

  #arm(): void {
    let front = this.#fifo.peekFront();
    while (front?.cancelled) {
      this.#fifo.shift();
      front = this.#fifo.peekFront();
    }
    if (front === undefined) return;
    this.#timer = this.#clock.setTimer(() => this.#fire(), front.dueAt - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    this.#firing = true;
    try {
      // Deadlines `onDue` starts are due a whole timeout later, so this loop always ends.
      for (let front = this.#fifo.peekFront(); front !== undefined && (front.cancelled || front.dueAt <= now); front = this.#fifo.peekFront()) {
        this.#fifo.shift();
        if (front.cancelled) continue;
        front.cancel(); // fired: a late cancel() is a no-op
        this.#onDue(front.item);
        if (this.#closed) return;
      }
    } finally {
      this.#firing = false;
    }
    this.#arm();
  }
}
