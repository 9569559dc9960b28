/** A batch's progress: one bar, a segment per status in the order recipients move through them. */
import { count } from "../lib/format.js";
import { BATCH_STATUSES, type BatchCounts, type BatchStatus } from "../lib/types.js";

/** Finished statuses first, so the bar fills from the left; those still on their way after them. */
const BAR_ORDER: readonly BatchStatus[] = ["read", "delivered", "sent", "failed", "queued", "pending"];

export function StackedBar({ counts, total }: { counts: BatchCounts; total: number }) {
  const done = counts.sent + counts.delivered + counts.read + counts.failed;
  return (
    <div class="stacked" role="img" aria-label={`${count(done)} of ${count(total)} done: ${BATCH_STATUSES.map((s) => `${count(counts[s])} ${s}`).join(", ")}`}>
      {BAR_ORDER.map((status) =>
        counts[status] > 0 ? <span key={status} class={`seg s-${status}`} style={{ width: `${(counts[status] / Math.max(total, 1)) * 100}%` }} /> : null,
      )}
    </div>
  );
}

export function StatusLegend({ counts }: { counts: BatchCounts }) {
  return (
    <ul class="legend">
      {BATCH_STATUSES.map((status) => (
        <li key={status}>
          <span class={`dot s-${status}`} aria-hidden="true" />
          {status} <strong data-status={status}>{count(counts[status])}</strong>
        </li>
      ))}
    </ul>
  );
}
