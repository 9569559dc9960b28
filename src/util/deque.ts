/** A growable ring buffer: O(1) push, shift and peek at both ends (no `Array.shift`). */
export class Deque<T> {
  #buffer: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(value: T): void {
    if (this.#length === this.#buffer.length) this.#grow();
    this.#buffer[(this.#head + this.#length) & (this.#buffer.length - 1)] = value;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buffer.length - 1);
    this.#length--;
    return value;
  }

  peekFront(): T | undefined {
    return this.#length === 0 ? undefined : this.#buffer[this.#head];
  }

  /** The value at position `index` from the front (0 = front); undefined outside. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#buffer[(this.#head + index) & (this.#buffer.length - 1)];
  }

  /** Front to back. */
  *[Symbol.iterator](): Generator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#buffer[(this.#head + i) & (this.#buffer.length - 1)] as T;
  }

  clear(): void {
    this.#buffer = new Array(16);
    this.#head = 0;
    this.#length = 0;
  }

  #grow(): void {
    const old = this.#buffer;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#buffer = next;
    this.#head = 0;
  }
}
