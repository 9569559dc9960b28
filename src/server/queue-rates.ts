/**
 * Publish and completion rates per queue, for the stats route: totals are sampled every few
 * seconds into a short ring per queue, and a rate is the change across the ring divided by its
 * time span. Sampling runs off the request path; a queue's first minute reports what it has.
 */
import type { Spool } from "../spool.js";

const SAMPLE_EVERY_MS = 5_000;
const SAMPLES = 13; // 12 intervals: a one-minute window

interface Sample {
  at: number;
  published: number;
  completed: number;
}

export interface QueueRates {
  publishedPerSec: number;
  completedPerSec: number;
}

export class QueueRateTracker {
  readonly #spool: Spool;
  readonly #rings = new Map<string, Sample[]>();
  readonly #timer: NodeJS.Timeout;
  #sampling = false;

  constructor(spool: Spool) {
    this.#spool = spool;
    this.#timer = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    this.#timer.unref();
  }

  /** Records every queue's totals now (also called by tests and on start). */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const queues = await this.#spool.queues();
      const live = new Set<string>();
      for (const { name } of queues) {
        live.add(name);
        const stats = await this.#spool.queueStats(name).catch(() => undefined);
        if (stats === undefined) continue;
        let ring = this.#rings.get(name);
        if (ring === undefined) this.#rings.set(name, (ring = []));
        ring.push({ at: this.#spool.clock.now(), published: stats.totals.published, completed: stats.totals.completed });
        if (ring.length > SAMPLES) ring.shift(); // at most 13 entries: the shift is constant time
      }
      for (const name of this.#rings.keys()) if (!live.has(name)) this.#rings.delete(name);
    } catch {
      // A store that cannot list queues now (closing, faulted) is sampled next time.
    } finally {
      this.#sampling = false;
    }
  }

  rates(queue: string, current: { published: number; completed: number }): QueueRates {
    const ring = this.#rings.get(queue);
    const oldest = ring?.[0];
    const spanMs = oldest === undefined ? 0 : this.#spool.clock.now() - oldest.at;
    if (oldest === undefined || spanMs < 1000) return { publishedPerSec: 0, completedPerSec: 0 };
    // Totals restart when a queue is deleted and made again: never report a negative rate.
    const perSec = (delta: number) => Math.max(0, Math.round((delta * 1000 * 100) / spanMs) / 100);
    return { publishedPerSec: perSec(current.published - oldest.published), completedPerSec: perSec(current.completed - oldest.completed) };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
