/**
 * What a store shows from the outside, gathered in one value so two stores (or one store before
 * and after a reopen) can be compared with a single `toEqual`: the queue list with options, the
 * exchange list with bindings, every queue's stats, every queue's dead letters (read page by page,
 * so cursors are exercised), and `status(id)` of every id asked about.
 *
 * Reads may tick the engine (a TTL or lease that fell due), which the journal logs; that is
 * part of what is being compared, not a side effect to avoid.
 */
import type { DeadLetter, ExchangeInfo, MessageStatus, QueueInfo, QueueStats, Store } from "../../src/index.js";

export interface Observation {
  queues: QueueInfo[];
  exchanges: ExchangeInfo[];
  stats: QueueStats[];
  dead: Record<string, DeadLetter[]>;
  statuses: Array<MessageStatus | null>;
}

/** Every dead letter of `queue`, oldest first, read `pageSize` at a time. */
export async function allDeadLetters(store: Store, queue: string, pageSize = 3): Promise<DeadLetter[]> {
  const items: DeadLetter[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages > 1_000_000) throw new Error(`dead letters of ${queue}: the cursor never ends`);
    const page = await store.listDead(queue, { cursor, limit: pageSize });
    items.push(...page.items);
    if (page.nextCursor === undefined) return items;
    cursor = page.nextCursor;
  }
}

export async function observe(store: Store, ids: readonly string[], pageSize = 3): Promise<Observation> {
  const queues = await store.listQueues();
  const stats: QueueStats[] = [];
  const dead: Record<string, DeadLetter[]> = {};
  for (const queue of queues) {
    stats.push(await store.stats(queue.name));
    dead[queue.name] = await allDeadLetters(store, queue.name, pageSize);
  }
  const statuses: Array<MessageStatus | null> = [];
  for (const id of ids) statuses.push((await store.status(id)) ?? null);
  return { queues, exchanges: await store.listExchanges(), stats, dead, statuses };
}

/**
 * A JSON-plain copy (drops `undefined`, turns -0 into 0), with every string found in `rename`
 * replaced: how ids and lease tokens of one store are translated into another's for comparison.
 */
export function plain<T>(value: T, rename?: ReadonlyMap<string, string>): T {
  if (value === undefined) return value;
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "string" && rename?.has(v) ? rename.get(v) : v));
  return JSON.parse(json) as T;
}
