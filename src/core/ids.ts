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

export function newId(nowMs: number = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    nextRandom();
  } else {
    incrementRandom();
  }
  let out = "";
  let time = lastMs;
  const timeChars = new Array<string>(10);
  for (let i = 9; i >= 0; i--) {
    timeChars[i] = ALPHABET[time % 32];
    time = Math.floor(time / 32);
  }
  out = timeChars.join("");
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    buffer = (buffer << 8) | lastRandom[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
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

const ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export function isMessageId(value: string): boolean {
  return ID_PATTERN.test(value);
}
