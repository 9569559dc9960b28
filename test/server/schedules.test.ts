/**
 * /v1/schedules over real HTTP on a ManualClock: create, read, list, replace, pause, resume and
 * remove, and the messages a schedule fires, as a client sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock, memoryStore } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";

let server: TestServer;
const clock = new ManualClock(Date.UTC(2030, 0, 1, 8, 59, 0));

beforeAll(async () => {
  server = await startTestServer({ store: memoryStore({ clock }) });
});
afterAll(() => server.close());

const published = async (queue: string) => {
  const answer = await server.call("GET", `/v1/queues/${queue}`);
  return answer.status === 404 ? 0 : (answer.body.totals.published as number);
};

describe("/v1/schedules", () => {
  it("PUT creates a cron schedule in a time zone; GET, the list and the fired messages show it", async () => {
    const created = await server.call("PUT", "/v1/schedules/morning", { cron: "0 0 10 * * *", tz: "Europe/Paris", queue: "reports", body: { kind: "daily" }, options: { priority: 2 } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: "morning", cron: "0 0 10 * * *", tz: "Europe/Paris", queue: "reports", body: { kind: "daily" }, paused: false, catchUp: "one", fired: 0 });
    expect(created.body.nextRunAt).toBe(Date.UTC(2030, 0, 1, 9, 0, 0)); // 10:00 in Paris (UTC+1 in January)
    expect((await server.call("GET", "/v1/schedules/morning")).body).toEqual(created.body);
    expect((await server.call("GET", "/v1/schedules")).body.schedules.map((s: { name: string }) => s.name)).toEqual(["morning"]);

    clock.advance(60_000);
    await pollUntil(async () => (await published("reports")) === 1, { what: "the 10:00 slot fired" });
    const lease = await server.call("POST", "/v1/queues/reports/lease", { max: 10 });
    expect(lease.body.messages).toHaveLength(1);
    expect(lease.body.messages[0]).toMatchObject({ body: { kind: "daily" }, priority: 2, headers: { "spool-schedule": "morning", "spool-schedule-slot": "2030-01-01T09:00:00.000Z" } });
    expect((await server.call("GET", "/v1/schedules/morning")).body).toMatchObject({ fired: 1, lastSlotAt: Date.UTC(2030, 0, 1, 9), nextRunAt: Date.UTC(2030, 0, 2, 9) });
  });

  it("PUT replaces: the same timing keeps its next run, a new body applies", async () => {
    const before = (await server.call("GET", "/v1/schedules/morning")).body;
    const replaced = await server.call("PUT", "/v1/schedules/morning", { cron: "0 0 10 * * *", tz: "Europe/Paris", queue: "reports", body: { kind: "weekly" } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ body: { kind: "weekly" }, nextRunAt: before.nextRunAt, fired: 1, createdAt: before.createdAt });
  });

  it("pause and resume answer the schedule; resuming plans from now", async () => {
    const paused = await server.call("POST", "/v1/schedules/morning/pause");
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    clock.advance(2 * 86_400_000); // two 10:00 slots pass while paused
    expect(await published("reports")).toBe(1);
    const resumed = await server.call("POST", "/v1/schedules/morning/resume");
    expect(resumed.body).toMatchObject({ paused: false, nextRunAt: Date.UTC(2030, 0, 4, 9) });
  });

  it("a bad cron, zone or field is 400 naming it; an unknown schedule is 404", async () => {
    const bad = await server.call("PUT", "/v1/schedules/x", { cron: "0 0 25 * * *", queue: "reports", body: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(["/cron"]);
    const zone = await server.call("PUT", "/v1/schedules/x", { cron: "0 0 9 * * *", tz: "Nowhere/Land", queue: "reports", body: 1 });
    expect(zone.body.error.details.map((d: { path: string }) => d.path)).toEqual(["/tz"]);
    for (const [method, path] of [["GET", "/v1/schedules/nope"], ["POST", "/v1/schedules/nope/pause"], ["POST", "/v1/schedules/nope/resume"], ["DELETE", "/v1/schedules/nope"]]) {
      const answer = await server.call(method, path);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.error.code).toBe("not_found");
    }
  });

  it("DELETE removes it: 204, then 404", async () => {
    expect((await server.call("DELETE", "/v1/schedules/morning")).status).toBe(204);
    expect((await server.call("DELETE", "/v1/schedules/morning")).status).toBe(404);
    expect((await server.call("GET", "/v1/schedules")).body.schedules).toEqual([]);
  });

  it("/openapi.json documents the routes with the shared schema", async () => {
    const spec = (await server.call("GET", "/openapi.json")).body;
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/v1/schedules", "/v1/schedules/{name}", "/v1/schedules/{name}/pause", "/v1/schedules/{name}/resume"]));
    expect(spec.paths["/v1/schedules/{name}"].put.requestBody.content["application/json"].schema.properties).toHaveProperty("catchUp");
  });
});
