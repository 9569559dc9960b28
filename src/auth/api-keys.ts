/**
 * API keys: generated once, shown once, stored only as a SHA-256 hash. A key is a 32-byte random
 * secret, so a fast hash is enough (no password stretching); checking compares hashes in
 * constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../core/errors.js";

export type Scope = "publish" | "consume" | "admin";
export const SCOPES: readonly Scope[] = ["publish", "consume", "admin"];

/** One key as the configuration holds it. */
export interface ApiKeyConfig {
  name: string;
  /** `sha256:<64 hex digits>` of the key. */
  hash: string;
  scopes: Scope[];
  /** Queue-name globs this key may reach (`*` = any run of characters); absent = every queue. */
  queues?: string[];
}

/** Who a request's key belongs to, and what it may do. */
export interface ApiKeyIdentity {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** True if the key names queue globs, so only some queues are within its reach. */
  readonly limited: boolean;
  /** The queue globs as configured (`GET /v1/whoami` shows them); undefined = every queue. */
  readonly queueGlobs: readonly string[] | undefined;
  /** True if the key may reach `queue` (its globs match, or it has none). */
  allowsQueue(queue: string): boolean;
}

const KEY_PREFIX = "spool_";
const HASH_PREFIX = "sha256:";
export const HASH_PATTERN = "^sha256:[0-9a-f]{64}$";
const HASH_REGEXP = new RegExp(HASH_PATTERN);

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

export function hashApiKey(key: string): string {
  return HASH_PREFIX + sha256(key).toString("hex");
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Whether `text` matches `glob` whole: `*` is any run of characters, every other character itself.
 * Not a RegExp: `^.*.*.*x$` backtracks through every way to split the text, so a glob of a few
 * dozen stars from a client (GET /v1/events?queue=) would hold the event loop for hours. This
 * walk keeps only the last star's place and takes at most glob × text steps.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1; // the glob position after the last star met, and where in the text it began
  let from = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === "*") {
      star = ++g;
      from = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star; // let the last star take one more character
      t = ++from;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

class Identity implements ApiKeyIdentity {
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly queueGlobs: readonly string[] | undefined;

  constructor(config: ApiKeyConfig) {
    this.name = config.name;
    this.scopes = new Set(config.scopes);
    this.queueGlobs = config.queues === undefined ? undefined : [...config.queues];
  }

  get limited(): boolean {
    return this.queueGlobs !== undefined;
  }

  allowsQueue(queue: string): boolean {
    return this.queueGlobs === undefined || this.queueGlobs.some((glob) => globMatches(glob, queue));
  }
}

/** The configured keys; `authenticate` turns an Authorization header into an identity. */
export class ApiKeyRing {
  readonly #entries: Array<{ digest: Buffer; identity: Identity }>;

  constructor(keys: ApiKeyConfig[]) {
    this.#entries = keys.map((key) => {
      // A digest of another length would make every comparison throw. The value is not echoed:
      // a mistake here is often the key itself.
      if (typeof key.hash !== "string" || !HASH_REGEXP.test(key.hash)) {
        throw new ValidationError(`API key "${key.name}": hash must be sha256:<64 hex digits> from spool keys create (never the key itself)`, [
          { path: "/hash", message: "expected sha256:<64 hex digits>" },
        ]);
      }
      return { digest: Buffer.from(key.hash.slice(HASH_PREFIX.length), "hex"), identity: new Identity(key) };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The identity for `Bearer <key>`, or undefined for a missing, malformed or unknown key. */
  authenticate(authorization: string | undefined): ApiKeyIdentity | undefined {
    const key = bearerToken(authorization);
    if (key === undefined) return undefined;
    const digest = sha256(key);
    // Every entry is compared, so the time taken says nothing about which key came close.
    let found: Identity | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.identity;
    }
    return found;
  }
}

/** The credential of an `Authorization: Bearer <credential>` header (an API key or a recipient token). */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}
