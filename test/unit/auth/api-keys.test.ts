/** API keys: generation, hashing, the ring's Authorization parsing and constant-work lookup, queue globs. */
import { describe, expect, it } from "vitest";
import { ApiKeyRing, HASH_PATTERN, generateApiKey, globMatches, hashApiKey, type ApiKeyConfig } from "../../../src/auth/api-keys.js";
import { SpoolError } from "../../../src/core/errors.js";

function entry(key: string, overrides: Partial<ApiKeyConfig> = {}): ApiKeyConfig {
  return { name: "k", hash: hashApiKey(key), scopes: ["publish"], ...overrides };
}

/** The same key with one character changed at `index`. */
function oneOff(key: string, index: number): string {
  const replacement = key[index] === "A" ? "B" : "A";
  return key.slice(0, index) + replacement + key.slice(index + 1);
}

describe("generateApiKey / hashApiKey", () => {
  it("makes distinct, URL-safe keys with 32 random bytes", () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey()));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(/^spool_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(key.slice("spool_".length), "base64url")).toHaveLength(32);
    }
  });

  it("hashes to sha256:<64 hex digits>, deterministically, without the key in it", () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    expect(hash).toMatch(new RegExp(HASH_PATTERN));
    expect(hashApiKey(key)).toBe(hash);
    expect(hashApiKey(oneOff(key, 10))).not.toBe(hash);
    expect(hash).not.toContain(key.slice("spool_".length, 20));
    // The known SHA-256 of "abc".
    expect(hashApiKey("abc")).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("ApiKeyRing.authenticate", () => {
  it("round-trips: a generated key, hashed into the config, authenticates as its entry", () => {
    const keys = [generateApiKey(), generateApiKey(), generateApiKey()];
    const ring = new ApiKeyRing([
      entry(keys[0], { name: "pub", scopes: ["publish"] }),
      entry(keys[1], { name: "con", scopes: ["consume"], queues: ["jobs.*"] }),
      entry(keys[2], { name: "ops", scopes: ["admin", "publish"] }),
    ]);
    expect(ring.size).toBe(3);
    const pub = ring.authenticate(`Bearer ${keys[0]}`);
    expect(pub?.name).toBe("pub");
    expect([...(pub?.scopes ?? [])]).toEqual(["publish"]);
    expect(pub?.limited).toBe(false);
    const con = ring.authenticate(`Bearer ${keys[1]}`);
    expect(con?.name).toBe("con");
    expect(con?.limited).toBe(true);
    expect(ring.authenticate(`Bearer ${keys[2]}`)?.scopes.has("admin")).toBe(true);
  });

  it("reads the scheme case-insensitively, with extra whitespace around and between", () => {
    const key = generateApiKey();
    const ring = new ApiKeyRing([entry(key)]);
    for (const header of [`bearer ${key}`, `BEARER ${key}`, `BeArEr ${key}`, `Bearer   ${key}`, `Bearer\t${key}`, `Bearer ${key}  `, `  Bearer ${key}`, `Bearer ${key}\t`]) {
      expect(ring.authenticate(header)?.name, JSON.stringify(header)).toBe("k");
    }
  });

  it("refuses missing, malformed and unknown credentials", () => {
    const key = generateApiKey();
    const ring = new ApiKeyRing([entry(key)]);
    for (const header of [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      key,
      `Basic ${key}`,
      `Token ${key}`,
      `Bearer${key}`,
      `Bearer ${key} ${key}`,
      `Bearer ${key},Bearer ${key}`,
      `Bearer ${generateApiKey()}`,
      `Bearer ${hashApiKey(key)}`,
      `Bearer ${key.toUpperCase()}`,
      `Bearer ${key}x`,
      `Bearer ${key.slice(0, -1)}`,
    ]) {
      expect(ring.authenticate(header), JSON.stringify(header)).toBeUndefined();
    }
  });

  it("refuses a key that differs by one character, wherever the character is", () => {
    const key = generateApiKey();
    const ring = new ApiKeyRing([entry(key)]);
    for (let index = 0; index < key.length; index++) {
      expect(ring.authenticate(`Bearer ${oneOff(key, index)}`), `index ${index}`).toBeUndefined();
    }
    expect(ring.authenticate(`Bearer ${key}`)?.name).toBe("k");
  });

  it("answers the first matching entry when a key is configured twice", () => {
    const key = generateApiKey();
    const ring = new ApiKeyRing([entry(generateApiKey(), { name: "other" }), entry(key, { name: "first" }), entry(key, { name: "second" })]);
    expect(ring.authenticate(`Bearer ${key}`)?.name).toBe("first");
  });

  it("an empty ring authenticates nobody", () => {
    const ring = new ApiKeyRing([]);
    expect(ring.size).toBe(0);
    expect(ring.authenticate(`Bearer ${generateApiKey()}`)).toBeUndefined();
  });

  it("refuses an entry whose hash is not sha256:<64 hex digits>, without echoing it", () => {
    const key = generateApiKey();
    for (const hash of [key, "", "sha256:", `sha256:${"a".repeat(63)}`, `sha256:${"a".repeat(65)}`, `md5:${"a".repeat(64)}`, hashApiKey(key).toUpperCase(), ` ${hashApiKey(key)}`]) {
      let error: unknown;
      try {
        new ApiKeyRing([entry(key, { name: "broken", hash })]);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(hash)).toBeInstanceOf(SpoolError);
      expect((error as SpoolError).code).toBe("validation_failed");
      expect((error as SpoolError).message).toContain('"broken"');
      if (hash.length > 10) expect((error as SpoolError).message).not.toContain(hash);
    }
  });
});

describe("queue globs", () => {
  function allows(globs: string[] | undefined, queue: string): boolean {
    const key = generateApiKey();
    const identity = new ApiKeyRing([entry(key, { queues: globs })]).authenticate(`Bearer ${key}`);
    if (identity === undefined) throw new Error("the key did not authenticate");
    return identity.allowsQueue(queue);
  }

  it("reaches every queue without globs", () => {
    expect(allows(undefined, "anything")).toBe(true);
  });

  it("`*` matches any run of characters, including none and dots", () => {
    expect(allows(["emails.*"], "emails.signup")).toBe(true);
    expect(allows(["emails.*"], "emails.")).toBe(true);
    expect(allows(["emails.*"], "emails.eu.signup")).toBe(true);
    expect(allows(["emails.*"], "emails")).toBe(false);
    expect(allows(["emails.*"], "old-emails.signup")).toBe(false);
    expect(allows(["*-dlq"], "billing-dlq")).toBe(true);
    expect(allows(["*-dlq"], "billing-dlq2")).toBe(false);
    expect(allows(["a*b*c"], "abc")).toBe(true);
    expect(allows(["a*b*c"], "a-x-b-y-c")).toBe(true);
    expect(allows(["*"], "whatever")).toBe(true);
  });

  it("matches the whole name, not a part of it", () => {
    expect(allows(["emails"], "emails")).toBe(true);
    expect(allows(["emails"], "emails2")).toBe(false);
    expect(allows(["emails"], "my-emails")).toBe(false);
  });

  it("takes every other character literally: regex metacharacters are not patterns", () => {
    expect(allows(["a.b"], "a.b")).toBe(true);
    expect(allows(["a.b"], "axb")).toBe(false);
    expect(allows(["a.*"], "ab")).toBe(false);
    expect(allows(["a+"], "aa")).toBe(false);
    expect(allows(["a+"], "a+")).toBe(true);
    expect(allows(["q?"], "q")).toBe(false);
    expect(allows(["(a|b)"], "a")).toBe(false);
    expect(allows(["[ab]"], "a")).toBe(false);
    expect(allows(["a{2}"], "aa")).toBe(false);
    expect(allows(["^a$"], "a")).toBe(false);
    expect(allows(["a\\d"], "a1")).toBe(false);
    expect(allows(["jobs:*"], "jobs:eu")).toBe(true);
  });

  it("reaches a queue matching any of several globs", () => {
    expect(allows(["emails.*", "sms.*"], "sms.otp")).toBe(true);
    expect(allows(["emails.*", "sms.*"], "push.otp")).toBe(false);
  });

  it("a glob of many stars that cannot match is refused at once, not after every way of splitting the name", () => {
    // As a RegExp (^.*.*…x$) this took seconds at 12 stars and ~3× more for each star beyond.
    const hostile = "*".repeat(40) + "x";
    expect(globMatches(hostile, "emails.transactional.eu")).toBe(false);
    expect(globMatches("*a".repeat(60) + "b", "a".repeat(200))).toBe(false);
    expect(allows([hostile], "emails.transactional.eu")).toBe(false);
    expect(allows([hostile], "emails.transactional.eux")).toBe(true);
    expect(globMatches("*a*b*", "xxaxxbxx")).toBe(true);
    expect(globMatches("a*b", "ab")).toBe(true);
    expect(globMatches("a*b", "abba")).toBe(false);
    expect(globMatches("", "")).toBe(true);
    expect(globMatches("", "a")).toBe(false);
  });
});
