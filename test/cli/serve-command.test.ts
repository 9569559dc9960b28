/** `spool serve` as a child process on a temp data dir: starts, answers readiness, exits 0 on SIGTERM. */
import { once } from "node:events";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { runCli, spawnCli } from "./cli-process.js";

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir("spool-cli-serve-");
});

afterEach(async () => {
  await removeTempDir(dir);
});

describe("spool serve", () => {
  it("starts, answers /health/ready, and exits 0 on SIGTERM; a bad setting exits 1 naming it", async () => {
    const server = spawnCli(["serve", "--port", "0", "--data-dir", "data", "--log-level", "warn"], { cwd: dir });
    const failed = runCli(["serve"], { cwd: dir, env: { SPOOL_PORT: "12abc" } });
    try {
      let stderr = "";
      server.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const url = await pollUntil(() => /listening on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 15_000, what: "spool serve to listen" });
      expect(stderr).toContain(`(data in ${dir}/data, fsync always)`);
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });

      const exited = once(server, "exit");
      server.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      server.kill("SIGKILL");
    }
    const result = await failed;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('spool: SPOOL_PORT: expected an integer from 0 to 65535, got "12abc" (validation_failed)\n');
  });
});
