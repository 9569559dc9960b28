/**
 * Migration: schedules. One row per schedule: its record as core/schedule.ts defines it (jsonb),
 * with the two fields the firing query selects on as columns. Firing (`schedules.ts`) takes the
 * due rows FOR UPDATE SKIP LOCKED, publishes each slot's message and writes the row back in one
 * transaction, so two processes never fire one slot.
 */
export function migrationSchedules(s: string): string {
  return /* sql */ `
CREATE TABLE ${s}.schedules (
  name text PRIMARY KEY,
  record jsonb NOT NULL,
  paused boolean NOT NULL,
  next_run_at bigint
);
CREATE INDEX schedules_due ON ${s}.schedules (next_run_at) WHERE NOT paused AND next_run_at IS NOT NULL;
`;
}
