import type { DeadEntry } from "./message-record.js";

/**
 * One queue's dead letters in arrival order, with stable cursors: the cursor is the last
 * entry's `deadSeq`, found again by binary search; removed entries are compacted away lazily.
 */
export class DeadLetterStore {
  #entries: DeadEntry[] = [];
  #removed = 0;
  readonly byId = new Map<string, DeadEntry>();

  get size(): number {
    return this.byId.size;
  }

  add(entry: DeadEntry): void {
    this.#entries.push(entry);
    this.byId.set(entry.record.id, entry);
  }

  remove(id: string): DeadEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    entry.removed = true;
    this.byId.delete(id);
    this.#removed++;
    if (this.#removed > 64 && this.#removed * 2 > this.#entries.length) {
      this.#entries = this.#entries.filter((e) => !e.removed);
      this.#removed = 0;
    }
    return entry;
  }

  /** Up to `limit` entries after `afterSeq` (exclusive), oldest first. */
  page(afterSeq: number, limit: number): { items: DeadEntry[]; more: boolean } {
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid].deadSeq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const items: DeadEntry[] = [];
    let index = lo;
    for (; index < entries.length && items.length < limit; index++) {
      if (!entries[index].removed) items.push(entries[index]);
    }
    while (index < entries.length && entries[index].removed) index++;
    return { items, more: index < entries.length };
  }

  all(): DeadEntry[] {
    return this.#entries.filter((e) => !e.removed);
  }

  clear(): DeadEntry[] {
    const live = this.all();
    this.#entries = [];
    this.#removed = 0;
    this.byId.clear();
    return live;
  }
}
