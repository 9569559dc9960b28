/** A time for people: relative ("5 s ago"), with the absolute date and time beside it. */
import { absoluteTime, relative } from "../lib/format.js";
import { useNow } from "../lib/hooks.js";

export function Time({ at, compact = false }: { at: number | undefined; compact?: boolean }) {
  const now = useNow();
  if (at === undefined) return <span class="muted">–</span>;
  const iso = new Date(at).toISOString();
  return (
    <span class="time">
      <time dateTime={iso} title={absoluteTime(at)}>
        {relative(at, now)}
      </time>
      {!compact && (
        <span class="abs">
          <span class="sep"> · </span>
          {absoluteTime(at)}
        </span>
      )}
    </span>
  );
}
