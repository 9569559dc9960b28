import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RecipientTokens, loadOrCreateSecret } from "../../../src/delivery/realtime/recipient-tokens.js";
import { ManualClock } from "../../../src/util/clock.js";
import { makeTempDir, removeTempDir } from "../../helpers/temp-dir.js";

const SECRET = "a-test-secret-of-enough-bytes";

describe("RecipientTokens", () => {
  const clock = new ManualClock();
  const tokens = new RecipientTokens(SECRET, { clock });

  it("issues a token that verifies as its recipient until it expires", () => {
    const { token, expiresAt } = tokens.issue("alice", 60_000);
    expect(expiresAt).toBe(clock.now() + 60_000);
    expect(tokens.verify(token)).toEqual({ ok: true, recipientId: "alice", expiresAt });
  });

  it("keeps any recipient id intact (dots, spaces, unicode)", () => {
    const id = "user.42 — Zoë/α";
    expect(tokens.verify(tokens.issue(id).token)).toMatchObject({ ok: true, recipientId: id });
  });

  it("refuses an expired token, from the instant it expires", () => {
    const own = new ManualClock();
    const signer = new RecipientTokens(SECRET, { clock: own });
    const { token } = signer.issue("alice", 1000);
    own.advance(999);
    expect(signer.verify(token).ok).toBe(true);
    own.advance(1);
    expect(signer.verify(token)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a tampered token: another recipient, a later expiry, a changed MAC, another secret", () => {
    const { token } = tokens.issue("alice", 60_000);
    const [id, expiry, mac] = token.split(".");
    const bob = Buffer.from("bob").toString("base64url");
    expect(tokens.verify(`${bob}.${expiry}.${mac}`)).toEqual({ ok: false, reason: "bad_signature" });
    expect(tokens.verify(`${id}.${Number(expiry) + 1}.${mac}`)).toEqual({ ok: false, reason: "bad_signature" });
    const flipped = mac.slice(0, -2) + (mac.at(-2) === "A" ? "B" : "A") + mac.at(-1);
    expect(tokens.verify(`${id}.${expiry}.${flipped}`)).toEqual({ ok: false, reason: "bad_signature" });
    expect(new RecipientTokens("another-secret-entirely!", { clock }).verify(token)).toEqual({ ok: false, reason: "bad_signature" });
  });

  it("refuses anything that is not a token as malformed", () => {
    const { token } = tokens.issue("alice");
    for (const bad of [undefined, 42, "", "abc", "a.b", `${token}.x`, token.replace(/\.\d+\./, ".12x."), token.slice(0, -1), "x".repeat(10_000)]) {
      expect(tokens.verify(bad)).toEqual({ ok: false, reason: "malformed" });
    }
  });

  it("validates its inputs with error codes", () => {
    expect(() => new RecipientTokens("short")).toThrow(expect.objectContaining({ code: "validation_failed" }));
    expect(() => tokens.issue("")).toThrow(expect.objectContaining({ code: "validation_failed" }));
    expect(() => tokens.issue("alice", 0)).toThrow(expect.objectContaining({ code: "validation_failed" }));
    expect(() => tokens.issue("alice", 31 * 86_400_000)).toThrow(expect.objectContaining({ code: "validation_failed" }));
  });
});

describe("loadOrCreateSecret", () => {
  let dir: string;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => removeTempDir(dir));

  it("creates the secret once (mode 0600) and reads the same one afterwards", async () => {
    const file = path.join(dir, "delivery", "recipient-token-secret");
    const secret = await loadOrCreateSecret(file);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateSecret(file)).toBe(secret);
    expect((await readFile(file, "utf8")).trim()).toBe(secret);
  });

  it("gives every concurrent caller the same secret", async () => {
    const file = path.join(dir, "secret");
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(file)));
    expect(new Set(secrets).size).toBe(1);
  });
});
