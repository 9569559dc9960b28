/**
 * Damaged logs at the store level (RELIABILITY.md R5).
 *
 * A random operation sequence runs on a journal store (fsync `always`, no snapshots, sometimes
 * tiny segments) over `CrashFs`; after every operation the test waits until the log is idle and
 * records a checkpoint: where the log ends, the clock, and the full observable state. Then the
 * power is cut (no close, so no snapshot) and the LAST segment is damaged:
 *
 *  - torn tail: cut at a random byte, maybe followed by zeros or garbage, or a few bytes flipped
 *    in its last record. Reopening must succeed, report the truncation (file, offset, bytes), and
 *    give exactly the state of the records that were complete before the damage. The reference
 *    is the same disk cut cleanly at that record boundary; and when the boundary is a checkpoint,
 *    the state recorded live at that moment (reopened at that moment's clock).
 *  - corruption in the middle: a byte flipped in a record that valid records follow (in the last
 *    segment or an earlier one). Opening must refuse with `JournalCorruptError` (code
 *    `unavailable`) and leave the files untouched; `repair: true` opens, cutting the log there, and
 *    reports what it dropped through `onWarning`; the state is then that of the clean cut.
 *
 * Replay a failure with SPOOL_SEED=<seed> (fast-check prints it with the shrunk case).
 */
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type JournalWarning } from "../../src/index.js";
import { JournalCorruptError } from "../../src/log/errors.js";
import { segmentFileName, segmentsIn } from "../../src/log/layout.js";
import { decodeFrames, FRAME_HEADER_BYTES } from "../../src/log/record-codec.js";
import { CrashFs, MemoryDisk } from "../helpers/crash-fs.js";
import { seededRandom, testSeed } from "../helpers/seeded-random.js";
import { applyOp, declareExchanges, spoolOpArb, type Side, type SpoolOp } from "../helpers/spool-ops.js";
import { observe, plain, type Observation } from "../helpers/store-observe.js";

const DIR = "/data/spool";

interface Checkpoint {
  segment: number;
  length: number;
  time: number;
  state: Observation;
  ids: string[];
}

interface Recorded {
  disk: MemoryDisk;
  checkpoints: Checkpoint[];
  ids: string[];
  endTime: number;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits (loop turn by loop turn, not by time) until every record appended so far is written and synced. */
async function idle(store: JournalStore): Promise<void> {
  let previous = "";
  for (let turns = 0; turns < 1000; turns++) {
    await turn();
    const stats = store.logStats;
    const now = `${stats.records}/${stats.syncedRecords}/${stats.groups}`;
    if (stats.records === stats.syncedRecords && now === previous) return;
    previous = now;
  }
  throw new Error("the log never went idle");
}

function lastSegment(disk: MemoryDisk): { segment: number; file: string } {
  const names = [...(disk.dirs.get(DIR)?.current.keys() ?? [])];
  const segments = segmentsIn(names);
  const segment = segments[segments.length - 1];
  return { segment, file: path.posix.join(DIR, segmentFileName(segment)) };
}

function segmentFiles(disk: MemoryDisk): Array<{ segment: number; file: string }> {
  return segmentsIn([...(disk.dirs.get(DIR)?.current.keys() ?? [])]).map((segment) => ({ segment, file: path.posix.join(DIR, segmentFileName(segment)) }));
}

/** Frame end offsets in a segment's bytes (all frames must be valid). */
function frameEnds(bytes: Buffer): number[] {
  const decoded = decodeFrames(bytes);
  expect(decoded.tail ?? decoded.midCorruption).toBeUndefined();
  return decoded.records.map((r) => r.offset + FRAME_HEADER_BYTES + r.payload.length);
}

function openStore(disk: MemoryDisk, time: number, options: { repair?: boolean } = {}) {
  const warnings: JournalWarning[] = [];
  const store = journalStore({
    dataDir: DIR,
    fs: new CrashFs(disk),
    clock: new ManualClock(time),
    fsync: "always",
    snapshotEveryOps: 1_000_000_000,
    snapshotEveryMs: 1_000_000_000_000,
    repair: options.repair,
    onWarning: (w) => warnings.push(w),
  }) as JournalStore;
  return { store, warnings };
}

/** Opens the disk and observes it; `alsoFor` observes a second time, asking about other ids. */
async function stateOf(disk: MemoryDisk, time: number, ids: string[], options: { repair?: boolean; alsoFor?: string[] } = {}) {
  const { store, warnings } = openStore(disk, time, options);
  const spool = await Spool.open({ store });
  try {
    const state = plain(await observe(store, ids));
    return { state, warnings, also: options.alsoFor && plain(await observe(store, options.alsoFor)) };
  } finally {
    await spool.close();
  }
}

/** Runs `ops`, checkpointing after each, then cuts the power (no close: no final snapshot). */
async function record(ops: SpoolOp[], segmentMaxBytes: number): Promise<Recorded> {
  const disk = new MemoryDisk();
  const fs = new CrashFs(disk);
  const clock = new ManualClock();
  const store = journalStore({
    dataDir: DIR,
    fs,
    clock,
    random: seededRandom(7),
    fsync: "always",
    snapshotEveryOps: 1_000_000_000,
    snapshotEveryMs: 1_000_000_000_000,
    segmentMaxBytes,
  }) as JournalStore;
  const side: Side = { spool: await Spool.open({ store }), clock, held: [], ids: [] };
  const checkpoints: Checkpoint[] = [];
  const checkpoint = async () => {
    await idle(store);
    const { segment, file } = lastSegment(disk);
    const length = disk.fileBytes(file)?.length ?? 0;
    checkpoints.push({ segment, length, time: clock.now(), state: plain(await observe(store, side.ids)), ids: [...side.ids] });
    await idle(store); // the reads may have logged ticks: they belong after the checkpoint
  };
  await declareExchanges(side.spool);
  await checkpoint();
  for (const op of ops) {
    await applyOp(op, side);
    await checkpoint();
  }
  fs.crash();
  return { disk, checkpoints, ids: side.ids, endTime: clock.now() };
}

type Damage =
  | { kind: "cut"; at: number; tail: "none" | "zeros" | "garbage"; tailBytes: number }
  | { kind: "flip-last"; at: number; flips: number }
  | { kind: "at-checkpoint"; pick: number; extra: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("cut" as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), tail: fc.constantFrom("none", "zeros", "garbage"), tailBytes: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant("flip-last" as const), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), flips: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("at-checkpoint" as const), pick: fc.nat(), extra: fc.integer({ min: 0, max: FRAME_HEADER_BYTES }) }),
);

/** The end of the last record whose bytes all survived in `damaged`. */
function intactEnd(original: Buffer, ends: number[], damaged: Buffer): number {
  let intact = 0;
  for (const end of ends) {
    if (end > damaged.length || !damaged.subarray(0, end).equals(original.subarray(0, end))) break;
    intact = end;
  }
  return intact;
}

/** Damages the last segment; returns its damaged bytes and the end of the last record left intact. */
function damage(bytes: Buffer, ends: number[], d: Damage, random: () => number): { damaged: Buffer; intact: number } {
  const starts = [0, ...ends.slice(0, -1)];
  switch (d.kind) {
    case "cut":
    case "at-checkpoint": {
      const at = d.kind === "cut" ? Math.floor(d.at * bytes.length) : d.pick;
      const cut = Buffer.from(bytes.subarray(0, at));
      if (d.kind === "at-checkpoint" || d.tail === "none") return { damaged: cut, intact: intactEnd(bytes, ends, cut) };
      const tail = Buffer.alloc(d.tailBytes);
      if (d.tail === "garbage") for (let i = 0; i < tail.length; i++) tail[i] = Math.floor(random() * 256);
      // (Zeros may happen to restore what was cut: intactEnd compares bytes, not intentions.)
      const damaged = Buffer.concat([cut, tail]);
      return { damaged, intact: intactEnd(bytes, ends, damaged) };
    }
    case "flip-last": {
      const start = starts[starts.length - 1];
      const damaged = Buffer.from(bytes);
      for (let i = 0; i < d.flips; i++) {
        const at = start + Math.floor(((d.at + i * 0.37) % 1) * (bytes.length - start));
        damaged[at] ^= 1 + Math.floor(random() * 255);
      }
      return { damaged, intact: start };
    }
  }
}

const seed = testSeed();
const opsArb = fc.array(spoolOpArb({ concurrent: true }), { minLength: 1, maxLength: 30, size: "max" });
const segmentArb = fc.oneof(fc.constant(64 * 1024 * 1024), fc.integer({ min: 200, max: 2500 }));

describe("a damaged log at the store level (R5)", () => {
  it("a torn tail of the last segment is truncated with a warning, and the state is that of the last complete record", async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, segmentArb, damageArb, fc.integer(), async (ops, segmentMaxBytes, d, noise) => {
        const recorded = await record(ops, segmentMaxBytes);
        const { segment, file } = lastSegment(recorded.disk);
        const bytes = recorded.disk.fileBytes(file)!;
        if (bytes.length === 0) return; // a fresh segment: nothing to tear
        const ends = frameEnds(bytes);
        let checkpoint: Checkpoint | undefined;
        if (d.kind === "at-checkpoint") {
          const here = recorded.checkpoints.filter((c) => c.segment === segment);
          if (here.length === 0) return;
          checkpoint = here[d.pick % here.length];
          d = { ...d, pick: Math.min(bytes.length, checkpoint.length + d.extra) };
        }
        const { damaged, intact } = damage(bytes, ends, d, seededRandom(noise));

        const damagedDisk = recorded.disk.clone();
        damagedDisk.setFileBytes(file, damaged);
        const cleanDisk = recorded.disk.clone();
        cleanDisk.setFileBytes(file, bytes.subarray(0, intact));

        const time = checkpoint?.time ?? recorded.endTime;
        const got = await stateOf(damagedDisk, time, recorded.ids, { alsoFor: checkpoint?.ids });
        const want = await stateOf(cleanDisk, time, recorded.ids);
        expect(want.warnings).toEqual([]);
        expect(got.state, "state after the torn tail was truncated").toEqual(want.state);
        if (checkpoint) expect(got.also, "state recorded live at that point").toEqual(checkpoint.state);
        if (damaged.length === intact) {
          expect(got.warnings).toEqual([]);
        } else {
          expect(got.warnings).toEqual([expect.objectContaining({ kind: "torn-tail", file, offset: intact, bytesDropped: damaged.length - intact })]);
          // Truncated durably: the intact records stay, the damage is gone (the reopened store may have logged more since).
          const now = damagedDisk.fileBytes(file)!;
          expect(now.subarray(0, intact).equals(bytes.subarray(0, intact))).toBe(true);
          expect(decodeFrames(now).tail).toBeUndefined();
          expect(decodeFrames(now).midCorruption).toBeUndefined();
          // Recovery is idempotent (R6): the next open finds nothing to do and the same state.
          const again = await stateOf(damagedDisk, time, recorded.ids);
          expect(again.warnings).toEqual([]);
        }
      }),
      { seed, numRuns: Number(process.env.SPOOL_RUNS ?? 80) },
    );
  }, 120_000);

  it("a bad record followed by valid ones is refused (JournalCorruptError, files untouched); repair cuts there and reports it", async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, segmentArb, fc.nat(), fc.nat(), fc.integer(), async (ops, segmentMaxBytes, pickSegment, pickFrame, noise) => {
        const recorded = await record(ops, segmentMaxBytes);
        const segments = segmentFiles(recorded.disk);
        // Frames with a valid frame after them, anywhere in the log.
        const candidates: Array<{ index: number; file: string; start: number; end: number; ends: number[] }> = [];
        segments.forEach(({ file }, index) => {
          const bytes = recorded.disk.fileBytes(file)!;
          const ends = frameEnds(bytes);
          const laterFrames = segments.slice(index + 1).some((s) => recorded.disk.fileBytes(s.file)!.length > 0);
          ends.forEach((end, i) => {
            if (i < ends.length - 1 || laterFrames) candidates.push({ index, file, start: i === 0 ? 0 : ends[i - 1], end, ends });
          });
        });
        if (candidates.length === 0) return;
        const inLast = candidates.filter((c) => c.index === segments.length - 1);
        const target = pickSegment % 2 === 0 && inLast.length > 0 ? inLast[pickFrame % inLast.length] : candidates[pickFrame % candidates.length];
        const random = seededRandom(noise);
        const bytes = recorded.disk.fileBytes(target.file)!;
        const damaged = Buffer.from(bytes);
        damaged[target.start + Math.floor(random() * (target.end - target.start))] ^= 1 + Math.floor(random() * 255);

        const disk = recorded.disk.clone();
        disk.setFileBytes(target.file, damaged);
        const snapshotOfFiles = () => segments.map((s) => disk.fileBytes(s.file)?.toString("hex"));
        const filesBefore = snapshotOfFiles();
        const refused = await Spool.open({ store: openStore(disk, recorded.endTime).store }).then(
          async (spool) => (await spool.close(), undefined),
          (error: unknown) => error,
        );
        expect(refused, "open must refuse a bad record with valid ones after it").toBeInstanceOf(JournalCorruptError);
        expect(refused).toMatchObject({ code: "unavailable", file: target.file, offset: target.start });
        expect(snapshotOfFiles(), "a refused open changes no file").toEqual(filesBefore);

        // The reference: the log cut cleanly before the bad record, later segments gone.
        const clean = recorded.disk.clone();
        clean.setFileBytes(target.file, bytes.subarray(0, target.start));
        const cleanFs = new CrashFs(clean);
        for (const later of segments.slice(target.index + 1)) await cleanFs.unlink(later.file);
        await cleanFs.fsyncDir(DIR);
        const want = await stateOf(clean, recorded.endTime, recorded.ids);

        const repaired = await stateOf(disk, recorded.endTime, recorded.ids, { repair: true });
        expect(repaired.state, "state after repair = state of the clean cut").toEqual(want.state);
        const droppedHere = target.ends.filter((end) => end > target.end).length;
        const droppedLater = segments.slice(target.index + 1).reduce((n, s) => n + frameEnds(recorded.disk.fileBytes(s.file)!).length, 0);
        expect(repaired.warnings).toEqual([
          expect.objectContaining({
            kind: "repaired",
            file: target.file,
            offset: target.start,
            recordsDropped: droppedHere + droppedLater,
            segmentsDropped: segments.slice(target.index + 1).map((s) => path.posix.basename(s.file)),
          }),
        ]);
        // Repair is done once: the next open is clean.
        expect((await stateOf(disk, recorded.endTime, recorded.ids)).warnings).toEqual([]);
      }),
      { seed, numRuns: Number(process.env.SPOOL_RUNS ?? 40) },
    );
  }, 120_000);
});
