/** Batch delivery's state in memory only, for a Spool on the memory store (tests, ephemeral use). */
import { randomBytes } from "node:crypto";
import { UnavailableError } from "../../core/errors.js";
import { DeliveryState, type DeliveryRecord } from "../delivery-state.js";
import { memoryRecipientFiles, type RecipientFiles } from "../recipient-files.js";
import type { DeliveryStorage } from "./delivery-storage.js";

export class MemoryDeliveryStorage implements DeliveryStorage {
  readonly state = new DeliveryState();
  readonly recipients: RecipientFiles = memoryRecipientFiles();
  readonly #secret = randomBytes(32).toString("base64url");
  #closed = false;

  get onStatus(): DeliveryState["onStatus"] {
    return this.state.onStatus;
  }
  set onStatus(hook: DeliveryState["onStatus"]) {
    this.state.onStatus = hook;
  }
  get onForget(): DeliveryState["onForget"] {
    return this.state.onForget;
  }
  set onForget(hook: DeliveryState["onForget"]) {
    this.state.onForget = hook;
  }

  async write(record: DeliveryRecord): Promise<boolean> {
    if (this.#closed) throw new UnavailableError("the delivery storage is closed");
    return this.state.apply(record);
  }

  async snapshot(): Promise<void> {}

  sync(): Promise<void> {
    return Promise.resolve();
  }

  async tokenSecret(): Promise<string> {
    return this.#secret;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export function memoryDeliveryStorage(): MemoryDeliveryStorage {
  return new MemoryDeliveryStorage();
}
