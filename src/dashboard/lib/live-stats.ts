/**
 * The overview's live numbers: one `GET /v1/stats/stream` for the whole tab. Each `stats` event
 * replaces the snapshot, and per queue the change of its totals since the last event gives this
 * second's publish and ack rates, kept for the sparklines (the last HISTORY points). The server's
 * own `rates` are a one-minute average; the sparklines show the seconds.
 */
import { useEffect, useState } from "preact/hooks";
import type { ApiError } from "./api.js";
import { openEventStream, type StreamState } from "./event-stream.js";
import type { StatsEvent } from "./types.js";

export const HISTORY = 60;

export interface RatePoint {
  published: number;
  completed: number;
}

export interface LiveStats {
  state: StreamState;
  error?: ApiError;
  snapshot?: StatsEvent;
  /** Per queue, oldest first, at most HISTORY points a second apart. */
  history: Map<string, RatePoint[]>;
}

let live: LiveStats = { state: "connecting", history: new Map() };
const listeners = new Set<(stats: LiveStats) => void>();
let close: (() => void) | undefined;

function publish(next: LiveStats): void {
  live = next;
  for (const listener of [...listeners]) listener(live);
}

function onStats(next: StatsEvent): void {
  const previous = live.snapshot;
  const history = new Map<string, RatePoint[]>();
  const seconds = previous === undefined ? 0 : (next.at - previous.at) / 1000;
  // By name, once: a server with thousands of queues must not cost a search per queue per second.
  const previousByName = new Map(previous?.queues.map((q) => [q.name, q]));
  for (const queue of next.queues) {
    const points = [...(live.history.get(queue.name) ?? [])];
    // A queue absent from the last event was made since: all it has published is this second's work.
    const before = previousByName.get(queue.name) ?? (previous === undefined ? undefined : { totals: { published: 0, completed: 0 } });
    if (before !== undefined && seconds > 0) {
      // A queue deleted and made again restarts its totals: never draw a negative rate.
      const rate = (now: number, then: number) => Math.max(0, (now - then) / seconds);
      points.push({ published: rate(queue.totals.published, before.totals.published), completed: rate(queue.totals.completed, before.totals.completed) });
      if (points.length > HISTORY) points.splice(0, points.length - HISTORY);
    }
    history.set(queue.name, points);
  }
  publish({ ...live, state: "live", error: undefined, snapshot: next, history });
}

/** Starts the tab's stream (again, after a new key). */
export function startLiveStats(): void {
  close?.();
  live = { state: "connecting", history: new Map() };
  close = openEventStream("/v1/stats/stream", {
    onEvent: (event, data) => {
      if (event === "stats") onStats(JSON.parse(data) as StatsEvent);
    },
    onState: (state, error) => {
      if (state !== "live") publish({ ...live, state, error });
    },
  });
}

export function stopLiveStats(): void {
  close?.();
  close = undefined;
}

export function useLiveStats(): LiveStats {
  const [stats, setStats] = useState(live);
  useEffect(() => {
    listeners.add(setStats);
    setStats(live);
    return () => void listeners.delete(setStats);
  }, []);
  return stats;
}
