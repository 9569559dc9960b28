/**
 * A real `spool serve` child process (`node --import tsx src/cli/main.ts serve`, as test/cli runs
 * it), and strace attached to it from outside.
 *
 * Why attach (`strace -p`) rather than start the server under strace: start-up does a varying
 * number of fdatasyncs (lock files, the delivery service declaring its queues, whose records
 * group-commit together or not), so "the Nth fdatasync" counted from exec would land anywhere
 * from start-up to the workload. Attached once the server answers, strace counts from a quiet
 * server: `when=N` is the Nth call of the workload.
 *
 * Why `UV_THREADPOOL_SIZE=1`: the journal's file I/O runs on libuv's thread pool, and strace
 * counts `when=` per syscall and per TRACEE, i.e. per thread. With four pool threads, "when=5"
 * would fire at the 5th fdatasync of whichever thread gets there first (the 17th of the process,
 * say). With one pool thread every journal fdatasync and write goes through one tracee, so N is
 * the process's Nth. Group commit is unaffected: one flight runs at a time anyway.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { segmentPath, segmentsIn } from "../../src/log/layout.js";
import { requireTool } from "./tools.js";

/**
 * Servers and tracers still running. A test that times out may never reach its `finally`: when the
 * test process exits, whatever is left is killed, so no server outlives the run.
 */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
}

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const LISTENING = /spool: listening on (\S+)/;
const START_TIMEOUT_MS = 20_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeOptions {
  dataDir: string;
  /** Written as a config file and passed with `--config` (journal settings, queues…). */
  config?: Record<string, unknown>;
  /** Where the config file goes (default: next to the data dir). */
  configDir?: string;
  /**
   * A queue to make one durable write on once the server listens (see `settle`), so that start-up
   * records still in flight are on disk before the test counts syscalls. Default: none.
   */
  settleQueue?: string;
  /** A command the server runs under, e.g. `["/usr/bin/fiu-run", "-x"]` (it must exec, keeping the pid). */
  wrapper?: readonly string[];
  env?: Record<string, string>;
}

export interface ServeProcess {
  readonly url: string;
  /** The node process (a wrapper that execs keeps it). */
  readonly pid: number;
  readonly child: ChildProcess;
  readonly ended: Promise<Exit>;
  /** Whether the process has exited. */
  exited(): boolean;
  /** stderr and the tail of stdout (the JSON log), for failure messages. */
  output(): string;
  /** SIGTERM (graceful shutdown: a final snapshot) and wait for the exit. */
  stop(): Promise<Exit>;
  /** SIGKILL and wait. A no-op if it already exited. */
  kill(): Promise<Exit>;
}

export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("SPOOL_")) env[name] = value;
  Object.assign(env, { UV_THREADPOOL_SIZE: "1" }, options.env);
  const args = ["--import", TSX_LOADER, CLI, "serve", "--port", "0", "--data-dir", options.dataDir, "--log-level", "warn"];
  if (options.config) {
    const file = path.join(options.configDir ?? path.dirname(options.dataDir), `spool-faults-${process.pid}-${Date.now()}.json`);
    await fs.writeFile(file, JSON.stringify(options.config));
    args.push("--config", file);
  }
  const [file, ...prefix] = options.wrapper ?? [process.execPath];
  const child = spawn(file, options.wrapper ? [...prefix, process.execPath, ...args] : args, { env, stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  let stderr = "";
  let stdout = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    if (stdout.length > 64_000) stdout = stdout.slice(-32_000);
  });
  let exit: Exit | undefined;
  const ended = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve((exit = { code, signal }))));
  const output = () => `stderr:\n${stderr}\nstdout (log, tail):\n${stdout.slice(-4000)}`;

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spool serve did not print its listening line within ${START_TIMEOUT_MS} ms\n${output()}`)), START_TIMEOUT_MS);
    const onData = () => {
      const match = LISTENING.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      child.stderr!.off("data", onData);
      resolve(match[1]);
    };
    child.stderr!.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void ended.then((e) => {
      clearTimeout(timer);
      reject(new Error(`spool serve exited (code ${e.code}, signal ${e.signal}) before listening\n${output()}`));
    });
  }).catch(async (error: unknown) => {
    if (!exit) child.kill("SIGKILL");
    await ended;
    throw error;
  });

  const signal = async (name: NodeJS.Signals): Promise<Exit> => {
    if (!exit) child.kill(name);
    return ended;
  };
  if (options.settleQueue !== undefined) {
    await settle(url, options.settleQueue).catch(async (error: unknown) => {
      await signal("SIGKILL");
      throw new Error(`${(error as Error).message}\n${output()}`);
    });
  }
  return { url, pid: child.pid!, child, ended, exited: () => exit !== undefined, output, stop: () => signal("SIGTERM"), kill: () => signal("SIGKILL") };
}

/**
 * One durable write (`PUT /v1/queues/:q` with no change), answered once its group's fdatasync
 * returned. Group commit writes in append order, so everything the server appended before it (a
 * lease record, start-up's queue declarations) is on disk too: the next write strace counts is
 * the test's.
 */
export async function settle(url: string, queue: string): Promise<void> {
  const response = await fetch(`${url}/v1/queues/${encodeURIComponent(queue)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`settling on queue ${queue}: HTTP ${response.status} ${text}`);
}

export interface Tracer {
  readonly ended: Promise<Exit>;
  /** strace's own stderr (attach and detach messages, errors). */
  stderr(): string;
  /** Detach (SIGTERM makes an attached strace let go; the tracee runs on) and wait for strace to exit. */
  detach(): Promise<Exit>;
}

/**
 * Attaches `strace -f -p <pid> <args>` to a running process and resolves once every thread is
 * attached (strace says "Process N attached"), so the first syscall the test provokes afterwards
 * is counted. Rejects, with strace's message, if it cannot attach (no ptrace permission…).
 */
export async function attachStrace(pid: number, args: readonly string[]): Promise<Tracer> {
  const strace = requireTool("strace", "syscall fault injection");
  const child = spawn(strace, ["-f", "-p", String(pid), ...args], { stdio: ["ignore", "ignore", "pipe"] });
  track(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exit: Exit | undefined;
  const ended = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve((exit = { code, signal }))));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach to ${pid} within 10 s: ${stderr}`)), 10_000);
    const onData = () => {
      if (!/Process \d+ attached/.test(stderr)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stderr!.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void ended.then((e) => {
      clearTimeout(timer);
      reject(new Error(`strace exited (code ${e.code}, signal ${e.signal}) before attaching to ${pid}: ${stderr}`));
    });
  });
  return {
    ended,
    stderr: () => stderr,
    detach: async () => {
      if (!exit) child.kill("SIGTERM");
      return ended;
    },
  };
}

/** The data dir's log segments, oldest first (named as the journal's layout.ts names them). */
export async function segmentFiles(dataDir: string): Promise<string[]> {
  return segmentsIn(await fs.readdir(dataDir)).map((segment) => segmentPath(dataDir, segment));
}
