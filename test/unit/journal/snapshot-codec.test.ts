import { describe, expect, it } from "vitest";
import { Engine } from "../../../src/engine/engine.js";
import { BinaryWriter } from "../../../src/store/journal/binary.js";
import { decodeSnapshot, encodeSnapshot, encodeSnapshotChunks } from "../../../src/store/journal/snapshot-codec.js";
import { ManualClock } from "../../../src/util/clock.js";

/** An engine holding messages in every place a snapshot must keep: ready, delayed, leased, group lines, completed, dead. */
function populated(): { engine: Engine; ids: string[] } {
  const clock = new ManualClock();
  const engine = new Engine({ clock, random: () => 0.5 });
  engine.ensureQueue("a", { maxAttempts: 1 });
  engine.ensureQueue("b");
  const now = clock.now();
  const outcomes = engine.publish([
    { queue: "a", body: '{"n":1}', priority: 3 },
    { queue: "a", body: '"ünïcode €"', priority: 0, headers: { h: "1" }, correlationId: "c" },
    { queue: "a", body: "2", priority: 9, availableAt: now + 60_000 },
    { queue: "a", body: "3", priority: 0, ttlMs: 30_000, dedupKey: "d" },
    { queue: "b", body: "4", priority: 0, groupKey: "g" },
    { queue: "b", body: "5", priority: 0, groupKey: "g" },
    { queue: "b", body: "6", priority: 1, idempotencyKey: "i" },
    { queue: "b", body: "x".repeat(20_000), priority: 0 },
  ]);
  const [leasedA] = engine.lease("a", { max: 1 }); // priority 3 first
  const leasedB = engine.lease("b", { max: 2 });
  engine.ack(leasedB[0].id, leasedB[0].leaseToken); // completed; passes group g on
  engine.nack(leasedA.id, leasedA.leaseToken, { error: { message: "boom", kind: "permanent" } }); // dead
  engine.lease("b", { max: 1 });
  return { engine, ids: outcomes.map((o) => o.id) };
}

describe("snapshot codec", () => {
  it("round-trips every kind of message exactly (v3)", () => {
    const { engine, ids } = populated();
    const bytes = Buffer.from(encodeSnapshot(engine.exportState()));
    const restored = new Engine({ clock: engine.clock });
    restored.importState(decodeSnapshot(bytes));
    for (const id of ids) expect(restored.status(id)).toEqual(engine.status(id));
    expect(restored.listDead("a", { limit: 10 })).toEqual(engine.listDead("a", { limit: 10 }));
    expect(restored.stats("b")).toEqual(engine.stats("b"));
    // Encoding the restored engine gives the same bytes: nothing was lost or reordered.
    expect(Buffer.from(encodeSnapshot(restored.exportState())).equals(bytes)).toBe(true);
    // The restored engine keeps working: the next lease hands out what the original would.
    expect(restored.lease("a", { max: 5 }).map((m) => m.id)).toEqual(engine.lease("a", { max: 5 }).map((m) => m.id));
  });

  it("encodes frozen rows as they were, while the engine changes and reuses rows; in chunks or whole", () => {
    const { engine, ids } = populated();
    const before = Buffer.from(encodeSnapshot(engine.exportState()));
    const state = engine.exportState();
    const frozen = state.table.freeze();
    // Change everything the frozen rows hold: complete, replace, purge (rows freed), publish (rows reused).
    for (const m of engine.lease("b", { max: 10 })) engine.ack(m.id, m.leaseToken);
    engine.publish([{ queue: "a", body: '"replaced body"', priority: 5, dedupKey: "d" }]);
    engine.purgeQueue("a");
    engine.publish(Array.from({ length: 50 }, (_, i) => ({ queue: "a", body: `"new ${i}"`, priority: 1 })));
    const chunks = [...encodeSnapshotChunks({ ...state, table: frozen }, 64)];
    expect(chunks.length).toBeGreaterThan(3);
    expect(Buffer.concat(chunks).equals(before)).toBe(true);
    frozen.release();
    const restored = new Engine({ clock: engine.clock });
    restored.importState(decodeSnapshot(Buffer.concat(chunks)));
    expect(restored.status(ids[1])?.state).toBe("ready");
  });

  it("refuses an unknown format version with a clear error", () => {
    const w = new BinaryWriter();
    w.string(JSON.stringify({ v: 99, seq: 0, deadSeq: 0, exchanges: [], queues: 0 }));
    expect(() => decodeSnapshot(w.finish())).toThrow(/snapshot format version 99 .* reads 2 and 3/);
  });

  it("reads version 2 snapshots (one varint row per message)", () => {
    const { engine, ids } = populated();
    const state = engine.exportState();
    const t = state.table;
    // The version-2 writer, as it was.
    const w = new BinaryWriter();
    const row = (r: number) => {
      const extras = t.extras.get(r);
      w.string(t.id(r)).uint(t.seq[r]).string(t.body(r)).uint(t.priority[r]).double(t.publishedAt[r]).double(t.availableAt[r]);
      w.uint(t.maxAttempts[r]).uint(t.attempt[r]).string(t.leaseTokens.get(r) ?? "").double(t.leaseUntil[r]).double(t.expiresAt[r]).double(t.endedAt[r]);
      w.string(extras === undefined ? "" : JSON.stringify(extras));
    };
    w.string(JSON.stringify({ v: 2, seq: state.seq, deadSeq: state.deadSeq, exchanges: state.exchanges, queues: state.queues.length }));
    for (const q of state.queues) {
      w.string(JSON.stringify({
        name: q.name, options: q.options, paused: q.paused, totals: q.totals, limiterStamps: q.limiterStamps, dedup: q.dedup, idempotency: q.idempotency,
        groups: q.groups.map((g) => ({ key: g.key, activeId: g.activeId, waiting: g.waiting.length })),
        counts: { ready: q.ready.length, delayed: q.delayed.length, leased: q.leased.length, completed: q.completed.length, dead: q.dead.rows.length },
      }));
      for (const r of [...q.ready, ...q.delayed, ...q.leased, ...q.groups.flatMap((g) => g.waiting), ...q.completed]) row(r);
      q.dead.rows.forEach((r, i) => {
        w.uint(q.dead.deadSeqs[i]).string(t.deadReasonOf(r)).double(t.endedAt[r]);
        row(r);
      });
    }
    const restored = new Engine({ clock: engine.clock });
    restored.importState(decodeSnapshot(Buffer.from(w.finish())));
    for (const id of ids) expect(restored.status(id)).toEqual(engine.status(id));
    expect(restored.listDead("a", { limit: 10 })).toEqual(engine.listDead("a", { limit: 10 }));
  });
});

describe("snapshot codec: schedules", () => {
  it("keeps the schedules' records in the head, and reads a snapshot without them as none", async () => {
    const { defineSchedule } = await import("../../../src/core/schedule.js");
    const clock = new ManualClock();
    const engine = new Engine({ clock });
    const record = defineSchedule({ name: "s", cron: "0 9 * * *", tz: "Europe/Paris", queue: "q", body: '{"a":1}', options: { priority: 2 }, catchUp: "none" }, undefined, clock.now());
    engine.putSchedule({ ...record, fired: 3, lastSlotAt: clock.now() - 86_400_000 });
    const restored = new Engine({ clock });
    restored.importState(decodeSnapshot(Buffer.from(encodeSnapshot(engine.exportState()))));
    expect(restored.listSchedules()).toEqual(engine.listSchedules());

    // A snapshot written before schedules existed has no `schedules` in its head.
    const bare = new Engine({ clock });
    bare.ensureQueue("old");
    const state = bare.exportState();
    delete state.schedules;
    const old = new Engine({ clock });
    old.importState(decodeSnapshot(Buffer.from(encodeSnapshot(state))));
    expect(old.listSchedules()).toEqual([]);
    expect(old.listQueues().map((q) => q.name)).toEqual(["old"]);
  });
});
