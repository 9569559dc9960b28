import type * as nodeFs from "node:fs";
import type { WriteStream } from "node:fs";
import fs from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { diskRecipientFiles, type StoredRecipient } from "../../src/delivery/recipient-files.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

// The streams the module opens, so a test can look at their listeners.
const opened = vi.hoisted(() => [] as WriteStream[]);
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof nodeFs>();
  return {
    ...real,
    createWriteStream: (...args: Parameters<typeof real.createWriteStream>) => {
      const stream = real.createWriteStream(...args);
      opened.push(stream);
      return stream;
    },
  };
});

describe("disk recipient files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    opened.length = 0;
  });
  afterEach(() => removeTempDir(dir));

  it("waits out many back-pressure pauses without piling up listeners", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const files = diskRecipientFiles(dir);
      const sink = files.create("b1");
      // ~16 KiB lines against the stream's 256 KiB buffer: a pause every ~16 lines, 100+ in all.
      const filler = "x".repeat(16 * 1024);
      const count = 2_000;
      let pauses = 0;
      let maxErrorListeners = 0;
      for (let index = 0; index < count; index++) {
        const waiting = sink.write({ id: `r${index}`, vars: { filler } });
        if (waiting) {
          pauses++;
          await waiting;
        }
        maxErrorListeners = Math.max(maxErrorListeners, opened[0].listenerCount("error"), opened[0].listenerCount("drain"));
      }
      await sink.commit();
      await new Promise<void>((resolve) => setImmediate(resolve)); // process.emitWarning reports on the next tick

      expect(pauses).toBeGreaterThan(20);
      expect(warnings.filter((warning) => warning.name === "MaxListenersExceededWarning").map((warning) => warning.message)).toEqual([]);
      expect(maxErrorListeners).toBeLessThanOrEqual(3);
      const ids: string[] = [];
      for await (const recipient of files.read("b1", 0)) ids.push(recipient.id);
      expect(ids).toHaveLength(count);
      expect(ids[count - 1]).toBe(`r${count - 1}`);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a write error rejects the pending back-pressure wait and every later write", async () => {
    const files = diskRecipientFiles(dir);
    const sink = files.create("b2");
    const filler = "x".repeat(300 * 1024); // one line fills the buffer: the write waits for drain
    const waiting = sink.write({ id: "r0", vars: { filler } } satisfies StoredRecipient);
    expect(waiting).toBeInstanceOf(Promise);
    opened[0].destroy(new Error("disk on fire"));
    await expect(waiting).rejects.toThrow(/disk on fire/);
    expect(() => sink.write({ id: "r1" })).toThrow(/disk on fire/);
    await sink.abort();
    expect(await fs.readdir(dir)).not.toContain("b2.ndjson.tmp");
  });
});
