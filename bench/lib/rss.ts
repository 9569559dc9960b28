/**
 * Samples this process's resident set size on a timer and keeps the peak. The sampling timer is
 * unref'd, so it never keeps the process alive.
 */
export class RssSampler {
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(readonly everyMs = 20) {}

  start(): void {
    this.#peak = process.memoryUsage.rss();
    this.#timer ??= setInterval(() => this.sample(), this.everyMs);
    this.#timer.unref();
  }

  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.#peak) this.#peak = rss;
    return rss;
  }

  /** The highest RSS seen since start(), in bytes (taking one more sample now). */
  get peakBytes(): number {
    this.sample();
    return this.#peak;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
