/**
 * A library host for the crash tests, run as a child process (`node --import tsx`) so that a
 * SIGKILL takes down only it, never the observer (RELIABILITY.md, "How a crash test checks its
 * results"). It talks to the parent over IPC (`process.send`), in order:
 *
 *   { t: "ready", pid, openMs }         the data directory is open (Spool.open took openMs)
 *   { t: "pub", keys }                  BEFORE a publish call: these bodies are being attempted
 *   { t: "pub-ok", items: [key, id][] } AFTER it resolved (durable under fsync "always")
 *   { t: "leased", items }              a lease handed these out
 *   { t: "ack", items }                 BEFORE an ack / ackMany of these
 *   { t: "ack-ok", items }              AFTER it resolved
 *   { t: "stats", recordsPerFdatasync, fdatasyncs, records }   now and then
 *   { t: "error", message }             anything unexpected (the parent fails the test)
 *
 * Modes (argv): `load <dataDir> <seed> <queues,...> [steady|timers] [producer prefix]` runs
 * producers and consumers until killed (`timers`: short leases, delayed nacks, timed publishes,
 * see TIMERS); `hold <dataDir>` opens the directory and waits to be killed.
 */
import { performance } from "node:perf_hooks";
import { journalStore, Spool, SpoolError, type JournalStore, type Queue } from "../../src/index.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { LOAD, TIMERS, type Body, type ChildMessage } from "./load-spec.js";

const key = (body: Body) => `${body.producer}:${body.seq}`;

function send(message: ChildMessage): void {
  process.send?.(message);
}

function expectedFailure(error: unknown): void {
  // A closing store or a failing disk answers `unavailable`; nothing else is expected here.
  if (!(error instanceof SpoolError && error.code === "unavailable")) send({ t: "error", message: String((error as Error)?.stack ?? error) });
}

async function load(dataDir: string, seed: number, queueNames: string[], profile: string, prefix: string): Promise<void> {
  const random = seededRandom(seed);
  const timers = profile === "timers";
  const store = journalStore({ dataDir, fsync: "always", segmentMaxBytes: 64 * 1024, snapshotEveryOps: 2_000 }) as JournalStore;
  const opening = performance.now();
  const spool = await Spool.open({ store });
  const openMs = performance.now() - opening;
  const queueOptions = timers ? { ...LOAD.queueOptions, leaseMs: TIMERS.leaseMs } : LOAD.queueOptions;
  const queues = queueNames.map((name) => spool.queue<Body>(name, queueOptions));
  const timer = (): { delayMs?: number; availableAt?: number; ttlMs?: number } => {
    if (!timers || random() >= TIMERS.timedChance) return {};
    const ms = 1 + Math.floor(random() * TIMERS.timedMaxMs);
    const kind = random();
    return kind < 0.4 ? { delayMs: ms } : kind < 0.7 ? { availableAt: Date.now() + ms } : { ttlMs: ms };
  };
  await Promise.all(queues.map((q) => q.info()));
  send({ t: "ready", pid: process.pid, openMs });

  let ops = 0;
  const reportStats = () => {
    if (++ops % 200 === 0) {
      const s = store.logStats;
      send({ t: "stats", recordsPerFdatasync: s.recordsPerFdatasync, fdatasyncs: s.fdatasyncs, records: s.records });
    }
  };

  const producer = async (name: string, window: number) => {
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; seq < LOAD.maxSeq; ) {
      const q = queues[Math.floor(random() * queues.length)];
      const bodies: Body[] = [];
      const count = random() < 0.2 ? 2 + Math.floor(random() * 4) : 1;
      for (let i = 0; i < count; i++) bodies.push({ producer: prefix + name, seq: seq++ });
      send({ t: "pub", keys: bodies.map(key) });
      const call = bodies.length === 1 ? q.publish(bodies[0], timer()).then((r) => [r]) : q.publishMany(bodies.map((body) => ({ body, ...timer() })));
      const settled = call.then(
        (results) => {
          send({ t: "pub-ok", items: results.map((r, i) => [key(bodies[i]), r.id]) });
          reportStats();
        },
        expectedFailure,
      );
      inFlight.add(settled);
      void settled.finally(() => inFlight.delete(settled));
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
  };

  const consumer = async (q: Queue<Body>) => {
    for (;;) {
      const leased = await q.lease({ max: 1 + Math.floor(random() * 10), waitMs: 50 });
      if (leased.length === 0) continue;
      send({ t: "leased", items: leased.map((m) => [key(m.body), m.id]) });
      const batch = [];
      const settling: Array<Promise<void>> = [];
      for (const m of leased) {
        const choice = random();
        if (choice < 0.4) {
          const items: Array<[string, string]> = [[key(m.body), m.id]];
          send({ t: "ack", items });
          settling.push(q.ack(m.id, m.leaseToken).then(() => send({ t: "ack-ok", items }), expectedFailure));
        } else if (choice < 0.85) {
          batch.push(m);
        } else if (choice < 0.95) {
          const delayMs = timers ? Math.floor(random() * TIMERS.timedMaxMs) : undefined; // a Retry-After of sorts
          settling.push(q.nack(m.id, m.leaseToken, { error: { message: "retry", kind: delayMs === undefined ? "transient" : "error" }, delayMs }).then(() => undefined, expectedFailure));
        } // else: abandoned (redelivered once the lease ends, after the restart)
      }
      if (batch.length > 0) {
        const items: Array<[string, string]> = batch.map((m) => [key(m.body), m.id]);
        send({ t: "ack", items });
        settling.push(
          q.ackMany(batch.map((m) => ({ id: m.id, leaseToken: m.leaseToken }))).then((outcomes) => {
            const failed = outcomes.filter((o) => !o.ok);
            if (failed.length > 0) send({ t: "error", message: `ackMany refused fresh leases: ${JSON.stringify(failed)}` });
            send({ t: "ack-ok", items: items.filter((_, i) => outcomes[i].ok) });
          }, expectedFailure),
        );
      }
      await Promise.all(settling);
      reportStats();
    }
  };

  await Promise.all([
    ...LOAD.producers.map((p) => producer(p.name, p.window)),
    ...queues.flatMap((q) => [consumer(q), consumer(q)]),
  ]);
}

async function hold(dataDir: string): Promise<void> {
  const opening = performance.now();
  await Spool.open({ dataDir, journal: { fsync: "always" } });
  send({ t: "ready", pid: process.pid, openMs: performance.now() - opening });
  setInterval(() => undefined, 1 << 30); // stay up until killed
}

process.on("disconnect", () => process.exit(0)); // never outlive the observer

const [mode, dataDir, seedText, queuesText, profile = "steady", prefix = ""] = process.argv.slice(2);
const main = mode === "load" ? load(dataDir, Number(seedText), (queuesText ?? "jobs").split(","), profile, prefix) : mode === "hold" ? hold(dataDir) : Promise.reject(new Error(`unknown mode ${mode}`));
main.catch((error: unknown) => {
  const message: ChildMessage = { t: "error", message: String((error as Error)?.stack ?? error) };
  if (process.send) process.send(message, () => process.exit(1));
  else process.exit(1);
});
