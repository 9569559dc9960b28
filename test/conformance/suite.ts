/**
 * The backend conformance suite: every semantic of the store contract (src/store/store.ts),
 * written once against the public API and run on every store. A backend runs it with one line:
 *
 *   defineStoreSuite({ name: "memory", createStore: (clock, random) => memoryStore({ clock, random }), supports: {...} })
 *
 * Clock modes. The suite runs once per clock mode the store takes (`clockModes`):
 * - "manual": the store keeps time on a ManualClock that the tests move, so every instant is
 *   exact (due at 1000 ms, not at 999) and nothing waits;
 * - "system": the store keeps time on the system clock; the same semantics are checked with short
 *   real durations (tens of ms) and `pollUntil`, asserting orderings and states, not instants.
 * Every test exists in both modes (`itOnClock` gives a test its two bodies), so no mode holds a
 * store to fewer tests; test/conformance/registration.test.ts checks that every store and mode
 * registers the same list.
 *
 * Capabilities. What a store lacks is declared in `supports` (its StoreCapabilities). A test that
 * needs a capability registers, for a store without it, a test that the use is refused loudly
 * (`itWith`). Nothing is ever skipped.
 */
import { Spool, type Store, type StoreCapabilities } from "../../src/index.js";
import { ManualClock, systemClock, type Clock } from "../../src/util/clock.js";

export type ClockMode = "manual" | "system";

export interface StoreSuiteOptions {
  name: string;
  /** A fresh store keeping time on `clock` (a ManualClock in manual mode, else the system clock). */
  createStore: (clock: Clock, random: () => number) => Store | Promise<Store>;
  supports: StoreCapabilities;
  /**
   * The clock modes to run the suite in. Default: both when `supports.manualClock`, else
   * "system". Every mode runs every test.
   */
  clockModes?: readonly ClockMode[];
  /**
   * Opens a second store on the same data as `store`, as another process would (for a database:
   * a new connection pool). Needed by a store that declares `sharedClock` or lacks
   * `settleFromAnyProcess` (the tests of what many processes see); a one-process store with data
   * another opener could reach (the journal's directory) gives it to show that opener refused.
   */
  openPeer?: (store: Store) => Promise<Store>;
  /**
   * Begins a transaction on the store's database, in the form its `publish(…, { transaction })`
   * takes. Needed by a store that declares `transactionalPublish`.
   */
  beginTransaction?: (store: Store) => Promise<{ transaction: unknown; commit(): Promise<void>; rollback(): Promise<void> }>;
}

/** One run of the suite: a store in one clock mode. What every area is given. */
export interface SuiteRun extends StoreSuiteOptions {
  clockMode: ClockMode;
}

export interface SuiteContext {
  spool: Spool;
  store: Store;
  /** The ManualClock the store keeps time on (manual mode); undefined on the system clock. */
  clock: ManualClock | undefined;
}

export interface OpenOptions {
  /** Keep time on a ManualClock. Default: the run's clock mode. `true` in system mode throws. */
  manualClock?: boolean;
  /** Jitter source; default returns 0.5 for deterministic backoff. */
  random?: () => number;
  maxBodyBytes?: number;
  /** Wraps the new store before the Spool opens on it (see `storeProxy`); `ctx.store` is the wrapper. */
  wrap?: (store: Store) => Store;
}

export type AreaDefinition = (suite: SuiteRun, open: (options?: OpenOptions) => Promise<SuiteContext>) => void;

/** The clock modes a store runs in: what it asks for, and never "manual" without a manual clock. */
export function clockModesOf(suite: StoreSuiteOptions): ClockMode[] {
  const modes = suite.clockModes ?? (suite.supports.manualClock ? ["manual", "system"] : ["system"]);
  if (modes.includes("manual") && !suite.supports.manualClock) {
    throw new Error(`${suite.name}: clock mode "manual" needs supports.manualClock`);
  }
  if (modes.length === 0) throw new Error(`${suite.name}: no clock mode to run`);
  return [...modes];
}

export function makeOpener(suite: SuiteRun, cleanup: Array<() => Promise<void>>) {
  return async (options: OpenOptions = {}): Promise<SuiteContext> => {
    const manual = options.manualClock ?? suite.clockMode === "manual";
    if (manual && suite.clockMode !== "manual") throw new Error(`${suite.name}: a ManualClock was asked for in the ${suite.clockMode} clock mode`);
    const clock = manual ? new ManualClock() : undefined;
    const created = await suite.createStore(clock ?? systemClock, options.random ?? (() => 0.5));
    const store = options.wrap ? options.wrap(created) : created;
    const spool = await Spool.open({ store, maxBodyBytes: options.maxBodyBytes });
    cleanup.push(() => spool.close());
    return { spool, store, clock };
  };
}

/**
 * A store that answers like `store` except for the methods in `overrides`. Getters and methods
 * run on the store itself (stores keep #private fields), so the wrapper is a drop-in.
 */
export function storeProxy(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Store];
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
