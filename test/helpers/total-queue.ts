/**
 * The Jepsen total-queue checker (RELIABILITY.md, "How a crash test checks its results").
 *
 * A workload records every publish and ack it attempted, keyed by the `{producer, seq}` body it
 * produced: `ok` once the call resolved (and, across processes, once the observer heard so),
 * `unknown` while no answer came (the process died, or the call failed `unavailable`, which means
 * "outcome unknown"). After the final restart the harness drains every queue and the dead-letter
 * queue and asks `status(id)` of every id it knows; `check` turns that into the figures:
 *
 *   lost               ok-publishes found nowhere (not delivered, not dead, not completed)
 *   unexpected         found but never attempted
 *   acked-redelivered  an ack resolved, yet the message came back (delivered again or dead)
 *   acked-not-completed an ack resolved, yet status(id) does not say completed
 *   duplicated         one body found more than once, or under two ids
 *   recovered-unknown  unknown publishes that turned up (allowed)
 */
import type { DeadLetter, LeasedStoredMessage, ManualClock, MessageStatus, Store } from "../../src/index.js";
import { allDeadLetters } from "./store-observe.js";

export type Outcome = "ok" | "unknown";

export interface Body {
  producer: string;
  seq: number;
}

export function keyOf(body: Body): string {
  return `${body.producer}:${body.seq}`;
}

export class History {
  readonly publishes = new Map<string, { outcome: Outcome; id?: string }>();
  /** Acks by key; `ok` is sticky (a later attempt with another token cannot undo it). */
  readonly acks = new Map<string, { id: string; outcome: Outcome }>();
  /** Every id this history has seen for a key (publish answers, leases). */
  readonly ids = new Map<string, string>();

  publishInvoked(key: string): void {
    if (!this.publishes.has(key)) this.publishes.set(key, { outcome: "unknown" });
  }

  publishOk(key: string, id: string): void {
    this.publishes.set(key, { outcome: "ok", id });
    this.ids.set(key, id);
  }

  leased(key: string, id: string): void {
    this.ids.set(key, id);
  }

  ackInvoked(key: string, id: string): void {
    this.ids.set(key, id);
    if (this.acks.get(key)?.outcome !== "ok") this.acks.set(key, { id, outcome: "unknown" });
  }

  ackOk(key: string, id: string): void {
    this.acks.set(key, { id, outcome: "ok" });
  }

  get okPublishes(): number {
    let n = 0;
    for (const p of this.publishes.values()) if (p.outcome === "ok") n++;
    return n;
  }

  get okAcks(): number {
    let n = 0;
    for (const a of this.acks.values()) if (a.outcome === "ok") n++;
    return n;
  }
}

export interface Found {
  key: string;
  id: string;
}

export interface Recovered {
  /** Deliveries of the final drain. */
  delivered: Found[];
  dead: Found[];
  /** Messages whose status(id) says completed. */
  completed: Found[];
  /** Ids whose status(id) was asked, with the answer. */
  statuses: Map<string, MessageStatus | undefined>;
}

export interface Figures {
  attempted: number;
  okPublishes: number;
  unknownPublishes: number;
  okAcks: number;
  lost: number;
  unexpected: number;
  ackedRedelivered: number;
  ackedNotCompleted: number;
  duplicated: number;
  recoveredUnknown: number;
  delivered: number;
  dead: number;
  completed: number;
  /** A few keys per non-zero figure, for the failure message. */
  examples: Record<string, string[]>;
}

export function check(history: History, recovered: Recovered): Figures {
  const foundIds = new Map<string, Set<string>>();
  const foundCount = new Map<string, number>();
  const note = (f: Found) => {
    let ids = foundIds.get(f.key);
    if (!ids) foundIds.set(f.key, (ids = new Set()));
    ids.add(f.id);
  };
  for (const f of [...recovered.delivered, ...recovered.dead]) {
    note(f);
    foundCount.set(f.key, (foundCount.get(f.key) ?? 0) + 1);
  }
  for (const f of recovered.completed) note(f);

  const examples: Record<string, string[]> = {};
  const count = (name: string, keys: Iterable<string>): number => {
    const list = [...keys];
    if (list.length > 0) examples[name] = list.slice(0, 5);
    return list.length;
  };
  const okKeys = [...history.publishes].filter(([, p]) => p.outcome === "ok").map(([key]) => key);
  const unknownKeys = [...history.publishes].filter(([, p]) => p.outcome === "unknown").map(([key]) => key);
  const ackedKeys = [...history.acks].filter(([, a]) => a.outcome === "ok").map(([key, a]) => ({ key, id: a.id }));

  return {
    attempted: history.publishes.size,
    okPublishes: okKeys.length,
    unknownPublishes: unknownKeys.length,
    okAcks: ackedKeys.length,
    lost: count("lost", okKeys.filter((key) => !foundIds.has(key))),
    unexpected: count("unexpected", [...foundIds.keys()].filter((key) => !history.publishes.has(key))),
    ackedRedelivered: count("ackedRedelivered", ackedKeys.filter(({ key }) => foundCount.has(key)).map(({ key }) => key)),
    ackedNotCompleted: count(
      "ackedNotCompleted",
      ackedKeys.filter(({ id }) => recovered.statuses.has(id) && recovered.statuses.get(id)?.state !== "completed").map(({ key }) => key),
    ),
    duplicated: count("duplicated", [...foundIds.keys()].filter((key) => (foundCount.get(key) ?? 0) > 1 || (foundIds.get(key)?.size ?? 0) > 1)),
    recoveredUnknown: count("recoveredUnknown", unknownKeys.filter((key) => foundIds.has(key))),
    delivered: recovered.delivered.length,
    dead: recovered.dead.length,
    completed: recovered.completed.length,
    examples,
  };
}

/** Seqs of each producer found anywhere; `holes` lists producers whose found seqs are not 0..n. */
export function prefixHoles(recovered: Recovered): string[] {
  const seqs = new Map<string, Set<number>>();
  for (const f of [...recovered.delivered, ...recovered.dead, ...recovered.completed]) {
    const cut = f.key.lastIndexOf(":");
    const producer = f.key.slice(0, cut);
    let set = seqs.get(producer);
    if (!set) seqs.set(producer, (set = new Set()));
    set.add(Number(f.key.slice(cut + 1)));
  }
  const holes: string[] = [];
  for (const [producer, set] of seqs) {
    const max = Math.max(...set);
    for (let seq = 0; seq <= max; seq++) {
      if (!set.has(seq)) {
        holes.push(`${producer}:${seq} missing below ${producer}:${max}`);
        break;
      }
    }
  }
  return holes;
}

export interface DrainResult {
  recovered: Recovered;
  /** Stats before the drain, summed over the queues. */
  before: { live: number; dead: number };
  /** Dead letters listed before the drain. */
  deadBefore: number;
}

function bodyKey(body: string): string {
  return keyOf(JSON.parse(body) as Body);
}

/**
 * Delivers and acks everything left in the `wanted` queues that exist (moving `clock` on by `stepMs` whenever only
 * leased or delayed messages remain, so held leases expire and delays fall due), then lists the
 * dead letters and asks `status` of every id in `knownIds`. Uses the Store interface directly.
 */
export async function drainAll(store: Store, clock: ManualClock, wanted: readonly string[], knownIds: Iterable<string>, stepMs: number): Promise<DrainResult> {
  // A queue whose declaration was never synced (fsync `never`) may be gone: nothing to drain there.
  const existing = new Set((await store.listQueues()).map((q) => q.name));
  const queues = wanted.filter((name) => existing.has(name));
  const before = { live: 0, dead: 0 };
  let deadBefore = 0;
  for (const queue of queues) {
    const stats = await store.stats(queue);
    before.live += stats.ready + stats.delayed + stats.leased;
    before.dead += stats.dead;
    deadBefore += (await allDeadLetters(store, queue, 500)).length;
    if (stats.paused) await store.setPaused(queue, false);
  }
  const delivered: LeasedStoredMessage[] = [];
  for (let round = 0; ; round++) {
    if (round > 10_000) throw new Error("drain: the queues never emptied");
    let got = 0;
    for (const queue of queues) {
      const leased = await store.lease(queue, { max: 1000 });
      if (leased.length === 0) continue;
      got += leased.length;
      delivered.push(...leased);
      const outcomes = await store.ackMany(leased.map((m) => ({ id: m.id, leaseToken: m.leaseToken })));
      const failed = outcomes.filter((o) => !o.ok);
      if (failed.length > 0) throw new Error(`drain: acks failed for ${failed.map((o) => o.id).join(", ")}`);
    }
    if (got > 0) continue;
    let waiting = 0;
    for (const queue of queues) {
      const stats = await store.stats(queue);
      waiting += stats.ready + stats.delayed + stats.leased;
    }
    if (waiting === 0) break;
    clock.advance(stepMs);
  }
  const dead: DeadLetter[] = [];
  for (const queue of queues) dead.push(...(await allDeadLetters(store, queue, 500)));
  const statuses = new Map<string, MessageStatus | undefined>();
  const completed: Found[] = [];
  const deliveredIds = new Map(delivered.map((m) => [m.id, bodyKey(m.body)]));
  for (const id of knownIds) {
    const status = await store.status(id);
    statuses.set(id, status);
    if (status?.state === "completed" && !deliveredIds.has(id)) completed.push({ key: "", id });
  }
  return {
    recovered: {
      delivered: delivered.map((m) => ({ key: bodyKey(m.body), id: m.id })),
      dead: dead.map((d) => ({ key: bodyKey(d.body), id: d.id })),
      completed,
      statuses,
    },
    before,
    deadBefore,
  };
}

/** Fills in the keys of completed messages (status does not carry bodies) from what the history saw. */
export function keyCompleted(recovered: Recovered, history: History): void {
  const keyById = new Map<string, string>();
  for (const [key, id] of history.ids) keyById.set(id, key);
  recovered.completed = recovered.completed.map((f) => ({ id: f.id, key: keyById.get(f.id) ?? `?${f.id}` }));
}

export function formatFigures(label: string, f: Figures, extra: Record<string, string | number> = {}): string {
  const parts = [
    `attempted=${f.attempted}`,
    `ok=${f.okPublishes}`,
    `unknown=${f.unknownPublishes}`,
    `acked=${f.okAcks}`,
    `lost=${f.lost}`,
    `unexpected=${f.unexpected}`,
    `acked-redelivered=${f.ackedRedelivered}`,
    `acked-not-completed=${f.ackedNotCompleted}`,
    `duplicated=${f.duplicated}`,
    `recovered-unknown=${f.recoveredUnknown}`,
    `drained=${f.delivered}`,
    `dead=${f.dead}`,
    `completed=${f.completed}`,
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ];
  return `${label}: ${parts.join(" ")}`;
}
