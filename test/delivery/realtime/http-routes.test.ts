/** POST /v1/recipients/:id/token and POST /v1/messages/:id/delivered | /read (API key or recipient token) over real HTTP. */
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

describe("POST /v1/messages/:id/delivered and /read with the recipient's own token (a browser without WebSocket)", () => {
  it("settles the recipient's own message: delivered, then read", async () => {
    const [id] = await s.send(["gina"]);
    await s.drained();
    const token = s.token("gina");
    expect(await s.call("POST", `/v1/messages/${id}/delivered`, token)).toEqual({ status: 200, body: { id, status: "delivered", changed: true } });
    expect(s.entry(id).status).toBe("delivered");
    expect((await s.call("POST", `/v1/messages/${id}/delivered`, token)).body).toEqual({ id, status: "delivered", changed: false });
    expect((await s.call("POST", `/v1/messages/${id}/read`, token)).body).toEqual({ id, status: "read", changed: true });
  });

  it("ends a pending push-again, like a WebSocket ack", async () => {
    const hana = await s.connect(s.token("hana"));
    const [id] = await s.send(["hana"]);
    await hana.messagesArrived(1);
    expect(s.hub.inFlight("hana")).toEqual([id]);
    expect((await s.call("POST", `/v1/messages/${id}/read`, s.token("hana"))).body).toMatchObject({ status: "read", changed: true });
    expect(s.hub.inFlight("hana")).toEqual([]);
    await hana.close();
  });

  it("refuses another recipient's message with 403 and changes nothing", async () => {
    const [ivansMessage] = await s.send(["ivan"]);
    await s.drained();
    const before = s.entry(ivansMessage).status;
    for (const to of ["delivered", "read"]) {
      const answer = await s.call("POST", `/v1/messages/${ivansMessage}/${to}`, s.token("judy"));
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe("forbidden");
    }
    expect(s.entry(ivansMessage).status).toBe(before);
  });

  it("answers 401 for an expired, tampered or foreign token, and 404 for an unknown message", async () => {
    const [id] = await s.send(["kim"]);
    await s.drained();
    const expired = s.tokens.issue("kim", 1000);
    const [recipient, , mac] = expired.token.split(".");
    const stale = `${recipient}.${Date.now() - 1}.${mac}`; // a changed expiry no longer matches its MAC
    const tampered = await s.call("POST", `/v1/messages/${id}/delivered`, stale);
    expect(tampered.status).toBe(401);
    expect(tampered.body.error).toMatchObject({ code: "unauthorized", details: [{ path: "/token", message: "bad_signature" }] });
    const malformed = await s.call("POST", `/v1/messages/${id}/delivered`, "not.a.token");
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.code).toBe("unauthorized");
    expect(s.entry(id).status).not.toBe("delivered");

    const unknown = await s.call("POST", "/v1/messages/NOPE_0/read", s.token("kim"));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
  });

  it("is no API key: a recipient token opens no other route", async () => {
    const token = s.token("lena");
    expect((await s.call("GET", "/v1/queues", token)).status).toBe(401);
    expect((await s.call("POST", "/v1/recipients/lena/token", token)).status).toBe(401);
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
