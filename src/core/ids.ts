import { randomBytes } from "node:crypto";

/**
 * Time-ordered, URL-safe message ids (ULID: 48-bit ms timestamp + 80 random bits, Crockford
 * base32). Ids made in the same millisecond increase monotonically, so sorting ids sorts by
 * creation. Random bytes are drawn in blocks to keep `publish` free of a syscall per id.
 */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const POOL_BYTES = 4096;

let pool = randomBytes(POOL_BYTES);
let poolOffset = 0;
let lastMs = -1;
const lastRandom = new Uint8Array(10);

function nextRandom(): void {
  if (poolOffset + 10 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  for (let i = 0; i < 10; i++) lastRandom[i] = pool[poolOffset + i];
  lastRandom[0] &= 0x7f; // leave headroom so same-millisecond increments cannot overflow
  poolOffset += 10;
}

function incrementRandom(): void {
  for (let i = 9; i >= 0; i--) {
    if (lastRandom[i] === 0xff) {
      lastRandom[i] = 0;
    } else {
      lastRandom[i]++;
      return;
    }
  }
}

const ALPHABET_CODES = Buffer.from(ALPHABET, "latin1");
const idChars = Buffer.alloc(26);

export function newId(nowMs: number = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    nextRandom();
    let time = lastMs;
    for (let i = 9; i >= 0; i--) {
      idChars[i] = ALPHABET_CODES[time % 32];
      time = Math.floor(time / 32);
    }
  } else {
    incrementRandom();
  }
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let buffer = 0;
  let bits = 0;
  let out = 10;
  for (let i = 0; i < 10; i++) {
    buffer = (buffer << 8) | lastRandom[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      idChars[out++] = ALPHABET_CODES[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  // a latin1 decode yields a flat one-byte string: cheap to hash as a Map key (a `+=` rope is not).
  return idChars.toString("latin1", 0, 26);
}

/** An opaque, unguessable lease token. */
export function newLeaseToken(): string {
  if (poolOffset + 12 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const token = pool.toString("base64url", poolOffset, poolOffset + 12);
  poolOffset += 12;
  return token;
}

// ── ids as 128-bit numbers ─────────────────────────────────────────────────────────────────
// The engine keeps ids as four 32-bit words (16 bytes, no string per message). Only canonical
// ids convert (26 upper-case Crockford characters, the first 0–7, as `newId` makes them), so
// the conversion is a bijection: a string that is not one is not an id the engine can hold.

const DIGIT_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT_OF[ALPHABET.charCodeAt(i)] = i;

/** Writes the 128-bit value of canonical id `id` into `out[at..at+3]` (most significant first); false if `id` is not canonical. */
export function idToWords(id: string, out: Uint32Array, at: number): boolean {
  if (id.length !== 26) return false;
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  for (let i = 0; i < 26; i++) {
    const code = id.charCodeAt(i);
    const digit = code < 128 ? DIGIT_OF[code] : -1;
    if (digit < 0 || (i === 0 && digit > 7)) return false;
    w0 = (w0 << 5) | (w1 >>> 27);
    w1 = (w1 << 5) | (w2 >>> 27);
    w2 = (w2 << 5) | (w3 >>> 27);
    w3 = (w3 << 5) | digit;
  }
  out[at] = w0;
  out[at + 1] = w1;
  out[at + 2] = w2;
  out[at + 3] = w3;
  return true;
}

const wordChars = Buffer.alloc(26);

/** The canonical id of the 128-bit value in `words[at..at+3]`. */
export function idFromWords(words: Uint32Array, at: number): string {
  for (let i = 0; i < 26; i++) {
    const bit = (25 - i) * 5; // of the 5-bit group, counted from the least significant end
    const word = 3 - (bit >>> 5);
    const shift = bit & 31;
    let digit = words[at + word] >>> shift;
    if (shift > 27 && word > 0) digit |= words[at + word - 1] << (32 - shift);
    wordChars[i] = ALPHABET_CODES[digit & 31];
  }
  return wordChars.toString("latin1", 0, 26);
}
