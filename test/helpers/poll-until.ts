/** Polls `condition` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function pollUntil<T>(condition: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 2, what = "condition" } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`pollUntil: ${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

let counter = 0;
/** A queue name no other test uses, so tests on a shared store stay independent. */
export function uniqueQueueName(prefix = "q"): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
