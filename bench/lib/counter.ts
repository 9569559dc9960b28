interface Waiter {
  target: number;
  resolve: () => void;
}

/** A count that can be awaited: `await counter.reach(n)` resolves once `n` increments happened. */
export class Counter {
  #count = 0;
  #waiters: Waiter[] = [];
  #lowest = Infinity;

  get value(): number {
    return this.#count;
  }

  increment(by = 1): void {
    this.#count += by;
    if (this.#count >= this.#lowest) this.#release();
  }

  reach(target: number): Promise<void> {
    if (this.#count >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ target, resolve });
      if (target < this.#lowest) this.#lowest = target;
    });
  }

  #release(): void {
    const waiting: Waiter[] = [];
    this.#lowest = Infinity;
    for (const waiter of this.#waiters) {
      if (waiter.target <= this.#count) {
        waiter.resolve();
      } else {
        waiting.push(waiter);
        if (waiter.target < this.#lowest) this.#lowest = waiter.target;
      }
    }
    this.#waiters = waiting;
  }
}
