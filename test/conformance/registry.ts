/**
 * How the conformance areas register their tests. `it` (with `it.each`) and `afterEach` forward to
 * vitest, except inside `recordTests`, where they only write down the names of the tests they
 * would register. That lets test/conformance/registration.test.ts compare what every store and
 * clock mode registers, without running anything: a mode or a store that drops a test fails it.
 */
import { format } from "node:util";
import { afterEach as vitestAfterEach, it as vitestIt } from "vitest";

type Body = () => unknown;

let recording: string[] | undefined;

/** `timeoutMs` for a test that takes long on a store behind a network (the property tests). */
function register(name: string, body: Body, timeoutMs?: number): void {
  if (recording) recording.push(name);
  else vitestIt(name, body, timeoutMs);
}

/** vitest's title format for `it.each`: `%#` is the row's index, then printf-style placeholders take the row's values in order. */
function title(template: string, args: readonly unknown[], index: number): string {
  const withIndex = template.replace(/%#/g, String(index));
  const placeholders = withIndex.match(/%[sdifjoO]/g)?.length ?? 0;
  return format(withIndex, ...args.slice(0, placeholders));
}

/** `it.each(rows)(name, body)`: one test per row, named like vitest names them. */
function each<Row extends unknown[] | [unknown]>(rows: ReadonlyArray<Row>) {
  return (template: string, body: (...args: Row) => unknown): void => {
    rows.forEach((row, index) => register(title(template, row, index), () => body(...row)));
  };
}

export const it = Object.assign(register, { each });

export function afterEach(hook: () => unknown): void {
  if (!recording) vitestAfterEach(hook);
}

/** The names of the tests `define` registers, in order; nothing is registered with vitest. */
export function recordTests(define: () => void): string[] {
  const outer = recording;
  const names: string[] = [];
  recording = names;
  try {
    define();
  } finally {
    recording = outer;
  }
  return names;
}
