/** `spool batch send` and `spool batch status`, run as the real CLI in a child process against a server. */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { startDeliveryServer } from "./delivery-server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const run = promisify(execFile);

let dir: string;
let server: RunningServer | undefined;
beforeEach(async () => (dir = await makeTempDir("spool-batch-cli-")));
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeTempDir(dir);
});

function cli(args: string[]) {
  return run(process.execPath, ["--import", "tsx", path.join(REPO, "src/cli/main.ts"), ...args], { cwd: REPO }).catch((error: { code: number; stdout: string; stderr: string }) => error);
}

it("batch send streams an NDJSON file, follows it to the end and prints the summary; batch status reads it", async () => {
  server = await startDeliveryServer(path.join(dir, "data"));
  const file = path.join(dir, "batch.ndjson");
  const lines = [JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" } })];
  for (let i = 0; i < 500; i++) lines.push(JSON.stringify({ id: `u${i}`, vars: { name: `U${i}` } }));
  await writeFile(file, lines.join("\n") + "\n");

  const sent = await cli(["batch", "send", file, "--url", server.url, "--json"]);
  expect(sent.stderr).toMatch(/500 recipients accepted/);
  expect(sent.stderr).toMatch(/100\.0%/);
  const summary = JSON.parse(sent.stdout) as { id: string; counts: { sent: number }; completedAt: number };
  expect(summary).toMatchObject({ total: 500, counts: { sent: 500 }, completedAt: expect.any(Number) });

  const status = await cli(["batch", "status", summary.id, "--url", server.url]);
  expect(status.stdout).toMatch(/sent\s+500/);

  const bad = path.join(dir, "bad.json");
  await writeFile(bad, JSON.stringify({ channel: "mock", template: { body: "{{x}}" }, recipients: [{ id: "a" }] }));
  const refused = await cli(["batch", "send", bad, "--url", server.url]);
  expect((refused as { code?: number }).code).toBe(1);
  expect(refused.stderr).toContain('missing variable "x"');
});
