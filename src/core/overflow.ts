/**
 * Decides what a publish does to a queue at its `maxLength` (backpressure): `reject` refuses the
 * whole publish (atomically: all of it fits or none is enqueued); `block` refuses it the same way
 * at the store, and the library's publish waits for room and tries again (a bounded channel);
 * `drop-oldest` accepts it and dead-letters the oldest ready messages (reason `overflow`) until
 * the queue fits again.
 */
export type OverflowPolicy = "reject" | "block" | "drop-oldest";

export type OverflowDecision = { action: "accept" } | { action: "reject" } | { action: "drop-oldest"; count: number };

export interface OverflowInput {
  /** Messages waiting (ready, delayed, behind their group) before the publish. */
  waiting: number;
  /** New messages the publish adds (duplicates and in-place replacements add none). */
  adding: number;
  maxLength: number | undefined;
  overflow: OverflowPolicy;
}

export function decideOverflow({ waiting, adding, maxLength, overflow }: OverflowInput): OverflowDecision {
  if (maxLength === undefined || waiting + adding <= maxLength) return { action: "accept" };
  if (overflow !== "drop-oldest") return { action: "reject" };
  return { action: "drop-oldest", count: waiting + adding - maxLength };
}
