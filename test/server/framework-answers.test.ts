/**
 * What the whole `spool serve` (batch and real-time delivery included) answers where the
 * framework would otherwise answer by itself: JSON nested too deep on every route that reads a
 * body (NDJSON lines included). Every error carries the envelope; nothing answers 500.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { call, startDeliveryServer } from "../delivery/delivery-server.js";

/** Deepest nesting of arrays and objects a JSON request body may have (docs/http-api.md). */
const MAX_JSON_DEPTH = 128;
const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = await makeTempDir("spool-framework-");
  server = await startDeliveryServer(dir);
});
afterAll(async () => {
  await server?.close();
  await removeTempDir(dir);
});

const tooDeep = new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`);

describe("JSON nested too deep, on the delivery routes", () => {
  const routes: Array<[string, string]> = [
    ["PUT", "/v1/templates/welcome"],
    ["POST", "/v1/batches"],
    ["POST", "/v1/recipients/alice/token"],
    ["POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/delivered"],
    ["POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/read"],
  ];
  it.each(routes)("%s %s: 400 naming the limit, for one level over it and for 20,000", async (method, path) => {
    for (const text of [nested(MAX_JSON_DEPTH + 1), `{"a":${nested(20_000)}}`]) {
      const answer = await call(server.url, method, path, text);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error.code).toBe("validation_failed");
      expect(answer.body.error.message).toMatch(tooDeep);
    }
  });

  it("POST /v1/messages/:id/read with a recipient token: the same 400", async () => {
    const { body: token } = await call(server.url, "POST", "/v1/recipients/alice/token", {});
    const answer = await call(server.url, "POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/read", `{"a":${nested(20_000)}}`, { authorization: `Bearer ${token.token}` });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(tooDeep);
  });

  it("an NDJSON batch: a header line or a recipient line nested too deep is a 400, and no batch is created", async () => {
    const header = JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" } });
    const deepHeader = `{"channel":"mock","template":{"body":"x"},"mock":${nested(20_000)}}`;
    const refusedHeader = await call(server.url, "POST", "/v1/batches", `${deepHeader}\n{"id":"a"}\n`, { "content-type": "application/x-ndjson" });
    expect(refusedHeader.status, JSON.stringify(refusedHeader.body)).toBe(400);
    expect(refusedHeader.body.error.message).toMatch(tooDeep);

    const deepRecipient = `{"id":"b","vars":{"name":${nested(20_000)}}}`;
    const refusedLine = await call(server.url, "POST", "/v1/batches", `${header}\n{"id":"a","vars":{"name":"A"}}\n${deepRecipient}\n`, { "content-type": "application/x-ndjson" });
    expect(refusedLine.status, JSON.stringify(refusedLine.body)).toBe(400);
    expect(refusedLine.body.error.details).toEqual([{ path: "/recipients/1", message: expect.stringMatching(tooDeep) }]);

    const stats = await call(server.url, "GET", "/v1/stats/messages");
    expect(stats.body.batches).toEqual([]);
  });
});
