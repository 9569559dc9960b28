/**
 * A binary min-heap whose items remember their own position, so any item can be removed or
 * re-keyed in O(log n) — what delay, lease-expiry and TTL timelines need (a message leaves a
 * timeline early when acked, replaced or purged). Ties break on `tieBreak` (the engine: publish
 * seq, for FIFO among equals). Items may be objects or row numbers.
 */
export class IndexedHeap<T> {
  readonly #items: T[] = [];
  readonly #key: (item: T) => number;
  readonly #getIndex: (item: T) => number;
  readonly #setIndex: (item: T, index: number) => void;
  readonly #tieBreak: (item: T) => number;

  constructor(key: (item: T) => number, getIndex: (item: T) => number, setIndex: (item: T, index: number) => void, tieBreak: (item: T) => number) {
    this.#key = key;
    this.#getIndex = getIndex;
    this.#setIndex = setIndex;
    this.#tieBreak = tieBreak;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  /** The items in heap (not sorted) order; for rare whole-store walks such as purge. */
  items(): readonly T[] {
    return this.#items;
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    this.#setIndex(item, items.length - 1);
    this.#up(items.length - 1);
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0] as T;
    this.remove(top);
    return top;
  }

  has(item: T): boolean {
    const index = this.#getIndex(item);
    return index >= 0 && this.#items[index] === item;
  }

  remove(item: T): boolean {
    const items = this.#items;
    const index = this.#getIndex(item);
    if (index < 0 || items[index] !== item) return false;
    const last = items.pop() as T;
    this.#setIndex(item, -1);
    if (index < items.length) {
      items[index] = last;
      this.#setIndex(last, index);
      this.#down(index);
      this.#up(this.#getIndex(last));
    }
    return true;
  }

  #less(a: T, b: T): boolean {
    const ka = this.#key(a);
    const kb = this.#key(b);
    return ka < kb || (ka === kb && this.#tieBreak(a) < this.#tieBreak(b));
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex];
      if (!this.#less(item, parent)) break;
      items[index] = parent;
      this.#setIndex(parent, index);
      index = parentIndex;
    }
    items[index] = item;
    this.#setIndex(item, index);
  }

  #down(index: number): void {
    const items = this.#items;
    const length = items.length;
    const item = items[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.#less(items[right], items[left]) ? right : left;
      if (!this.#less(items[child], item)) break;
      items[index] = items[child];
      this.#setIndex(items[index], index);
      index = child;
    }
    items[index] = item;
    this.#setIndex(item, index);
  }
}
