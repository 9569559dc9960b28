/**
 * A batch's recipient ids by recipient index, as UTF-8 bytes in one growing buffer with a start
 * offset and a byte length per index (0 = not known yet). About 6 bytes plus the id's own bytes
 * per recipient, where an array of strings costs ~50 and a million strings the garbage collector
 * must trace on every full collection (V8 lets the old space grow to a few times what is live, so
 * each live byte costs several at the peak).
 *
 * A recipient's id never changes: `fill` sets an index that has no id and ignores the rest, so
 * the intake, the expander's records and a restart may each fill the same index.
 */
const MIN_BYTES = 4096;

export class RecipientIds {
  #start: Uint32Array;
  #length: Uint16Array;
  #bytes: Buffer;
  #used = 0;
  #known = 0;
  /** One past the highest index with an id. */
  #end = 0;

  constructor(capacity = 0) {
    this.#start = new Uint32Array(capacity);
    this.#length = new Uint16Array(capacity);
    this.#bytes = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, capacity * 12));
  }

  /** Indexes with an id. */
  get known(): number {
    return this.#known;
  }

  get(index: number): string | undefined {
    const length = index < this.#length.length ? this.#length[index] : 0;
    if (length === 0) return undefined;
    const start = this.#start[index];
    return this.#bytes.toString("utf8", start, start + length);
  }

  /** Sets the id of `index` unless it has one. An empty id is no id. */
  fill(index: number, id: string): void {
    if (id.length === 0) return;
    if (index >= this.#length.length) this.#growIndexes(index + 1);
    else if (this.#length[index] !== 0) return;
    const room = id.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.#used + room > this.#bytes.length) this.#growBytes(this.#used + room);
    const written = writeUtf8(this.#bytes, id, this.#used);
    this.#start[index] = this.#used;
    this.#length[index] = written;
    this.#used += written;
    this.#known++;
    if (index >= this.#end) this.#end = index + 1;
  }

  /** Fills every index `other` knows and this does not. */
  fillFrom(other: RecipientIds): void {
    if (this.#known === 0 && other.#end <= this.#length.length) {
      // The usual case (the intake's ids into a new batch): copy the columns whole.
      this.#start.set(other.#start.subarray(0, other.#end));
      this.#length.set(other.#length.subarray(0, other.#end));
      this.#bytes = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, other.#used));
      other.#bytes.copy(this.#bytes, 0, 0, other.#used);
      this.#used = other.#used;
      this.#known = other.#known;
      this.#end = other.#end;
      return;
    }
    for (let index = 0; index < other.#end; index++) {
      const id = other.get(index);
      if (id !== undefined) this.fill(index, id);
    }
  }

  /** For a snapshot: the ids in index order, their UTF-8 bytes back to back, and each one's byte length (0 = none). */
  export(): { bytes: Buffer; lengths: Uint16Array } {
    const lengths = this.#length.slice(0, this.#end);
    const bytes = Buffer.allocUnsafeSlow(this.#used);
    let at = 0;
    for (let index = 0; index < lengths.length; index++) {
      const length = lengths[index];
      if (length === 0) continue;
      const start = this.#start[index];
      this.#bytes.copy(bytes, at, start, start + length);
      at += length;
    }
    return { bytes: bytes.subarray(0, at), lengths };
  }

  /** Takes what `export` made (on an instance that has no id yet; the buffer is kept, not copied). */
  restore(bytes: Buffer, lengths: Uint16Array): void {
    if (this.#known > 0) throw new Error("RecipientIds.restore needs an empty instance");
    if (lengths.length > this.#length.length) this.#growIndexes(lengths.length);
    let at = 0;
    for (let index = 0; index < lengths.length; index++) {
      const length = lengths[index];
      if (length === 0) continue;
      if (at + length > bytes.length) throw new Error("RecipientIds.restore: the lengths run past the bytes");
      this.#start[index] = at;
      this.#length[index] = length;
      at += length;
      this.#known++;
      this.#end = index + 1;
    }
    this.#bytes = bytes.length > 0 ? bytes : Buffer.allocUnsafeSlow(MIN_BYTES);
    this.#used = at;
  }

  #growIndexes(capacity: number): void {
    const size = Math.max(capacity, this.#length.length * 2, 1024);
    const start = new Uint32Array(size);
    start.set(this.#start);
    const length = new Uint16Array(size);
    length.set(this.#length);
    this.#start = start;
    this.#length = length;
  }

  #growBytes(needed: number): void {
    const bytes = Buffer.allocUnsafeSlow(Math.max(needed, this.#bytes.length * 2));
    this.#bytes.copy(bytes, 0, 0, this.#used);
    this.#bytes = bytes;
  }
}

/** Writes `text` at `at`; returns the byte count. Ids are short and mostly ASCII: a plain loop beats Buffer#write's native call for those. */
function writeUtf8(bytes: Buffer, text: string, at: number): number {
  for (let k = 0; k < text.length; k++) {
    const code = text.charCodeAt(k);
    if (code >= 0x80) return bytes.write(text, at, "utf8");
    bytes[at + k] = code;
  }
  return text.length;
}
