/** POST /v1/recipients/:id/token and POST /v1/messages/:id/delivered | /read over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS, startRealtimeServer, type RealtimeServer } from "./realtime-server.js";

let s: RealtimeServer;
beforeAll(async () => {
  s = await startRealtimeServer({ ackTimeoutMs: 60_000 });
});
afterAll(async () => s.close());

describe("POST /v1/recipients/:id/token", () => {
  it("issues a token for that recipient (admin), with a chosen lifetime or the default", async () => {
    const before = Date.now();
    const answer = await s.call("POST", "/v1/recipients/alice/token", KEYS.admin, { ttlMs: 120_000 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ token: expect.any(String), expiresAt: expect.any(Number) });
    expect(answer.body.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(s.tokens.verify(answer.body.token)).toMatchObject({ ok: true, recipientId: "alice" });
    const client = await s.connect(answer.body.token);
    expect(client.frames[0]).toMatchObject({ type: "ready", recipientId: "alice" });
    await client.close();

    const bodyless = await s.call("POST", `/v1/recipients/${encodeURIComponent("user 7/ü")}/token`, KEYS.admin);
    expect(bodyless.status).toBe(200);
    expect(s.tokens.verify(bodyless.body.token)).toMatchObject({ ok: true, recipientId: "user 7/ü" });
    expect(bodyless.body.expiresAt - Date.now()).toBeGreaterThan(3_500_000);
  });

  it("needs the admin scope, and a valid lifetime", async () => {
    expect((await s.call("POST", "/v1/recipients/alice/token", undefined)).status).toBe(401);
    expect((await s.call("POST", "/v1/recipients/alice/token", KEYS.consume)).body.error.code).toBe("forbidden");
    for (const body of [{ ttlMs: 0 }, { ttlMs: 31 * 86_400_000 }, { ttlMs: "1h" }, { other: 1 }]) {
      const answer = await s.call("POST", "/v1/recipients/alice/token", KEYS.admin, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe("validation_failed");
    }
  });
});

describe("POST /v1/messages/:id/delivered and /read", () => {
  it("moves a message forward; a step backwards answers changed: false", async () => {
    const [id] = await s.send(["erin"]);
    await s.drained();
    const delivered = await s.call("POST", `/v1/messages/${id}/delivered`, KEYS.consume);
    expect(delivered).toEqual({ status: 200, body: { id, status: "delivered", changed: true } });
    expect(s.entry(id).status).toBe("delivered");
    expect((await s.call("POST", `/v1/messages/${id}/delivered`, KEYS.consume)).body).toEqual({ id, status: "delivered", changed: false });
    expect((await s.call("POST", `/v1/messages/${id}/read`, KEYS.consume)).body).toEqual({ id, status: "read", changed: true });
    expect((await s.call("POST", `/v1/messages/${id}/delivered`, KEYS.consume)).body).toEqual({ id, status: "read", changed: false });
  });

  it("settles a message a connected recipient was pushed (it is not pushed again on reconnect)", async () => {
    const frank = await s.connect(s.token("frank"));
    const [id] = await s.send(["frank"]);
    await frank.messagesArrived(1);
    expect((await s.call("POST", `/v1/messages/${id}/read`, KEYS.admin)).body).toMatchObject({ status: "read", changed: true });
    expect(s.hub.inFlight("frank")).toEqual([]);
    await frank.close();
    const again = await s.connect(s.token("frank"));
    again.send({ type: "ping" });
    await again.until((frames) => frames.some((f) => f.type === "pong"), "pong");
    expect(again.messages()).toEqual([]);
    await again.close();
  });

  it("answers 404 for an unknown message, and needs the consume scope", async () => {
    const unknown = await s.call("POST", "/v1/messages/NOPE_0/delivered", KEYS.consume);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    expect((await s.call("POST", "/v1/messages/NOPE_0/read", KEYS.publish)).status).toBe(403);
    expect((await s.call("POST", "/v1/messages/NOPE_0/read", undefined)).status).toBe(401);
  });
});

describe("/openapi.json", () => {
  it("documents the real-time routes", async () => {
    const answer = await s.call("GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const paths = answer.body.paths;
    expect(paths["/v1/recipients/{id}/token"].post).toBeDefined();
    expect(paths["/v1/stream"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["recipient", "token"]);
    expect(paths["/v1/messages/{id}/delivered"].post).toBeDefined();
    expect(paths["/v1/messages/{id}/read"].post).toBeDefined();
  });
});
