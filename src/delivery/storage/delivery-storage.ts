/**
 * Where batch delivery keeps its state: templates, batches, the per-recipient log (as
 * `DeliveryState` and the records that change it), the recipient files of batches not yet
 * expanded, and the secret that signs recipient tokens. Three implementations: the journal-backed
 * one in the data directory (journal-storage.ts), the memory one (memory-storage.ts), and the
 * PostgreSQL one (postgres-storage.ts), shared by every process on the database.
 *
 * Every implementation keeps the whole state in memory and answers reads synchronously from it.
 * Where one process is the only writer (journal, memory) that state is the truth as soon as a
 * write is applied. Where many processes share the storage, each holds a copy kept current by
 * applying every process's records in one order; `sync()` brings it up to date before a read that
 * must see what another process wrote, and the two optional parts below coordinate the work that
 * must happen once across processes.
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
  /** Applies `record`; resolves once it is durable (and applied). Returns whether it changed anything. */
  write(record: DeliveryRecord): Promise<boolean>;
  /** Applies what other processes wrote until now (resolves at once where there are none). */
  sync(): Promise<void>;
  /** Compacts what is durable (a no-op where nothing is). */
  snapshot(): Promise<void>;
  /** The secret that signs recipient tokens: made once, the same for every process on the storage. */
  tokenSecret(): Promise<string>;
  /** Shared storages: one expander per batch across processes (absent: this process is the only one). */
  readonly expansions?: ExpansionCoordinator;
  /** Shared storages: websocket messages handed to the process that holds the recipient's connection. */
  readonly relay?: HandOffRelay;
  close(): Promise<void>;
}

/** The right to expand one batch, held by one process at a time. */
export interface ExpansionClaim {
  /** Recipients of the batch already published (durably): the expansion goes on from here. */
  readonly from: number;
  /** Aborts when the claim is lost (not renewed in time, or taken over): the expander stops. */
  readonly signal: AbortSignal;
  /**
   * Publishes one chunk (`publish` gets the transaction to publish in) and writes its records in the
   * same transaction, fenced: only if this process still holds the claim and the batch is published
   * up to `from` exactly. Resolves false, having written nothing, when the claim is lost.
   */
  publishChunk(from: number, count: number, publish: (transaction: unknown) => Promise<void>, records: DeliveryRecord[]): Promise<boolean>;
  /** Gives the claim up (the batch is done, or this process stops). */
  release(): Promise<void>;
}

export interface ExpansionCoordinator {
  /** The claim on `batchId`, or undefined while another process holds it. */
  claim(batchId: string): Promise<ExpansionClaim | undefined>;
  /** How often a process looks for unfinished batches no one is expanding (a process died). */
  readonly checkEveryMs: number;
}

export interface HandOffRelay {
  /** Tells every process that `logId` is ready for its recipient. */
  send(logId: string): Promise<void>;
  /** `listener` runs for every hand-off (this process's too), once the state includes its entry. */
  onHandOff(listener: (logId: string) => void): () => void;
}
