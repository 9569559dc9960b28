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
