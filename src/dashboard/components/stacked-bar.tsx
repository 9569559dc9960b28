/** A batch's progress: one bar, a segment per status in the order recipients move through them. */
import { count } from "../lib/format.js";
import { BATCH_STATUSES, type BatchCounts } from "../lib/types.js";

export function StackedBar({ counts, total }: { counts: BatchCounts; total: number }) {
  const done = counts.sent + counts.delivered + counts.read + counts.failed;
  return (
    <div class="stacked" role="img" aria-label={`${count(done)} of ${count(total)} done: ${BATCH_STATUSES.map((s) => `${count(counts[s])} ${s}`).join(", ")}`}>
      {BATCH_STATUSES.map((status) =>
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
