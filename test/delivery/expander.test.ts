/** The expander's shutdown: close() never waits out a retry pause. */
import { afterEach, expect, it, vi } from "vitest";
import { DeliveryStore } from "../../src/delivery/delivery-store.js";
import { Expander } from "../../src/delivery/expander.js";
import type { Spool } from "../../src/spool.js";

afterEach(() => {
  vi.useRealTimers();
});

it("close() during a failing publish returns without waiting out the retry pause", async () => {
  const store = DeliveryStore.memory();
  const batchId = "b1";
  const file = store.recipients.create(batchId);
  await file.write({ id: "u1" });
  await file.commit();
  await store.write({ k: "batch", batch: { id: batchId, channel: "mock", total: 1, createdAt: Date.now(), template: { body: "Hi", escape: "html" } } });

  let failPublish!: (error: Error) => void;
  let publishing!: () => void;
  const publishStarted = new Promise<void>((resolve) => (publishing = resolve));
  const spool = {
    maxBodyBytes: 256 * 1024,
    queue: () => ({
      publishMany: () => {
        publishing();
        return new Promise((_resolve, reject) => (failPublish = reject));
      },
    }),
  } as unknown as Spool;

  // With timers faked, a retry pause that ignores the abort would never end and close() would hang.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  const expander = new Expander(spool, store);
  expander.start(batchId);
  await publishStarted;
  const closed = expander.close(); // aborts while the publish is in flight
  failPublish(new Error("store unavailable"));
  await closed;
  expect(store.state.batches.get(batchId)?.expandedUpTo).toBe(0);
  await store.close();
});
