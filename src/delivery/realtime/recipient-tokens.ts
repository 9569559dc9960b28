/**
 * Recipient tokens: what a real-time client shows at `GET /v1/stream` instead of an API key.
 *
 *   token = base64url(recipientId) "." expiresAt (ms, decimal) "." base64url(HMAC-SHA256(secret, "spool-recipient-v1." + first two parts))
 *
 * A token names exactly one recipient and an expiry, and is good for that recipient only until
 * then. Nothing is stored: verifying is recomputing the MAC (compared in constant time), so
 * tokens survive restarts as long as the secret does. The domain prefix keeps a MAC made with
 * the same secret for another purpose (a webhook signature) from ever passing as a token.
 *
 * The secret comes from the composition: `delivery.tokenSecret` in the server config, or
 * `loadOrCreateSecret(path)` (random, generated once, kept in the data directory).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { link, mkdir, open, readFile, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { ValidationError } from "../../core/errors.js";
import { systemClock, type Clock } from "../../util/clock.js";
import { defaults } from "../../config/defaults.js";

export const MAX_TOKEN_TTL_MS = 30 * 86_400_000;
/** Shorter secrets are refused: a guessable secret would let anyone mint tokens for anyone. */
const MIN_SECRET_BYTES = 16;
const MAX_RECIPIENT_ID_LENGTH = 256;

const DOMAIN = "spool-recipient-v1.";
/** base64url of 32 MAC bytes. */
const MAC_LENGTH = 43;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface IssuedToken {
  token: string;
  /** Ms since the epoch. */
  expiresAt: number;
}

/** Why a token was refused: `malformed` (not a token at all), `bad_signature` (tampered or another secret), `expired`. */
export type TokenRefusal = "malformed" | "bad_signature" | "expired";

export type TokenCheck = { ok: true; recipientId: string; expiresAt: number } | { ok: false; reason: TokenRefusal };

export interface RecipientTokensOptions {
  clock?: Clock;
  /** Lifetime when `issue` is given none (default 1 hour). */
  defaultTtlMs?: number;
}

export class RecipientTokens {
  readonly #secret: Buffer;
  readonly #clock: Clock;
  readonly defaultTtlMs: number;

  constructor(secret: string | Uint8Array, options: RecipientTokensOptions = {}) {
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new ValidationError(`recipient token secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`, [{ path: "/tokenSecret", message: `expected >= ${MIN_SECRET_BYTES} bytes` }]);
    }
    this.#secret = bytes;
    this.#clock = options.clock ?? systemClock;
    this.defaultTtlMs = checkTtl(options.defaultTtlMs ?? defaults.delivery.recipientTokenTtlMs, "defaultTtlMs");
  }

  /** A token for `recipientId`, valid for `ttlMs` (default `defaultTtlMs`, at most 30 days). */
  issue(recipientId: string, ttlMs: number = this.defaultTtlMs): IssuedToken {
    if (typeof recipientId !== "string" || recipientId.length === 0 || recipientId.length > MAX_RECIPIENT_ID_LENGTH) {
      throw new ValidationError(`recipient id must be a string of 1 to ${MAX_RECIPIENT_ID_LENGTH} characters, got ${JSON.stringify(recipientId)}`, [{ path: "/id", message: "expected 1..256 characters" }]);
    }
    const expiresAt = this.#clock.now() + checkTtl(ttlMs, "ttlMs");
    const payload = `${Buffer.from(recipientId, "utf8").toString("base64url")}.${expiresAt}`;
    return { token: `${payload}.${this.#mac(payload).toString("base64url")}`, expiresAt };
  }

  /**
   * Checks a token's form, then its MAC, then its expiry; never throws. The recipient is read
   * from the token only once the MAC holds, so a forged recipient id is `bad_signature`.
   */
  verify(token: unknown): TokenCheck {
    if (typeof token !== "string" || token.length > 2 * MAX_RECIPIENT_ID_LENGTH + 100) return refuse("malformed");
    const parts = token.split(".");
    if (parts.length !== 3) return refuse("malformed");
    const [encodedId, expiry, mac] = parts;
    if (!BASE64URL.test(encodedId) || !/^\d{1,16}$/.test(expiry) || mac.length !== MAC_LENGTH || !BASE64URL.test(mac)) return refuse("malformed");
    const expected = this.#mac(`${encodedId}.${expiry}`);
    const given = Buffer.from(mac, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse("bad_signature");
    const expiresAt = Number(expiry);
    if (this.#clock.now() >= expiresAt) return refuse("expired");
    return { ok: true, recipientId: Buffer.from(encodedId, "base64url").toString("utf8"), expiresAt };
  }

  #mac(payload: string): Buffer {
    return createHmac("sha256", this.#secret).update(DOMAIN).update(payload).digest();
  }
}

/** A new secret: 32 random bytes, hex (as `loadOrCreateSecret` keeps on disk). */
export function generateSecret(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Reads the secret kept at `path`, or creates it (32 random bytes, hex, mode 0600) if there is
 * none. The new secret is written whole to a temporary file and then hard-linked into place,
 * which fails if the name exists: two processes starting at once end up with one secret, and
 * neither ever reads a half-written file.
 */
export async function loadOrCreateSecret(path: string): Promise<string> {
  try {
    return await readSecret(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dirname(path), { recursive: true });
  const secret = generateSecret();
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const file = await open(temp, "wx", 0o600);
    try {
      await file.writeFile(secret + "\n");
      await file.sync();
    } finally {
      await file.close();
    }
    await link(temp, path);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return readSecret(path);
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readSecret(path: string): Promise<string> {
  const secret = (await readFile(path, "utf8")).trim();
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) throw new ValidationError(`recipient token secret in ${path} is shorter than ${MIN_SECRET_BYTES} bytes`);
  return secret;
}

function refuse(reason: TokenRefusal): TokenCheck {
  return { ok: false, reason };
}

function checkTtl(ttlMs: number, name: string): number {
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TOKEN_TTL_MS) {
    throw new ValidationError(`${name} must be an integer from 1 to ${MAX_TOKEN_TTL_MS}, got ${JSON.stringify(ttlMs)}`, [{ path: `/${name}`, message: `expected integer 1..${MAX_TOKEN_TTL_MS}` }]);
  }
  return ttlMs;
}
