/**
 * The PostgreSQL delivery storage on a real database, two "processes" (two Spools, two storages)
 * in this one: the same state everywhere, the same verdict on a racing move, one expander per
 * batch with fenced chunks, one token secret, and compaction that a new process starts from.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DeliveryRecord } from "../../../src/delivery/delivery-state.js";
import { PostgresDeliveryStorage, type PostgresDeliveryStorageOptions } from "../../../src/delivery/storage/postgres-storage.js";
import { Spool } from "../../../src/spool.js";
import { postgresStore, type PostgresStore } from "../../../src/store/postgres/postgres-store.js";
import { pollUntil } from "../../helpers/poll-until.js";
import { dropSchemas, queryOnce, TEST_PG_URL, uniqueSchema } from "../../helpers/postgres.js";

const sql = queryOnce;

const opened: Array<{ spool: Spool; storage: PostgresDeliveryStorage }> = [];
const schemas: string[] = [];

afterEach(async () => {
  for (const { spool, storage } of opened.splice(0)) {
    await storage.close();
    await spool.close();
  }
  await dropSchemas(schemas.splice(0));
});

function newSchema(): string {
  const schema = uniqueSchema("spool_pgds");
  schemas.push(schema);
  return schema;
}

async function openStorage(schema: string, options: PostgresDeliveryStorageOptions = {}): Promise<PostgresDeliveryStorage> {
  const store = postgresStore({ connectionString: TEST_PG_URL, schema }) as PostgresStore;
  const spool = await Spool.open({ store });
  const storage = await PostgresDeliveryStorage.open(store, options);
  opened.push({ spool, storage });
  return storage;
}

const batchRecord = (id: string, total: number): DeliveryRecord => ({
  k: "batch",
  batch: { id, channel: "mock", total, createdAt: 1, template: { body: "hi {{n}}", escape: "html" } },
});
const expanded = (b: string, from: number, count: number): DeliveryRecord => ({ k: "expanded", b, from, ids: Array.from({ length: count }, (_, i) => `r${from + i}`), t: 2 });
const change = (b: string, i: number, s: number): DeliveryRecord => ({ k: "change", b, i, s, t: 3 });

describe("PostgreSQL delivery storage", () => {
  it("every process applies every record in one order: the same state, the same verdict on racing moves", async () => {
    const schema = newSchema();
    const one = await openStorage(schema);
    const two = await openStorage(schema);
    await one.write(batchRecord("b1", 4));
    await two.write(expanded("b1", 0, 4));
    // Racing moves of one entry from both: the first in the log wins everywhere, the other is refused.
    const [fromOne, fromTwo] = await Promise.all([one.write(change("b1", 0, 2)), two.write(change("b1", 0, 2))]);
    expect([fromOne, fromTwo].filter(Boolean)).toHaveLength(1);
    await one.write(change("b1", 1, 2));
    await Promise.all([one.sync(), two.sync()]);
    expect(two.state.export()).toEqual(one.state.export());
    const batch = two.state.batches.get("b1")!;
    expect(batch.recipientIds.get(3)).toBe("r3");
    expect([...batch.status]).toEqual([2, 2, 1, 1]);
    expect(batch.counts).toEqual([0, 2, 2, 0, 0, 0]);
  });

  it("one expander per batch: a second claim is refused, chunks are fenced on the claim and on where they start", async () => {
    const schema = newSchema();
    const one = await openStorage(schema);
    const two = await openStorage(schema);
    await one.write(batchRecord("b2", 10));
    const claim = await one.expansions.claim("b2");
    expect(claim?.from).toBe(0);
    expect(await two.expansions.claim("b2")).toBeUndefined();
    const published: number[] = [];
    const publish = (from: number) => async () => void published.push(from);
    expect(await claim!.publishChunk(0, 5, publish(0), [expanded("b2", 0, 5)])).toBe(true);
    // A chunk that does not start where the batch stands is refused and nothing is published (the claim is then given up).
    expect(await claim!.publishChunk(0, 5, publish(0), [expanded("b2", 0, 5)])).toBe(false);
    expect(claim!.signal.aborted).toBe(true);
    await claim!.release();
    const taken = await two.expansions.claim("b2");
    expect(taken?.from).toBe(5); // the durable progress, not the start
    expect(two.state.batches.get("b2")!.expandedUpTo).toBe(5);
    expect(await taken!.publishChunk(5, 5, publish(5), [expanded("b2", 5, 5)])).toBe(true);
    expect(published).toEqual([0, 5]);
    await one.sync();
    expect(one.state.batches.get("b2")!.expandedUpTo).toBe(10);
    await taken!.release();
  });

  it("a claim whose owner stopped (no renewals) is taken over once its lease runs out, from the durable progress", async () => {
    const schema = newSchema();
    const dying = await openStorage(schema, { expansionLeaseMs: 300 });
    const two = await openStorage(schema, { expansionLeaseMs: 300 });
    await dying.write(batchRecord("b3", 8));
    const held = await dying.expansions.claim("b3");
    expect(await held!.publishChunk(0, 4, async () => undefined, [expanded("b3", 0, 4)])).toBe(true);
    expect(await two.expansions.claim("b3")).toBeUndefined();
    await dying.close(); // as good as killed: no renewal, no release
    const taken = await pollClaim(two, "b3");
    expect(taken.from).toBe(4);
    expect(two.state.batches.get("b3")!.expandedUpTo).toBe(4);
    expect(await taken.publishChunk(4, 4, async () => undefined, [expanded("b3", 4, 4)])).toBe(true);
    await taken.release();
  });

  it("a batch's idempotency key is held by one batch: a racing batch with the same key is refused; forgetting frees the key", async () => {
    const schema = newSchema();
    const one = await openStorage(schema);
    const two = await openStorage(schema);
    const keyed = (id: string): DeliveryRecord => ({ k: "batch", batch: { id, channel: "mock", total: 1, createdAt: 1, template: { body: "x", escape: "html" }, idempotencyKey: "same" } });
    const [a, b] = await Promise.all([one.write(keyed("ka")), two.write(keyed("kb"))]);
    expect([a, b].sort()).toEqual([false, true]);
    const winner = a ? "ka" : "kb";
    await Promise.all([one.sync(), two.sync()]);
    for (const storage of [one, two]) {
      expect(storage.state.idempotency.get("same")).toBe(winner);
      expect([...storage.state.batches.keys()]).toEqual([winner]);
    }
    // Complete and forget it: the key names a new batch afterwards.
    await one.write({ k: "expanded", b: winner, from: 0, ids: ["r"], t: 2 });
    await one.write(change(winner, 0, 2));
    expect(await one.write({ k: "forget", b: winner, t: 4 })).toBe(true);
    expect(await two.write(keyed("kc"))).toBe(true);
    await one.sync();
    expect(one.state.idempotency.get("same")).toBe("kc");
  });

  it("one token secret for every process", async () => {
    const schema = newSchema();
    const one = await openStorage(schema);
    const two = await openStorage(schema);
    const [a, b] = await Promise.all([one.tokenSecret(), two.tokenSecret()]);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("compaction: a snapshot every N records, the records before the previous one deleted; a new process starts from it", async () => {
    const schema = newSchema();
    const one = await openStorage(schema, { snapshotEveryRecords: 10 });
    await one.write(batchRecord("b4", 40));
    await one.write(expanded("b4", 0, 40));
    for (let i = 0; i < 40; i++) await one.write(change("b4", i, i % 3 === 0 ? 5 : 2));
    await one.snapshot();
    const [counts] = await sql<{ records: number; snapshots: number; first: number | null }>(
      `SELECT (SELECT count(*)::int FROM "${schema}".delivery_records) AS records, (SELECT count(*)::int FROM "${schema}".delivery_snapshots) AS snapshots,
              (SELECT min(seq)::int FROM "${schema}".delivery_records) AS first`,
    );
    expect(counts.snapshots).toBe(2); // the newest and the one before
    expect(counts.records).toBeLessThan(30); // 82 written: those before the previous snapshot are gone
    expect(counts.first).toBeGreaterThan(1);
    const later = await openStorage(schema);
    expect(later.state.export()).toEqual(one.state.export());
    await one.write(change("b4", 1, 3));
    await later.sync();
    expect(later.state.batches.get("b4")!.status[1]).toBe(3);
    expect(later.state.batches.get("b4")!.counts).toEqual(one.state.batches.get("b4")!.counts);
  });

  it("a process that fell behind the compaction (its notifications lost) rebuilds from the newest snapshot", async () => {
    const schema = newSchema();
    const one = await openStorage(schema, { snapshotEveryRecords: 1_000_000 });
    const warnings: string[] = [];
    const lagging = await openStorage(schema, { syncEveryMs: 3_600_000, logger: { warn: (_: unknown, message?: string) => void warnings.push(message ?? "") } });
    await one.write(batchRecord("b5", 20));
    await one.write(expanded("b5", 0, 20));
    await lagging.sync();
    // Its LISTEN connection dies (the newer of the two on this channel): it hears nothing until it reconnects.
    const [listener] = await sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query = $1 ORDER BY backend_start DESC LIMIT 1`, [`LISTEN ${schema}_delivery`]);
    await sql("SELECT pg_terminate_backend($1)", [listener.pid]);
    await Promise.all(Array.from({ length: 10 }, (_, i) => one.write(change("b5", i, 2))));
    await one.snapshot();
    await Promise.all(Array.from({ length: 10 }, (_, i) => one.write(change("b5", 10 + i, 5))));
    await one.snapshot(); // deletes the records up to the first snapshot, which `lagging` never applied
    await pollUntil(() => lagging.state.batches.get("b5")?.counts[5] === 10, { timeoutMs: 10_000, what: "the lagging process to catch up" });
    expect(lagging.state.export()).toEqual(one.state.export());
    expect(warnings).toContain("delivery storage: fell behind the compaction; reloading the snapshot");
  });
});

async function pollClaim(storage: PostgresDeliveryStorage, batchId: string) {
  return pollUntil(() => storage.expansions.claim(batchId), { timeoutMs: 5_000, intervalMs: 50, what: "a takeover of the expansion" });
}
