/**
 * Looking at a queue over HTTP without leasing: GET /v1/queues/:q/messages lists a state's
 * messages with their bodies, GET /v1/messages/:id/body shows one's body and headers. Both need
 * the admin scope (bodies are the data), and a key limited to some queues sees only those.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-keys.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { uniqueQueueName } from "../helpers/poll-until.js";

const ADMIN = generateApiKey();
const LIMITED_ADMIN = generateApiKey();
const CONSUMER = generateApiKey();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    keys: [
      { name: "admin", hash: hashApiKey(ADMIN), scopes: ["admin"] },
      { name: "ops-a", hash: hashApiKey(LIMITED_ADMIN), scopes: ["admin"], queues: ["br.a.*"] },
      { name: "worker", hash: hashApiKey(CONSUMER), scopes: ["consume"] },
    ],
  });
});
afterAll(async () => server?.close());

const as = (key: string) => ({ key });

describe("GET /v1/queues/:q/messages and GET /v1/messages/:id/body", () => {
  it("lists ready messages in lease order with their bodies; completed ones newest first without", async () => {
    const q = uniqueQueueName("br.a.q");
    const one = await server.call("POST", `/v1/queues/${q}/messages`, { body: { n: 1 }, headers: { trace: "t" } }, as(ADMIN));
    const two = await server.call("POST", `/v1/queues/${q}/messages`, { body: { n: 2 }, priority: 5 }, as(ADMIN));
    const ready = await server.call("GET", `/v1/queues/${q}/messages`, undefined, as(ADMIN));
    expect(ready.status).toBe(200);
    expect(ready.body.messages.map((m: { id: string }) => m.id)).toEqual([two.body.id, one.body.id]);
    expect(ready.body.messages[1]).toMatchObject({ state: "ready", body: { n: 1 }, headers: { trace: "t" } });

    const { body: leased } = await server.call("POST", `/v1/queues/${q}/lease`, { max: 1 }, as(ADMIN));
    await server.call("POST", `/v1/messages/${leased.messages[0].id}/ack`, { leaseToken: leased.messages[0].leaseToken }, as(ADMIN));
    const completed = await server.call("GET", `/v1/queues/${q}/messages?state=completed&limit=5`, undefined, as(ADMIN));
    expect(completed.body.messages).toEqual([expect.objectContaining({ id: two.body.id, state: "completed" })]);
    expect(completed.body.messages[0]).not.toHaveProperty("body");

    const body = await server.call("GET", `/v1/messages/${one.body.id}/body`, undefined, as(ADMIN));
    expect(body.status).toBe(200);
    expect(body.body).toEqual({ id: one.body.id, queue: q, body: { n: 1 }, headers: { trace: "t" } });
    const gone = await server.call("GET", `/v1/messages/${two.body.id}/body`, undefined, as(ADMIN));
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toContain("completed");
  });

  it("needs admin, and a limited key's queues; a bad state or limit is a 400 naming it; an unknown queue 404", async () => {
    const mine = uniqueQueueName("br.a.q");
    const theirs = uniqueQueueName("br.b.q");
    const theirMessage = await server.call("POST", `/v1/queues/${theirs}/messages`, { body: "secret" }, as(ADMIN));
    await server.call("POST", `/v1/queues/${mine}/messages`, { body: "mine" }, as(ADMIN));
    expect((await server.call("GET", `/v1/queues/${mine}/messages`, undefined, as(CONSUMER))).status).toBe(403);
    expect((await server.call("GET", `/v1/queues/${mine}/messages`, undefined, as(LIMITED_ADMIN))).status).toBe(200);
    expect((await server.call("GET", `/v1/queues/${theirs}/messages`, undefined, as(LIMITED_ADMIN))).status).toBe(403);
    expect((await server.call("GET", `/v1/messages/${theirMessage.body.id}/body`, undefined, as(LIMITED_ADMIN))).status).toBe(403);
    expect((await server.call("GET", `/v1/messages/${theirMessage.body.id}/body`, undefined, as(CONSUMER))).status).toBe(403);
    const badState = await server.call("GET", `/v1/queues/${mine}/messages?state=dead`, undefined, as(ADMIN));
    expect(badState.status).toBe(400);
    expect(badState.body.error.details[0].path).toBe("/state");
    expect((await server.call("GET", `/v1/queues/${mine}/messages?limit=101`, undefined, as(ADMIN))).status).toBe(400);
    expect((await server.call("GET", `/v1/queues/${uniqueQueueName("br.a.none")}/messages`, undefined, as(ADMIN))).status).toBe(404);
  });
});
