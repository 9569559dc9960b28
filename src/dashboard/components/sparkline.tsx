/** A rate over the last minute as a small line, with the latest value in words beside it. */
import { perSec } from "../lib/format.js";
import { HISTORY } from "../lib/live-stats.js";

const WIDTH = 120;
const HEIGHT = 28;

export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const latest = values.length === 0 ? 0 : values[values.length - 1];
  const peak = Math.max(0, ...values);
  const max = Math.max(1, peak);
  const step = WIDTH / (HISTORY - 1);
  const offset = (HISTORY - values.length) * step;
  const points = values.map((value, i) => `${(offset + i * step).toFixed(1)},${(HEIGHT - 2 - (value / max) * (HEIGHT - 4)).toFixed(1)}`).join(" ");
  return (
    <span class="spark" title={`${label}: ${perSec(latest)} now, peak ${perSec(peak)} in the last minute`}>
      <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${label} over the last minute`}>
        <line x1="0" y1={HEIGHT - 1} x2={WIDTH} y2={HEIGHT - 1} class="spark-base" />
        {values.length > 1 && <polyline points={points} class="spark-line" />}
      </svg>
      <span class="spark-value">{perSec(latest)}</span>
    </span>
  );
}
