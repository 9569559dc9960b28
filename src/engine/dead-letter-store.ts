import { NIL, type MessageTable } from "./message-table.js";

/** Dead-letter rows with their arrival numbers (the paging cursor), oldest first. */
export interface DeadRows {
  rows: number[];
  deadSeqs: number[];
}

/**
 * One queue's dead letters in arrival order, with stable cursors: the cursor is the last
 * entry's `deadSeq`, found again by binary search. A row's position here is kept in its
 * `timeIndex` column (a dead message is in no timeline), so removal is O(1); removed entries
 * are compacted away lazily.
 */
export class DeadLetterStore {
  readonly #table: MessageTable;
  #rows: number[] = [];
  #deadSeqs: number[] = [];
  #removed = 0;
  #size = 0;

  constructor(table: MessageTable) {
    this.#table = table;
  }

  get size(): number {
    return this.#size;
  }

  add(r: number, deadSeq: number): void {
    this.#table.timeIndex[r] = this.#rows.length;
    this.#rows.push(r);
    this.#deadSeqs.push(deadSeq);
    this.#size++;
  }

  /** Removes row `r`, which must be in this store. */
  remove(r: number): void {
    const t = this.#table;
    const index = t.timeIndex[r];
    if (this.#rows[index] !== r) throw new Error(`dead-letter store: row ${r} is not in it`);
    this.#rows[index] = NIL;
    t.timeIndex[r] = NIL;
    this.#size--;
    this.#removed++;
    if (this.#removed > 64 && this.#removed * 2 > this.#rows.length) this.#compact();
  }

  /** Up to `limit` entries after `afterSeq` (exclusive), oldest first; only rows `keep` accepts, if given (a scan: for people filtering). */
  page(afterSeq: number, limit: number, keep?: (r: number) => boolean): { items: DeadRows; more: boolean } {
    const seqs = this.#deadSeqs;
    const rows = this.#rows;
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid] <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const items: DeadRows = { rows: [], deadSeqs: [] };
    let index = lo;
    const skip = (i: number) => rows[i] === NIL || (keep !== undefined && !keep(rows[i]));
    for (; index < rows.length && items.rows.length < limit; index++) {
      if (skip(index)) continue;
      items.rows.push(rows[index]);
      items.deadSeqs.push(seqs[index]);
    }
    while (index < rows.length && skip(index)) index++;
    return { items, more: index < rows.length };
  }

  all(): DeadRows {
    return this.page(-1, Infinity).items;
  }

  /** Empties the store; returns what it held. */
  clear(): DeadRows {
    const live = this.all();
    for (const r of live.rows) this.#table.timeIndex[r] = NIL;
    this.#rows = [];
    this.#deadSeqs = [];
    this.#removed = 0;
    this.#size = 0;
    return live;
  }

  #compact(): void {
    const { rows, deadSeqs } = this.all();
    const timeIndex = this.#table.timeIndex;
    for (let i = 0; i < rows.length; i++) timeIndex[rows[i]] = i;
    this.#rows = rows;
    this.#deadSeqs = deadSeqs;
    this.#removed = 0;
  }
}
