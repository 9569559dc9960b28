/**
 * A message whose handler takes the whole process down (here: SIGKILL from inside the handler)
 * must still use up its attempts. Each start leases it (attempt n, durable before the handler
 * runs), the process dies, the next start finds the lease expired: after maxAttempts starts the
 * message is dead with reason max_attempts and a last error that says its lease expired, and the
 * process that finds it dead stays up and handles other work.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { POISON_OPTIONS } from "./load-spec.js";

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), "poison-host.ts");
const REPO = path.resolve(path.dirname(HOST), "../..");

type HostMessage =
  | { t: "ready"; id?: string }
  | { t: "handling"; attempt: number }
  | { t: "dead"; reason: string; attempt: number; lastError?: string }
  | { t: "handled"; body: { n: number } };

function start(dataDir: string, publish: boolean) {
  const child = fork(HOST, [dataDir, ...(publish ? ["publish"] : [])], { cwd: REPO, execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const messages: HostMessage[] = [];
  const listeners = new Set<() => void>();
  child.on("message", (m: HostMessage) => {
    messages.push(m);
    for (const l of [...listeners]) l();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  /** The first message `match` accepts, or undefined if the process exits first. */
  const next = <T extends HostMessage>(match: (m: HostMessage) => m is T): Promise<T | undefined> =>
    new Promise((resolve) => {
      const check = () => {
        const found = messages.find(match);
        if (found) {
          listeners.delete(check);
          resolve(found);
        }
      };
      listeners.add(check);
      check();
      void exited.then(() => {
        listeners.delete(check);
        resolve(messages.find(match));
      });
    });
  return { child, exited, next, stderr: () => stderr };
}

describe("a handler that kills its own process", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => removeTempDir(d)));
  });

  it("uses up the message's attempts across restarts; then the message is dead and the process stays up", async () => {
    const dataDir = await makeTempDir("spool-poison-");
    dirs.push(dataDir);
    let id: string | undefined;
    const attempts: number[] = [];
    for (let start_ = 0; start_ < POISON_OPTIONS.maxAttempts + 3; start_++) {
      const host = start(dataDir, start_ === 0);
      const ready = await host.next((m): m is Extract<HostMessage, { t: "ready" }> => m.t === "ready");
      expect(ready, `start ${start_}: ${host.stderr()}`).toBeDefined();
      id ??= ready!.id;
      host.child.send({ t: "watch", id });
      const outcome = await Promise.race([
        host.next((m): m is Extract<HostMessage, { t: "handling" }> => m.t === "handling"),
        host.next((m): m is Extract<HostMessage, { t: "dead" }> => m.t === "dead"),
      ]);
      if (outcome?.t === "handling") {
        attempts.push(outcome.attempt);
        expect(await host.exited, `start ${start_}: the handler's kill`).toBe("SIGKILL");
        continue;
      }
      // Dead: the reason says why, and this process lives on and does other work.
      expect(outcome, `start ${start_}: neither handled nor dead; ${host.stderr()}`).toMatchObject({ t: "dead", reason: "max_attempts", attempt: POISON_OPTIONS.maxAttempts });
      expect((outcome as { lastError?: string }).lastError).toMatch(/lease/i);
      host.child.send({ t: "publish", n: 7 });
      expect(await host.next((m): m is Extract<HostMessage, { t: "handled" }> => m.t === "handled")).toMatchObject({ body: { n: 7 } });
      expect(host.child.exitCode).toBeNull();
      host.child.kill("SIGTERM");
      await host.exited;
      expect(attempts).toEqual([1, 2, 3]);
      return;
    }
    throw new Error(`the poison message never went dead; attempts seen: ${attempts.join(", ")}`);
  }, 120_000);
});
