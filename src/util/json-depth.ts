/**
 * How deep JSON text nests, found without parsing it. `JSON.parse` itself copes with any depth,
 * but what runs on a parsed value afterwards (`JSON.stringify`, schema checks, error messages)
 * recurses and overflows the stack a few thousand levels down: input from outside is bounded
 * before it is parsed.
 */

/** Deepest nesting of arrays and objects accepted in JSON from a client (an HTTP body, an NDJSON line). */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
/** Strings are stepped through by hand this far; a longer one is left to the native `indexOf`. */
const SHORT_STRING = 24;

/**
 * Whether `text` opens more than `limit` arrays and objects inside one another (brackets in
 * strings do not count). Malformed text answers false: the parser reports it better.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  const n = text.length;
  if (n <= limit) return false; // too short to hold limit + 1 opening brackets
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const stop = Math.min(n, i + SHORT_STRING);
      for (i++; i < stop; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      if (i >= stop) {
        i = closingQuote(text, i);
        if (i < 0) return false;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that ends the string `from` is inside, or -1 if none does. */
function closingQuote(text: string, from: number): number {
  for (let j = text.indexOf('"', from); j >= 0; j = text.indexOf('"', j + 1)) {
    // Escaped only after an odd run of backslashes: `\\"` ends the string, `\"` does not.
    let before = j - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if ((j - 1 - before) % 2 === 0) return j;
  }
  return -1;
}
