import type { Clock } from "./clock.js";

/**
 * Waits until `wake` is called, `ms` pass on `clock`, or `signal` aborts — whichever comes first.
 * Returns why it woke. Everything it arms is disarmed before it returns.
 */
export function waitForWake(
  subscribe: (wake: () => void) => () => void,
  ms: number,
  clock: Clock,
  signal?: AbortSignal,
): Promise<"woken" | "timeout" | "aborted"> {
  if (signal?.aborted) return Promise.resolve("aborted");
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: "woken" | "timeout" | "aborted") => {
      if (done) return;
      done = true;
      unsubscribe();
      timer.cancel();
      signal?.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const onAbort = () => finish("aborted");
    const unsubscribe = subscribe(() => finish("woken"));
    const timer = clock.setTimer(() => finish("timeout"), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settles `promise` or gives up after `ms` (then resolves `false`). */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
