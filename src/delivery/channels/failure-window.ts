/**
 * Calls and failures over the last `windowMs`, kept the way resilience4j's time-based sliding
 * window keeps them: the window is cut into a fixed number of buckets of counts, a bucket is
 * emptied when time moves past it, and running totals are kept beside them. Memory and the cost
 * of a record are constant however many calls the window holds.
 *
 * The totals cover the current bucket and the `BUCKETS - 1` before it: between 90% and 100% of
 * `windowMs`, as resilience4j's one-second buckets cover between N - 1 and N seconds.
 */
export const BUCKETS = 10;

export interface WindowTotals {
  calls: number;
  failures: number;
}

export class FailureWindow {
  readonly #bucketMs: number;
  readonly #calls = new Array<number>(BUCKETS).fill(0);
  readonly #failures = new Array<number>(BUCKETS).fill(0);
  /** The bucket number (`floor(now / bucketMs)`) the newest slot holds. */
  #head = -Infinity;
  #totalCalls = 0;
  #totalFailures = 0;

  constructor(windowMs: number) {
    if (!(windowMs >= BUCKETS)) throw new RangeError(`windowMs must be at least ${BUCKETS}, got ${windowMs}`);
    this.#bucketMs = windowMs / BUCKETS;
  }

  record(failed: boolean, now: number): void {
    const slot = this.#advance(now);
    this.#calls[slot]++;
    this.#totalCalls++;
    if (failed) {
      this.#failures[slot]++;
      this.#totalFailures++;
    }
  }

  totals(now: number): WindowTotals {
    this.#advance(now);
    return { calls: this.#totalCalls, failures: this.#totalFailures };
  }

  clear(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#totalCalls = 0;
    this.#totalFailures = 0;
  }

  /** Empties the buckets time has moved past; returns the slot of `now`'s bucket. */
  #advance(now: number): number {
    const bucket = Math.floor(now / this.#bucketMs);
    // A clock that stepped back keeps counting into the newest bucket rather than an expired one.
    if (bucket > this.#head) {
      // The slots of buckets head+1..bucket are reused; they held buckets a window older.
      for (let b = Math.max(this.#head + 1, bucket - BUCKETS + 1); b <= bucket; b++) this.#empty(slotOf(b));
      this.#head = bucket;
    }
    return slotOf(this.#head);
  }

  #empty(slot: number): void {
    this.#totalCalls -= this.#calls[slot];
    this.#totalFailures -= this.#failures[slot];
    this.#calls[slot] = 0;
    this.#failures[slot] = 0;
  }
}

function slotOf(bucket: number): number {
  return ((bucket % BUCKETS) + BUCKETS) % BUCKETS;
}
