/**
 * Where an accepted batch's recipients wait for the expander: one NDJSON file per batch in
 * `<dir>/batches/<batchId>.ndjson` (one normalised `{id, vars?, address?}` per line), written to
 * a temp file while the request streams in, fdatasynced, renamed into place and the directory
 * fsynced before the batch is recorded (R4). The expander reads it back from any line on; once a
 * batch is fully expanded its file is deleted (the log holds the recipient ids from then on).
 * A Spool on the memory store keeps the recipients in memory instead.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { UnavailableError } from "../core/errors.js";
import { nodeJournalFs } from "../log/journal-fs.js";

export interface StoredRecipient {
  id: string;
  vars?: Record<string, unknown>;
  address?: string;
}

export interface RecipientSink {
  /** Resolves when the sink can take more (backpressure). */
  write(recipient: StoredRecipient): Promise<void> | void;
  /** Makes the recipients durable under the batch's name. */
  commit(): Promise<void>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

export interface RecipientFiles {
  create(batchId: string): RecipientSink;
  /** The batch's recipients from index `from` on, in order. */
  read(batchId: string, from: number): AsyncIterable<StoredRecipient>;
  remove(batchId: string): Promise<void>;
  /** Batch ids that have a file. */
  list(): Promise<string[]>;
}

export function memoryRecipientFiles(): RecipientFiles {
  const files = new Map<string, StoredRecipient[]>();
  return {
    create(batchId) {
      const lines: StoredRecipient[] = [];
      return {
        write: (recipient) => void lines.push(recipient),
        commit: async () => void files.set(batchId, lines),
        abort: async () => undefined,
      };
    },
    async *read(batchId, from) {
      const lines = files.get(batchId) ?? [];
      for (let index = from; index < lines.length; index++) yield lines[index];
    },
    remove: async (batchId) => void files.delete(batchId),
    list: async () => [...files.keys()],
  };
}

const SUFFIX = ".ndjson";
const TEMP = ".tmp";

export function diskRecipientFiles(dir: string): RecipientFiles {
  const fileOf = (batchId: string) => path.join(dir, batchId + SUFFIX);
  return {
    create(batchId) {
      const file = fileOf(batchId);
      const temp = file + TEMP;
      let stream: WriteStream | undefined;
      let failed: Error | undefined;
      const open = () => {
        stream = createWriteStream(temp, { flags: "w", highWaterMark: 256 * 1024 });
        stream.on("error", (error) => (failed = error));
        return stream;
      };
      return {
        write(recipient) {
          const out = stream ?? open();
          if (failed) throw new UnavailableError(`writing ${temp}: ${failed.message}`, failed);
          // events.once drops its error listener when the drain comes: a large batch waits here
          // thousands of times on one stream.
          if (!out.write(JSON.stringify(recipient) + "\n")) {
            return once(out, "drain").then(
              () => undefined,
              (error: Error) => {
                throw new UnavailableError(`writing ${temp}: ${error.message}`, error);
              },
            );
          }
        },
        async commit() {
          const out = stream ?? open();
          await new Promise<void>((resolve, reject) => {
            out.once("error", reject);
            out.end(resolve);
          });
          if (failed) throw new UnavailableError(`writing ${temp}: ${failed.message}`, failed);
          try {
            const handle = await fs.open(temp, "r+");
            try {
              await handle.datasync();
            } finally {
              await handle.close();
            }
            await fs.rename(temp, file);
            await nodeJournalFs.fsyncDir(dir); // the rename is durable only with its directory
          } catch (error) {
            await fs.rm(temp, { force: true }).catch(() => undefined);
            throw new UnavailableError(`making the recipients of batch ${batchId} durable: ${(error as Error).message}`, error);
          }
        },
        async abort() {
          if (stream && !stream.closed) await new Promise<void>((resolve) => stream?.end(resolve));
          await fs.rm(temp, { force: true }).catch(() => undefined);
        },
      };
    },
    async *read(batchId, from) {
      const lines = createInterface({ input: createReadStream(fileOf(batchId), { highWaterMark: 256 * 1024 }), crlfDelay: Infinity });
      let index = 0;
      for await (const line of lines) {
        if (line === "") continue;
        if (index++ < from) continue;
        yield JSON.parse(line) as StoredRecipient;
      }
    },
    async remove(batchId) {
      await fs.rm(fileOf(batchId), { force: true });
    },
    async list() {
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      // Temp files of requests that never finished (a crash mid-upload) are removed here too.
      for (const name of names) if (name.endsWith(SUFFIX + TEMP)) await fs.rm(path.join(dir, name), { force: true });
      return names.filter((name) => name.endsWith(SUFFIX)).map((name) => name.slice(0, -SUFFIX.length));
    },
  };
}
