import type { QueueOptions } from "../../config/schemas.js";
import { NotFoundError, UnavailableError } from "../../core/errors.js";
import { defineSchedule, earliestRun, pauseSchedule, planDue, type FireResult, type ScheduleDefinition, type ScheduleRecord } from "../../core/schedule.js";
import type { BrowsedMessage, BrowseState, DeadReason, LeasedStoredMessage, MessageContent, MessageStatus, QueueStats } from "../../core/message.js";
import { Engine } from "../../engine/engine.js";
import type { ExchangeInfo, ExchangeType } from "../../routing/route.js";
import { systemClock, type Clock } from "../../util/clock.js";
import type { Store, StoreCapabilities, StorePublishOptions } from "../store.js";
import type { AckItem, AckOutcome, DeadLetterPage, LeaseRequest, NackOutcome, NackRequest, ProgressReport, PublishInput, PublishOutcome, ReplaySelection } from "../../core/operations.js";
import type { QueueInfo } from "../../config/schemas.js";
import type { QueueEventSink } from "../../core/queue-events.js";
import { EventFanout } from "../event-fanout.js";
import { ENGINE_STORE_CAPABILITIES, requireCapability } from "../capabilities.js";

export interface MemoryStoreOptions {
  clock?: Clock;
  /** Source of randomness for backoff jitter (tests make it deterministic). */
  random?: () => number;
}

/** The engine with no disk: nothing survives the process. For tests and ephemeral queues. */
const ACKED: Promise<void> = Promise.resolve();

export class MemoryStore implements Store {
  readonly name = "memory";
  readonly capabilities: StoreCapabilities = ENGINE_STORE_CAPABILITIES;
  readonly clock: Clock;
  readonly #engine: Engine;
  readonly #events: EventFanout;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.#engine = new Engine({ clock: this.clock, random: options.random });
    this.#events = new EventFanout((active) => this.#engine.setEventSink(active ? this.#events.push : undefined));
  }

  #open(): Engine {
    if (this.#closed) throw new UnavailableError("the store is closed");
    return this.#engine;
  }

  async open(): Promise<void> {}

  async ensureQueue(name: string, options?: QueueOptions): Promise<QueueInfo> {
    return this.#open().ensureQueue(name, options);
  }
  async getQueue(name: string): Promise<QueueInfo | undefined> {
    return this.#open().getQueue(name);
  }
  async listQueues(): Promise<QueueInfo[]> {
    return this.#open().listQueues();
  }
  async deleteQueue(name: string): Promise<boolean> {
    return this.#open().deleteQueue(name);
  }
  async setPaused(name: string, paused: boolean): Promise<void> {
    this.#open().setPaused(name, paused);
  }
  async purgeQueue(name: string): Promise<number> {
    return this.#open().purgeQueue(name);
  }
  async stats(name: string): Promise<QueueStats> {
    return this.#open().stats(name);
  }
  async publish(inputs: PublishInput[], options?: StorePublishOptions): Promise<PublishOutcome[]> {
    if (options?.transaction !== undefined) requireCapability(this, "transactionalPublish", "publish");
    return this.#open().publish(inputs);
  }
  async lease(queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]> {
    return this.#open().lease(queue, request);
  }
  /** Not async: every successful ack returns one shared resolved promise (a worker then settles a turn's acks together). */
  ack(id: string, leaseToken: string, result?: string): Promise<void> {
    try {
      this.#open().ack(id, leaseToken, result);
    } catch (error) {
      return Promise.reject(error);
    }
    return ACKED;
  }
  async ackMany(items: AckItem[]): Promise<AckOutcome[]> {
    return this.#open().ackMany(items);
  }
  async report(id: string, leaseToken: string, report: ProgressReport): Promise<void> {
    this.#open().report(id, leaseToken, report);
  }
  async nack(id: string, leaseToken: string, request: NackRequest): Promise<NackOutcome> {
    return this.#open().nack(id, leaseToken, request);
  }
  async extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#open().extend(id, leaseToken, leaseMs);
  }
  async status(id: string): Promise<MessageStatus | undefined> {
    return this.#open().status(id);
  }
  async browse(queue: string, request: { state: BrowseState; limit: number; offset: number }): Promise<BrowsedMessage[]> {
    return this.#open().browse(queue, request.state, request.limit, request.offset);
  }
  async content(id: string): Promise<MessageContent | undefined> {
    return this.#open().content(id);
  }
  async idempotentId(queue: string, key: string): Promise<string | undefined> {
    return this.#open().idempotentId(queue, key);
  }
  async listDead(queue: string, page: { cursor?: string; limit: number; reason?: DeadReason }): Promise<DeadLetterPage> {
    return this.#open().listDead(queue, page);
  }
  async replayDead(queue: string, selection: ReplaySelection): Promise<number> {
    return this.#open().replayDead(queue, selection);
  }
  async deleteDead(queue: string, id: string): Promise<boolean> {
    return this.#open().deleteDead(queue, id);
  }
  async purgeDead(queue: string): Promise<number> {
    return this.#open().purgeDead(queue);
  }
  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    this.#open().declareExchange(name, type);
  }
  async deleteExchange(name: string): Promise<boolean> {
    return this.#open().deleteExchange(name);
  }
  async bind(exchange: string, queue: string, bindingKey: string): Promise<void> {
    this.#open().bind(exchange, queue, bindingKey);
  }
  async unbind(exchange: string, queue: string, bindingKey: string): Promise<boolean> {
    return this.#open().unbind(exchange, queue, bindingKey);
  }
  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    return this.#open().getExchange(name);
  }
  async listExchanges(): Promise<ExchangeInfo[]> {
    return this.#open().listExchanges();
  }
  async putSchedule(definition: ScheduleDefinition): Promise<ScheduleRecord> {
    const engine = this.#open();
    return engine.putSchedule(defineSchedule(definition, engine.getSchedule(definition.name), this.clock.now()));
  }
  async getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    return this.#open().getSchedule(name);
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.#open().listSchedules();
  }
  async setSchedulePaused(name: string, paused: boolean): Promise<ScheduleRecord> {
    const engine = this.#open();
    const record = engine.getSchedule(name);
    if (!record) throw new NotFoundError(`schedule "${name}" does not exist`);
    return engine.putSchedule(pauseSchedule(record, paused, this.clock.now()));
  }
  async removeSchedule(name: string): Promise<boolean> {
    return this.#open().removeSchedule(name);
  }
  async fireDueSchedules(): Promise<FireResult> {
    const engine = this.#open();
    const plans = planDue(engine.listSchedules(), this.clock.now());
    const fired = plans.length === 0 ? [] : engine.fireSchedules(plans);
    return { fired, nextRunAt: earliestRun(engine.listSchedules()) };
  }
  watch(queue: string, listener: () => void): () => void {
    return this.#open().watch(queue, listener);
  }
  onEvents(sink: QueueEventSink): () => void {
    return this.#events.subscribe(sink);
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#engine.stop();
  }
}

export function memoryStore(options: MemoryStoreOptions = {}): Store {
  return new MemoryStore(options);
}
