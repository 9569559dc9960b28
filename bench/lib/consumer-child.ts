/**
 * The child side of the processes scenario: `consumer-child.ts <system> <queue> <concurrency>`,
 * with the parent system's `sharedEnv` in its environment. It attaches to the parent's data,
 * says `ready`, starts a consumer on `go`, reports how many it handled every few ms, and on
 * `stop` closes and reports the CPU time it used since `go`.
 */
import { systemEntries } from "../systems/index.js";
import type { Consumer } from "../systems/system.js";

export type ToChild = { go: true } | { stop: true };
export type FromChild = { ready: true } | { handled: number } | { stopped: { handled: number; cpuMs: number } } | { error: string };

const REPORT_EVERY_MS = 10;

function send(message: FromChild): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const [name, queueName, concurrencyText] = process.argv.slice(2);
  const entry = systemEntries.find((e) => e.name === name);
  if (!entry) throw new Error(`no system named "${name}"`);
  const system = entry.create();
  await system.setup();
  if (!system.attachQueue) throw new Error(`${name} cannot attach to a queue of another process`);
  const queue = await system.attachQueue(queueName);
  let consumer: Consumer | undefined;
  let cpuAtGo: NodeJS.CpuUsage | undefined;
  let reporter: NodeJS.Timeout | undefined;
  let last = 0;
  process.on("message", (message: ToChild) => {
    if ("go" in message) {
      cpuAtGo = process.cpuUsage();
      void queue.consume({ concurrency: Number(concurrencyText) }).then((started) => {
        consumer = started;
        reporter = setInterval(() => {
          const handled = started.handled.value;
          if (handled !== last) send({ handled: (last = handled) });
        }, REPORT_EVERY_MS);
      });
    } else if ("stop" in message) {
      clearInterval(reporter);
      const cpu = process.cpuUsage(cpuAtGo);
      const handled = consumer?.handled.value ?? 0;
      void (async () => {
        await consumer?.close();
        await system.teardown();
        process.send?.({ stopped: { handled, cpuMs: (cpu.user + cpu.system) / 1000 } } satisfies FromChild, () => process.exit(0));
      })();
    }
  });
  send({ ready: true });
}

main().catch((error: unknown) => {
  process.send?.({ error: error instanceof Error ? error.message : String(error) } satisfies FromChild, () => process.exit(1));
});
