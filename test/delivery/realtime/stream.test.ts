/** GET /v1/stream end to end: real `ws` clients, the real server, the real delivery service and message log. */
import { afterEach, describe, expect, it } from "vitest";
import { RecipientTokens } from "../../../src/delivery/realtime/recipient-tokens.js";
import { ManualClock } from "../../../src/util/clock.js";
import { pollUntil } from "../../helpers/poll-until.js";
import { SECRET, TestClient, startRealtimeServer, type Frame, type RealtimeServer } from "./realtime-server.js";

let server: RealtimeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** How many pushes of `id` came after the first push of `marker`. */
function pushesAfterFirst(messages: Frame[], marker: string, id: string): number {
  const from = messages.findIndex((f) => f.id === marker);
  return messages.slice(from).filter((f) => f.id === id).length;
}

async function start(ackTimeoutMs?: number): Promise<RealtimeServer> {
  server = await startRealtimeServer({ ackTimeoutMs });
  return server;
}

describe("delivery", () => {
  it("pushes to an online recipient at once; ack → delivered, read → read", async () => {
    const s = await start();
    const alice = await s.connect(s.token("alice"));
    expect(alice.frames[0]).toEqual({ type: "ready", recipientId: "alice", ackTimeoutMs: 60_000 });
    const [forAlice, forBob] = await s.send(["alice", "bob"]);
    await alice.messagesArrived(1);
    expect(alice.messages()).toEqual([{ type: "message", id: forAlice, batchId: expect.any(String), content: { body: "hello alice" }, attempt: 1 }]);
    await s.waitForStatus(forAlice, "sent");
    alice.ack(forAlice);
    await s.waitForStatus(forAlice, "delivered");
    alice.send({ type: "read", id: forAlice });
    await s.waitForStatus(forAlice, "read");
    await s.drained();
    expect(s.entry(forBob).status).toBe("queued"); // bob is offline: held
  });

  it("holds messages for an offline recipient and pushes them on connect, in publish order", async () => {
    const s = await start();
    const first = await s.send(["carol", "dave", "carol"]);
    const second = await s.send(["carol"]);
    await s.drained();
    const expected = [first[0], first[2], second[0]];
    for (const id of expected) expect(s.entry(id).status).toBe("queued");
    const carol = await s.connect(s.token("carol"));
    await carol.messagesArrived(3);
    expect(carol.messages().map((f) => f.id)).toEqual(expected);
    for (const id of expected) await s.waitForStatus(id, "sent");
  });

  it("loses nothing when a connection drops: unacked and new messages come on reconnect, in order", async () => {
    const s = await start();
    const alice = await s.connect(s.token("alice"));
    const [m1] = await s.send(["alice"]);
    await alice.messagesArrived(1);
    alice.terminate(); // no ack, no closing handshake
    await pollUntil(() => !s.hub.isOnline("alice"), { what: "the server sees the drop" });
    const [m2] = await s.send(["alice"]);
    await s.drained();
    const again = await s.connect(s.token("alice"));
    await again.messagesArrived(2);
    expect(again.messages().map((f) => [f.id, f.attempt])).toEqual([
      [m1, 2],
      [m2, 1],
    ]);
  });

  it("pushes a message again when no ack comes within the ack timeout, and stops after the ack", async () => {
    const s = await start(150);
    const alice = await s.connect(s.token("alice"));
    const [m1] = await s.send(["alice"]);
    await alice.messagesArrived(2, m1);
    expect(alice.messages().map((f) => f.attempt).slice(0, 2)).toEqual([1, 2]);
    alice.ack(m1);
    await s.waitForStatus(m1, "delivered");
    // m2 is pushed after the ack was recorded, and pushed again after m1's next deadline would
    // have passed: no push of m1 may come after m2's first one (frames arrive in send order).
    const [m2] = await s.send(["alice"]);
    await alice.messagesArrived(2, m2);
    expect(pushesAfterFirst(alice.messages(), m2, m1)).toBe(0);
    expect(s.entry(m1).attempts).toBeGreaterThanOrEqual(2);
  });

  it("sends each message to every connection of a recipient; one ack settles it for all", async () => {
    const s = await start(150);
    const tab1 = await s.connect(s.token("alice"));
    const tab2 = await s.connect(s.token("alice"));
    const [m1] = await s.send(["alice"]);
    await tab1.messagesArrived(1, m1);
    await tab2.messagesArrived(1, m1);
    tab2.ack(m1);
    await s.waitForStatus(m1, "delivered");
    const [m2] = await s.send(["alice"]);
    await tab1.messagesArrived(2, m2); // m2 pushed again: m1's deadline (earlier) has passed
    await tab2.messagesArrived(2, m2);
    expect(pushesAfterFirst(tab1.messages(), m2, m1)).toBe(0);
    expect(pushesAfterFirst(tab2.messages(), m2, m1)).toBe(0);
  });

  it("refuses an ack for another recipient's message, and frames it does not understand", async () => {
    const s = await start();
    const [forBob] = await s.send(["bob"]);
    await s.drained();
    const alice = await s.connect(s.token("alice"));
    alice.ack(forBob);
    alice.send({ type: "subscribe" });
    await alice.until((frames) => frames.filter((f) => f.type === "error").length === 2, "two errors");
    expect(alice.frames.filter((f) => f.type === "error")).toEqual([
      { type: "error", code: "forbidden", id: forBob, message: expect.any(String) },
      { type: "error", code: "validation_failed", message: expect.any(String) },
    ]);
    expect(s.entry(forBob).status).toBe("queued");
  });

  it("answers an application-level ping", async () => {
    const s = await start();
    const alice = await s.connect(s.token("alice"));
    alice.send({ type: "ping" });
    await alice.until((frames) => frames.some((f) => f.type === "pong"), "pong");
  });

  it("closes connections with 1001 when the server shuts down", async () => {
    const s = await start();
    const alice = await s.connect(s.token("alice"));
    await s.app.close();
    expect((await alice.closed).code).toBe(1001);
  });
});

describe("authentication at the upgrade", () => {
  it("accepts the token as Authorization: Bearer too", async () => {
    const s = await start();
    const ws = await TestClient.open(s.wsUrl, { authorization: `Bearer ${s.token("alice")}` });
    expect(ws.frames[0]).toMatchObject({ type: "ready", recipientId: "alice" });
    ws.terminate();
  });

  it("refuses missing, malformed, tampered, expired, foreign and other-recipient tokens with 401 before upgrading", async () => {
    const s = await start();
    const good = s.token("alice");
    const [id, expiry, mac] = good.split(".");
    const expired = new RecipientTokens(SECRET, { clock: new ManualClock(Date.now() - 10_000) }).issue("alice", 1000).token;
    const foreign = new RecipientTokens("some-other-server-secret-xyz").issue("alice").token;
    const cases: Array<[string, string | undefined, string, string]> = [
      ["missing", undefined, "", "unauthorized"],
      ["malformed", "not-a-token", "", "malformed"],
      ["tampered recipient", `${Buffer.from("bob").toString("base64url")}.${expiry}.${mac}`, "", "bad_signature"],
      ["tampered expiry", `${id}.${Number(expiry) + 1000}.${mac}`, "", "bad_signature"],
      ["expired", expired, "", "expired"],
      ["another server's", foreign, "", "bad_signature"],
      ["another recipient's", good, "&recipient=bob", "not the token's recipient"],
    ];
    for (const [what, token, query, reason] of cases) {
      const answer = await s.refused(token, query);
      expect(answer.status, what).toBe(401);
      expect(answer.body.error.code, what).toBe("unauthorized");
      if (reason !== "unauthorized") expect(JSON.stringify(answer.body.error), what).toContain(reason);
    }
    // The recipient named in the query may be the token's own.
    const ok = await s.connect(good, "&recipient=alice");
    expect(ok.frames[0].recipientId).toBe("alice");
    expect(s.hub.connectionCount).toBe(1);
  });

  it("answers a plain GET (no upgrade) with 400", async () => {
    const s = await start();
    const answer = await s.call("GET", `/v1/stream?token=${encodeURIComponent(s.token("alice"))}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("validation_failed");
  });
});
