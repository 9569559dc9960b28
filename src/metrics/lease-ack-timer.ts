/**
 * Lease-to-ack times for consumers that lease and ack in separate calls (the HTTP API, a remote
 * client): remembers when each message was leased, by id, until it is acked, nacked or
 * forgotten. Bounded: past `maxTracked` entries the oldest is dropped (a lease that expired
 * unacked is never settled here, so without a bound the map would only grow). Workers measure
 * the time themselves and do not use this.
 */
export interface LeaseAckTimerOptions {
  /** Most leases remembered at once (default 100,000, about 10 MB at most). */
  maxTracked?: number;
}

interface Leased {
  queue: string;
  leasedAtMs: number;
}

export class LeaseAckTimer {
  readonly #leased = new Map<string, Leased>();
  readonly #maxTracked: number;

  constructor(options: LeaseAckTimerOptions = {}) {
    const max = options.maxTracked ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxTracked must be a positive integer, got ${JSON.stringify(options.maxTracked)}`);
    this.#maxTracked = max;
  }

  /** Entries held now. */
  get size(): number {
    return this.#leased.size;
  }

  /** Remembers that these messages were leased at `nowMs`. */
  leased(messages: ReadonlyArray<{ id: string; queue: string }>, nowMs: number): void {
    const map = this.#leased;
    for (const message of messages) {
      // delete first so a re-lease moves to the young end (eviction drops the oldest lease).
      map.delete(message.id);
      map.set(message.id, { queue: message.queue, leasedAtMs: nowMs });
    }
    while (map.size > this.#maxTracked) map.delete(map.keys().next().value as string);
  }

  /** Forgets `id` and returns how long ago it was leased, if it was tracked. */
  settled(id: string, nowMs: number): { queue: string; ms: number } | undefined {
    const entry = this.#leased.get(id);
    if (entry === undefined) return undefined;
    this.#leased.delete(id);
    return { queue: entry.queue, ms: Math.max(0, nowMs - entry.leasedAtMs) };
  }

  clear(): void {
    this.#leased.clear();
  }
}
