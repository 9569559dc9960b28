import type { Handling } from "./handling.js";

/**
 * The deliveries a worker is running, as an intrusive doubly linked list through the
 * deliveries themselves: O(1) add and remove with no allocation, where a Map or Set churned its
 * hash table as 64 slots filled and emptied thousands of times a second. It holds each delivery
 * object once, so two deliveries of the same message (a lease that expired and came back) are
 * both tracked.
 */
export class InFlight {
  #head: Handling | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(delivery: Handling): void {
    delivery.inFlightPrev = undefined;
    delivery.inFlightNext = this.#head;
    if (this.#head) this.#head.inFlightPrev = delivery;
    this.#head = delivery;
    delivery.inFlight = true;
    this.#size++;
  }

  /** Removes `delivery` if it is in the list. */
  remove(delivery: Handling): void {
    if (!delivery.inFlight) return;
    const { inFlightPrev: prev, inFlightNext: next } = delivery;
    if (prev) prev.inFlightNext = next;
    else this.#head = next;
    if (next) next.inFlightPrev = prev;
    delivery.inFlightPrev = delivery.inFlightNext = undefined;
    delivery.inFlight = false;
    this.#size--;
  }

  /** A copy, newest first: callers may remove while they walk it. */
  toArray(): Handling[] {
    const out: Handling[] = [];
    for (let d = this.#head; d; d = d.inFlightNext) out.push(d);
    return out;
  }
}
