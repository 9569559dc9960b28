/**
 * Capability checks: a call that needs something the store does not declare in its
 * `capabilities` is refused here, with `unsupported`, before the store is reached (and before a
 * queue is declared): a missing capability is never sniffed and never silently ignored.
 */
import { UnsupportedError } from "../core/errors.js";
import type { Store, StoreCapabilities } from "./store.js";
import type { PublishInput } from "../core/operations.js";

/** What the engine-backed stores (memory, journal) do: everything but share time or a caller's transaction (snapshots: the journal only). */
export const ENGINE_STORE_CAPABILITIES: Readonly<StoreCapabilities> = Object.freeze({
  manualClock: true,
  snapshots: false,
  sharedClock: false,
  transactionalPublish: false,
  settleFromAnyProcess: true,
  deadLetterPaging: true,
  replaceInPlace: true,
  orderingGroups: true,
});

/** The capabilities a call can ask for, with what asking looks like. */
const USES = {
  transactionalPublish: { option: "transaction", what: "publish inside the caller's transaction" },
  replaceInPlace: { option: "dedupKey", what: "replace a waiting message in place (dedupKey)" },
  orderingGroups: { option: "groupKey", what: "keep ordering groups (groupKey)" },
  deadLetterPaging: { option: "cursor", what: "page through dead letters (cursor)" },
} as const;

export type GatedCapability = keyof typeof USES;

/**
 * Refuses the call unless the store declares `capability`. `where` says which call ("publish to
 * "orders""), `path` where the option sits in its input ("/3" for a batch's fourth item).
 */
export function requireCapability(store: Store, capability: GatedCapability, where: string, path = ""): void {
  if (store.capabilities[capability]) return;
  const { option, what } = USES[capability];
  throw new UnsupportedError(`${where}: the ${store.name} store cannot ${what}: its capabilities.${capability} is false`, [
    { path: `${path}/${option}`, message: `unsupported by the ${store.name} store` },
  ]);
}

/**
 * Refuses a publish that needs a capability the store lacks: a transaction, a dedupKey
 * (replaceInPlace) or a groupKey (orderingGroups) on any input. `batch`: name inputs by index.
 */
export function checkPublishCapabilities(store: Store, inputs: readonly PublishInput[], transaction: unknown, where: string, batch: boolean): void {
  if (transaction !== undefined) requireCapability(store, "transactionalPublish", where);
  const { replaceInPlace, orderingGroups } = store.capabilities;
  if (replaceInPlace && orderingGroups) return;
  for (let i = 0; i < inputs.length; i++) {
    const path = batch ? `/${i}` : "";
    if (inputs[i].dedupKey !== undefined) requireCapability(store, "replaceInPlace", where, path);
    if (inputs[i].groupKey !== undefined) requireCapability(store, "orderingGroups", where, path);
  }
}
