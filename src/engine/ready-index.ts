import { NIL, Slot, type MessageTable } from "./message-table.js";

const LEVELS = 10;

/**
 * Leasable messages of one queue: one intrusive doubly linked list per priority (0–9), linked
 * through the rows' prev/next columns. Take = highest non-empty level's head; add = tail;
 * remove anywhere = O(1).
 */
export class ReadyIndex {
  readonly #table: MessageTable;
  readonly #heads = new Int32Array(LEVELS).fill(NIL);
  readonly #tails = new Int32Array(LEVELS).fill(NIL);
  /** Messages per level (stats and metrics: the ready depth by priority). */
  readonly #sizes = new Int32Array(LEVELS);
  size = 0;

  constructor(table: MessageTable) {
    this.#table = table;
  }

  append(r: number): void {
    const t = this.#table;
    t.slot[r] = Slot.Ready;
    const level = t.priority[r];
    const tail = this.#tails[level];
    t.prev[r] = tail;
    t.next[r] = NIL;
    if (tail !== NIL) t.next[tail] = r;
    else this.#heads[level] = r;
    this.#tails[level] = r;
    this.#sizes[level]++;
    this.size++;
  }

  /** Inserts by publish order within the level: used when a dedup replace changes priority. */
  insertInOrder(r: number): void {
    const t = this.#table;
    const level = t.priority[r];
    let after = this.#tails[level];
    while (after !== NIL && t.seq[after] > t.seq[r]) after = t.prev[after];
    t.slot[r] = Slot.Ready;
    t.prev[r] = after;
    const next = after === NIL ? this.#heads[level] : t.next[after];
    t.next[r] = next;
    if (next !== NIL) t.prev[next] = r;
    else this.#tails[level] = r;
    if (after !== NIL) t.next[after] = r;
    else this.#heads[level] = r;
    this.#sizes[level]++;
    this.size++;
  }

  remove(r: number): void {
    const t = this.#table;
    const level = t.priority[r];
    const prev = t.prev[r];
    const next = t.next[r];
    if (prev !== NIL) t.next[prev] = next;
    else this.#heads[level] = next;
    if (next !== NIL) t.prev[next] = prev;
    else this.#tails[level] = prev;
    t.prev[r] = NIL;
    t.next[r] = NIL;
    t.slot[r] = Slot.None;
    this.#sizes[level]--;
    this.size--;
  }

  /** How many messages each priority level holds, index = priority (0–9). */
  sizesByPriority(): number[] {
    return Array.from(this.#sizes);
  }

  /** The next message to hand out: highest priority, then FIFO; NIL if none. */
  first(): number {
    if (this.size === 0) return NIL;
    for (let level = LEVELS - 1; level >= 0; level--) {
      const head = this.#heads[level];
      if (head !== NIL) return head;
    }
    return NIL;
  }

  /** The message that has waited longest, whatever its priority (drop-oldest, oldest age); NIL if none. */
  oldest(): number {
    const t = this.#table;
    let oldest = NIL;
    for (let level = 0; level < LEVELS; level++) {
      const head = this.#heads[level];
      if (head === NIL) continue;
      if (oldest === NIL || t.availableAt[head] < t.availableAt[oldest] || (t.availableAt[head] === t.availableAt[oldest] && t.seq[head] < t.seq[oldest])) {
        oldest = head;
      }
    }
    return oldest;
  }

  /** The first `limit` rows in lease order: highest priority first, each level in list order. */
  firstN(limit: number): number[] {
    const t = this.#table;
    const out: number[] = [];
    for (let level = LEVELS - 1; level >= 0 && out.length < limit; level--) {
      for (let r = this.#heads[level]; r !== NIL && out.length < limit; r = t.next[r]) out.push(r);
    }
    return out;
  }

  /** Every ready row, highest priority first, each level in list order. */
  all(): number[] {
    const t = this.#table;
    const out: number[] = [];
    for (let level = LEVELS - 1; level >= 0; level--) {
      for (let r = this.#heads[level]; r !== NIL; r = t.next[r]) out.push(r);
    }
    return out;
  }
}
