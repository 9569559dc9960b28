/**
 * leaseWithWait when the store fails: the first attempt's `unavailable` is the caller's answer;
 * once parked, an `unavailable` store is waited out (retried on wake-ups and every second) until
 * it answers again, and is reported only if it is still failing at the deadline. The store is the
 * memory store on a manual clock, with `lease` made to fail while `down` is set.
 */
import { describe, expect, it } from "vitest";
import { UnavailableError, type Store } from "../../../src/index.js";
import { memoryStore } from "../../../src/store/memory/memory-store.js";
import { leaseWithWait } from "../../../src/store/lease-wait.js";
import { ManualClock } from "../../../src/util/clock.js";
import type { PublishInput } from "../../../src/core/operations.js";

/** A memory store whose `lease` fails with `unavailable` while `state.down`; counts lease calls. */
async function flakyStore(clock: ManualClock): Promise<{ store: Store; state: { down: boolean; leases: number } }> {
  const inner = memoryStore({ clock });
  await inner.open();
  const state = { down: false, leases: 0 };
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      if (key === "lease") {
        return (...args: Parameters<Store["lease"]>) => {
          state.leases++;
          return state.down ? Promise.reject(new UnavailableError("the database is away")) : target.lease(...args);
        };
      }
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, state };
}

const input = (queue: string): PublishInput => ({ queue, body: '"hello"', priority: 0 });

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("leaseWithWait on a store that becomes unavailable", () => {
  it("answers the first attempt's unavailable at once", async () => {
    const clock = new ManualClock(1_000);
    const { store, state } = await flakyStore(clock);
    state.down = true;
    await expect(leaseWithWait(store, "q", { max: 1 }, 10_000)).rejects.toMatchObject({ code: "unavailable" });
  });

  it("once parked, waits out an outage and leases what came meanwhile", async () => {
    const clock = new ManualClock(1_000);
    const { store, state } = await flakyStore(clock);
    await store.ensureQueue("q");
    const parked = leaseWithWait(store, "q", { max: 1 }, 10_000);
    await settle();
    expect(state.leases).toBe(1);
    state.down = true;
    // A wake-up while the store is away: the lease fails, the poll stays parked.
    await store.publish([input("q")]).catch(() => undefined);
    await settle();
    expect(state.leases).toBe(2);
    clock.advance(1_000); // the retry while away
    await settle();
    expect(state.leases).toBe(3);
    state.down = false;
    clock.advance(1_000); // the next retry finds the store back
    await settle();
    const leased = await parked;
    expect(leased.map((m) => m.body)).toEqual(['"hello"']);
  });

  it("reports unavailable if the store is still away at the deadline", async () => {
    const clock = new ManualClock(1_000);
    const { store, state } = await flakyStore(clock);
    await store.ensureQueue("q");
    const parked = leaseWithWait(store, "q", { max: 1 }, 2_500);
    const outcome = parked.then(() => "resolved", (error: unknown) => error);
    await settle();
    state.down = true;
    await store.publish([input("q")]).catch(() => undefined);
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(1_000);
    }
    await settle();
    expect(await outcome).toMatchObject({ code: "unavailable" });
  });
});
