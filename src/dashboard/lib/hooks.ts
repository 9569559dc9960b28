/** Small hooks the pages share: a ticking clock for relative times, and a loader with its states. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ApiError } from "./api.js";

/** Now, refreshed every second, so "5 s ago" keeps counting. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export interface Loaded<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
  reload(): void;
}

/**
 * Runs `load` when `deps` change and on `reload()`; with `everyMs`, again every so often while
 * the page is open (for pages with no event to follow). A stale answer never overwrites a newer one.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  useEffect(() => {
    const abort = new AbortController();
    const run = async () => {
      const ticket = ++latest.current;
      setState((previous) => ({ ...previous, loading: true }));
      try {
        const data = await load(abort.signal);
        if (ticket === latest.current) setState({ data, loading: false });
      } catch (error) {
        if (!abort.signal.aborted && ticket === latest.current) setState((previous) => ({ ...previous, error: error as ApiError, loading: false }));
      }
    };
    void run();
    const timer = everyMs === undefined ? undefined : setInterval(() => void run(), everyMs);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [...deps, generation, everyMs]);
  return { ...state, reload };
}
