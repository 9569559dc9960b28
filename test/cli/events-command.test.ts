/**
 * `spool events <glob>` follows the server's queue events as the real CLI in a child process:
 * one line per event (or NDJSON with --json), only the types asked for, ending after --count;
 * a bad type is a usage error naming the choices.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { runCli, spawnCli } from "./cli-process.js";

let server: TestServer;
let url: string;

beforeAll(async () => {
  server = await startTestServer();
  url = server.url;
});
afterAll(async () => server?.close());

/**
 * Runs the command and, once it says it is following (on stderr: the server is sending), sends
 * `count` messages through `queue` (published, leased, rejected: dead). Returns its output and
 * the ids sent.
 */
async function whileMessagesFlow(args: string[], queue: string, count: number) {
  const child = spawnCli(args, { env: { SPOOL_URL: url } });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  const following = new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (stderr.includes("following events of")) resolve();
    });
    child.once("close", () => reject(new Error(`spool events ended before following: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  await following;
  const q = server.spool.queue(queue);
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    const { id } = await q.publish({ n });
    ids.push(id);
    const [m] = await q.lease();
    await q.nack(m.id, m.leaseToken, { reject: true });
  }
  const code = await exited;
  return { code, stdout, stderr, ids };
}

it("prints one line per event of the types asked for, and stops after --count", async () => {
  const queue = uniqueQueueName("cli.events");
  const { code, stdout, stderr, ids } = await whileMessagesFlow(["events", "cli.events-*", "--type", "dead", "--count", "2"], queue, 2);
  expect(code, stderr).toBe(0);
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  dead +${queue}  ([0-9A-Z]{26})  rejected after 1 attempt$`));
    expect(ids).toContain(line.split(/\s+/)[3]);
  }
});

it("--json prints each event as one line of JSON, in order per message", async () => {
  const queue = uniqueQueueName("cli.events");
  const { code, stdout, stderr } = await whileMessagesFlow(["events", queue, "--json", "--count", "8"], queue, 2);
  expect(code, stderr).toBe(0);
  const events = stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; id: string; queue: string });
  expect(events).toHaveLength(8);
  expect(events.every((e) => e.queue === queue)).toBe(true);
  const byId = new Map<string, string[]>();
  for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e.type]);
  const order = ["published", "active", "failed", "dead"];
  for (const types of byId.values()) expect(order.slice(order.indexOf(types[0]), order.indexOf(types[0]) + types.length)).toEqual(types);
});

it("refuses an unknown --type with the choices", async () => {
  const { code, stderr } = await runCli(["events", "q", "--type", "finished"], { env: { SPOOL_URL: url } });
  expect(code).not.toBe(0);
  expect(stderr).toContain("expected one of published, active");
});
