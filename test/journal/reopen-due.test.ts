/**
 * Reopening with time-driven work due: leases that expired while the process was down, nacked
 * retries and delayed publishes whose delay passed, TTLs that ran out. Opening must never run that
 * work before the log is open (it would have nowhere to log it), must apply it once, as one logged
 * step, after the open — and a failure of that work must leave the store unavailable and
 * rebuilding from disk, never kill the process.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type Queue } from "../../src/index.js";
import { Engine } from "../../src/engine/engine.js";
import type { JournalFile, OpenMode } from "../../src/log/journal-fs.js";
import { CrashFs, MemoryDisk } from "../helpers/crash-fs.js";
import { pollUntil } from "../helpers/poll-until.js";

const DIR = "/data/spool";
const T0 = Date.UTC(2031, 0, 1);

/** A crash file system that can hold the log's own open of its segment ("readWrite"), which comes after the engine is rebuilt. */
class HeldOpenFs extends CrashFs {
  #release: (() => void) | undefined;
  #held: Promise<void> | undefined;
  reached = false;

  holdSegmentOpen(): () => void {
    this.#held = new Promise<void>((resolve) => (this.#release = resolve));
    return () => this.#release?.();
  }

  override async open(path: string, mode: OpenMode): Promise<JournalFile> {
    if (mode === "readWrite" && this.#held) {
      this.reached = true;
      await this.#held;
    }
    return super.open(path, mode);
  }
}

interface Workload {
  disk: MemoryDisk;
  ids: Record<"expiredLease" | "nacked" | "delayed" | "ttl" | "waiting", string>;
}

/** Every kind of due work, then a power cut at rest (everything below was acknowledged durable). */
async function leaveWorkDue(): Promise<Workload> {
  const disk = new MemoryDisk();
  const fs = new CrashFs(disk);
  const clock = new ManualClock(T0);
  const store = journalStore({ dataDir: DIR, fs, clock, onWarning: () => undefined });
  const spool = await Spool.open({ store });
  const q: Queue<string> = spool.queue<string>("jobs", { leaseMs: 1_000, maxAttempts: 5 });
  const expiredLease = (await q.publish("leased, then abandoned")).id;
  const nacked = (await q.publish("nacked with a delay")).id;
  const leased = await q.lease({ max: 2 });
  expect(leased.map((m) => m.id)).toEqual([expiredLease, nacked]);
  await q.nack(nacked, leased[1].leaseToken, { error: { message: "later" }, delayMs: 1_500 });
  const delayed = (await q.publish("delayed", { delayMs: 2_000 })).id;
  const ttl = (await q.publish("expires", { ttlMs: 3_000, priority: 0 })).id;
  const waiting = (await q.publish("due in a day", { delayMs: 86_400_000 })).id;
  fs.crash();
  return { disk, ids: { expiredLease, nacked, delayed, ttl, waiting } };
}

function reopen(disk: MemoryDisk, at: number, extra: { onFault?: (error: Error, during: string) => void } = {}) {
  const fs = new HeldOpenFs(disk);
  const clock = new ManualClock(at);
  const store = journalStore({ dataDir: DIR, fs, clock, onWarning: () => undefined, ...extra }) as JournalStore;
  return { fs, clock, store };
}

describe("reopening a journal with time-driven work due", () => {
  afterEach(() => vi.restoreAllMocks());

  it("runs nothing while the log is opening, then applies what fell due once, as one logged step", async () => {
    const { disk, ids } = await leaveWorkDue();
    const later = T0 + 60_000;
    const b = reopen(disk, later);
    const release = b.fs.holdSegmentOpen();
    const opening = b.store.open();
    await pollUntil(() => b.fs.reached, { what: "the log's segment open" });
    // Every timer that is due fires now. A timer armed by the rebuilt engine would log a tick
    // into a log that does not exist yet (the TypeError that kept servers from starting).
    b.clock.advance(0);
    release();
    await opening;

    const spool = await Spool.open({ store: b.store });
    const states = async () => Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, (await spool.status(id))?.state])));
    expect(await states()).toEqual({ expiredLease: "ready", nacked: "ready", delayed: "ready", ttl: "dead", waiting: "delayed" });
    expect((await spool.status(ids.expiredLease))?.attempt).toBe(1);
    const stats = await spool.queue("jobs").stats();
    expect({ ready: stats.ready, delayed: stats.delayed, leased: stats.leased, dead: stats.dead }).toEqual({ ready: 3, delayed: 1, leased: 0, dead: 1 });
    // A durable write after the catch-up makes its tick durable too; then the power goes again.
    await spool.queue("jobs").setOptions({ leaseMs: 1_000, maxAttempts: 5 });
    b.fs.crash();

    // Reopened with a clock from BEFORE anything was due: only a logged tick can explain the state.
    const c = reopen(disk, T0);
    const spoolC = await Spool.open({ store: c.store });
    const statesC = Object.fromEntries(await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, (await spoolC.status(id))?.state])));
    expect(statesC).toEqual({ expiredLease: "ready", nacked: "ready", delayed: "ready", ttl: "dead", waiting: "delayed" });
    await spoolC.close();
  });

  it("arms the timer for work due later: a delay that falls due after the reopen fires on time", async () => {
    const { disk, ids } = await leaveWorkDue();
    const b = reopen(disk, T0 + 60_000);
    const spool = await Spool.open({ store: b.store });
    expect((await spool.status(ids.waiting))?.state).toBe("delayed");
    const woke = new Promise<void>((resolve) => b.store.watch("jobs", resolve));
    b.clock.advance(86_400_000);
    await woke;
    expect((await spool.status(ids.waiting))?.state).toBe("ready");
    await spool.close();
  });

  it("a failure in the time-driven work is reported, makes the store unavailable, and the store recovers from disk", async () => {
    const { disk, ids } = await leaveWorkDue();
    const faults: Array<{ error: Error; during: string }> = [];
    const b = reopen(disk, T0 + 60_000, { onFault: (error, during) => faults.push({ error, during }) });
    vi.spyOn(Engine.prototype, "runDue").mockImplementationOnce(() => {
      throw new Error("a bug in the tick");
    });
    await b.store.open(); // the open itself succeeds: the fault is handled, not thrown into it
    expect(faults).toHaveLength(1);
    expect(faults[0].during).toMatch(/timer/);
    expect(faults[0].error.message).toMatch(/a bug in the tick/);
    expect((faults[0].error as { code?: string }).code).toBe("unavailable");
    // The rebuild from disk runs at once, and its own catch-up works: the store serves again.
    await pollUntil(() => b.store.writeFault === undefined, { what: "the store to recover" });
    const spool = await Spool.open({ store: b.store });
    expect((await spool.status(ids.expiredLease))?.state).toBe("ready");
    expect((await spool.status(ids.ttl))?.state).toBe("dead");
    const published = await spool.queue<string>("jobs").publish("after the fault");
    expect((await spool.status(published.id))?.state).toBe("ready");
    await spool.close();
  });

  it("stays unavailable, without looping, while the time-driven work keeps failing", async () => {
    const { disk, ids } = await leaveWorkDue();
    const faults: string[] = [];
    const b = reopen(disk, T0 + 60_000, { onFault: (_error, during) => faults.push(during) });
    const runDue = vi.spyOn(Engine.prototype, "runDue").mockImplementation(() => {
      throw new Error("always broken");
    });
    await b.store.open();
    expect((b.store.writeFault as { code?: string } | undefined)?.code).toBe("unavailable");
    await expect(b.store.ensureQueue("other")).rejects.toMatchObject({ code: "unavailable" });
    expect(runDue.mock.calls.length).toBeLessThanOrEqual(3); // once per open or rebuild, never a busy loop
    runDue.mockRestore();
    // Once the bug is gone, the next write rebuilds and succeeds.
    await expect(b.store.ensureQueue("other")).resolves.toMatchObject({ name: "other" });
    expect(b.store.writeFault).toBeUndefined();
    const spool = await Spool.open({ store: b.store });
    expect((await spool.status(ids.expiredLease))?.state).toBe("ready");
    await spool.close();
  });
});
