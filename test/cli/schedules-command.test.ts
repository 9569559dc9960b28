/**
 * `spool schedules …` run as the real CLI in a child process against a real server (a
 * memory-store app in this process): set, list, show, pause, resume, remove, and a bad cron
 * refused with the server's error naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { runCli } from "./cli-process.js";

let server: TestServer;
let url: string;

beforeAll(async () => {
  server = await startTestServer();
  url = server.url;
});
afterAll(async () => server?.close());

const cli = (args: string[]) => runCli(args, { env: { SPOOL_URL: url } });

describe("spool schedules", () => {
  it("set, list, show, pause, resume and remove a schedule; its messages arrive", async () => {
    const queue = uniqueQueueName("cli-sched");
    const set = await cli(["schedules", "set", "beat", '{"ping":1}', "--queue", queue, "--every-ms", "50", "--priority", "4", "--header", "team=ops", "--json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ name: "beat", everyMs: 50, queue, body: { ping: 1 }, options: { priority: 4, headers: { team: "ops" } }, catchUp: "one" });
    await pollUntil(async () => (await server.spool.queueInfo(queue)) !== undefined && (await server.spool.queueStats(queue)).totals.published >= 2, { what: "two slots fired" });

    const list = await cli(["schedules"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/beat\s+every 50 ms/);
    const show = await cli(["schedules", "show", "beat", "--json"]);
    expect(JSON.parse(show.stdout).fired).toBeGreaterThanOrEqual(2);

    const paused = await cli(["schedules", "pause", "beat"]);
    expect(paused.stdout).toContain('schedule "beat" paused');
    expect((await server.spool.getSchedule("beat"))?.paused).toBe(true);
    const resumed = await cli(["schedules", "resume", "beat", "--json"]);
    expect(JSON.parse(resumed.stdout).paused).toBe(false);

    const removed = await cli(["schedules", "remove", "beat"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await server.spool.getSchedule("beat")).toBeUndefined();
    const again = await cli(["schedules", "remove", "beat"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('schedule "beat" does not exist');
  });

  it("a bad cron pattern is refused with the field named, and nothing is created", async () => {
    const result = await cli(["schedules", "set", "bad", "1", "--queue", "q", "--cron", "0 0 25 * * *"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/\/cron/);
    expect(await server.spool.getSchedule("bad")).toBeUndefined();
  });
});
