/**
 * A library host whose handler takes its own process down (SIGKILL, as an out-of-memory kill or a
 * native fault would) on a "poison" message, for poison.test.ts. Run as a child process with IPC:
 *
 *   argv: <dataDir> [publish]      `publish`: publish the poison message first (the first start)
 *   { t: "ready", id? }            open (and the poison id, when this start published it)
 *   { t: "handling", attempt }     the handler got the poison message: the process dies now
 *   { t: "dead", reason, attempt, lastError }   the poison message is dead (polled through status)
 *   { t: "handled", body }         a healthy message went through (the process is still up)
 */
import { Spool } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { POISON_OPTIONS, POISON_QUEUE } from "./load-spec.js";

type Body = { poison: boolean; n: number };

async function main(dataDir: string, publish: boolean): Promise<void> {
  const spool = await Spool.open({ dataDir, journal: { fsync: "always" } });
  const queue = spool.queue<Body>(POISON_QUEUE, POISON_OPTIONS);
  const id = publish ? (await queue.publish({ poison: true, n: 0 })).id : undefined;
  process.send!({ t: "ready", id });
  process.on("message", (message: { t: string; id?: string; n?: number }) => {
    if (message.t === "watch") {
      void pollUntil(async () => ((await spool.status(message.id!))?.state === "dead" ? spool.status(message.id!) : undefined), { timeoutMs: 30_000, intervalMs: 20 }).then((status) =>
        process.send!({ t: "dead", reason: status.deadReason, attempt: status.attempt, lastError: status.lastError?.message }),
      );
    } else if (message.t === "publish") {
      void queue.publish({ poison: false, n: message.n! });
    }
  });
  queue.work(async (msg) => {
    if (msg.body.poison) {
      process.send!({ t: "handling", attempt: msg.attempt }, () => process.kill(process.pid, "SIGKILL"));
      await new Promise(() => undefined); // never returns: the process is about to die
    }
    process.send!({ t: "handled", body: msg.body });
  });
}

process.on("disconnect", () => process.exit(0)); // never outlive the observer
const [dataDir, publish] = process.argv.slice(2);
main(dataDir, publish === "publish").catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
