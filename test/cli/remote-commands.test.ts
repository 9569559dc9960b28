/**
 * The remote commands, run as the real CLI in a child process against a real server (a
 * memory-store app in this process, on a free port). Tests and independent invocations run at
 * once (each invocation pays for a Node start); each test has its own queues.
 */
import { createServer } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ApiKeyRing, hashApiKey, type ApiKeyConfig } from "../../src/auth/api-keys.js";
import { Spool, memoryStore } from "../../src/index.js";
import { createApp } from "../../src/server/app.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { runCli } from "./cli-process.js";

let spool: Spool;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  spool = await Spool.open({ store: memoryStore() });
  app = await createApp({ spool });
  await app.listen({ host: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await app?.close();
  await spool?.close();
});

/** The CLI pointed at the test server through SPOOL_URL, as a deployment would set it. */
function spool_(args: string[], input?: string) {
  return runCli(args, { env: { SPOOL_URL: url }, input });
}

/** Messages that went dead at once (maxAttempts 1, a permanent failure). */
async function deadLetters(queue: string, count: number): Promise<string[]> {
  const q = spool.queue(queue);
  await q.publishMany(Array.from({ length: count }, (_, i) => ({ body: { i }, maxAttempts: 1 })));
  const leased = await q.lease({ max: count });
  for (const message of leased) await q.nack(message.id, message.leaseToken, { error: { message: "bounced", kind: "permanent" } });
  return leased.map((m) => m.id);
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.concurrent("spool publish / stats / queues", () => {
  it("publishes from the argument and from stdin; stats --json and queues show them", async ({ expect }) => {
    const queue = uniqueQueueName("cli");
    const [fromArg, fromStdin] = await Promise.all([
      spool_(["publish", queue, '{"to":"a@example.com"}', "--priority", "7", "--header", "tenant=acme", "--header", "trace=a=b"]),
      spool_(["publish", queue, "--json", "--delay-ms", "60000"], '{"to":"b@example.com"}\n'),
    ]);
    expect(fromArg).toMatchObject({ code: 0, stderr: "" });
    const id = fromArg.stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toEqual({ id: expect.any(String), replaced: false, duplicate: false });
    const [leased] = await spool.queue(queue).lease({ max: 1, leaseMs: 60_000 });
    expect(leased).toMatchObject({ id, priority: 7, body: { to: "a@example.com" }, headers: { tenant: "acme", trace: "a=b" } });

    const [stats, queues] = await Promise.all([spool_(["stats", queue, "--json"]), spool_(["queues"])]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ name: queue, ready: 0, delayed: 1, leased: 1, totals: { published: 2 } });
    expect(queues.code).toBe(0);
    expect(queues.stdout).toMatch(/^queue\s+ready\s+delayed\s+leased\s+dead/);
    expect(queues.stdout).toMatch(new RegExp(`\\n${queue}\\s+0\\s+1\\s+1\\s+0\\n`));
  });

  it("queues leaves out batch delivery's internal queues unless --all, and says so", async ({ expect }) => {
    const queue = uniqueQueueName("cli-own");
    await spool.queue(queue).publish(1);
    await spool.queue("delivery.mock").publish(1); // what a batch on the mock channel leaves behind
    const [plain, all, json, jsonAll] = await Promise.all([
      spool_(["queues"]),
      spool_(["queues", "--all"]),
      spool_(["queues", "--json"]),
      spool_(["queues", "--json", "--all"]),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`^${queue}\\s`, "m"));
    expect(plain.stdout).not.toMatch(/^delivery\.mock\s/m);
    expect(plain.stderr).toBe("(1 internal queue of batch delivery not shown: --all shows it)\n");
    expect(all).toMatchObject({ code: 0, stderr: "" });
    expect(all.stdout).toMatch(/^delivery\.mock\s+1\s/m);
    const names = (out: string) => (JSON.parse(out) as Array<{ name: string }>).map((q) => q.name);
    expect(names(json.stdout)).toContain(queue);
    expect(names(json.stdout)).not.toContain("delivery.mock");
    expect(names(jsonAll.stdout)).toContain("delivery.mock");
  });
});

describe.concurrent("spool dead", () => {
  it("lists, replays and purges", async ({ expect }) => {
    const [listed, purged] = [uniqueQueueName("cli-dead"), uniqueQueueName("cli-purge")];
    const ids = await deadLetters(listed, 3);
    await deadLetters(purged, 2);

    const [list, purge] = await Promise.all([spool_(["dead", "list", listed, "--json", "--limit", "2"]), spool_(["dead", "purge", purged])]);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.stdout) as { items: Array<{ id: string; reason: string; lastError: { message: string } }>; nextCursor?: string };
    expect(page.items.map((d) => d.id)).toEqual(ids.slice(0, 2));
    expect(page.items[0]).toMatchObject({ reason: "permanent_error", lastError: { message: "bounced" } });
    expect(page.nextCursor).toEqual(expect.any(String));
    expect(purge).toMatchObject({ code: 0, stdout: `purged 2 dead letters from "${purged}"\n` });
    expect(await spool.queue(purged).stats()).toMatchObject({ dead: 0 });

    const replay = await spool_(["dead", "replay", listed, "--id", ids[0], ids[2], "--json"]);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toEqual({ replayed: 2 });
    expect(await spool.queue(listed).stats()).toMatchObject({ ready: 2, dead: 1 });
  });
});

describe.concurrent("spool bench", () => {
  it("publishes, leases and acks through the server, prints msg/s, and deletes its queue", async ({ expect }) => {
    const result = await spool_(["bench", "--messages", "300", "--batch", "50", "--lease-max", "40", "--concurrency", "3", "--json"]);
    expect(result.code).toBe(0);
    const figures = JSON.parse(result.stdout) as { queue: string; publish: { messages: number; requests: number; msgPerSec: number }; leaseAck: { messages: number } };
    expect(figures.publish).toMatchObject({ messages: 300, requests: 6 });
    expect(figures.publish.msgPerSec).toBeGreaterThan(0);
    expect(figures.leaseAck.messages).toBe(300);
    expect((await spool.queues()).some((q) => q.name === figures.queue)).toBe(false);
  });
});

describe.concurrent("errors", () => {
  it("exit non-zero with one clear line: bad JSON body, unknown queue, unreachable server", async ({ expect }) => {
    const port = await closedPort();
    const [badBody, unknown, unreachable] = await Promise.all([
      spool_(["publish", "q"], "{to: 1}"),
      spool_(["stats", "missing-queue"]),
      runCli(["queues"], { env: { SPOOL_URL: `http://127.0.0.1:${port}` } }),
    ]);
    expect(badBody.code).toBe(2); // a bad argument is a usage error, as commander's own are
    expect(badBody.stderr).toMatch(/^spool: the body from stdin is not valid JSON: .+\n\(add --help for usage\)\n$/);
    expect(unknown).toMatchObject({ code: 1, stdout: "", stderr: 'spool: queue "missing-queue" does not exist (not_found)\n' });
    expect(unreachable).toMatchObject({
      code: 1,
      stderr: `spool: cannot reach the Spool server at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (unavailable)\n`,
    });
  });
});

describe.concurrent("spool keys create", () => {
  it("prints a key once and an entry whose hash verifies with ApiKeyRing", async ({ expect }) => {
    const result = await runCli(["keys", "create", "--name", "billing", "--scope", "publish", "--scope", "consume", "--queue", "billing.*", "--json"]);
    expect(result.code).toBe(0);
    const { key, entry } = JSON.parse(result.stdout) as { key: string; entry: ApiKeyConfig };
    expect(entry).toEqual({ name: "billing", hash: hashApiKey(key), scopes: ["publish", "consume"], queues: ["billing.*"] });
    const identity = new ApiKeyRing([entry]).authenticate(`Bearer ${key}`);
    expect(identity?.name).toBe("billing");
    expect(identity?.allowsQueue("billing.invoices")).toBe(true);
    expect(identity?.allowsQueue("emails")).toBe(false);
  });
});
