/**
 * Starts `child-host.ts` (or another host script of this folder) as a separate Node process
 * (`node --import tsx`) with an IPC channel, and turns what it says into promises the tests wait
 * on: no sleeps, only events.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { History } from "../helpers/total-queue.js";
import type { ChildMessage } from "./load-spec.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
export const CHILD_HOST = path.join(HERE, "child-host.ts");

export interface HostHandle<M = ChildMessage> {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stderr, for failure messages. */
  readonly stderr: () => string;
  /** Resolves once the process has exited AND its IPC channel has closed (every message it sent has arrived). */
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first message (already received or still to come) that `match` accepts; rejects if the child ends first. */
  waitFor(match: (message: M) => boolean, what: string): Promise<M>;
}

/** `script`: the host to run (default `child-host.ts`); its messages are of type `M`. */
export function spawnHost<M = ChildMessage>(args: string[], onMessage: (message: M) => void = () => undefined, script = CHILD_HOST): HostHandle<M> {
  const child = fork(script, args, { cwd: REPO, execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const received: M[] = [];
  const waiters = new Set<{ match: (m: M) => boolean; resolve: (m: M) => void }>();
  child.on("message", (message: M) => {
    received.push(message);
    onMessage(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let channelClosed = false;
    const maybeDone = () => exit && channelClosed && resolve(exit);
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (!child.connected) channelClosed = true;
      maybeDone();
    });
    child.on("disconnect", () => {
      channelClosed = true;
      maybeDone();
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    stderr: () => stderr,
    ended,
    waitFor(match, what) {
      const already = received.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        void ended.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          reject(new Error(`child ${child.pid} ended (code ${code}, signal ${signal}) before ${what}; stderr:\n${stderr}`));
        });
      });
    },
  };
}

/**
 * Records what a `load` child reports into the total-queue history; true for a confirmation (a
 * publish or ack that resolved), which the tests count to choose their kill moment.
 */
export function recordInHistory(history: History, message: ChildMessage): boolean {
  switch (message.t) {
    case "pub":
      for (const key of message.keys) history.publishInvoked(key);
      return false;
    case "pub-ok":
      for (const [key, id] of message.items) history.publishOk(key, id);
      return true;
    case "leased":
      for (const [key, id] of message.items) history.leased(key, id);
      return false;
    case "ack":
      for (const [key, id] of message.items) history.ackInvoked(key, id);
      return false;
    case "ack-ok":
      for (const [key, id] of message.items) history.ackOk(key, id);
      return true;
    default:
      return false;
  }
}
