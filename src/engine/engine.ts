/**
 * The in-memory queue engine shared by the `memory` and `journal` stores: the structures that
 * hold messages, and the application of the decisions made in core/ (lifecycle.ts, overflow.ts,
 * retention.ts, rate-window.ts, retry-policy.ts) to them, synchronously, in O(log n) or better
 * per message. The engine decides nothing a store elsewhere would have to decide differently.
 *
 * - Messages: rows of one MessageTable (columns of typed arrays, ids in a typed-array hash,
 *   bodies in a slab arena); every structure below links rows by number.
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
import { ConflictError, LeaseLostError, NotFoundError, QueueFullError, SpoolError, ValidationError } from "../core/errors.js";
import { newId, newLeaseToken } from "../core/ids.js";
import type { BrowsedMessage, BrowseState, DeadLetter, DeadReason, FailureInfo, LeasedStoredMessage, MessageContent, MessageState, MessageStatus, QueueStats } from "../core/message.js";
import { availableAtFor, decideLeaseExpiry, decidePublish, decideRelease, expiresAtFor, isExpired, passesGroupTurn, replayed } from "../core/lifecycle.js";
import { decideOverflow } from "../core/overflow.js";
import { completedStatusVisible, forgetsOldestCompleted, keepsCompletedStatus } from "../core/retention.js";
import { decideFailure } from "../core/retry-policy.js";
import { scheduledPublishInput, type FiredSlot, type ScheduleFire, type ScheduleRecord } from "../core/schedule.js";
import { deadLetterHeaders, deadLetterRoutingKey, mayDeadLetter } from "../core/dead-letter.js";
import { appendLog } from "../core/story.js";
import { routeMessage, type ExchangeInfo, type ExchangeType } from "../routing/route.js";
import type { AckItem, AckOutcome, DeadLetterPage, LeaseRequest, NackOutcome, NackRequest, ProgressReport, PublishInput, PublishOutcome, ReplaySelection } from "../core/operations.js";
import type { QueueInfo } from "../config/schemas.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { IndexedHeap } from "./indexed-heap.js";
import type { EngineState, QueueSnapshot } from "./engine-state.js";
import { MessageTable, NIL, Slot, type MessageExtras } from "./message-table.js";
import { QueueState, type Group } from "./queue-state.js";
import type { QueueEvent } from "../core/queue-events.js";

export interface EngineOptions {
  clock: Clock;
  newId?: (nowMs: number) => string;
  newLeaseToken?: () => string;
  random?: () => number;
}

const LEASE_EXPIRED: FailureInfo = { message: "lease expired before the message was acked", kind: "error" };

/** When a message published at `now` becomes ready: delayMs after it, at its availableAt, or now (never in the past). */

export class Engine {
  readonly clock: Clock;
  readonly #newId: (nowMs: number) => string;
  readonly #newLeaseToken: () => string;
  readonly #random: () => number;

  readonly #queues = new Map<string, QueueState>();
  /** Queues by the number their rows carry; a deleted queue's number is reused (it has no rows left). */
  #queueByNumber: (QueueState | undefined)[] = [];
  #freeQueueNumbers: number[] = [];
  readonly #exchanges = new Map<string, ExchangeInfo>();
  /** Schedules by name; their records are computed by the store with core/schedule.ts. */
  readonly #schedules = new Map<string, ScheduleRecord>();
  /** Every message: live ones, completed ones during their status retention, dead letters. */
  #t = new MessageTable();

  readonly #delays = this.#timeline((r) => this.#t.availableAt[r], false);
  readonly #leases = this.#timeline((r) => this.#t.leaseUntil[r], false);
  readonly #ttls = this.#timeline((r) => this.#t.expiresAt[r], true);
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
  /** Where queue events go while someone listens (core/queue-events.ts); unset, no event is made. */
  #emit: ((event: QueueEvent) => void) | undefined;

  constructor(options: EngineOptions) {
    this.clock = options.clock;
    this.#newId = options.newId ?? newId;
    this.#newLeaseToken = options.newLeaseToken ?? newLeaseToken;
    this.#random = options.random ?? Math.random;
  }

  /** A timeline of rows by `key`, ties by seq; its position kept in the row's ttlIndex or timeIndex. */
  #timeline(key: (r: number) => number, ttl: boolean): IndexedHeap<number> {
    const seq = (r: number) => this.#t.seq[r];
    return ttl
      ? new IndexedHeap<number>(key, (r) => this.#t.ttlIndex[r], (r, i) => void (this.#t.ttlIndex[r] = i), seq)
      : new IndexedHeap<number>(key, (r) => this.#t.timeIndex[r], (r, i) => void (this.#t.timeIndex[r] = i), seq);
  }

  /** Sends every change of a message's state to `emit` from now on (none: stop). */
  setEventSink(emit: ((event: QueueEvent) => void) | undefined): void {
    this.#emit = emit;
  }

  // ── queues ──────────────────────────────────────────────────────────────────────────────

  ensureQueue(name: string, options?: QueueOptions): QueueInfo {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = this.#createQueue(name, resolveQueueOptions(options));
    } else if (options) {
      queue.applyOptions(resolveQueueOptions(options, queue.options));
      this.#markDirty(queue);
    }
    // A dead-letter queue is declared with the option, as a bind declares its queue.
    const target = queue.options.deadLetter;
    if (target !== undefined && "queue" in target && !this.#queues.has(target.queue)) this.#createQueue(target.queue);
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
    const t = this.#t;
    queue.dead.clear();
    queue.completed.clear();
    for (let r = 0; r < t.highWater; r++) {
      const slot = t.slot[r];
      if (slot === Slot.Free || t.queue[r] !== queue.number) continue;
      if (slot !== Slot.Completed && slot !== Slot.Dead) this.#detach(queue, r);
      t.free(r);
    }
    this.#rateLimited.delete(queue);
    this.#queues.delete(name);
    this.#queueByNumber[queue.number] = undefined;
    this.#freeQueueNumbers.push(queue.number);
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
    const t = this.#t;
    const victims = queue.ready.all();
    for (const r of this.#delays.items()) if (t.queue[r] === queue.number) victims.push(r);
    for (const group of queue.groups.values()) victims.push(...queue.groupLine(group));
    for (const r of victims) {
      this.#detach(queue, r);
      t.free(r);
    }
    for (const group of [...queue.groups.values()]) {
      group.head = group.tail = NIL;
      if (group.active === NIL || t.slot[group.active] !== Slot.Leased) queue.groups.delete(group.key);
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
      oldestReadyAgeMs: oldest !== NIL ? Math.max(0, now - this.#t.availableAt[oldest]) : 0,
      readyByPriority: queue.ready.sizesByPriority(),
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
      if (!queue || queue.options.maxLength === undefined || queue.options.overflow === "drop-oldest") continue;
      adding ??= new Map();
      let entry = adding.get(queue);
      if (!entry) adding.set(queue, (entry = { count: 0, dedup: new Set(), idem: new Set() }));
      if (input.idempotencyKey !== undefined) {
        if (entry.idem.has(input.idempotencyKey) || queue.idempotentId(input.idempotencyKey, now) !== undefined) continue;
        entry.idem.add(input.idempotencyKey);
      }
      if (input.dedupKey !== undefined) {
        const existing = queue.dedup.get(input.dedupKey);
        if (entry.dedup.has(input.dedupKey) || (existing !== undefined && this.#t.slot[existing] !== Slot.Leased)) continue;
        entry.dedup.add(input.dedupKey);
      }
      entry.count++;
    }
    if (!adding) return;
    for (const [queue, entry] of adding) {
      const { maxLength, overflow } = queue.options;
      if (decideOverflow({ waiting: queue.waiting, adding: entry.count, maxLength, overflow }).action === "reject") {
        throw new QueueFullError(queue.name, maxLength as number, overflow === "block" ? "block" : "reject");
      }
    }
  }

  #publishOne(input: PublishInput, now: number): PublishOutcome {
    const t = this.#t;
    const queue = this.#queues.get(input.queue) ?? this.#createQueue(input.queue);
    const idempotencyKey = input.idempotencyKey;
    const dedupKey = input.dedupKey;
    if (idempotencyKey !== undefined || dedupKey !== undefined) {
      const duplicateOf = idempotencyKey === undefined ? undefined : queue.idempotentId(idempotencyKey, now);
      const holder = dedupKey === undefined ? undefined : queue.dedup.get(dedupKey);
      const decision = decidePublish({ duplicateOf, dedupHolder: holder === undefined ? "none" : t.slot[holder] === Slot.Leased ? "leased" : "waiting" });
      if (decision === "duplicate") return { id: duplicateOf as string, queue: queue.name, replaced: false, duplicate: true };
      if (decision === "replace") {
        const existing = holder as number;
        this.#replace(queue, existing, input);
        const id = t.id(existing);
        if (idempotencyKey !== undefined) queue.rememberKey(idempotencyKey, id, now);
        return { id, queue: queue.name, replaced: true, duplicate: false };
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
    const id = this.#newId(now);
    const r = t.create(id, input.body, {
      queue: queue.number,
      seq: this.#seq++,
      priority: input.priority,
      publishedAt: now,
      availableAt: availableAtFor(input.availableAt, input.delayMs ?? (input.availableAt === undefined ? queue.options.delayMs : undefined), now),
      maxAttempts: input.maxAttempts ?? queue.options.maxAttempts,
    });
    if (extras) t.extras.set(r, extras);
    if (ttlMs !== undefined) t.expiresAt[r] = expiresAtFor(ttlMs, undefined, now) as number;
    queue.totals.published++;
    if (idempotencyKey !== undefined) queue.rememberKey(idempotencyKey, id, now);
    if (dedupKey !== undefined) queue.dedup.set(dedupKey, r);
    this.#emit?.({ type: "published", queue: queue.name, id, at: now, availableAt: t.availableAt[r] });
    this.#enqueue(queue, r, now);
    this.#enforceMaxLength(queue, now);
    return { id, queue: queue.name, replaced: false, duplicate: false };
  }

  /** The row's rare fields; most rows have none (and then no map is consulted). */
  #extras(r: number): MessageExtras | undefined {
    const extras = this.#t.extras;
    return extras.size === 0 ? undefined : extras.get(r);
  }

  /** dedupKey replace: new body, headers and priority; same id and place. */
  #replace(queue: QueueState, r: number, input: PublishInput): void {
    const t = this.#t;
    t.replaceBody(r, input.body);
    const extras = this.#extras(r);
    if (input.headers !== undefined || extras?.headers !== undefined) {
      t.extras.set(r, { ...extras, headers: input.headers });
    }
    if (t.priority[r] !== input.priority) {
      if (t.slot[r] === Slot.Ready) {
        queue.ready.remove(r);
        t.priority[r] = input.priority;
        queue.ready.insertInOrder(r);
        this.#markDirty(queue);
      } else {
        t.priority[r] = input.priority;
      }
    }
  }

  #enforceMaxLength(queue: QueueState, now: number): void {
    const { maxLength, overflow } = queue.options;
    if (maxLength === undefined) return;
    const decision = decideOverflow({ waiting: queue.waiting, adding: 0, maxLength, overflow });
    if (decision.action !== "drop-oldest") return;
    for (let i = 0; i < decision.count; i++) {
      const oldest = queue.ready.oldest();
      if (oldest === NIL) break;
      this.#kill(queue, oldest, "overflow", undefined, now);
    }
  }

  /** Places a waiting message: behind its group, in the delay timeline, or ready. Starts its TTL clock. */
  #enqueue(queue: QueueState, r: number, now: number): void {
    const groupKey = this.#extras(r)?.groupKey;
    if (groupKey !== undefined) {
      let group = queue.groups.get(groupKey);
      if (!group) queue.groups.set(groupKey, (group = { key: groupKey, active: NIL, head: NIL, tail: NIL }));
      if (group.active !== NIL) {
        queue.appendToGroup(group, r);
        if (this.#t.expiresAt[r] !== 0) this.#ttls.push(r);
        return;
      }
      group.active = r;
    }
    this.#schedule(queue, r, now);
  }

  /** Ready now, or delayed until availableAt; the TTL timeline applies while not leased. */
  #schedule(queue: QueueState, r: number, now: number): void {
    const t = this.#t;
    const expiresAt = t.expiresAt[r];
    if (expiresAt !== 0) {
      if (isExpired(expiresAt, now)) {
        this.#kill(queue, r, "expired", undefined, now);
        return;
      }
      this.#ttls.push(r);
    }
    // Waiting again (a retry, a replay): it holds its dedupKey unless a newer message took it meanwhile.
    const dedupKey = this.#extras(r)?.dedupKey;
    if (dedupKey !== undefined && !queue.dedup.has(dedupKey)) queue.dedup.set(dedupKey, r);
    if (t.availableAt[r] > now) {
      t.slot[r] = Slot.Delayed;
      this.#delays.push(r);
      queue.delayed++;
    } else {
      queue.ready.append(r);
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
    const t = this.#t;
    const out: LeasedStoredMessage[] = [];
    while (out.length < max) {
      const r = queue.ready.first();
      // Strict order: a head whose publish is not durable yet holds the queue until it is.
      if (r === NIL || t.seq[r] >= this.#visibleSeq) break;
      queue.ready.remove(r);
      if (t.ttlIndex[r] >= 0) this.#ttls.remove(r);
      t.attempt[r]++;
      t.slot[r] = Slot.Leased;
      t.leaseTokens.set(r, this.#newLeaseToken());
      t.leaseUntil[r] = now + leaseMs;
      this.#leases.push(r);
      queue.leased++;
      const dedupKey = this.#extras(r)?.dedupKey;
      if (dedupKey !== undefined && queue.dedup.get(dedupKey) === r) queue.dedup.delete(dedupKey);
      const leased = t.toLeased(r, queue.name);
      out.push(leased);
      this.#emit?.({ type: "active", queue: queue.name, id: leased.id, at: now, attempt: leased.attempt, leaseUntil: t.leaseUntil[r] });
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

  /** `result`: the handler's result as JSON text, kept with the completed status. */
  ack(id: string, leaseToken: string, result?: string): void {
    const r = this.#leased(id, leaseToken);
    this.#tick();
    // The lease may have expired in the tick just run (a tick never frees a row: r is still this message).
    if (this.#t.slot[r] !== Slot.Leased) throw new LeaseLostError(id);
    if (result !== undefined) this.#t.extras.set(r, { ...this.#extras(r), result });
    this.#complete(r);
    this.#armTimer();
  }

  /** Records what a running handler reports (progress, log lines) on its leased message. */
  report(id: string, leaseToken: string, report: ProgressReport): void {
    this.#leased(id, leaseToken);
    this.#tick();
    const r = this.#leased(id, leaseToken);
    const extras = { ...this.#extras(r) };
    if (report.progress !== undefined) extras.progress = report.progress;
    if (report.log !== undefined && report.log.length > 0) extras.log = appendLog(extras.log, report.log, this.clock.now());
    this.#t.extras.set(r, extras);
    if (report.progress !== undefined) this.#emit?.({ type: "progress", queue: this.#queueOf(r).name, id, at: this.clock.now(), progress: JSON.parse(report.progress) });
    this.#armTimer();
  }

  ackMany(items: AckItem[]): AckOutcome[] {
    this.#tick();
    const outcomes = new Array<AckOutcome>(items.length);
    for (let i = 0; i < items.length; i++) {
      const { id, leaseToken, result } = items[i];
      const r = this.#leasedRow(id, leaseToken);
      if (r === NIL) {
        outcomes[i] = { id, ok: false, code: "lease_lost" };
      } else {
        if (result !== undefined) this.#t.extras.set(r, { ...this.#extras(r), result });
        this.#complete(r);
        outcomes[i] = { id, ok: true };
      }
    }
    this.#armTimer();
    return outcomes;
  }

  nack(id: string, leaseToken: string, request: NackRequest): NackOutcome {
    this.#leased(id, leaseToken);
    this.#tick();
    const r = this.#leased(id, leaseToken);
    const t = this.#t;
    const queue = this.#queueOf(r);
    const now = this.clock.now();
    this.#unslot(queue, r);
    if (request.release) {
      const { attempt, availableAt } = decideRelease(t.attempt[r], request.delayMs, now);
      t.attempt[r] = attempt;
      t.availableAt[r] = availableAt;
      this.#emit?.({ type: "released", queue: queue.name, id, at: now, availableAt });
      this.#schedule(queue, r, now);
      this.#armTimer();
      if (t.slot[r] === Slot.Dead) return { state: "dead", availableAt, deadReason: "expired" };
      return { state: availableAt > now ? "delayed" : "ready", availableAt };
    }
    const error = request.error ?? (request.reject ? { message: "rejected", kind: "permanent" as const } : { message: "nacked", kind: "error" as const });
    t.extras.set(r, { ...this.#extras(r), lastError: error });
    const decision = decideFailure(
      { attempt: t.attempt[r], maxAttempts: t.maxAttempts[r], kind: error.kind, delayMs: request.delayMs, backoff: queue.options.backoff, reject: request.reject },
      this.#random,
    );
    this.#emit?.({ type: "failed", queue: queue.name, id, at: now, attempt: t.attempt[r], error });
    let outcome: NackOutcome;
    if (decision.action === "dead") {
      this.#kill(queue, r, decision.reason, error, now);
      outcome = { state: "dead", availableAt: t.availableAt[r], deadReason: decision.reason };
    } else {
      queue.totals.retried++;
      t.availableAt[r] = now + decision.delayMs;
      this.#schedule(queue, r, now);
      // Its TTL may have run out meanwhile: then it went dead in #schedule, and waits for nothing.
      if (t.slot[r] !== Slot.Dead) this.#emit?.({ type: "retry", queue: queue.name, id, at: now, attempt: t.attempt[r], availableAt: t.availableAt[r] });
      outcome = t.slot[r] === Slot.Dead
        ? { state: "dead", availableAt: t.availableAt[r], deadReason: "expired" }
        : { state: decision.delayMs > 0 ? "delayed" : "ready", availableAt: t.availableAt[r] };
    }
    this.#armTimer();
    return outcome;
  }

  extend(id: string, leaseToken: string, leaseMs: number): { leaseUntil: number } {
    this.#leased(id, leaseToken);
    this.#tick();
    const r = this.#leased(id, leaseToken);
    const t = this.#t;
    this.#leases.remove(r);
    t.leaseUntil[r] = this.clock.now() + leaseMs;
    this.#leases.push(r);
    this.#armTimer();
    return { leaseUntil: t.leaseUntil[r] };
  }

  #leased(id: string, leaseToken: string): number {
    const r = this.#leasedRow(id, leaseToken);
    if (r === NIL) throw new LeaseLostError(id);
    return r;
  }

  /** The row of `id` if `leaseToken` is its current lease, else NIL. */
  #leasedRow(id: string, leaseToken: string): number {
    const t = this.#t;
    const r = t.find(id);
    return r !== NIL && t.slot[r] === Slot.Leased && t.leaseTokens.get(r) === leaseToken ? r : NIL;
  }

  #complete(r: number): void {
    const t = this.#t;
    const queue = this.#queueOf(r);
    const now = this.clock.now();
    this.#unslot(queue, r);
    queue.totals.completed++;
    this.#emit?.({ type: "completed", queue: queue.name, id: t.id(r), at: now, attempt: t.attempt[r] });
    this.#passGroupTurn(queue, r, "completed", now);
    if (keepsCompletedStatus(queue.options)) {
      // The row stays as the status entry; drop what status() does not need.
      t.slot[r] = Slot.Completed;
      t.endedAt[r] = now;
      t.dropBody(r);
      queue.completed.push(r);
    } else {
      t.free(r);
    }
    this.#forgetCompleted(queue, now);
  }

  #forgetCompleted(queue: QueueState, now: number): void {
    const t = this.#t;
    const completed = queue.completed;
    for (let r = completed.peekFront(); r !== undefined; r = completed.peekFront()) {
      if (!forgetsOldestCompleted(t.endedAt[r], completed.length, now, queue.options)) break;
      completed.shift();
      if (t.slot[r] === Slot.Completed) t.free(r);
    }
  }

  // ── dead letters ────────────────────────────────────────────────────────────────────────

  /** Moves a live message (in any slot) to the dead-letter store. */
  #kill(queue: QueueState, r: number, reason: DeadReason, error: FailureInfo | undefined, now: number): void {
    this.#bury(queue, r, reason, error, now);
    this.#passGroupTurn(queue, r, "dead", now);
  }

  /** Takes a live message out of every structure that holds it (the row stays); groups are not advanced. */
  #detach(queue: QueueState, r: number): void {
    this.#unslot(queue, r);
    if (this.#t.ttlIndex[r] >= 0) this.#ttls.remove(r);
    const dedupKey = this.#extras(r)?.dedupKey;
    if (dedupKey !== undefined && queue.dedup.get(dedupKey) === r) queue.dedup.delete(dedupKey);
  }

  /** Removes a message from its slot's structure (ready list, a timeline, its group's line). */
  #unslot(queue: QueueState, r: number): void {
    const t = this.#t;
    switch (t.slot[r]) {
      case Slot.Ready:
        queue.ready.remove(r);
        break;
      case Slot.Delayed:
        this.#delays.remove(r);
        queue.delayed--;
        break;
      case Slot.Leased:
        this.#leases.remove(r);
        t.leaseTokens.delete(r);
        queue.leased--;
        break;
      case Slot.GroupWaiting:
        queue.unlinkFromGroup(queue.groups.get(this.#extras(r)?.groupKey as string) as Group, r);
        break;
    }
    t.slot[r] = Slot.None;
  }

  /** Moves a message to the dead-letter store without passing its group's turn on. */
  #bury(queue: QueueState, r: number, reason: DeadReason, error: FailureInfo | undefined, now: number): void {
    const t = this.#t;
    this.#detach(queue, r);
    if (error) t.extras.set(r, { ...this.#extras(r), lastError: error });
    t.slot[r] = Slot.Dead;
    t.setDeadReason(r, reason);
    t.endedAt[r] = now;
    queue.dead.add(r, ++this.#deadSeq);
    queue.totals.dead++;
    this.#emit?.({ type: "dead", queue: queue.name, id: t.id(r), at: now, reason, attempt: t.attempt[r] });
    if (queue.options.deadLetter !== undefined) this.#deadLetterCopies(queue, r, reason, now);
  }

  /**
   * Publishes the dead-letter copies of row r, which just died in `queue` (core/dead-letter.ts):
   * to the target queue, or to the queues the target exchange's bindings route it to now. In the
   * same engine call as the death, so one journal record (or none) holds both. A copy is never
   * refused for room: maxLength does not apply to it.
   */
  #deadLetterCopies(queue: QueueState, r: number, reason: DeadReason, now: number): void {
    const t = this.#t;
    const target = queue.options.deadLetter;
    const extras = this.#extras(r);
    if (target === undefined || !mayDeadLetter(extras?.headers, queue.name)) return;
    let queues: string[];
    if ("queue" in target) {
      queues = [target.queue];
    } else {
      const exchange = this.#exchanges.get(target.exchange);
      queues = exchange === undefined ? [] : routeMessage(exchange, deadLetterRoutingKey(target, queue.name));
    }
    if (queues.length === 0) return;
    const id = t.id(r);
    const headers = deadLetterHeaders(extras?.headers, { id, queue: queue.name, reason, attempts: t.attempt[r], lastError: extras?.lastError });
    const body = t.body(r);
    const priority = t.priority[r];
    for (const name of queues) {
      const into = this.#queues.get(name);
      if (into === undefined) continue; // deleted since it was named: nowhere to go
      const ttlMs = into.options.ttlMs;
      const copyId = this.#newId(now);
      const copy = t.create(copyId, body, {
        queue: into.number,
        seq: this.#seq++,
        priority,
        publishedAt: now,
        availableAt: now,
        maxAttempts: into.options.maxAttempts,
      });
      t.extras.set(copy, { headers, correlationId: extras?.correlationId, causationId: id, ttlMs });
      if (ttlMs !== undefined) t.expiresAt[copy] = now + ttlMs;
      into.totals.published++;
      this.#emit?.({ type: "published", queue: into.name, id: copyId, at: now, availableAt: now });
      this.#schedule(into, copy, now);
    }
  }

  /** The group's turn passes to its next waiting message when the active one's outcome ends it. */
  #passGroupTurn(queue: QueueState, r: number, outcome: "completed" | "dead", now: number): void {
    if (!passesGroupTurn(outcome)) return;
    const groupKey = this.#extras(r)?.groupKey;
    if (groupKey === undefined) return;
    const group = queue.groups.get(groupKey);
    if (!group || group.active !== r) return;
    this.#promoteNext(queue, group, now);
  }

  #promoteNext(queue: QueueState, group: Group, now: number): void {
    const t = this.#t;
    for (;;) {
      const next = group.head;
      group.active = NIL;
      if (next === NIL) {
        queue.groups.delete(group.key);
        return;
      }
      queue.unlinkFromGroup(group, next);
      if (t.expiresAt[next] !== 0 && isExpired(t.expiresAt[next], now)) {
        this.#bury(queue, next, "expired", undefined, now);
        continue;
      }
      if (t.ttlIndex[next] >= 0) this.#ttls.remove(next);
      group.active = next;
      this.#schedule(queue, next, now);
      return;
    }
  }

  listDead(name: string, page: { cursor?: string; limit: number; reason?: DeadReason }): DeadLetterPage {
    const queue = this.#requireQueue(name);
    let after = 0;
    if (page.cursor !== undefined) {
      after = Number(page.cursor);
      if (!/^\d{1,15}$/.test(page.cursor)) throw new ValidationError(`dead letters of "${name}": cursor must come from a previous page, got "${page.cursor}"`, [{ path: "/cursor", message: "not a cursor" }]);
    }
    const reason = page.reason;
    const { items, more } = queue.dead.page(after, page.limit, reason === undefined ? undefined : (r) => this.#t.deadReasonOf(r) === reason);
    const result: DeadLetterPage = { items: items.rows.map((r) => this.#deadLetter(queue, r)) };
    if (more && items.rows.length > 0) result.nextCursor = String(items.deadSeqs[items.deadSeqs.length - 1]);
    return result;
  }

  replayDead(name: string, selection: ReplaySelection): number {
    const queue = this.#requireQueue(name);
    this.#tick();
    const now = this.clock.now();
    const t = this.#t;
    let rows: number[];
    if ("all" in selection) {
      rows = queue.dead.clear().rows;
    } else {
      rows = [];
      for (const id of selection.ids) {
        const r = this.#deadRow(queue, id);
        if (r === NIL) continue;
        queue.dead.remove(r);
        t.slot[r] = Slot.None; // a repeated id is not found again
        rows.push(r);
      }
    }
    for (const r of rows) {
      const fresh = replayed(this.#extras(r)?.ttlMs, now);
      t.slot[r] = Slot.None;
      t.attempt[r] = fresh.attempt;
      t.availableAt[r] = fresh.availableAt;
      t.seq[r] = this.#seq++;
      t.expiresAt[r] = fresh.expiresAt ?? 0;
      this.#emit?.({ type: "replayed", queue: queue.name, id: t.id(r), at: now });
      this.#enqueue(queue, r, now);
    }
    this.#armTimer();
    return rows.length;
  }

  deleteDead(name: string, id: string): boolean {
    const queue = this.#requireQueue(name);
    const r = this.#deadRow(queue, id);
    if (r === NIL) return false;
    queue.dead.remove(r);
    this.#t.free(r);
    return true;
  }

  purgeDead(name: string): number {
    const queue = this.#requireQueue(name);
    const { rows } = queue.dead.clear();
    for (const r of rows) this.#t.free(r);
    return rows.length;
  }

  /** The row of dead letter `id` of `queue`, or NIL. */
  #deadRow(queue: QueueState, id: string): number {
    const t = this.#t;
    const r = t.find(id);
    return r !== NIL && t.slot[r] === Slot.Dead && t.queue[r] === queue.number ? r : NIL;
  }

  #deadLetter(queue: QueueState, r: number): DeadLetter {
    const t = this.#t;
    const dead = t.toStored(r, queue.name) as DeadLetter;
    dead.reason = t.deadReasonOf(r);
    dead.deadAt = t.endedAt[r];
    dead.lastError = this.#extras(r)?.lastError;
    return dead;
  }

  // ── status ──────────────────────────────────────────────────────────────────────────────

  /** The id an idempotency key of `queueName` maps to within its window; undefined for an unknown queue. */
  idempotentId(queueName: string, key: string): string | undefined {
    return this.#queues.get(queueName)?.peekIdempotentId(key, this.clock.now());
  }

  status(id: string): MessageStatus | undefined {
    this.#tick();
    const t = this.#t;
    const r = t.find(id);
    if (r === NIL) return undefined;
    const slot = t.slot[r];
    if (slot === Slot.Dead) {
      const status = this.#statusOf(r, "dead");
      status.deadAt = t.endedAt[r];
      status.deadReason = t.deadReasonOf(r);
      return status;
    }
    if (slot !== Slot.Completed) return this.#statusOf(r, t.state(r));
    const queue = this.#queueOf(r);
    if (!completedStatusVisible(t.endedAt[r], this.clock.now(), queue.options)) return undefined;
    const status = this.#statusOf(r, "completed");
    status.completedAt = t.endedAt[r];
    status.expiresAt = undefined;
    status.lastError = undefined;
    return status;
  }

  /**
   * Up to `limit` messages of a queue in `state`, past the first `offset`, in the order they will be (or were) handled:
   * ready in lease order; delayed by due time; leased by lease end; completed newest first.
   * Delayed and leased scan their timeline (every queue's): a view for people, not a hot path.
   */
  browse(name: string, state: BrowseState, limit: number, offset = 0): BrowsedMessage[] {
    this.#tick();
    const queue = this.#requireQueue(name);
    const t = this.#t;
    let rows: number[];
    if (state === "ready") {
      rows = queue.ready.firstN(offset + limit).slice(offset);
    } else if (state === "completed") {
      rows = [];
      const completed = queue.completed;
      let skipped = 0;
      for (let i = completed.length - 1; i >= 0 && rows.length < limit; i--) {
        const r = completed.at(i) as number;
        if (t.slot[r] !== Slot.Completed || !completedStatusVisible(t.endedAt[r], this.clock.now(), queue.options)) continue;
        if (skipped++ >= offset) rows.push(r);
      }
    } else {
      const timeline = state === "delayed" ? this.#delays : this.#leases;
      const due = state === "delayed" ? t.availableAt : t.leaseUntil;
      rows = timeline.items().filter((r) => t.queue[r] === queue.number);
      rows.sort((a, b) => due[a] - due[b] || t.seq[a] - t.seq[b]);
      rows = rows.slice(offset, offset + limit);
    }
    return rows.map((r) => {
      const status: BrowsedMessage = { ...this.#statusOf(r, state), body: undefined, headers: this.#extras(r)?.headers };
      if (state === "completed") {
        status.completedAt = t.endedAt[r];
        status.expiresAt = undefined;
        status.lastError = undefined;
      } else {
        status.body = t.body(r);
      }
      return status;
    });
  }

  /** A message's body and headers while the engine keeps them (waiting, leased, dead); undefined after the ack. */
  content(id: string): MessageContent | undefined {
    this.#tick();
    const t = this.#t;
    const r = t.find(id);
    if (r === NIL) return undefined;
    const slot = t.slot[r];
    if (slot === Slot.Completed || slot === Slot.Free) return undefined;
    return { id, queue: this.#queueOf(r).name, body: t.body(r), headers: this.#extras(r)?.headers };
  }

  #statusOf(r: number, state: MessageState): MessageStatus {
    const t = this.#t;
    const extras = this.#extras(r);
    const expiresAt = t.expiresAt[r];
    return {
      id: t.id(r),
      queue: this.#queueOf(r).name,
      state,
      attempt: t.attempt[r],
      maxAttempts: t.maxAttempts[r],
      priority: t.priority[r],
      groupKey: extras?.groupKey,
      publishedAt: t.publishedAt[r],
      availableAt: t.availableAt[r],
      expiresAt: expiresAt === 0 ? undefined : expiresAt,
      leaseUntil: state === "leased" ? t.leaseUntil[r] : undefined,
      completedAt: undefined,
      deadAt: undefined,
      deadReason: undefined,
      lastError: extras?.lastError,
      correlationId: extras?.correlationId,
      causationId: extras?.causationId,
      ...(extras?.progress !== undefined && { progress: JSON.parse(extras.progress) as unknown }),
      ...(extras?.result !== undefined && { result: JSON.parse(extras.result) as unknown }),
      ...(extras?.log !== undefined && { log: extras.log.map((entry) => ({ ...entry })) }),
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
    const t = this.#t;
    for (let r = this.#ttls.peek(); r !== undefined && isExpired(t.expiresAt[r], now); r = this.#ttls.peek()) {
      this.#kill(this.#queueOf(r), r, "expired", undefined, now);
    }
    for (let r = this.#delays.peek(); r !== undefined && t.availableAt[r] <= now; r = this.#delays.peek()) {
      const queue = this.#queueOf(r);
      this.#unslot(queue, r);
      queue.ready.append(r);
      this.#markDirty(queue);
    }
    for (let r = this.#leases.peek(); r !== undefined && t.leaseUntil[r] <= now; r = this.#leases.peek()) {
      const queue = this.#queueOf(r);
      this.#unslot(queue, r);
      const decision = decideLeaseExpiry(t.attempt[r], t.maxAttempts[r]);
      this.#emit?.({ type: "failed", queue: queue.name, id: t.id(r), at: now, attempt: t.attempt[r], error: LEASE_EXPIRED });
      if (decision.action === "dead") {
        this.#kill(queue, r, decision.reason, LEASE_EXPIRED, now);
      } else {
        t.extras.set(r, { ...this.#extras(r), lastError: LEASE_EXPIRED });
        queue.totals.retried++;
        t.availableAt[r] = now;
        this.#schedule(queue, r, now);
        if (t.slot[r] !== Slot.Dead) this.#emit?.({ type: "retry", queue: queue.name, id: t.id(r), at: now, attempt: t.attempt[r], availableAt: now });
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
    const t = this.#t;
    const delay = this.#delays.peek();
    if (delay !== undefined) next = t.availableAt[delay];
    const lease = this.#leases.peek();
    if (lease !== undefined && t.leaseUntil[lease] < next) next = t.leaseUntil[lease];
    const ttl = this.#ttls.peek();
    if (ttl !== undefined && t.expiresAt[ttl] < next) next = t.expiresAt[ttl];
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
    if (queue.dirty || !this.#watchers.has(queue.name)) return;
    queue.dirty = true; // a publish of 10k messages marks its queue once, not 10k times
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
    for (const queue of queues) queue.dirty = false;
    for (const queue of queues) {
      const listeners = this.#watchers.get(queue.name);
      if (listeners) for (const listener of [...listeners]) listener();
    }
  }

  // ── schedules (decided in core/schedule.ts: the engine keeps records and applies plans) ──

  /** Keeps `record` (a create, replace, pause or resume computed by the store). */
  putSchedule(record: ScheduleRecord): ScheduleRecord {
    this.#schedules.set(record.name, { ...record });
    return { ...record };
  }

  removeSchedule(name: string): boolean {
    return this.#schedules.delete(name);
  }

  getSchedule(name: string): ScheduleRecord | undefined {
    const record = this.#schedules.get(name);
    return record && { ...record };
  }

  /** Every schedule, by name. */
  listSchedules(): ScheduleRecord[] {
    return [...this.#schedules.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => ({ ...r }));
  }

  /**
   * Applies firing plans (core's `planDue`): per plan still current (the schedule exists, is not
   * paused and its nextRunAt is the plan's `due`), publishes the slot's message and moves
   * nextRunAt on, in this one call. A publish the target queue refuses (queue_full) skips the slot
   * and is noted on the schedule.
   */
  fireSchedules(plans: ScheduleFire[]): FiredSlot[] {
    const now = this.clock.now();
    const fired: FiredSlot[] = [];
    for (const plan of plans) {
      const record = this.#schedules.get(plan.name);
      if (!record || record.paused || record.nextRunAt !== plan.due) continue;
      if (plan.slot === undefined) {
        record.skipped++;
      } else {
        try {
          const [outcome] = this.publish([scheduledPublishInput(record, plan.slot)]);
          fired.push({ schedule: record.name, slot: plan.slot, queue: record.queue, id: outcome.id, duplicate: outcome.duplicate });
          record.fired++;
          record.lastSlotAt = plan.slot;
          record.lastFiredAt = now;
          record.lastError = null;
        } catch (error) {
          if (!(error instanceof SpoolError)) throw error;
          record.skipped++;
          record.lastError = `${error.code}: ${error.message}`;
        }
      }
      record.nextRunAt = plan.nextRunAt;
    }
    return fired;
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
    return this.#t.size;
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

  /** The earliest time at which time-driven work falls due (Infinity: none). */
  get nextDueAt(): number {
    return this.#computeNextDue();
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
    const t = this.#t;
    const timed = new Map<number, { delayed: number[]; leased: number[] }>();
    const bucket = (queue: number) => {
      let entry = timed.get(queue);
      if (!entry) timed.set(queue, (entry = { delayed: [], leased: [] }));
      return entry;
    };
    for (const r of this.#delays.items()) bucket(t.queue[r]).delayed.push(r);
    for (const r of this.#leases.items()) bucket(t.queue[r]).leased.push(r);
    const queues: QueueSnapshot[] = [];
    for (const queue of this.#queues.values()) {
      const { delayed, leased } = bucket(queue.number);
      queues.push({
        name: queue.name,
        options: queue.options,
        paused: queue.paused,
        totals: { ...queue.totals },
        limiterStamps: queue.limiter?.stamps() ?? [],
        ready: queue.ready.all(),
        delayed,
        leased,
        groups: [...queue.groups.values()].map((group) => ({
          key: group.key,
          activeId: group.active === NIL ? null : t.id(group.active),
          waiting: queue.groupLine(group),
        })),
        completed: [...queue.completed],
        dead: queue.dead.all(),
        dedup: [...queue.dedup].map(([key, r]) => [key, t.id(r)] as [string, string]),
        idempotency: queue.idempotencyEntries(),
      });
    }
    return { seq: this.#seq, deadSeq: this.#deadSeq, exchanges: this.listExchanges(), table: t, queues, schedules: this.listSchedules() };
  }

  /**
   * Replaces all state with `state` (on an engine that holds nothing yet). The engine takes over
   * `state.table`, whose rows carry, as their queue number, their queue's index in `state.queues`.
   */
  importState(state: EngineState): void {
    if (this.#queues.size > 0 || this.#t.size > 0) throw new Error("importState needs an empty engine");
    const t = (this.#t = state.table);
    // Numbered in snapshot order, as the loaded rows are.
    this.#queueByNumber = [];
    this.#freeQueueNumbers = [];
    this.#seq = state.seq;
    this.#deadSeq = state.deadSeq;
    for (const exchange of state.exchanges) this.#exchanges.set(exchange.name, exchange);
    for (const schedule of state.schedules ?? []) this.#schedules.set(schedule.name, { ...schedule });
    for (const snap of state.queues) {
      const queue = this.#createQueue(snap.name, snap.options);
      queue.paused = snap.paused;
      Object.assign(queue.totals, snap.totals);
      if (queue.limiter && snap.limiterStamps.length > 0) {
        for (const stamp of snap.limiterStamps) queue.limiter.record(stamp, 1);
      }
      const withTtl = (r: number) => {
        if (t.expiresAt[r] !== 0) this.#ttls.push(r);
      };
      for (const r of snap.ready) {
        queue.ready.append(r);
        withTtl(r);
      }
      for (const r of snap.delayed) {
        t.slot[r] = Slot.Delayed;
        this.#delays.push(r);
        queue.delayed++;
        withTtl(r);
      }
      for (const r of snap.leased) {
        t.slot[r] = Slot.Leased;
        this.#leases.push(r);
        queue.leased++;
      }
      for (const g of snap.groups) {
        const group: Group = { key: g.key, active: g.activeId === null ? NIL : t.find(g.activeId), head: NIL, tail: NIL };
        queue.groups.set(g.key, group);
        for (const r of g.waiting) {
          queue.appendToGroup(group, r);
          withTtl(r);
        }
      }
      for (const r of snap.completed) {
        t.slot[r] = Slot.Completed;
        queue.completed.push(r);
      }
      for (let i = 0; i < snap.dead.rows.length; i++) {
        const r = snap.dead.rows[i];
        t.slot[r] = Slot.Dead;
        queue.dead.add(r, snap.dead.deadSeqs[i]);
      }
      for (const [key, id] of snap.dedup) {
        const r = t.find(id);
        if (r !== NIL) queue.dedup.set(key, r);
      }
      for (const entry of snap.idempotency) queue.rememberKey(entry.key, entry.id, 0, entry.expiresAt);
    }
    this.restartTimer();
  }

  // ── helpers ─────────────────────────────────────────────────────────────────────────────

  #createQueue(name: string, options = resolveQueueOptions()): QueueState {
    const number = this.#freeQueueNumbers.pop() ?? this.#queueByNumber.length;
    const queue = new QueueState(name, number, options, this.#t);
    this.#queues.set(name, queue);
    this.#queueByNumber[number] = queue;
    return queue;
  }

  #queueOf(r: number): QueueState {
    return this.#queueByNumber[this.#t.queue[r]] as QueueState;
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
