/**
 * Message id → slot, as an open-addressing hash table in one Int32Array (linear probing,
 * backward-shift deletion, so no tombstones). Keys are not stored here: each bucket holds a
 * slot number, and the id of a slot is read from its owner's `idWords` (four 32-bit words per
 * slot). About 8–16 bytes per message and nothing for the garbage collector to trace, where a
 * `Map<string, …>` costs a string and an entry object per message.
 */
export interface IdWordsOwner {
  /** The id of slot s in words [4s, 4s+4). The owner may replace the array when it grows. */
  readonly idWords: Uint32Array;
}

const EMPTY = -1;
const MIN_CAPACITY = 16;

export class IdIndex {
  readonly #owner: IdWordsOwner;
  #buckets: Int32Array;
  #mask: number;
  #size = 0;

  constructor(owner: IdWordsOwner, expected = 0) {
    this.#owner = owner;
    let capacity = MIN_CAPACITY;
    while (capacity < expected * 2) capacity *= 2;
    this.#buckets = new Int32Array(capacity).fill(EMPTY);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The slot holding id (w0, w1, w2, w3), or -1. */
  find(w0: number, w1: number, w2: number, w3: number): number {
    const buckets = this.#buckets;
    const words = this.#owner.idWords;
    const mask = this.#mask;
    for (let i = hashWords(w0, w1, w2, w3) & mask; ; i = (i + 1) & mask) {
      const slot = buckets[i];
      if (slot === EMPTY) return -1;
      const at = slot * 4;
      if (words[at + 3] === w3 && words[at + 2] === w2 && words[at + 1] === w1 && words[at] === w0) return slot;
    }
  }

  /** Adds `slot` under the id its owner holds for it; false (and nothing added) if that id is already present. */
  insert(slot: number): boolean {
    if ((this.#size + 1) * 2 > this.#buckets.length) this.#resize(this.#buckets.length * 2);
    const buckets = this.#buckets;
    const words = this.#owner.idWords;
    const mask = this.#mask;
    const at = slot * 4;
    const w0 = words[at];
    const w1 = words[at + 1];
    const w2 = words[at + 2];
    const w3 = words[at + 3];
    let i = hashWords(w0, w1, w2, w3) & mask;
    for (let other = buckets[i]; other !== EMPTY; other = buckets[i]) {
      const o = other * 4;
      if (words[o + 3] === w3 && words[o + 2] === w2 && words[o + 1] === w1 && words[o] === w0) return false;
      i = (i + 1) & mask;
    }
    buckets[i] = slot;
    this.#size++;
    return true;
  }

  /** Removes `slot` (found by the id its owner still holds for it); false if it was not there. */
  remove(slot: number): boolean {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let i = this.#hashOf(slot) & mask;
    while (buckets[i] !== slot) {
      if (buckets[i] === EMPTY) return false;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole, so lookups that
    // passed through it still find them.
    let hole = i;
    for (let j = (i + 1) & mask; buckets[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.#hashOf(buckets[j]) & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        buckets[hole] = buckets[j];
        hole = j;
      }
    }
    buckets[hole] = EMPTY;
    this.#size--;
    if (this.#buckets.length > MIN_CAPACITY && this.#size * 8 < this.#buckets.length) this.#resize(this.#buckets.length / 2);
    return true;
  }

  clear(): void {
    this.#buckets = new Int32Array(MIN_CAPACITY).fill(EMPTY);
    this.#mask = MIN_CAPACITY - 1;
    this.#size = 0;
  }

  #hashOf(slot: number): number {
    const words = this.#owner.idWords;
    const at = slot * 4;
    return hashWords(words[at], words[at + 1], words[at + 2], words[at + 3]);
  }

  #place(slot: number): void {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let i = this.#hashOf(slot) & mask;
    while (buckets[i] !== EMPTY) i = (i + 1) & mask;
    buckets[i] = slot;
  }

  #resize(capacity: number): void {
    const old = this.#buckets;
    this.#buckets = new Int32Array(capacity).fill(EMPTY);
    this.#mask = capacity - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== EMPTY) this.#place(old[i]);
  }
}

/**
 * Mixes all 128 bits: ids made in one millisecond differ only in their last bits (ULIDs count
 * up), so no single word is a good hash on its own.
 */
export function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w3, 0x9e3779b1) ^ Math.imul(w2 ^ (w1 >>> 7) ^ (w0 << 3), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
