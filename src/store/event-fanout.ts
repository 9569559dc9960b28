/**
 * A store's queue-event listeners: changes are collected as the store makes them and handed to
 * every sink in one batch, later (a microtask, or when the store says they are durable), never
 * from inside the store call that made them. `onActive` tells the store when the first sink
 * comes and the last goes, so that nobody listening costs nothing.
 */
import type { QueueEvent, QueueEventSink } from "../core/queue-events.js";

export class EventFanout {
  readonly #sinks = new Set<QueueEventSink>();
  readonly #onActive: (active: boolean) => void;
  #pending: QueueEvent[] = [];
  #flushQueued = false;

  constructor(onActive: (active: boolean) => void) {
    this.#onActive = onActive;
  }

  get active(): boolean {
    return this.#sinks.size > 0;
  }

  subscribe(sink: QueueEventSink): () => void {
    this.#sinks.add(sink);
    if (this.#sinks.size === 1) this.#onActive(true);
    return () => {
      if (!this.#sinks.delete(sink)) return;
      if (this.#sinks.size === 0) {
        this.#pending = [];
        this.#onActive(false);
      }
    };
  }

  /** Queues one event for the next microtask's batch. */
  readonly push = (event: QueueEvent): void => {
    this.#pending.push(event);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flush);
  };

  /** Hands `events` to every sink now; a sink that throws does not keep the others from theirs. */
  deliver(events: readonly QueueEvent[]): void {
    if (events.length === 0) return;
    for (const sink of [...this.#sinks]) {
      try {
        sink(events);
      } catch (error) {
        queueMicrotask(() => {
          throw error; // reported as the listener's own uncaught error, as an EventEmitter would
        });
      }
    }
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    const events = this.#pending;
    this.#pending = [];
    this.deliver(events);
  };
}
