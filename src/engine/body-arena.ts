/**
 * Message bodies as UTF-8 bytes outside the JS heap: a slab allocator. Each size class (cells
 * of 8, 16, … bytes, growing by about 1/8 per class) fills pages of cells and reuses freed
 * cells first; a class whose last body is freed gives all its pages back. A body is found by
 * a `ref` (page << 16 | cell) plus its byte length, which picks the class. Bodies over
 * `MAX_CELL_BYTES` are kept as JS strings (few, and large enough that a string costs little
 * extra).
 *
 * Why: a million 120-byte bodies as JS strings are a million heap objects the garbage collector
 * must trace and, on reopen, allocate one by one; here they are ~120 MB of buffers that
 * snapshots copy in and out with memcpy.
 */
export const MAX_CELL_BYTES = 16 * 1024;
const MAX_PAGE_BYTES = 1 << 20;
const FIRST_PAGE_BYTES = 16 * 1024;
const CELLS_PER_PAGE_MAX = 1 << 16;
const MAX_PAGES = 1 << 15; // keeps refs small integers (Smis)

/** Cell sizes: steps of 8 to 256 bytes, then steps of size/8 rounded to 8. */
const CELL_SIZES: number[] = [];
for (let size = 8; size <= MAX_CELL_BYTES; size += size < 256 ? 8 : Math.ceil(size / 8 / 8) * 8) CELL_SIZES.push(size);
if (CELL_SIZES[CELL_SIZES.length - 1] < MAX_CELL_BYTES) CELL_SIZES.push(MAX_CELL_BYTES);

/** Class index for a byte length, for lengths up to MAX_CELL_BYTES (a table: lengths are looked up on every access). */
const CLASS_OF_8 = new Uint8Array(MAX_CELL_BYTES / 8 + 1);
{
  let c = 0;
  for (let units = 0; units < CLASS_OF_8.length; units++) {
    while (CELL_SIZES[c] < units * 8) c++;
    CLASS_OF_8[units] = c;
  }
}

function classOf(bytes: number): number {
  return CLASS_OF_8[(bytes + 7) >>> 3];
}

interface SizeClass {
  readonly cellBytes: number;
  /** Page numbers of this class, in allocation order; the last one is being filled. */
  pages: number[];
  /** Cells used in the last page. */
  filled: number;
  /** Cells the last page holds. */
  pageCells: number;
  /** Freed refs, reused before new cells. */
  free: number[];
  live: number;
}

export class BodyArena {
  readonly #classes: SizeClass[] = CELL_SIZES.map((cellBytes) => ({ cellBytes, pages: [], filled: 0, pageCells: 0, free: [], live: 0 }));
  /** All pages by page number; undefined where a page was given back. */
  readonly #pages: (Buffer | undefined)[] = [];
  readonly #freePageNumbers: number[] = [];
  /** Bodies over MAX_CELL_BYTES, by ref. */
  readonly #large: (string | undefined)[] = [];
  readonly #freeLarge: number[] = [];
  #pageBytes = 0;
  /** While pinned, freed bodies keep their bytes (a snapshot is still reading them); freed at unpin. */
  #pins = 0;
  #deferredRefs: number[] = [];
  #deferredBytes: number[] = [];

  /** Bytes of pages held (what the slabs cost, used or not). */
  get pageBytes(): number {
    return this.#pageBytes;
  }

  /** Stores `text`; returns its ref. Its UTF-8 length is `Buffer.byteLength(text)`, which the caller keeps. */
  put(text: string, bytes: number): number {
    if (bytes > MAX_CELL_BYTES) return this.#putLarge(text);
    const ref = this.#alloc(classOf(bytes));
    if (bytes > 0) {
      const page = this.#pages[ref >>> 16] as Buffer;
      const offset = (ref & 0xffff) * this.#classes[classOf(bytes)].cellBytes;
      // As many bytes as characters: all ASCII, where latin1 is UTF-8 and writes faster (~55 vs ~80 ns for 120 bytes).
      if (bytes === text.length) page.write(text, offset, bytes, "latin1");
      else page.write(text, offset, bytes, "utf8");
    }
    return ref;
  }

  /** Stores `bytes` bytes copied from `source` at `start` (UTF-8 text); returns its ref. */
  putBytes(source: Buffer, start: number, bytes: number): number {
    if (bytes > MAX_CELL_BYTES) return this.#putLarge(source.toString("utf8", start, start + bytes));
    const ref = this.#alloc(classOf(bytes));
    if (bytes > 0) {
      const page = this.#pages[ref >>> 16] as Buffer;
      copyBytes(source, start, page, (ref & 0xffff) * this.#classes[classOf(bytes)].cellBytes, bytes);
    }
    return ref;
  }

  /** The text stored at `ref` with byte length `bytes`. */
  get(ref: number, bytes: number): string {
    if (bytes > MAX_CELL_BYTES) return this.#large[ref] as string;
    if (bytes === 0) return "";
    const page = this.#pages[ref >>> 16] as Buffer;
    const start = (ref & 0xffff) * this.#classes[classOf(bytes)].cellBytes;
    return page.toString("utf8", start, start + bytes);
  }

  /** Copies the stored bytes into `target` at `offset`; returns the offset after them. */
  copyTo(ref: number, bytes: number, target: Buffer, offset: number): number {
    if (bytes > MAX_CELL_BYTES) return offset + target.write(this.#large[ref] as string, offset, bytes, "utf8");
    if (bytes === 0) return offset;
    const page = this.#pages[ref >>> 16] as Buffer;
    const start = (ref & 0xffff) * this.#classes[classOf(bytes)].cellBytes;
    copyBytes(page, start, target, offset, bytes);
    return offset + bytes;
  }

  /**
   * Keeps every body stored now readable, unchanged, until `unpin`: frees are held back, so no
   * cell is reused. What a snapshot encoding in the background needs, without copying the bodies.
   */
  pin(): void {
    this.#pins++;
  }

  unpin(): void {
    if (this.#pins === 0) throw new Error("body arena: unpin without pin");
    if (--this.#pins > 0) return;
    const refs = this.#deferredRefs;
    const sizes = this.#deferredBytes;
    this.#deferredRefs = [];
    this.#deferredBytes = [];
    for (let i = 0; i < refs.length; i++) this.free(refs[i], sizes[i]);
  }

  free(ref: number, bytes: number): void {
    if (this.#pins > 0) {
      this.#deferredRefs.push(ref);
      this.#deferredBytes.push(bytes);
      return;
    }
    if (bytes > MAX_CELL_BYTES) {
      this.#large[ref] = undefined;
      this.#freeLarge.push(ref);
      return;
    }
    const sizeClass = this.#classes[classOf(bytes)];
    if (--sizeClass.live === 0) this.#release(sizeClass);
    else sizeClass.free.push(ref);
  }

  #alloc(classIndex: number): number {
    const sizeClass = this.#classes[classIndex];
    sizeClass.live++;
    if (sizeClass.free.length > 0) return sizeClass.free.pop() as number;
    if (sizeClass.filled === sizeClass.pageCells) this.#addPage(sizeClass);
    return ((sizeClass.pages[sizeClass.pages.length - 1] << 16) | sizeClass.filled++) >>> 0;
  }

  #addPage(sizeClass: SizeClass): void {
    // Pages double from FIRST_PAGE_BYTES, so a class holding a few bodies costs a few KiB.
    const previous = sizeClass.pageCells * sizeClass.cellBytes;
    const pageBytes = Math.min(MAX_PAGE_BYTES, Math.max(FIRST_PAGE_BYTES, previous * 2));
    const cells = Math.max(1, Math.min(CELLS_PER_PAGE_MAX, Math.floor(pageBytes / sizeClass.cellBytes)));
    const number = this.#freePageNumbers.length > 0 ? (this.#freePageNumbers.pop() as number) : this.#pages.length;
    if (number >= MAX_PAGES) throw new RangeError(`body arena: more than ${MAX_PAGES} pages`);
    const page = Buffer.allocUnsafeSlow(cells * sizeClass.cellBytes);
    this.#pages[number] = page;
    this.#pageBytes += page.length;
    sizeClass.pages.push(number);
    sizeClass.pageCells = cells;
    sizeClass.filled = 0;
  }

  /** A class with no live body returns its pages: a drained backlog does not pin its memory. */
  #release(sizeClass: SizeClass): void {
    for (const number of sizeClass.pages) {
      this.#pageBytes -= (this.#pages[number] as Buffer).length;
      this.#pages[number] = undefined;
      this.#freePageNumbers.push(number);
    }
    sizeClass.pages = [];
    sizeClass.free = [];
    sizeClass.filled = 0;
    sizeClass.pageCells = 0;
  }

  #putLarge(text: string): number {
    const ref = this.#freeLarge.length > 0 ? (this.#freeLarge.pop() as number) : this.#large.length;
    this.#large[ref] = text;
    return ref;
  }
}

/** DataViews of the buffers bodies are copied between, made once per buffer. */
const views = new WeakMap<ArrayBufferLike, DataView>();

function viewOf(bytes: Uint8Array): DataView {
  let view = views.get(bytes.buffer);
  if (!view) views.set(bytes.buffer, (view = new DataView(bytes.buffer)));
  return view;
}

/**
 * memcpy for bodies. `Buffer.copy` and `set(subarray)` cost ~100 ns a call in a new view, a
 * byte loop more; for the ~100-byte bodies that are most of a snapshot, copying 32-bit words
 * through DataViews is 2–3× faster. (Integers, not float64: a double copy may rewrite NaN bits.)
 */
function copyBytes(source: Uint8Array, start: number, target: Uint8Array, offset: number, bytes: number): void {
  if (bytes > 512) {
    target.set(source.subarray(start, start + bytes), offset);
    return;
  }
  const from = viewOf(source);
  const to = viewOf(target);
  const s = source.byteOffset + start;
  const d = target.byteOffset + offset;
  let i = 0;
  for (; i + 4 <= bytes; i += 4) to.setUint32(d + i, from.getUint32(s + i));
  for (; i < bytes; i++) to.setUint8(d + i, from.getUint8(s + i));
}
