/** Spool's public API: explicit named exports only. */
export { Spool, type SpoolOptions } from "./spool.js";
export { Queue, type LeaseOptions, type QueueStatsWithWorkers, type DeadLetterView, type BrowseOptions, type BrowsedMessageView } from "./queue.js";
export {
  Worker,
  HandlerTimeoutError,
  WorkerClosedError,
  type Handler,
  type HandlerContext,
  type WorkerEvents,
} from "./worker/worker.js";
export type { CircuitState } from "./worker/circuit-breaker.js";
export type { NackOptions } from "./core/operations.js";
export { SpoolClient, type SpoolClientOptions, type ScaleResult } from "./client/spool-client.js";
export type { RemoteEventsOptions, DroppedEvents } from "./client/remote-events.js";
export { RemoteQueue, type RemoteQueueStats } from "./client/remote-queue.js";
export type { Message, LeasedMessage, PublishItem, PublishCallOptions, PublishResult, ExchangePublishResult } from "./message-types.js";
export {
  SpoolError,
  ValidationError,
  NotFoundError,
  LeaseLostError,
  QueueFullError,
  TooLargeError,
  UnavailableError,
  UnsupportedError,
  ConflictError,
  PermanentError,
  TransientError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetail,
} from "./core/errors.js";
export type {
  MessageState,
  DeadReason,
  FailureKind,
  FailureInfo,
  MessageStatus,
  BrowseState,
  BrowsedMessage,
  MessageContent,
  DeadLetter,
  QueueStats,
  QueueCounts,
  QueueTotals,
  StoredMessage,
  LeasedStoredMessage,
} from "./core/message.js";
export type {
  QueueOptions,
  ResolvedQueueOptions,
  PublishOptions,
  WorkerOptions,
  CircuitBreakerOptions,
  BackoffOptions,
  RateLimit,
} from "./config/schemas.js";
export { defaults } from "./config/defaults.js";
export type { ScheduleSpec } from "./config/schedule-schemas.js";
export type { ScheduleInfo } from "./scheduler.js";
export type { CatchUp, FireResult, FiredSlot, ScheduleDefinition, ScheduleMessageOptions, ScheduleRecord } from "./core/schedule.js";
export type { ExchangeType, ExchangeInfo, Binding } from "./routing/route.js";
export type { Store, StoreCapabilities, StorePublishOptions } from "./store/store.js";
export type { AckItem, AckOutcome, AckRequest, DeadLetterPage, LeaseRequest, NackOutcome, NackRequest, ProgressReport, PublishInput, PublishOutcome, ReplaySelection, ReportOptions } from "./core/operations.js";
export type { DeadLetterTarget } from "./core/dead-letter.js";
export { STORY_LIMITS, type MessageLogEntry } from "./core/story.js";
export type { QueueInfo } from "./config/schemas.js";
export { memoryStore, type MemoryStoreOptions } from "./store/memory/memory-store.js";
export { journalStore, JournalStore, type JournalStoreOptions } from "./store/journal/journal-store.js";
export { postgresStore, PostgresStore, POSTGRES_CAPABILITIES, type PostgresStoreOptions } from "./store/postgres/postgres-store.js";
export { migratePostgresSchema, type MigrateSchemaOptions, type MigrateSchemaResult } from "./store/postgres/migrate-schema.js";
export type { FsyncPolicy } from "./log/segment-log.js";
export type { JournalWarning } from "./log/recovery.js";
export { ManualClock, systemClock, type Clock, type TimerHandle } from "./util/clock.js";
export { QUEUE_EVENT_TYPES } from "./core/queue-events.js";
export type {
  QueueEvent,
  QueueEventType,
  QueueEventOf,
  QueueEventSink,
  PublishedEvent,
  ActiveEvent,
  ProgressEvent,
  CompletedEvent,
  FailedEvent,
  RetryEvent,
  ReleasedEvent,
  DeadEvent,
  ReplayedEvent,
} from "./core/queue-events.js";
export type { QueueEventName, QueueEventListener } from "./queue-event-listeners.js";
