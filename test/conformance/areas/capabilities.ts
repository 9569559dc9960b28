/**
 * Capabilities (`Store.capabilities`): what the store declares is what the suite holds it to; a
 * capability it lacks is refused loudly (`unsupported`) by the library before the store is
 * reached, never ignored; and the capabilities about many processes (one shared clock, settling
 * a lease from any process) and the caller's transaction hold where declared.
 */
import { expect } from "vitest";
import { Spool, type Store, type StoreCapabilities } from "../../../src/index.js";
import type { GatedCapability } from "../../../src/store/capabilities.js";
import { systemClock } from "../../../src/util/clock.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import { it } from "../registry.js";
import { storeProxy, type AreaDefinition, type StoreSuiteOptions, type SuiteContext } from "../suite.js";
import { expectRefused, itWith } from "./capability-helpers.js";
import { leaseOne, statusOf } from "./consume-helpers.js";
import { spoolError } from "./publish-helpers.js";
import { expectSetDuring, observeChange, timed } from "./time-helpers.js";

const GATED: GatedCapability[] = ["transactionalPublish", "replaceInPlace", "orderingGroups", "deadLetterPaging"];

/** Every capability by name: one added to StoreCapabilities is a type error here until the suite knows it. */
const EVERY_CAPABILITY: Record<keyof StoreCapabilities, true> = {
  manualClock: true,
  sharedClock: true,
  transactionalPublish: true,
  settleFromAnyProcess: true,
  deadLetterPaging: true,
  replaceInPlace: true,
  orderingGroups: true,
  snapshots: true,
};

/** A store of `suite` opened on `store`'s data as another process would; fails loudly when the suite gives no way to. */
async function peerOf(suite: StoreSuiteOptions, store: Store, why: string): Promise<Store> {
  if (!suite.openPeer) throw new Error(`${suite.name}: ${why}, so the suite must give openPeer`);
  return suite.openPeer(store);
}

export const capabilities: AreaDefinition = (suite, open) => {
  it("the store declares every capability as a boolean, and the suite runs it by that declaration", async () => {
    const { store } = await open();
    const keys = Object.keys(EVERY_CAPABILITY) as Array<keyof StoreCapabilities>;
    expect(Object.keys(store.capabilities).sort()).toEqual([...keys].sort());
    for (const key of keys) expect(typeof store.capabilities[key], key).toBe("boolean");
    expect(store.capabilities).toEqual(suite.supports);
    if (store.capabilities.sharedClock) expect(store.capabilities.manualClock, "a store that owns time takes no ManualClock").toBe(false);
  });

  for (const capability of GATED) {
    it(`a store without ${capability} has its use refused with unsupported before the store is reached, creating nothing`, async () => {
      // The store as one that lacks the capability, and that fails the test if the call reaches it.
      const reached = (what: string) => () => Promise.reject(new Error(`the refused call reached the store's ${what}`));
      const ctx = await open({
        wrap: (store) =>
          storeProxy(store, {
            capabilities: { ...store.capabilities, [capability]: false },
            publish: reached("publish"),
            listDead: reached("listDead"),
            ensureQueue: reached("ensureQueue"),
          }),
      });
      await expectRefused(ctx, capability, { direct: false });
    });
  }

  itWith(suite, open, "transactionalPublish", "publish in the caller's transaction: visible once it commits, gone if it rolls back", async () => {
    const ctx = await open();
    if (!suite.beginTransaction) throw new Error(`${suite.name} declares transactionalPublish, so the suite must give beginTransaction`);
    const queue = ctx.spool.queue<string>(uniqueQueueName("tx"));
    await queue.info();

    const committed = await suite.beginTransaction(ctx.store);
    const { id } = await queue.publish("kept", { transaction: committed.transaction });
    await queue.publishMany([{ body: "kept too" }], { transaction: committed.transaction });
    expect((await queue.stats()).ready, "not visible before the commit").toBe(0);
    await committed.commit();
    expect((await statusOf(ctx.spool, id)).state).toBe("ready");
    expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual(["kept", "kept too"]);

    const rolledBack = await suite.beginTransaction(ctx.store);
    const gone = await queue.publish("gone", { transaction: rolledBack.transaction });
    await rolledBack.rollback();
    expect(await ctx.spool.status(gone.id)).toBeUndefined();
    expect((await queue.stats()).totals.published).toBe(2);
  });

  it("one clock for every process on the data (sharedClock), or time is this process's own and no other process opens the data", async () => {
    const ctx = await open();
    if (suite.supports.sharedClock) return expectSharedClock(ctx, await peerOf(suite, ctx.store, "it declares sharedClock"));

    // The process owns time: the store keeps it on the clock it was given, and every deadline it sets is on that clock.
    expect(ctx.store.clock, "the store's clock is the one it was made with").toBe(ctx.clock ?? systemClock);
    const queue = ctx.spool.queue<string>(uniqueQueueName("time"));
    const published = await timed(ctx.store, () => queue.publish("x", { delayMs: 1_000 }));
    const status = await statusOf(ctx.spool, published.value.id);
    expectSetDuring(status.publishedAt, published, 0, "publishedAt");
    expect(status.availableAt).toBe(status.publishedAt + 1_000);
    // …and no other process can open its data while it holds it (where another could reach it at all: a directory).
    if (suite.openPeer) {
      const peer = await suite.openPeer(ctx.store);
      const refused = await spoolError(() => Spool.open({ store: peer }), "unavailable");
      expect(refused.message).toMatch(/in use|already open/);
      await peer.close();
      expect((await statusOf(ctx.spool, published.value.id)).state, "the holder goes on").toBe("delayed");
    }
  });

  /** Two processes on one store read one time: what one sets falls due for the other at the same instant. */
  async function expectSharedClock(ctx: SuiteContext, peerStore: Store): Promise<void> {
    const peer = await Spool.open({ store: peerStore });
    try {
      const name = uniqueQueueName("time");
      const here = ctx.spool.queue<string>(name, { leaseMs: 50 });
      const there = peer.queue<string>(name);
      const { id } = await here.publish("x", { delayMs: 50 });
      const { availableAt } = await statusOf(peer, id);
      const [leased] = await observeChange(peerStore, availableAt, () => there.lease({ leaseMs: 50 }), (got) => got.length > 0, "the delay, seen by the other process");
      expect(leased.id).toBe(id);
      await observeChange(ctx.store, leased.leaseUntil, () => statusOf(ctx.spool, id), (s) => s.state !== "leased", "the other process's lease, seen here");
    } finally {
      await peer.close();
    }
  }

  it("a snapshot is written and changes nothing observable (snapshots), or it is refused with conflict", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<number>(uniqueQueueName("snap"));
    const { id } = await queue.publish(1);
    if (!suite.supports.snapshots) {
      await spoolError(() => ctx.spool.snapshot(), "conflict");
      return;
    }
    await ctx.spool.snapshot();
    expect((await statusOf(ctx.spool, id)).state).toBe("ready");
    const [leased] = await queue.lease({ max: 1 });
    expect(leased.id).toBe(id);
  });

  it("a lease is settled through a process that did not take it (settleFromAnyProcess), or that settle is refused", async () => {
    const ctx = await open();
    const needsPeer = suite.supports.sharedClock || !suite.supports.settleFromAnyProcess;
    // Another process on the data; a one-process store's other handle is a second Spool on it in this process.
    const otherStore = needsPeer ? await peerOf(suite, ctx.store, "its leases are settled across processes") : storeProxy(ctx.store, { close: async () => {} });
    const other = await Spool.open({ store: otherStore });
    try {
      const queue = ctx.spool.queue<number>(uniqueQueueName("settle"), { maxAttempts: 5 });
      await queue.publishMany([1, 2, 3].map((body) => ({ body })));
      const [a, b, c] = await queue.lease({ max: 3, leaseMs: 60_000 });
      if (!suite.supports.settleFromAnyProcess) {
        await spoolError(() => other.ack(a.id, a.leaseToken), "unsupported");
        await spoolError(() => other.nack(b.id, b.leaseToken, { error: "elsewhere" }), "unsupported");
        await spoolError(() => other.extend(c.id, c.leaseToken, 120_000), "unsupported");
        for (const m of [a, b, c]) expect((await statusOf(ctx.spool, m.id)).state, "a refused settle changes nothing").toBe("leased");
        await queue.ack(a.id, a.leaseToken); // where it was taken, it settles
        return;
      }
      await other.ack(a.id, a.leaseToken);
      expect(await other.nack(b.id, b.leaseToken, { error: "elsewhere", delayMs: 0 })).toMatchObject({ state: "ready" });
      const extended = await other.extend(c.id, c.leaseToken, 120_000);
      expect((await statusOf(ctx.spool, a.id)).state).toBe("completed");
      expect((await statusOf(ctx.spool, b.id)).state).toBe("ready");
      expect((await statusOf(ctx.spool, c.id)).leaseUntil).toBe(extended.leaseUntil);
      // And the other way round: what the other process leased, this one settles.
      const again = await leaseOne(other.queue<number>(queue.name));
      expect(again.id).toBe(b.id);
      await queue.ack(again.id, again.leaseToken);
      expect((await statusOf(ctx.spool, b.id)).state).toBe("completed");
    } finally {
      await other.close();
    }
  });
};
