/**
 * A reference model of one queue's consume-side semantics, for the model-based conformance run.
 * Obviously correct over fast: plain arrays and linear scans, no indexes, no timers. Time moves
 * only through `advance(ms)`, which visits every due time in order.
 *
 * What it models (DESIGN §1): priorities (strict between levels, FIFO within one), delays,
 * ordering groups (one message of a group out at a time, in publish order), TTL, leases with
 * tokens, ack / nack / extend, lease expiry (counted as an attempt), retries with backoff and
 * error classification, maxAttempts (per queue or per message), dead letters.
 *
 * Tie-breaks DESIGN leaves open, mirrored from the engine:
 * - A message that becomes ready (published, delay due, retried, lease expired, group turn)
 *   joins the tail of its priority level.
 * - At one instant, work is done in this order: TTLs expire (by expiresAt, then publish order),
 *   then delays fall due (by availableAt, then publish order), then leases expire (by
 *   leaseUntil, then publish order).
 * - When a group's active message is done, its next message takes the turn at once; waiting
 *   messages whose TTL has passed are skipped (dead, `expired`).
 */
export type RefState = "ready" | "delayed" | "leased" | "waiting" | "completed" | "dead";
export type RefErrorKind = "error" | "transient" | "permanent";
export type RefDeadReason = "max_attempts" | "permanent_error" | "expired";

export interface RefBackoff {
  type: "fixed" | "exponential";
  baseMs: number;
  factor: number;
  maxMs: number;
  jitter: "full" | "none";
}

export interface RefQueueOptions {
  maxAttempts: number;
  leaseMs: number;
  backoff: RefBackoff;
  /** The constant the store's random source returns (jitter). */
  random: number;
}

export interface RefPublish {
  priority: number;
  delayMs: number;
  groupKey?: string;
  ttlMs?: number;
  maxAttempts?: number;
}

export interface RefMessage {
  readonly id: string;
  /** Publish order. */
  readonly seq: number;
  readonly priority: number;
  readonly groupKey: string | undefined;
  readonly expiresAt: number | undefined;
  readonly maxAttempts: number;
  state: RefState;
  availableAt: number;
  attempt: number;
  leaseToken: string | undefined;
  leaseUntil: number;
  /** Every token this message was ever leased with, oldest first. */
  tokens: string[];
  deadReason: RefDeadReason | undefined;
}

export interface RefStats {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  totals: { published: number; completed: number; retried: number; dead: number };
}

export type RefNackOutcome =
  | { state: "ready" | "delayed"; availableAt: number }
  | { state: "dead"; deadReason: RefDeadReason }
  | "lease_lost";

interface RefGroup {
  active: RefMessage | undefined;
  waiting: RefMessage[];
}

export class ReferenceQueue {
  now: number;
  readonly options: RefQueueOptions;
  /** Every message ever published, in publish order. */
  readonly messages: RefMessage[] = [];
  /** Ready messages in the order they became ready. */
  #readyLine: RefMessage[] = [];
  readonly #groups = new Map<string, RefGroup>();
  /** Dead messages in the order they died. */
  readonly #deadLine: RefMessage[] = [];
  readonly #totals = { published: 0, completed: 0, retried: 0, dead: 0 };

  constructor(now: number, options: RefQueueOptions) {
    this.now = now;
    this.options = options;
  }

  get(id: string): RefMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }

  inState(state: RefState): RefMessage[] {
    return this.messages.filter((m) => m.state === state);
  }

  publish(id: string, input: RefPublish): void {
    const message: RefMessage = {
      id,
      seq: this.messages.length,
      priority: input.priority,
      groupKey: input.groupKey,
      expiresAt: input.ttlMs === undefined ? undefined : this.now + input.ttlMs,
      maxAttempts: input.maxAttempts ?? this.options.maxAttempts,
      state: "ready",
      availableAt: this.now + input.delayMs,
      attempt: 0,
      leaseToken: undefined,
      leaseUntil: 0,
      tokens: [],
      deadReason: undefined,
    };
    this.messages.push(message);
    this.#totals.published++;
    if (message.groupKey !== undefined) {
      let group = this.#groups.get(message.groupKey);
      if (!group) this.#groups.set(message.groupKey, (group = { active: undefined, waiting: [] }));
      if (group.active) {
        message.state = "waiting";
        group.waiting.push(message);
        return;
      }
      group.active = message;
    }
    this.#schedule(message);
  }

  /** The ids a lease of up to `max` hands out, in order. Tokens come later, from the real store. */
  lease(max: number, leaseMs = this.options.leaseMs): RefMessage[] {
    const out: RefMessage[] = [];
    while (out.length < max) {
      let best: RefMessage | undefined;
      for (const m of this.#readyLine) if (!best || m.priority > best.priority) best = m;
      if (!best) break;
      this.#readyLine = this.#readyLine.filter((m) => m !== best);
      best.state = "leased";
      best.attempt++;
      best.leaseUntil = this.now + leaseMs;
      best.leaseToken = undefined;
      out.push(best);
    }
    return out;
  }

  setToken(id: string, token: string): void {
    const message = this.get(id) as RefMessage;
    message.leaseToken = token;
    message.tokens.push(token);
  }

  #leased(id: string, token: string): RefMessage | undefined {
    const message = this.get(id);
    return message && message.state === "leased" && message.leaseToken === token ? message : undefined;
  }

  ack(id: string, token: string): boolean {
    const message = this.#leased(id, token);
    if (!message) return false;
    message.state = "completed";
    message.leaseToken = undefined;
    this.#totals.completed++;
    this.#passTurn(message);
    return true;
  }

  nack(id: string, token: string, kind: RefErrorKind, delayMs: number | undefined): RefNackOutcome {
    const message = this.#leased(id, token);
    if (!message) return "lease_lost";
    message.leaseToken = undefined;
    if (kind === "permanent") return this.#die(message, "permanent_error");
    if (message.attempt >= message.maxAttempts) return this.#die(message, "max_attempts");
    const delay = delayMs ?? (kind === "transient" ? 0 : this.backoff(message.attempt));
    this.#totals.retried++;
    message.availableAt = this.now + delay;
    this.#schedule(message);
    if (message.state === "dead") return { state: "dead", deadReason: "expired" };
    return { state: delay > 0 ? "delayed" : "ready", availableAt: message.availableAt };
  }

  extend(id: string, token: string, leaseMs: number): number | "lease_lost" {
    const message = this.#leased(id, token);
    if (!message) return "lease_lost";
    message.leaseUntil = this.now + leaseMs;
    return message.leaseUntil;
  }

  /** The retry delay after failed delivery number `attempt`. */
  backoff(attempt: number): number {
    const { type, baseMs, factor, maxMs, jitter } = this.options.backoff;
    let raw = baseMs;
    if (type === "exponential") for (let i = 1; i < attempt; i++) raw *= factor;
    const capped = Math.min(maxMs, raw);
    return Math.round(jitter === "full" ? this.options.random * capped : capped);
  }

  /** Moves time forward, doing at each due instant on the way whatever falls due then. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const due = this.#nextDue();
      if (due === undefined || due > target) break;
      this.now = due;
      this.#runDue();
    }
    this.now = target;
  }

  stats(): RefStats {
    return {
      ready: this.#readyLine.length + this.inState("waiting").length,
      delayed: this.inState("delayed").length,
      leased: this.inState("leased").length,
      dead: this.#deadLine.length,
      totals: { ...this.#totals },
    };
  }

  deadIds(): string[] {
    return this.#deadLine.map((m) => m.id);
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  #nextDue(): number | undefined {
    const times: number[] = [];
    for (const m of this.messages) {
      if ((m.state === "ready" || m.state === "delayed" || m.state === "waiting") && m.expiresAt !== undefined) times.push(m.expiresAt);
      if (m.state === "delayed") times.push(m.availableAt);
      if (m.state === "leased") times.push(m.leaseUntil);
    }
    return times.length === 0 ? undefined : Math.min(...times);
  }

  #runDue(): void {
    const now = this.now;
    const byKey = (key: (m: RefMessage) => number) => (a: RefMessage, b: RefMessage) => key(a) - key(b) || a.seq - b.seq;

    // 1. TTLs, one at a time (a death may pass a group's turn on).
    for (;;) {
      const expired = this.messages
        .filter((m) => (m.state === "ready" || m.state === "delayed" || m.state === "waiting") && m.expiresAt !== undefined && m.expiresAt <= now)
        .sort(byKey((m) => m.expiresAt as number));
      if (expired.length === 0) break;
      this.#die(expired[0], "expired");
    }
    // 2. Delays.
    for (const m of this.inState("delayed").filter((m) => m.availableAt <= now).sort(byKey((m) => m.availableAt))) {
      m.state = "ready";
      this.#readyLine.push(m);
    }
    // 3. Lease expiries: counted as an attempt.
    for (const m of this.inState("leased").filter((m) => m.leaseUntil <= now).sort(byKey((m) => m.leaseUntil))) {
      m.leaseToken = undefined;
      if (m.attempt >= m.maxAttempts) {
        this.#die(m, "max_attempts");
      } else {
        this.#totals.retried++;
        m.availableAt = now;
        this.#schedule(m);
      }
    }
  }

  /** Ready now, or delayed until availableAt; dead if its TTL has passed. */
  #schedule(message: RefMessage): void {
    if (message.expiresAt !== undefined && message.expiresAt <= this.now) {
      this.#die(message, "expired");
    } else if (message.availableAt > this.now) {
      message.state = "delayed";
    } else {
      message.state = "ready";
      this.#readyLine.push(message);
    }
  }

  #die(message: RefMessage, reason: RefDeadReason): { state: "dead"; deadReason: RefDeadReason } {
    this.#bury(message, reason);
    this.#passTurn(message);
    return { state: "dead", deadReason: reason };
  }

  #bury(message: RefMessage, reason: RefDeadReason): void {
    this.#readyLine = this.#readyLine.filter((m) => m !== message);
    const group = message.groupKey === undefined ? undefined : this.#groups.get(message.groupKey);
    if (group) group.waiting = group.waiting.filter((m) => m !== message);
    message.state = "dead";
    message.deadReason = reason;
    message.leaseToken = undefined;
    this.#deadLine.push(message);
    this.#totals.dead++;
  }

  /** When a group's active message is done (completed or dead), the next in line takes its turn. */
  #passTurn(message: RefMessage): void {
    if (message.groupKey === undefined) return;
    const group = this.#groups.get(message.groupKey);
    if (!group || group.active !== message) return;
    for (;;) {
      group.active = undefined;
      const next = group.waiting.shift();
      if (!next) {
        this.#groups.delete(message.groupKey);
        return;
      }
      if (next.expiresAt !== undefined && next.expiresAt <= this.now) {
        this.#bury(next, "expired");
        continue;
      }
      group.active = next;
      this.#schedule(next);
      return;
    }
  }
}
