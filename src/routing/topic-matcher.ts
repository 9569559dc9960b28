/**
 * AMQP-style topic matching: words split on ".", `*` matches exactly one word, `#` zero or more.
 * Pure and cached per pattern, since a process sees few distinct binding keys.
 */
const cache = new Map<string, (words: string[]) => boolean>();

export function matchesTopic(pattern: string, routingKey: string): boolean {
  let matcher = cache.get(pattern);
  if (!matcher) {
    matcher = compile(pattern.split("."));
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, matcher);
  }
  return matcher(routingKey.split("."));
}

function compile(patternWords: string[]): (words: string[]) => boolean {
  return (words) => matchFrom(patternWords, 0, words, 0);
}

function matchFrom(pattern: string[], p: number, words: string[], w: number): boolean {
  while (p < pattern.length) {
    const part = pattern[p];
    if (part === "#") {
      // Collapse consecutive '#'; then try every possible split point.
      while (p + 1 < pattern.length && pattern[p + 1] === "#") p++;
      if (p === pattern.length - 1) return true;
      for (let skip = w; skip <= words.length; skip++) {
        if (matchFrom(pattern, p + 1, words, skip)) return true;
      }
      return false;
    }
    if (w >= words.length) return false;
    if (part !== "*" && part !== words[w]) return false;
    p++;
    w++;
  }
  return w === words.length;
}
