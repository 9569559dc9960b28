/**
 * Minimal binary writer/reader for journal records and snapshots: unsigned varints, doubles,
 * length-prefixed UTF-8 strings. A few times denser and faster than JSON for the fields we
 * store, and it never builds one giant string (V8 caps strings at ~512 MB).
 */
export class BinaryWriter {
  #buffer: Buffer;
  #offset = 0;

  constructor(initialBytes = 4096) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.#offset;
  }

  /** Starts over, keeping the buffer: a writer reused for many small records allocates once. */
  reset(): this {
    this.#offset = 0;
    return this;
  }

  #ensure(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#offset + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buffer.copy(next, 0, 0, this.#offset);
    this.#buffer = next;
  }

  /** Non-negative integers up to 2^53. */
  uint(value: number): this {
    this.#ensure(8);
    const buffer = this.#buffer;
    while (value >= 0x80) {
      buffer[this.#offset++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buffer[this.#offset++] = value;
    return this;
  }

  double(value: number): this {
    this.#ensure(8);
    this.#buffer.writeDoubleLE(value, this.#offset);
    this.#offset += 8;
    return this;
  }

  string(value: string): this {
    if (value.length === 0) {
      this.#ensure(1);
      this.#buffer[this.#offset++] = 0;
      return this;
    }
    // Worst case 3 bytes per UTF-16 unit; write, then patch the length in front.
    const max = value.length * 3;
    this.#ensure(max + 5);
    // Short ASCII (ids, tokens, queue names): a loop beats the native call's overhead (measured:
    // ~60 vs ~80 ns for a 26-character id; for 120 characters the native write wins, ~80 vs ~250).
    if (value.length <= 32 && this.#asciiInto(value, this.#offset + 1)) {
      this.#buffer[this.#offset] = value.length;
      this.#offset += 1 + value.length;
      return this;
    }
    if (max < 0x80) {
      const written = this.#buffer.write(value, this.#offset + 1, "utf8");
      this.#buffer[this.#offset] = written;
      this.#offset += 1 + written;
      return this;
    }
    // Write the bytes one past the length's first byte (room for max + 5 was made), then fix the
    // length: a body under 128 bytes is done with one native call (no byteLength pass over it);
    // a longer one moves its bytes right to make room for the longer varint (same bytes out).
    const buffer = this.#buffer;
    const at = this.#offset;
    const written = buffer.write(value, at + 1, "utf8");
    if (written < 0x80) {
      buffer[at] = written;
      this.#offset = at + 1 + written;
      return this;
    }
    const lengthBytes = varintBytes(written);
    buffer.copyWithin(at + lengthBytes, at + 1, at + 1 + written);
    this.uint(written);
    this.#offset = at + lengthBytes + written;
    return this;
  }

  /** Writes `value` at `at` if it is all ASCII (then its UTF-8 is its code units); false, with garbage written, if not. */
  #asciiInto(value: string, at: number): boolean {
    const buffer = this.#buffer;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) return false;
      buffer[at + i] = code;
    }
    return true;
  }

  /** `undefined` and strings, with one leading presence byte. */
  optionalString(value: string | undefined): this {
    if (value === undefined) return this.uint(0);
    this.uint(1);
    return this.string(value);
  }

  /**
   * For bulk writers: makes room for `bytes` more and returns the buffer to write them into at
   * `length`; call `advance` with the count written. Do not keep the buffer past the next write.
   */
  room(bytes: number): Buffer {
    this.#ensure(bytes);
    return this.#buffer;
  }

  advance(bytes: number): void {
    this.#offset += bytes;
  }

  /** The bytes written so far (a view: do not keep it across further writes). */
  finish(): Buffer {
    return this.#buffer.subarray(0, this.#offset);
  }
}

/** How many bytes `uint` writes for `value`. */
function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

export class BinaryReader {
  #offset: number;

  constructor(
    private readonly buffer: Buffer,
    offset = 0,
    private readonly end = buffer.length,
  ) {
    this.#offset = offset;
  }

  get done(): boolean {
    return this.#offset >= this.end;
  }

  uint(): number {
    const buffer = this.buffer;
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.#offset >= this.end) throw new RangeError("binary record ends inside a number");
      const byte = buffer[this.#offset++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  }

  double(): number {
    if (this.#offset + 8 > this.end) throw new RangeError("binary record ends inside a number");
    const value = this.buffer.readDoubleLE(this.#offset);
    this.#offset += 8;
    return value;
  }

  string(): string {
    const length = this.uint();
    if (length === 0) return "";
    const start = this.#offset;
    if (start + length > this.end) throw new RangeError("binary record ends inside a string");
    this.#offset += length;
    return this.buffer.toString("utf8", start, start + length);
  }

  optionalString(): string | undefined {
    return this.uint() === 0 ? undefined : this.string();
  }

  /** Skips `bytes` bytes and returns where they start in `source`. */
  take(bytes: number): number {
    const start = this.#offset;
    if (start + bytes > this.end) throw new RangeError("binary record ends inside a field");
    this.#offset += bytes;
    return start;
  }

  /** The buffer being read (with `take`, for bulk readers). */
  get source(): Buffer {
    return this.buffer;
  }
}
