/**
 * `spool.on(type, listener)`: queue events (core/queue-events.ts) by type, or every type with
 * "*". The store is asked for events only while a listener is registered, so a Spool that nobody
 * listens to makes none. A listener that throws is reported as an uncaught error (as an
 * EventEmitter's would be) and does not keep the others from their events.
 */
import { ValidationError } from "./core/errors.js";
import { isQueueEventType, QUEUE_EVENT_TYPES, type QueueEvent, type QueueEventOf, type QueueEventType } from "./core/queue-events.js";
import type { Store } from "./store/store.js";

export type QueueEventName = QueueEventType | "*";
export type QueueEventListener<K extends QueueEventName> = (event: K extends QueueEventType ? QueueEventOf<K> : QueueEvent) => void;

type AnyListener = (event: QueueEvent) => void;

export class QueueEventListeners {
  readonly #store: Store;
  readonly #byType = new Map<QueueEventName, Set<AnyListener>>();
  #count = 0;
  #unsubscribe: (() => void) | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  on<K extends QueueEventName>(type: K, listener: QueueEventListener<K>): () => void {
    if (type !== "*" && !isQueueEventType(type)) {
      throw new ValidationError(`spool.on: unknown event "${String(type)}"; expected "*" or one of ${QUEUE_EVENT_TYPES.join(", ")}`, [{ path: "/type", message: "unknown event" }]);
    }
    if (typeof listener !== "function") throw new ValidationError(`spool.on("${type}"): the listener must be a function`, [{ path: "/listener", message: "expected a function" }]);
    let listeners = this.#byType.get(type);
    if (!listeners?.has(listener as AnyListener)) {
      // The store first: if it refuses (closed), nothing here has changed.
      if (this.#count === 0) this.#unsubscribe = this.#store.onEvents(this.#dispatch);
      if (!listeners) this.#byType.set(type, (listeners = new Set()));
      listeners.add(listener as AnyListener);
      this.#count++;
    }
    return () => this.off(type, listener);
  }

  off<K extends QueueEventName>(type: K, listener: QueueEventListener<K>): void {
    const listeners = this.#byType.get(type);
    if (!listeners?.delete(listener as AnyListener)) return;
    if (listeners.size === 0) this.#byType.delete(type);
    if (--this.#count === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  /** Forgets every listener (the Spool is closing). */
  clear(): void {
    this.#byType.clear();
    this.#count = 0;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  readonly #dispatch = (events: readonly QueueEvent[]): void => {
    const all = this.#byType.get("*");
    for (const event of events) {
      const listeners = this.#byType.get(event.type);
      if (listeners) for (const listener of [...listeners]) call(listener, event);
      if (all) for (const listener of [...all]) call(listener, event);
    }
  };
}

function call(listener: AnyListener, event: QueueEvent): void {
  try {
    listener(event);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
