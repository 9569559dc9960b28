import { Slot, type MessageRecord } from "./message-record.js";

const LEVELS = 10;

/**
 * Leasable messages of one queue: one intrusive doubly linked list per priority (0–9).
 * Take = highest non-empty level's head; add = tail; remove anywhere = O(1).
 */
export class ReadyIndex {
  readonly #heads: (MessageRecord | null)[] = new Array(LEVELS).fill(null);
  readonly #tails: (MessageRecord | null)[] = new Array(LEVELS).fill(null);
  size = 0;

  append(record: MessageRecord): void {
    record.slot = Slot.Ready;
    const level = record.priority;
    const tail = this.#tails[level];
    record.prev = tail;
    record.next = null;
    if (tail) tail.next = record;
    else this.#heads[level] = record;
    this.#tails[level] = record;
    this.size++;
  }

  /** Inserts by publish order within the level: used when a dedup replace changes priority. */
  insertInOrder(record: MessageRecord): void {
    const level = record.priority;
    let after = this.#tails[level];
    while (after && after.seq > record.seq) after = after.prev;
    if (!after) {
      record.slot = Slot.Ready;
      record.prev = null;
      record.next = this.#heads[level];
      if (record.next) record.next.prev = record;
      else this.#tails[level] = record;
      this.#heads[level] = record;
      this.size++;
      return;
    }
    record.slot = Slot.Ready;
    record.prev = after;
    record.next = after.next;
    if (after.next) after.next.prev = record;
    else this.#tails[level] = record;
    after.next = record;
    this.size++;
  }

  remove(record: MessageRecord): void {
    const level = record.priority;
    if (record.prev) record.prev.next = record.next;
    else this.#heads[level] = record.next;
    if (record.next) record.next.prev = record.prev;
    else this.#tails[level] = record.prev;
    record.prev = null;
    record.next = null;
    record.slot = Slot.None;
    this.size--;
  }

  /** The next message to hand out: highest priority, then FIFO. */
  first(): MessageRecord | null {
    if (this.size === 0) return null;
    for (let level = LEVELS - 1; level >= 0; level--) {
      const head = this.#heads[level];
      if (head) return head;
    }
    return null;
  }

  /** The message that has waited longest, whatever its priority (drop-oldest, oldest age). */
  oldest(): MessageRecord | null {
    let oldest: MessageRecord | null = null;
    for (let level = 0; level < LEVELS; level++) {
      const head = this.#heads[level];
      if (head && (!oldest || head.availableAt < oldest.availableAt || (head.availableAt === oldest.availableAt && head.seq < oldest.seq))) oldest = head;
    }
    return oldest;
  }

  *all(): Generator<MessageRecord> {
    for (let level = LEVELS - 1; level >= 0; level--) {
      for (let record = this.#heads[level]; record; record = record.next) yield record;
    }
  }
}
