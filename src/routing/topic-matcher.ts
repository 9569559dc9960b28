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

/**
 * Compiles a pattern into a matcher that runs in O(pattern words × key words), whatever the
 * pattern: a backtracking match is exponential in the number of `#`s ("#.a.#.a.#.a…" against
 * a long key), and binding keys come from users.
 */
function compile(patternWords: string[]): (words: string[]) => boolean {
  const parts = patternWords.filter((part, i) => !(part === "#" && patternWords[i - 1] === "#"));
  if (!parts.includes("#")) {
    return (words) => words.length === parts.length && parts.every((part, i) => part === "*" || part === words[i]);
  }
  return (words) => {
    const n = words.length;
    // reach[w]: the pattern parts seen so far can match exactly the first w words.
    let reach = new Uint8Array(n + 1);
    reach[0] = 1;
    for (const part of parts) {
      const next = new Uint8Array(n + 1);
      if (part === "#") {
        let any = 0;
        for (let w = 0; w <= n; w++) next[w] = any |= reach[w];
      } else {
        for (let w = 0; w < n; w++) if (reach[w] === 1 && (part === "*" || part === words[w])) next[w + 1] = 1;
      }
      reach = next;
    }
    return reach[n] === 1;
  };
}
