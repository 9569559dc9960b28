/**
 * The backend conformance suite: every semantic of DESIGN §1, written once against the public
 * API and run on every store. A backend runs it with one line:
 *
 *   defineStoreSuite({ name: "memory", createStore: (clock) => memoryStore({ clock }), supports: {...} })
 *
 * A feature a backend lacks is declared in `supports` (its StoreCapabilities), never skipped.
 */
import { Spool, type Store, type StoreCapabilities } from "../../src/index.js";
import { ManualClock, type Clock } from "../../src/util/clock.js";

export interface StoreSuiteOptions {
  name: string;
  /** A fresh store using `clock` (a ManualClock when `supports.manualClock`, else the system clock). */
  createStore: (clock: Clock, random: () => number) => Store | Promise<Store>;
  supports: StoreCapabilities;
}

export interface SuiteContext {
  spool: Spool;
  store: Store;
  /** Present when the store supports a manual clock: move time without waiting. */
  clock: ManualClock | undefined;
}

export interface OpenOptions {
  /** Use a ManualClock (requires supports.manualClock). Default true when supported. */
  manualClock?: boolean;
  /** Jitter source; default returns 0.5 for deterministic backoff. */
  random?: () => number;
  maxBodyBytes?: number;
}

export type AreaDefinition = (suite: StoreSuiteOptions, open: (options?: OpenOptions) => Promise<SuiteContext>) => void;

export function makeOpener(suite: StoreSuiteOptions, cleanup: Array<() => Promise<void>>) {
  return async (options: OpenOptions = {}): Promise<SuiteContext> => {
    const manual = options.manualClock ?? suite.supports.manualClock;
    if (manual && !suite.supports.manualClock) throw new Error(`${suite.name} does not support a manual clock`);
    const clock = manual ? new ManualClock() : undefined;
    const { systemClock } = await import("../../src/util/clock.js");
    const store = await suite.createStore(clock ?? systemClock, options.random ?? (() => 0.5));
    const spool = await Spool.open({ store, maxBodyBytes: options.maxBodyBytes });
    cleanup.push(() => spool.close());
    return { spool, store, clock };
  };
}
