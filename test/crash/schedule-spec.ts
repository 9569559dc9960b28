/** What schedule-host.ts and schedule-crash.test.ts agree on. */
export const SCHEDULE_NAME = "beat";
export const SCHEDULE_QUEUE = "beats";
