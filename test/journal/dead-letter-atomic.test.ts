/**
 * Dead-letter routing on the journal is atomic with the death (core/dead-letter.ts): a death and
 * its copies are one engine call, so one log record (a nack, a tick of the timer or of a read, a
 * lease's or an ack's tick, a publish's overflow) holds both, with the copies' ids. The power is
 * cut before every file-system call of a workload that kills messages each way (reject,
 * permanent error, max_attempts by expired lease, TTL, drop-oldest, through a queue and a fanout
 * exchange target, across snapshots); after recovery every dead letter has exactly one copy and
 * every copy its dead letter.
 */
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, SpoolError, type JournalStore } from "../../src/index.js";
import { CrashFs, MemoryDisk } from "../helpers/crash-fs.js";

const DIR = "/data/spool";
const SOURCES = ["work", "ttl", "capped"];
const TARGETS = ["dlq", "fan-a", "fan-b"];

function tolerateCrash(error: unknown): void {
  if (!(error instanceof SpoolError && error.code === "unavailable")) throw error;
}

function open(fs: CrashFs, clock: ManualClock): JournalStore {
  return journalStore({ dataDir: DIR, fs, clock, fsync: "always", snapshotEveryOps: 9, snapshotEveryMs: 1_000_000_000, onWarning: () => undefined, onFault: () => undefined }) as JournalStore;
}

/** Kills messages every way a message dies; stops at the first refused call (the power is out). */
async function workload(spool: Spool, clock: ManualClock): Promise<void> {
  await spool.declareExchange("dlx", "fanout");
  await spool.bind("dlx", "fan-a");
  await spool.bind("dlx", "fan-b");
  const work = spool.queue<number>("work", { maxAttempts: 2, leaseMs: 50, deadLetter: { queue: "dlq" } });
  const ttl = spool.queue<number>("ttl", { ttlMs: 100, deadLetter: { exchange: "dlx" } });
  const capped = spool.queue<number>("capped", { maxLength: 2, overflow: "drop-oldest", deadLetter: { queue: "dlq" } });
  await work.publishMany([0, 1, 2, 3, 4, 5].map((body) => ({ body })));
  let leased = await work.lease({ max: 6 });
  await work.nack(leased[0].id, leased[0].leaseToken, { reject: true });
  await work.nack(leased[1].id, leased[1].leaseToken, { error: { message: "bad", kind: "permanent" } });
  await work.ack(leased[2].id, leased[2].leaseToken);
  await ttl.publishMany([10, 11].map((body) => ({ body })));
  clock.advance(50); // the other leases expire (attempt 1 of 2): back to ready, by the timer's tick
  leased = await work.lease({ max: 6 });
  await capped.publishMany([20, 21, 22].map((body) => ({ body }))); // drops 20
  clock.advance(50); // these leases expire for good: dead (max_attempts) in the timer's tick; the TTLs run out
  await ttl.publish(12);
  await capped.publish(23); // drops 21
  clock.advance(100);
  await spool.status(leased[0].id); // a read that ticks: the TTL of 12
}

async function runWithCrashAt(crashOp: number | undefined): Promise<{ dead: Array<[string, string]>; copies: string[]; reachedEnd: boolean }> {
  const disk = new MemoryDisk();
  const fs = new CrashFs(disk);
  const clock = new ManualClock();
  const store = open(fs, clock);
  const spool = await Spool.open({ store });
  const crashed = crashOp === undefined ? undefined : fs.crashAtOp(crashOp);
  let reachedEnd = false;
  try {
    await workload(spool, clock);
    reachedEnd = true;
  } catch (error) {
    tolerateCrash(error);
  }
  const next = crashed !== undefined && !reachedEnd ? await crashed : fs.crash();
  await spool.close().catch(() => undefined);

  const clockB = new ManualClock(clock.now());
  const reopened = open(next, clockB);
  const spoolB = await Spool.open({ store: reopened });
  try {
    const dead: Array<[string, string]> = [];
    for (const name of SOURCES) {
      if (!(await reopened.getQueue(name))) continue;
      for (const letter of (await spoolB.queue(name).deadLetters({ limit: 1000 })).items) dead.push([name, letter.id]);
    }
    const copies: string[] = [];
    for (const name of TARGETS) {
      if (!(await reopened.getQueue(name))) continue;
      for (const m of await spoolB.queue(name).lease({ max: 1000 })) copies.push(`${m.headers?.["x-death-id"]}`);
    }
    return { dead, copies, reachedEnd };
  } finally {
    await spoolB.close();
  }
}

describe("dead-letter routing survives a power cut at any point atomically with the death (CrashFs)", () => {
  it("with no cut: every death has its copies (one per target queue)", async () => {
    const { dead, copies, reachedEnd } = await runWithCrashAt(undefined);
    expect(reachedEnd).toBe(true);
    // work: 0 rejected, 1 permanent, 3..5 max_attempts; ttl: 10, 11, 12 expired (fanout: 2 copies each); capped: 20, 21 overflow.
    expect(dead).toHaveLength(5 + 3 + 2);
    expect(copies).toHaveLength(5 + 3 * 2 + 2);
  });

  it("a cut before any file-system call never leaves a death without its copies, or a copy without its death", async () => {
    let cutsMidWorkload = 0;
    for (let crashOp = 1; ; crashOp++) {
      const { dead, copies, reachedEnd } = await runWithCrashAt(crashOp);
      const found = new Map<string, number>();
      for (const [, id] of dead) found.set(id, 0);
      for (const id of copies) {
        expect(found.has(id), `cut at op ${crashOp}: a copy of ${id}, which is not dead`).toBe(true);
        found.set(id, (found.get(id) ?? 0) + 1);
      }
      // A death in "ttl" has two copies (the fanout's two queues), every other one copy.
      for (const [queue, id] of dead) expect(found.get(id), `cut at op ${crashOp}: copies of ${id} (died in ${queue})`).toBe(queue === "ttl" ? 2 : 1);
      if (reachedEnd) break;
      cutsMidWorkload++;
      if (crashOp > 2000) throw new Error("the workload never ends");
    }
    expect(cutsMidWorkload).toBeGreaterThan(20);
  });
});
