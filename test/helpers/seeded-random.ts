/**
 * Seeded randomness for randomised tests. Every test prints its seed on failure; run it again
 * with `SPOOL_SEED=<seed>` to replay exactly.
 */

/** mulberry32: small, fast, good enough for test inputs. Returns numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `SPOOL_SEED` if set, else a fresh random seed. */
export function testSeed(): number {
  const fromEnv = process.env.SPOOL_SEED;
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) >>> 0;
  return Math.floor(Math.random() * 2 ** 32);
}

/** An integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
