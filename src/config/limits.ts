/**
 * Every bound a caller's value is checked against, in one place: the schemas (library options,
 * HTTP bodies, config files), the hand checks of hot paths and the docs read them from here.
 */
export const limits = {
  /** The longest lease (visibility timeout), handler timeout or lease extension: 12 hours. */
  maxLeaseMs: 12 * 3_600_000,
  /** The longest delay of a publish, a nack or a Retry-After: 366 days. */
  maxDelayMs: 366 * 86_400_000,
  /** The longest a lease request may long-poll. */
  maxWaitMs: 30_000,
  /** Most messages one lease hands out. */
  maxLeaseBatch: 1000,
  /** Most dead letters one page lists. */
  maxDeadLetterPage: 1000,
  /** Messages one browse lists (queue.browse, GET /v1/queues/:q/messages). */
  maxBrowse: 100,
  /** The furthest one browse reaches into a state's messages (people page; they do not read a million). */
  maxBrowseOffset: 100_000,
  /** The longest a publish waits for room in a full queue with overflow `block`: 1 hour. */
  maxPublishWaitMs: 3_600_000,
  /** The shortest interval of an everyMs schedule. */
  minScheduleEveryMs: 10,
  /** Most messages one publishMany takes. */
  maxPublishBatch: 10_000,
} as const;
