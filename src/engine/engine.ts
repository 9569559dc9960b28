/**
 * The in-memory queue engine shared by the `memory` and `journal` stores: every semantic of
 * DESIGN §1 applied to plain data structures, synchronously, in O(log n) or better per message.
 *
 * - Ready messages: one linked list per priority per queue (ReadyIndex).
 * - Time: three engine-wide timelines (delays, lease expiries, TTLs) in indexed heaps, and one
 *   clock timer armed for the earliest due time across them (and rate-limit reopenings).
 * - Groups: only a group's active message is ever ready/delayed/leased; the rest wait behind it.
 * - Wake-ups: queues that may have become leasable are collected and their watchers called once,
 *   in a microtask after the operation (so a watcher may call back into the engine safely).
 *
 * The engine is deterministic given its clock and the id/token/random sources it is built with.
 */
import { resolveQueueOptions } from "../config/resolve.js";
import type { QueueOptions } from "../config/schemas.js";
import { ConflictError, LeaseLostError, NotFoundError, QueueFullError, ValidationError } from "../core/errors.js";
import { newId, newLeaseToken } from "../core/ids.js";
import type { DeadLetter, DeadReason, FailureInfo, LeasedStoredMessage, MessageStatus, QueueStats } from "../core/message.js";
import { decideFailure } from "../core/retry-policy.js";
import type { ExchangeInfo, ExchangeType } from "../routing/route.js";
import type {
  AckItem,
  AckOutcome,
  DeadLetterPage,
  LeaseRequest,
  NackOutcome,
  NackRequest,
  PublishInput,
  PublishOutcome,
  QueueInfo,
  ReplaySelection,
} from "../store/store.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { IndexedHeap } from "./indexed-heap.js";
import type { EngineState, QueueSnapshot } from "./engine-state.js";
import { MessageRecord, Slot, type DeadEntry, type MessageExtras } from "./message-record.js";
import { QueueState, type Group } from "./queue-state.js";

export interface EngineOptions {
  clock: Clock;
  newId?: (nowMs: number) => string;
  newLeaseToken?: () => string;
  random?: () => number;
}

const LEASE_EXPIRED: FailureInfo = { message: "lease expired before the message was acked", kind: "error" };

export class Engine {
  readonly clock: Clock;
  readonly #newId: (nowMs: number) => string;
  readonly #newLeaseToken: () => string;
  readonly #random: () => number;

  readonly #queues = new Map<string, QueueState>();
  readonly #exchanges = new Map<string, ExchangeInfo>();
  /** Live messages, and completed ones during their status retention. */
  readonly #live = new Map<string, MessageRecord>();
  readonly #dead = new Map<string, DeadEntry>();

  readonly #delays = new IndexedHeap<MessageRecord>((r) => r.availableAt, (r) => r.timeIndex, (r, i) => void (r.timeIndex = i));
  readonly #leases = new IndexedHeap<MessageRecord>((r) => r.leaseUntil, (r) => r.timeIndex, (r, i) => void (r.timeIndex = i));
  readonly #ttls = new IndexedHeap<MessageRecord>((r) => r.expiresAt, (r) => r.ttlIndex, (r, i) => void (r.ttlIndex = i));
  readonly #rateLimited = new Set<QueueState>();

  #seq = 0;
  /** Messages with seq below this may be leased; the journal holds it back until publishes are durable. */
  #visibleSeq = Infinity;
  #deadSeq = 0;
  #timeChanges = 0;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #nextDueAt = Infinity;
  readonly #dirty = new Set<QueueState>();
  readonly #watchers = new Map<string, Set<() => void>>();
  #flushScheduled = false;

  constructor(options: EngineOptions) {
    this.clock = options.clock;
    this.#newId = options.newId ?? newId;
    this.#newLeaseToken = options.newLeaseToken ?? newLeaseToken;
    this.#random = options.random ?? Math.random;
  }

  // ── queues ──────────────────────────────────────────────────────────────────────────────

  ensureQueue(name: string, options?: QueueOptions): QueueInfo {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new QueueState(name, resolveQueueOptions(options));
      this.#queues.set(name, queue);
    } else if (options) {
      queue.applyOptions(resolveQueueOptions(options, queue.options));
      this.#markDirty(queue);
    }
    return this.#info(queue);
  }

  getQueue(name: string): QueueInfo | undefined {
    const queue = this.#queues.get(name);
    return queue && this.#info(queue);
  }

  listQueues(): QueueInfo[] {
    return [...this.#queues.values()].map((q) => this.#info(q));
  }

  deleteQueue(name: string): boolean {
    const queue = this.#queues.get(name);
    if (!queue) return false;
    for (const record of [...this.#live.values()]) {
      if (record.queue !== name) continue;
      if (record.slot === Slot.Completed) this.#live.delete(record.id);
      else this.#detach(queue, record);
    }
    for (const entry of queue.dead.clear()) this.#dead.delete(entry.record.id);
    queue.completed.clear();
    this.#rateLimited.delete(queue);
    this.#queues.delete(name);
    for (const exchange of this.#exchanges.values()) {
      exchange.bindings = exchange.bindings.filter((b) => b.queue !== name);
    }
    return true;
  }

  setPaused(name: string, paused: boolean): void {
    const queue = this.#requireQueue(name);
    queue.paused = paused;
    if (!paused) this.#markDirty(queue);
  }

  purgeQueue(name: string): number {
    const queue = this.#requireQueue(name);
    this.#tick();
    const victims: MessageRecord[] = [...queue.ready.all()];
    for (const record of this.#delays.items()) if (record.queue === name) victims.push(record);
    for (const group of queue.groups.values()) {
      for (let record = group.head; record; record = record.next) victims.push(record);
    }
    for (const record of victims) this.#detach(queue, record);
    for (const group of [...queue.groups.values()]) {
      group.head = group.tail = null;
      if (!group.active || group.active.slot !== Slot.Leased) queue.groups.delete(group.key);
    }
    queue.groupWaiting = 0;
    this.#armTimer();
    return victims.length;
  }

  stats(name: string): QueueStats {
    const queue = this.#requireQueue(name);
    this.#tick();
    const now = this.clock.now();
    const oldest = queue.ready.oldest();
    return {
      name,
      paused: queue.paused,
      ready: queue.ready.size + queue.groupWaiting,
      delayed: queue.delayed,
      leased: queue.leased,
      dead: queue.dead.size,
      totals: { ...queue.totals },
      oldestReadyAgeMs: oldest ? Math.max(0, now - oldest.availableAt) : 0,
    };
  }

  // ── publish ─────────────────────────────────────────────────────────────────────────────

  publish(inputs: PublishInput[]): PublishOutcome[] {
    this.#tick();
    const now = this.clock.now();
    this.#checkCapacity(inputs, now);
    const outcomes = new Array<PublishOutcome>(inputs.length);
    for (let i = 0; i < inputs.length; i++) outcomes[i] = this.#publishOne(inputs[i], now);
    this.#armTimer();
    return outcomes;
  }

  /** Atomicity for `reject` queues: the whole batch fits, or nothing is enqueued. */
  #checkCapacity(inputs: PublishInput[], now: number): void {
    let adding: Map<QueueState, { count: number; dedup: Set<string>; idem: Set<string> }> | undefined;
    for (const input of inputs) {
      const queue = this.#queues.get(input.queue);
      if (!queue || queue.options.maxLength === undefined || queue.options.overflow !== "reject") continue;
      adding ??= new Map();
      let entry = adding.get(queue);
      if (!entry) adding.set(queue, (entry = { count: 0, dedup: new Set(), idem: new Set() }));
      if (input.idempotencyKey !== undefined) {
        if (entry.idem.has(input.idempotencyKey) || queue.idempotentId(input.idempotencyKey, now) !== undefined) continue;
        entry.idem.add(input.idempotencyKey);
      }
      if (input.dedupKey !== undefined) {
        const existing = queue.dedup.get(input.dedupKey);
        if (entry.dedup.has(input.dedupKey) || (existing && existing.slot !== Slot.Leased)) continue;
        entry.dedup.add(input.dedupKey);
      }
      entry.count++;
    }
    if (!adding) return;
    for (const [queue, entry] of adding) {
      const maxLength = queue.options.maxLength as number;
      if (queue.waiting + entry.count > maxLength) throw new QueueFullError(queue.name, maxLength);
    }
  }

  #publishOne(input: PublishInput, now: number): PublishOutcome {
    const queue = this.#queues.get(input.queue) ?? this.#createQueue(input.queue);
    const idempotencyKey = input.idempotencyKey;
    if (idempotencyKey !== undefined) {
      const originalId = queue.idempotentId(idempotencyKey, now);
      if (originalId !== undefined) return { id: originalId, queue: queue.name, replaced: false, duplicate: true };
    }
    const dedupKey = input.dedupKey;
    if (dedupKey !== undefined) {
      const existing = queue.dedup.get(dedupKey);
      if (existing && existing.slot !== Slot.Leased) {
        this.#replace(queue, existing, input);
        if (idempotencyKey !== undefined) queue.rememberKey(idempotencyKey, existing.id, now);
        return { id: existing.id, queue: queue.name, replaced: true, duplicate: false };
      }
    }

    const ttlMs = input.ttlMs ?? queue.options.ttlMs;
    let extras: MessageExtras | undefined;
    if (
      input.headers !== undefined || input.groupKey !== undefined || input.correlationId !== undefined ||
      input.causationId !== undefined || dedupKey !== undefined || idempotencyKey !== undefined || ttlMs !== undefined
    ) {
      extras = {
        headers: input.headers,
        groupKey: input.groupKey,
        correlationId: input.correlationId,
        causationId: input.causationId,
        dedupKey,
        idempotencyKey,
        ttlMs,
      };
    }
    const record = new MessageRecord(
      this.#newId(now),
      queue.name,
      this.#seq++,
      input.body,
      input.priority,
      now,
      input.availableAt !== undefined && input.availableAt > now ? input.availableAt : now,
      input.maxAttempts ?? queue.options.maxAttempts,
      extras,
    );
    if (ttlMs !== undefined) record.expiresAt = now + ttlMs;
    this.#live.set(record.id, record);
    queue.totals.published++;
    if (idempotencyKey !== undefined) queue.rememberKey(idempotencyKey, record.id, now);
    if (dedupKey !== undefined) queue.dedup.set(dedupKey, record);
    this.#enqueue(queue, record, now);
    this.#enforceMaxLength(queue, now);
    return { id: record.id, queue: queue.name, replaced: false, duplicate: false };
  }

  /** dedupKey replace: new body, headers and priority; same id and place. */
  #replace(queue: QueueState, record: MessageRecord, input: PublishInput): void {
    record.body = input.body;
    if (input.headers !== undefined || record.extras?.headers !== undefined) {
      record.extras = { ...record.extras, headers: input.headers };
    }
    if (record.priority !== input.priority) {
      if (record.slot === Slot.Ready) {
        queue.ready.remove(record);
        record.priority = input.priority;
        queue.ready.insertInOrder(record);
        this.#markDirty(queue);
      } else {
        record.priority = input.priority;
      }
    }
  }

  #enforceMaxLength(queue: QueueState, now: number): void {
    const maxLength = queue.options.maxLength;
    if (maxLength === undefined || queue.options.overflow !== "drop-oldest") return;
    while (queue.waiting > maxLength) {
      const oldest = queue.ready.oldest();
      if (!oldest) break;
      this.#kill(queue, oldest, "overflow", undefined, now);
    }
  }

  /** Places a waiting message: behind its group, in the delay timeline, or ready. Starts its TTL clock. */
  #enqueue(queue: QueueState, record: MessageRecord, now: number): void {
    const groupKey = record.extras?.groupKey;
    if (groupKey !== undefined) {
      let group = queue.groups.get(groupKey);
      if (!group) queue.groups.set(groupKey, (group = { key: groupKey, active: null, head: null, tail: null }));
      if (group.active) {
        queue.appendToGroup(group, record);
        if (record.expiresAt !== 0) this.#ttls.push(record);
        return;
      }
      group.active = record;
    }
    this.#schedule(queue, record, now);
  }

  /** Ready now, or delayed until availableAt; the TTL timeline applies while not leased. */
  #schedule(queue: QueueState, record: MessageRecord, now: number): void {
    if (record.expiresAt !== 0) {
      if (record.expiresAt <= now) {
        this.#kill(queue, record, "expired", undefined, now);
        return;
      }
      this.#ttls.push(record);
    }
    // Waiting again (a retry, a replay): it holds its dedupKey unless a newer message took it meanwhile.
    const dedupKey = record.extras?.dedupKey;
    if (dedupKey !== undefined && !queue.dedup.has(dedupKey)) queue.dedup.set(dedupKey, record);
    if (record.availableAt > now) {
      record.slot = Slot.Delayed;
      this.#delays.push(record);
      queue.delayed++;
    } else {
      queue.ready.append(record);
      this.#markDirty(queue);
    }
  }

  // ── lease / ack / nack / extend ─────────────────────────────────────────────────────────

  lease(name: string, request: LeaseRequest): LeasedStoredMessage[] {
    this.#tick();
    const queue = this.#queues.get(name);
    if (!queue || queue.paused || queue.ready.size === 0) return [];
    const now = this.clock.now();
    let max = request.max;
    const limiter = queue.limiter;
    if (limiter) max = Math.min(max, limiter.available(now));
    const leaseMs = request.leaseMs ?? queue.options.leaseMs;
    const out: LeasedStoredMessage[] = [];
    while (out.length < max) {
      const record = queue.ready.first();
      // Strict order: a head whose publish is not durable yet holds the queue until it is.
      if (!record || record.seq >= this.#visibleSeq) break;
      queue.ready.remove(record);
      if (record.ttlIndex >= 0) this.#ttls.remove(record);
      record.attempt++;
      record.slot = Slot.Leased;
      record.leaseToken = this.#newLeaseToken();
      record.leaseUntil = now + leaseMs;
      this.#leases.push(record);
      queue.leased++;
      const dedupKey = record.extras?.dedupKey;
      if (dedupKey !== undefined && queue.dedup.get(dedupKey) === record) queue.dedup.delete(dedupKey);
      out.push(record.toLeased());
    }
    if (limiter) {
      limiter.record(now, out.length);
      if (queue.ready.size > 0 && limiter.available(now) === 0) {
        queue.limitedUntil = limiter.reopensAt() ?? now;
        this.#rateLimited.add(queue);
      }
    }
    this.#armTimer();
    return out;
  }

  ack(id: string, leaseToken: string): void {
    const record = this.#leased(id, leaseToken);
    this.#tick();
    // The lease may have expired in the tick just run.
    if (record.slot !== Slot.Leased) throw new LeaseLostError(id);
    this.#complete(record);
    this.#armTimer();
  }

  ackMany(items: AckItem[]): AckOutcome[] {
    this.#tick();
    const outcomes = new Array<AckOutcome>(items.length);
    for (let i = 0; i < items.length; i++) {
      const { id, leaseToken } = items[i];
      const record = this.#live.get(id);
      if (!record || record.slot !== Slot.Leased || record.leaseToken !== leaseToken) {
        outcomes[i] = { id, ok: false, code: "lease_lost" };
      } else {
        this.#complete(record);
        outcomes[i] = { id, ok: true };
      }
    }
    this.#armTimer();
    return outcomes;
  }

  nack(id: string, leaseToken: string, request: NackRequest): NackOutcome {
    this.#leased(id, leaseToken);
    this.#tick();
    const record = this.#leased(id, leaseToken);
    const queue = this.#queues.get(record.queue) as QueueState;
    const now = this.clock.now();
    this.#unslot(queue, record);
    if (request.release) {
      // Given back unhandled: no attempt used; ready at once, or after `delayMs` when given.
      record.attempt = Math.max(0, record.attempt - 1);
      record.availableAt = now + (request.delayMs ?? 0);
      this.#schedule(queue, record, now);
      this.#armTimer();
      if (this.#dead.has(id)) return { state: "dead", availableAt: record.availableAt, deadReason: "expired" };
      return { state: record.availableAt > now ? "delayed" : "ready", availableAt: record.availableAt };
    }
    const error = request.error ?? { message: "nacked", kind: "error" as const };
    record.extras = { ...record.extras, lastError: error };
    const decision = decideFailure(
      { attempt: record.attempt, maxAttempts: record.maxAttempts, kind: error.kind, delayMs: request.delayMs, backoff: queue.options.backoff },
      this.#random,
    );
    let outcome: NackOutcome;
    if (decision.action === "dead") {
      this.#kill(queue, record, decision.reason, error, now);
      outcome = { state: "dead", availableAt: record.availableAt, deadReason: decision.reason };
    } else {
      queue.totals.retried++;
      record.availableAt = now + decision.delayMs;
      this.#schedule(queue, record, now);
      outcome = this.#dead.has(id)
        ? { state: "dead", availableAt: record.availableAt, deadReason: "expired" }
        : { state: decision.delayMs > 0 ? "delayed" : "ready", availableAt: record.availableAt };
    }
    this.#armTimer();
    return outcome;
  }

  extend(id: string, leaseToken: string, leaseMs: number): { leaseUntil: number } {
    this.#leased(id, leaseToken);
    this.#tick();
    const record = this.#leased(id, leaseToken);
    this.#leases.remove(record);
    record.leaseUntil = this.clock.now() + leaseMs;
    this.#leases.push(record);
    this.#armTimer();
    return { leaseUntil: record.leaseUntil };
  }

  #leased(id: string, leaseToken: string): MessageRecord {
    const record = this.#live.get(id);
    if (!record || record.slot !== Slot.Leased || record.leaseToken !== leaseToken) throw new LeaseLostError(id);
    return record;
  }

  #complete(record: MessageRecord): void {
    const queue = this.#queues.get(record.queue) as QueueState;
    const now = this.clock.now();
    this.#unslot(queue, record);
    queue.totals.completed++;
    this.#releaseGroup(queue, record, now);
    const { completedRetentionMs, completedRetentionCount } = queue.options;
    if (completedRetentionMs > 0 && completedRetentionCount > 0) {
      // The record stays in the id map as the status entry; drop what status() does not need.
      record.slot = Slot.Completed;
      record.completedAt = now;
      record.body = "";
      record.leaseToken = "";
      queue.completed.push(record);
    } else {
      this.#live.delete(record.id);
    }
    this.#forgetCompleted(queue, now);
  }

  #forgetCompleted(queue: QueueState, now: number): void {
    const { completedRetentionMs, completedRetentionCount } = queue.options;
    const completed = queue.completed;
    for (let record = completed.peekFront(); record; record = completed.peekFront()) {
      if (record.completedAt + completedRetentionMs > now && completed.length <= completedRetentionCount) break;
      completed.shift();
      if (this.#live.get(record.id) === record && record.slot === Slot.Completed) this.#live.delete(record.id);
    }
  }

  // ── dead letters ────────────────────────────────────────────────────────────────────────

  /** Moves a live message (in any slot) to the dead-letter store. */
  #kill(queue: QueueState, record: MessageRecord, reason: DeadReason, error: FailureInfo | undefined, now: number): void {
    this.#bury(queue, record, reason, error, now);
    this.#releaseGroup(queue, record, now);
  }

  /** Takes a live message out of every structure that holds it; groups are not advanced. */
  #detach(queue: QueueState, record: MessageRecord): void {
    this.#unslot(queue, record);
    if (record.ttlIndex >= 0) this.#ttls.remove(record);
    this.#live.delete(record.id);
    const dedupKey = record.extras?.dedupKey;
    if (dedupKey !== undefined && queue.dedup.get(dedupKey) === record) queue.dedup.delete(dedupKey);
  }

  /** Removes a message from its slot's structure (ready list, a timeline, its group's line). */
  #unslot(queue: QueueState, record: MessageRecord): void {
    switch (record.slot) {
      case Slot.Ready:
        queue.ready.remove(record);
        break;
      case Slot.Delayed:
        this.#delays.remove(record);
        queue.delayed--;
        break;
      case Slot.Leased:
        this.#leases.remove(record);
        queue.leased--;
        break;
      case Slot.GroupWaiting:
        queue.unlinkFromGroup(queue.groups.get(record.extras?.groupKey as string) as Group, record);
        break;
    }
    record.slot = Slot.None;
  }

  /** Moves a message to the dead-letter store without passing its group's turn on. */
  #bury(queue: QueueState, record: MessageRecord, reason: DeadReason, error: FailureInfo | undefined, now: number): void {
    this.#detach(queue, record);
    if (error) record.extras = { ...record.extras, lastError: error };
    const entry: DeadEntry = { deadSeq: ++this.#deadSeq, record, reason, deadAt: now, removed: false };
    queue.dead.add(entry);
    this.#dead.set(record.id, entry);
    queue.totals.dead++;
  }

  /** The group's turn passes to its next waiting message once the active one is done. */
  #releaseGroup(queue: QueueState, record: MessageRecord, now: number): void {
    const groupKey = record.extras?.groupKey;
    if (groupKey === undefined) return;
    const group = queue.groups.get(groupKey);
    if (!group || group.active !== record) return;
    this.#promoteNext(queue, group, now);
  }

  #promoteNext(queue: QueueState, group: Group, now: number): void {
    for (;;) {
      const next = group.head;
      group.active = null;
      if (!next) {
        queue.groups.delete(group.key);
        return;
      }
      queue.unlinkFromGroup(group, next);
      if (next.expiresAt !== 0 && next.expiresAt <= now) {
        this.#bury(queue, next, "expired", undefined, now);
        continue;
      }
      if (next.ttlIndex >= 0) this.#ttls.remove(next);
      group.active = next;
      this.#schedule(queue, next, now);
      return;
    }
  }

  listDead(name: string, page: { cursor?: string; limit: number }): DeadLetterPage {
    const queue = this.#requireQueue(name);
    let after = 0;
    if (page.cursor !== undefined) {
      after = Number(page.cursor);
      if (!/^\d{1,15}$/.test(page.cursor)) throw new ValidationError(`dead letters of "${name}": cursor must come from a previous page, got "${page.cursor}"`, [{ path: "/cursor", message: "not a cursor" }]);
    }
    const { items, more } = queue.dead.page(after, page.limit);
    const result: DeadLetterPage = { items: items.map((entry) => this.#deadLetter(entry)) };
    if (more && items.length > 0) result.nextCursor = String(items[items.length - 1].deadSeq);
    return result;
  }

  replayDead(name: string, selection: ReplaySelection): number {
    const queue = this.#requireQueue(name);
    this.#tick();
    const now = this.clock.now();
    const entries = "all" in selection ? queue.dead.clear() : selection.ids.map((id) => queue.dead.remove(id)).filter((e): e is DeadEntry => !!e);
    for (const entry of entries) {
      this.#dead.delete(entry.record.id);
      const record = entry.record;
      record.attempt = 0;
      record.availableAt = now;
      record.seq = this.#seq++;
      const ttlMs = record.extras?.ttlMs;
      record.expiresAt = ttlMs !== undefined ? now + ttlMs : 0;
      this.#live.set(record.id, record);
      this.#enqueue(queue, record, now);
    }
    this.#armTimer();
    return entries.length;
  }

  deleteDead(name: string, id: string): boolean {
    const queue = this.#requireQueue(name);
    const entry = queue.dead.remove(id);
    if (!entry) return false;
    this.#dead.delete(id);
    return true;
  }

  purgeDead(name: string): number {
    const queue = this.#requireQueue(name);
    const entries = queue.dead.clear();
    for (const entry of entries) this.#dead.delete(entry.record.id);
    return entries.length;
  }

  #deadLetter(entry: DeadEntry): DeadLetter {
    const dead = entry.record.toStored() as DeadLetter;
    dead.reason = entry.reason;
    dead.deadAt = entry.deadAt;
    dead.lastError = entry.record.extras?.lastError;
    return dead;
  }

  // ── status ──────────────────────────────────────────────────────────────────────────────

  status(id: string): MessageStatus | undefined {
    this.#tick();
    const live = this.#live.get(id);
    if (live) {
      if (live.slot !== Slot.Completed) return this.#statusOf(live, live.state);
      const queue = this.#queues.get(live.queue) as QueueState;
      if (live.completedAt + queue.options.completedRetentionMs <= this.clock.now()) return undefined;
      const status = this.#statusOf(live, "completed");
      status.completedAt = live.completedAt;
      status.expiresAt = undefined;
      status.lastError = undefined;
      return status;
    }
    const dead = this.#dead.get(id);
    if (!dead) return undefined;
    const status = this.#statusOf(dead.record, "dead");
    status.deadAt = dead.deadAt;
    status.deadReason = dead.reason;
    return status;
  }

  #statusOf(record: MessageRecord, state: MessageStatus["state"]): MessageStatus {
    const extras = record.extras;
    return {
      id: record.id,
      queue: record.queue,
      state,
      attempt: record.attempt,
      maxAttempts: record.maxAttempts,
      priority: record.priority,
      groupKey: extras?.groupKey,
      publishedAt: record.publishedAt,
      availableAt: record.availableAt,
      expiresAt: record.expiresAt === 0 ? undefined : record.expiresAt,
      leaseUntil: state === "leased" ? record.leaseUntil : undefined,
      completedAt: undefined,
      deadAt: undefined,
      deadReason: undefined,
      lastError: extras?.lastError,
      correlationId: extras?.correlationId,
      causationId: extras?.causationId,
    };
  }

  // ── exchanges ───────────────────────────────────────────────────────────────────────────

  declareExchange(name: string, type: ExchangeType): void {
    const existing = this.#exchanges.get(name);
    if (existing && existing.type !== type) {
      throw new ConflictError(`exchange "${name}" already exists with type "${existing.type}", not "${type}"`);
    }
    if (!existing) this.#exchanges.set(name, { name, type, bindings: [] });
  }

  deleteExchange(name: string): boolean {
    return this.#exchanges.delete(name);
  }

  bind(exchangeName: string, queue: string, bindingKey: string): void {
    const exchange = this.#requireExchange(exchangeName);
    if (!this.#queues.has(queue)) this.#createQueue(queue);
    if (!exchange.bindings.some((b) => b.queue === queue && b.bindingKey === bindingKey)) {
      exchange.bindings = [...exchange.bindings, { queue, bindingKey }];
    }
  }

  unbind(exchangeName: string, queue: string, bindingKey: string): boolean {
    const exchange = this.#requireExchange(exchangeName);
    const before = exchange.bindings.length;
    exchange.bindings = exchange.bindings.filter((b) => !(b.queue === queue && b.bindingKey === bindingKey));
    return exchange.bindings.length < before;
  }

  getExchange(name: string): ExchangeInfo | undefined {
    const exchange = this.#exchanges.get(name);
    return exchange && { name: exchange.name, type: exchange.type, bindings: exchange.bindings.map((b) => ({ ...b })) };
  }

  listExchanges(): ExchangeInfo[] {
    return [...this.#exchanges.keys()].map((name) => this.getExchange(name) as ExchangeInfo);
  }

  // ── wake-ups and time ───────────────────────────────────────────────────────────────────

  /** Watchers are kept by queue name, apart from queue state: watching never creates a queue. */
  watch(name: string, listener: () => void): () => void {
    let listeners = this.#watchers.get(name);
    if (!listeners) this.#watchers.set(name, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      const current = this.#watchers.get(name);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#watchers.delete(name);
    };
  }

  /** Stops the timer; the engine keeps its data but never wakes on its own again. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Applies everything that has fallen due: TTLs, delays, lease expiries, rate-limit reopenings. */
  #tick(): void {
    const now = this.clock.now();
    if (now < this.#nextDueAt) return;
    this.#timeChanges++;
    for (let record = this.#ttls.peek(); record && record.expiresAt <= now; record = this.#ttls.peek()) {
      const queue = this.#queues.get(record.queue) as QueueState;
      this.#kill(queue, record, "expired", undefined, now);
    }
    for (let record = this.#delays.peek(); record && record.availableAt <= now; record = this.#delays.peek()) {
      const queue = this.#queues.get(record.queue) as QueueState;
      this.#unslot(queue, record);
      queue.ready.append(record);
      this.#markDirty(queue);
    }
    for (let record = this.#leases.peek(); record && record.leaseUntil <= now; record = this.#leases.peek()) {
      const queue = this.#queues.get(record.queue) as QueueState;
      this.#unslot(queue, record);
      if (record.attempt >= record.maxAttempts) {
        this.#kill(queue, record, "max_attempts", LEASE_EXPIRED, now);
      } else {
        record.extras = { ...record.extras, lastError: LEASE_EXPIRED };
        queue.totals.retried++;
        record.availableAt = now;
        this.#schedule(queue, record, now);
      }
    }
    for (const queue of this.#rateLimited) {
      if (queue.limitedUntil <= now) {
        this.#rateLimited.delete(queue);
        queue.limitedUntil = 0;
        this.#markDirty(queue);
      }
    }
    this.#nextDueAt = this.#computeNextDue();
  }

  #computeNextDue(): number {
    let next = Infinity;
    const delay = this.#delays.peek();
    if (delay) next = delay.availableAt;
    const lease = this.#leases.peek();
    if (lease && lease.leaseUntil < next) next = lease.leaseUntil;
    const ttl = this.#ttls.peek();
    if (ttl && ttl.expiresAt < next) next = ttl.expiresAt;
    for (const queue of this.#rateLimited) if (queue.limitedUntil < next) next = queue.limitedUntil;
    return next;
  }

  /** Keeps one clock timer armed at the earliest due time (an earlier timer is kept: it re-arms). */
  #armTimer(): void {
    const next = this.#computeNextDue();
    this.#nextDueAt = next;
    if (next === Infinity || next >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = next;
    this.#timer = this.clock.setTimer(() => this.#onTimer(), next - this.clock.now());
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#nextDueAt = 0; // force the tick
    this.#tick();
    this.#armTimer();
  }

  #markDirty(queue: QueueState): void {
    if (!this.#watchers.has(queue.name)) return;
    this.#dirty.add(queue);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const queues = [...this.#dirty];
    this.#dirty.clear();
    for (const queue of queues) {
      const listeners = this.#watchers.get(queue.name);
      if (listeners) for (const listener of [...listeners]) listener();
    }
  }

  // ── what the journal needs: time-driven changes, replay, snapshots ──────────────────────

  /**
   * Counts the times time-driven processing ran (delays due, leases or TTLs expired, rate
   * windows reopened). A call that leaves it unchanged changed nothing by the passage of time.
   */
  get timeChanges(): number {
    return this.#timeChanges;
  }

  /** The seq the next published or replayed message gets: every message so far has a lower one. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** Messages the engine holds (live, plus completed ones kept for status): what a snapshot writes. */
  get size(): number {
    return this.#live.size + this.#dead.size;
  }

  get visibleSeq(): number {
    return this.#visibleSeq;
  }

  /**
   * Lets `lease` hand out only messages with seq < `seq` (the journal raises it as publishes
   * become durable, so no consumer sees a message that a crash could still take back).
   */
  setVisibleSeq(seq: number): void {
    const grew = seq > this.#visibleSeq;
    this.#visibleSeq = seq;
    if (grew) for (const queue of this.#queues.values()) if (queue.ready.size > 0) this.#markDirty(queue);
  }

  /** Applies everything due at `clock.now()` (replay of a recorded timer tick). */
  runDue(): void {
    this.#nextDueAt = 0;
    this.#tick();
    this.#armTimer();
  }

  /** Re-arms the timer from scratch: after a replay ran on a clock whose timers never fire. */
  restartTimer(): void {
    this.stop();
    this.#armTimer();
  }

  exportState(): EngineState {
    const byQueue = new Map<string, { delayed: MessageRecord[]; leased: MessageRecord[] }>();
    const bucket = (name: string) => {
      let entry = byQueue.get(name);
      if (!entry) byQueue.set(name, (entry = { delayed: [], leased: [] }));
      return entry;
    };
    for (const record of this.#delays.items()) bucket(record.queue).delayed.push(record);
    for (const record of this.#leases.items()) bucket(record.queue).leased.push(record);
    const queues: QueueSnapshot[] = [];
    for (const queue of this.#queues.values()) {
      const timed = bucket(queue.name);
      queues.push({
        name: queue.name,
        options: queue.options,
        paused: queue.paused,
        totals: { ...queue.totals },
        limiterStamps: queue.limiter?.stamps() ?? [],
        ready: [...queue.ready.all()],
        delayed: timed.delayed,
        leased: timed.leased,
        groups: [...queue.groups.values()].map((group) => {
          const waiting: MessageRecord[] = [];
          for (let record = group.head; record; record = record.next) waiting.push(record);
          return { key: group.key, activeId: group.active?.id ?? null, waiting };
        }),
        completed: [...queue.completed],
        dead: queue.dead.all().map((e) => ({ deadSeq: e.deadSeq, record: e.record, reason: e.reason, deadAt: e.deadAt })),
        dedup: [...queue.dedup].map(([key, record]) => [key, record.id] as [string, string]),
        idempotency: queue.idempotencyEntries(),
      });
    }
    return { seq: this.#seq, deadSeq: this.#deadSeq, exchanges: this.listExchanges(), queues };
  }

  /** Replaces all state with `state` (on an engine that holds nothing yet). */
  importState(state: EngineState): void {
    if (this.#queues.size > 0 || this.#live.size > 0) throw new Error("importState needs an empty engine");
    this.#seq = state.seq;
    this.#deadSeq = state.deadSeq;
    for (const exchange of state.exchanges) this.#exchanges.set(exchange.name, exchange);
    for (const snap of state.queues) {
      const queue = new QueueState(snap.name, snap.options);
      this.#queues.set(snap.name, queue);
      queue.paused = snap.paused;
      Object.assign(queue.totals, snap.totals);
      if (queue.limiter && snap.limiterStamps.length > 0) {
        for (const stamp of snap.limiterStamps) queue.limiter.record(stamp, 1);
      }
      const withTtl = (record: MessageRecord) => {
        if (record.expiresAt !== 0) this.#ttls.push(record);
      };
      for (const record of snap.ready) {
        queue.ready.append(record);
        this.#live.set(record.id, record);
        withTtl(record);
      }
      for (const record of snap.delayed) {
        record.slot = Slot.Delayed;
        this.#delays.push(record);
        queue.delayed++;
        this.#live.set(record.id, record);
        withTtl(record);
      }
      for (const record of snap.leased) {
        record.slot = Slot.Leased;
        this.#leases.push(record);
        queue.leased++;
        this.#live.set(record.id, record);
      }
      for (const g of snap.groups) {
        const group: Group = { key: g.key, active: g.activeId === null ? null : (this.#live.get(g.activeId) ?? null), head: null, tail: null };
        queue.groups.set(g.key, group);
        for (const record of g.waiting) {
          queue.appendToGroup(group, record);
          this.#live.set(record.id, record);
          withTtl(record);
        }
      }
      for (const record of snap.completed) {
        record.slot = Slot.Completed;
        queue.completed.push(record);
        this.#live.set(record.id, record);
      }
      for (const d of snap.dead) {
        const entry: DeadEntry = { deadSeq: d.deadSeq, record: d.record, reason: d.reason, deadAt: d.deadAt, removed: false };
        queue.dead.add(entry);
        this.#dead.set(d.record.id, entry);
      }
      for (const [key, id] of snap.dedup) {
        const record = this.#live.get(id);
        if (record) queue.dedup.set(key, record);
      }
      for (const entry of snap.idempotency) queue.rememberKey(entry.key, entry.id, 0, entry.expiresAt);
    }
    this.restartTimer();
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────

  #createQueue(name: string): QueueState {
    const queue = new QueueState(name, resolveQueueOptions());
    this.#queues.set(name, queue);
    return queue;
  }

  #requireQueue(name: string): QueueState {
    const queue = this.#queues.get(name);
    if (!queue) throw new NotFoundError(`queue "${name}" does not exist`);
    return queue;
  }

  #requireExchange(name: string): ExchangeInfo {
    const exchange = this.#exchanges.get(name);
    if (!exchange) throw new NotFoundError(`exchange "${name}" does not exist`);
    return exchange;
  }

  #info(queue: QueueState): QueueInfo {
    return { name: queue.name, options: queue.options, paused: queue.paused };
  }
}
