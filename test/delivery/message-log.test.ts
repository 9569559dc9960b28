/** The status machine, counts kept as changes land, paging, listeners, and the durable store's replay. */
import { open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canMove, DeliveryState, statusName, type BatchRecord, type SnapshotData } from "../../src/delivery/delivery-state.js";
import type { DeliveryStorage } from "../../src/delivery/storage/delivery-storage.js";
import { JournalDeliveryStorage } from "../../src/delivery/storage/journal-storage.js";
import { memoryDeliveryStorage } from "../../src/delivery/storage/memory-storage.js";
import { DeliveryMessageLog } from "../../src/delivery/message-log.js";
import { RECIPIENT_STATUSES, type RecipientStatus } from "../../src/delivery/types.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

function batch(id: string, total: number, channel: BatchRecord["channel"] = "mock"): BatchRecord {
  return { id, channel, total, createdAt: 1, template: { body: "x", escape: "html" } };
}

async function seed(store: DeliveryStorage, id: string, total: number, channel: BatchRecord["channel"] = "mock"): Promise<void> {
  await store.write({ k: "batch", batch: batch(id, total, channel) });
  await store.write({ k: "expanded", b: id, from: 0, ids: Array.from({ length: total }, (_, i) => `r${i % 3}`), t: 2 });
}

describe("status machine", () => {
  it("moves only forward; failed from pending, queued or sent, and is final", () => {
    const allowed = RECIPIENT_STATUSES.flatMap((from) => RECIPIENT_STATUSES.filter((to) => canMove(from, to)).map((to) => `${from}>${to}`));
    expect(allowed).toEqual([
      "pending>queued", "pending>sent", "pending>delivered", "pending>read", "pending>failed",
      "queued>sent", "queued>delivered", "queued>read", "queued>failed",
      "sent>delivered", "sent>read", "sent>failed",
      "delivered>read",
    ]);
  });
});

describe("DeliveryMessageLog (memory)", () => {
  it("keeps counts as changes land, refuses backward moves, completes the batch", async () => {
    const store = memoryDeliveryStorage();
    const log = new DeliveryMessageLog(store);
    const seen: Array<[string, RecipientStatus, RecipientStatus]> = [];
    log.onChange((entry, from) => seen.push([entry.logId, from, entry.status]));
    await seed(store, "B1", 4);
    expect(log.batch("B1")?.counts).toMatchObject({ pending: 0, queued: 4 });
    expect(await log.advance("B1_0", "sent", { attempts: 1 })).toBe(true);
    expect(await log.advance("B1_0", "queued")).toBe(false);
    expect(await log.advance("B1_1", "failed", { attempts: 3, error: "boom" })).toBe(true);
    expect(await log.advance("B1_1", "sent")).toBe(false); // failed is final
    await log.recordAttempt("B1_2", { attempts: 1, error: "HTTP 500" });
    expect(log.get("B1_2")).toMatchObject({ status: "queued", attempts: 1, lastError: { message: "HTTP 500" } });
    expect(log.batch("B1")).toMatchObject({ counts: { queued: 2, sent: 1, failed: 1 }, progress: 0.5 });
    expect(log.batch("B1")?.completedAt).toBeUndefined();
    await log.advance("B1_2", "sent");
    await log.advance("B1_3", "sent");
    expect(log.batch("B1")).toMatchObject({ counts: { sent: 3, failed: 1 }, progress: 1, completedAt: expect.any(Number) });
    expect(seen.filter(([id]) => id === "B1_0")).toEqual([["B1_0", "pending", "queued"], ["B1_0", "queued", "sent"]]);
    expect(await log.advance("nope_1", "sent")).toBe(false);
    expect(await log.advance("B1_99", "sent")).toBe(false);
    expect(log.get("B1_1")).toMatchObject({ status: "failed", attempts: 3, lastError: { message: "boom" }, failedAt: expect.any(Number) });
  });

  it("pages by index with a status filter", async () => {
    const store = memoryDeliveryStorage();
    const log = new DeliveryMessageLog(store);
    await seed(store, "B2", 10);
    for (const i of [1, 4, 5, 9]) await log.advance(`B2_${i}`, "sent");
    const first = log.list("B2", { status: "sent", limit: 2 });
    expect(first?.items.map((e) => e.index)).toEqual([1, 4]);
    const second = log.list("B2", { status: "sent", limit: 2, cursor: first?.nextCursor });
    expect(second?.items.map((e) => e.index)).toEqual([5, 9]);
    expect(second?.nextCursor).toBeUndefined();
    expect(log.list("B2", { limit: 3, cursor: "8" })?.items.map((e) => e.index)).toEqual([8, 9]);
    expect(() => log.list("B2", { cursor: "x" })).toThrow(expect.objectContaining({ code: "validation_failed" }));
  });

  it("websocket: undelivered entries per recipient in publish order, content until delivered", async () => {
    const store = memoryDeliveryStorage();
    const log = new DeliveryMessageLog(store);
    await store.write({ k: "batch", batch: batch("W", 3, "websocket") });
    await store.write({ k: "expanded", b: "W", from: 0, ids: ["ann", "bob", "ann"], t: 2, c: [{ body: "1" }, { body: "2" }, { body: "3" }] });
    expect(log.undeliveredFor("ann", "websocket").map((e) => [e.logId, e.content?.body])).toEqual([["W_0", "1"], ["W_2", "3"]]);
    await log.advance("W_0", "sent");
    await log.advance("W_0", "delivered");
    expect(log.undeliveredFor("ann", "websocket").map((e) => e.logId)).toEqual(["W_2"]);
    expect(log.get("W_0")?.content).toBeUndefined();
    expect(log.batch("W")?.completedAt).toBeUndefined(); // websocket completes on delivered/read/failed
  });
});

describe("DeliveryStorage on disk", () => {
  let dir: string;
  beforeEach(async () => (dir = await makeTempDir("spool-dstore-")));
  afterEach(async () => removeTempDir(dir));

  async function reopen(): Promise<{ store: DeliveryStorage; log: DeliveryMessageLog }> {
    const store = await JournalDeliveryStorage.open(dir);
    return { store, log: new DeliveryMessageLog(store) };
  }

  it("replays templates, batches, expansion and every change after a reopen", async () => {
    const first = await reopen();
    await first.store.write({ k: "template", template: { id: "t1", body: "{{a}}", escape: "html", updatedAt: 5 } });
    await seed(first.store, "B", 6);
    await first.log.advance("B_0", "sent", { attempts: 2 });
    await first.log.advance("B_1", "failed", { attempts: 3, error: "gone" });
    await first.log.recordAttempt("B_2", { attempts: 1, error: "slow" });
    const before = first.log.list("B");
    const summary = first.log.batch("B");
    await first.store.close();

    const second = await reopen();
    expect(second.store.state.templates.get("t1")).toMatchObject({ body: "{{a}}" });
    expect(second.log.list("B")).toEqual(before);
    expect(second.log.batch("B")).toEqual(summary);
    await second.store.close();
  });

  it("reopen (a replayed dead job) takes failed back to queued only, uncompletes the batch, and replays", async () => {
    const first = await reopen();
    await seed(first.store, "R", 2, "websocket");
    await first.log.advance("R_0", "delivered");
    await first.log.advance("R_1", "failed", { attempts: 1, error: "dead" });
    expect(first.log.batch("R")?.completedAt).toEqual(expect.any(Number));
    expect(first.log.undeliveredFor("r1", "websocket")).toEqual([]);
    expect(await first.log.reopen("R_0")).toBe(false); // only a failed entry reopens
    expect(await first.log.reopen("R_1", { body: "again" })).toBe(true);
    expect(await first.log.reopen("R_1")).toBe(false);
    const entry = first.log.get("R_1");
    expect(entry).toMatchObject({ status: "queued", content: { body: "again" }, lastError: { message: "dead" } });
    expect(entry?.failedAt).toBeUndefined();
    expect(first.log.batch("R")).toMatchObject({ counts: { delivered: 1, queued: 1, failed: 0 }, progress: 0.5 });
    expect(first.log.batch("R")?.completedAt).toBeUndefined();
    expect(first.log.undeliveredFor("r1", "websocket").map((e) => e.logId)).toEqual(["R_1"]);
    const before = first.log.list("R");
    await first.store.close();

    const second = await reopen();
    expect(second.log.list("R")).toEqual(before);
    expect(await second.log.advance("R_1", "delivered")).toBe(true);
    expect(second.log.batch("R")?.completedAt).toEqual(expect.any(Number));
    await second.store.close();
  });

  it("a forget record removes a complete batch (never an incomplete one), and replays", async () => {
    const first = await reopen();
    await seed(first.store, "F", 1);
    await first.store.write({ k: "batch", batch: { ...batch("G", 1), idempotencyKey: "g" } });
    expect(await first.store.write({ k: "forget", b: "F", t: 9 })).toBe(false); // not complete
    await first.log.advance("F_0", "sent");
    expect(await first.store.write({ k: "forget", b: "F", t: 9 })).toBe(true);
    expect(first.log.batch("F")).toBeUndefined();
    await first.store.close();
    const second = await reopen();
    expect(second.log.batch("F")).toBeUndefined();
    expect(second.store.state.idempotency.get("g")).toBe("G");
    await second.store.close();
  });

  it("a snapshot compacts the log; reopening loads it and replays what came after", async () => {
    const first = await reopen();
    await seed(first.store, "B", 5);
    await first.log.advance("B_0", "sent");
    await first.store.snapshot();
    await first.log.advance("B_1", "failed", { error: "x" });
    const before = first.log.list("B");
    await first.store.close();
    expect((await readdir(dir)).filter((name) => name.endsWith(".snap"))).toHaveLength(1);
    const second = await reopen();
    expect(second.log.list("B")).toEqual(before);
    expect(second.log.batch("B")?.counts).toMatchObject({ queued: 3, sent: 1, failed: 1 });
    await second.store.close();
  });

  it("a snapshot that keeps the recipient ids as strings (v1, before idBytes) still loads", async () => {
    const store = memoryDeliveryStorage();
    await seed(store, "B", 4);
    await new DeliveryMessageLog(store).advance("B_2", "sent");
    const v2 = store.state.export();
    const v1: SnapshotData = {
      ...v2,
      v: 1,
      batches: v2.batches.map(({ idBytes: _bytes, idLengths: _lengths, ...saved }) => ({ ...saved, ids: ["r0", "r1", "r2", null] })),
    };
    const loaded = DeliveryState.import(v1).batches.get("B")!;
    expect([0, 1, 2, 3].map((index) => [loaded.recipientIds.get(index), statusName(loaded.status[index])])).toEqual([
      ["r0", "queued"],
      ["r1", "queued"],
      ["r2", "sent"],
      [undefined, "queued"],
    ]);
    await store.close();
  });

  it("a torn tail (a record cut short by a crash) is dropped; everything before it stays", async () => {
    const first = await reopen();
    await seed(first.store, "B", 3);
    await first.log.advance("B_0", "sent");
    await first.log.advance("B_1", "sent");
    await first.store.close();
    const segment = path.join(dir, (await readdir(dir)).find((name) => name.startsWith("seg-"))!);
    const { size } = await stat(segment);
    const handle = await open(segment, "r+");
    await handle.truncate(size - 5); // the last record (B_1 → sent) loses its end
    await handle.close();

    const warnings: string[] = [];
    const store = await JournalDeliveryStorage.open(dir, { onWarning: (w) => warnings.push(w.kind) });
    const log = new DeliveryMessageLog(store);
    expect(warnings).toEqual(["torn-tail"]);
    expect(log.get("B_0")?.status).toBe("sent");
    expect(log.get("B_1")?.status).toBe("queued");
    expect(await log.advance("B_1", "sent")).toBe(true); // and writing continues after the cut
    await store.close();
    const again = await JournalDeliveryStorage.open(dir);
    expect(new DeliveryMessageLog(again).batch("B")?.counts).toMatchObject({ sent: 2, queued: 1 });
    await again.close();
  });

  it("refuses a second open of the same directory", async () => {
    const first = await reopen();
    await expect(JournalDeliveryStorage.open(dir)).rejects.toThrow(/already open|locked/i);
    await first.store.close();
  });
});
