/**
 * Where batch delivery keeps its state: templates, batches, the per-recipient log (as
 * `DeliveryState` and the records that change it), the recipient files of batches not yet
 * expanded, and the secret that signs recipient tokens. Two implementations: the journal-backed
 * one in the data directory (journal-storage.ts) and the memory one (memory-storage.ts); a store
 * shared by many processes (PostgreSQL) adds a third behind the same interface.
 */
import type { DeliveryRecord, DeliveryState } from "../delivery-state.js";
import type { RecipientFiles } from "../recipient-files.js";

export interface DeliveryStorage {
  /** The current state; a rebuild after a fault replaces the object, so read it each time. */
  readonly state: DeliveryState;
  readonly recipients: RecipientFiles;
  /** Called for every status move applied from now on (not for replayed ones). */
  onStatus: DeliveryState["onStatus"];
  /** Called for every batch forgotten from now on (not for replayed ones). */
  onForget: DeliveryState["onForget"];
  /** Applies `record` now; resolves once it is durable. Returns whether it changed anything. */
  write(record: DeliveryRecord): Promise<boolean>;
  /** Compacts what is durable (a no-op where nothing is). */
  snapshot(): Promise<void>;
  /** The secret that signs recipient tokens: made once, the same for every process on the storage. */
  tokenSecret(): Promise<string>;
  close(): Promise<void>;
}
