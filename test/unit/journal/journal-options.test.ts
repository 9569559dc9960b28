/** Journal options are checked like every other option: `validation_failed`, naming the option, before anything is opened. */
import { describe, expect, it } from "vitest";
import { journalStore, Spool, SpoolError } from "../../../src/index.js";

function refusal(action: () => unknown): SpoolError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SpoolError);
    return error as SpoolError;
  }
  throw new Error("expected a validation_failed error");
}

describe("journal options", () => {
  it("an unknown fsync policy, a bad number or an unknown setting is validation_failed with its path", () => {
    const fsync = refusal(() => journalStore({ dataDir: "/nowhere", fsync: "sometimes" as never }));
    expect(fsync.code).toBe("validation_failed");
    expect(fsync.details.map((d) => d.path)).toContain("/fsync");
    expect(refusal(() => journalStore({ dataDir: "/nowhere", segmentMaxBytes: 0.5 })).details.map((d) => d.path)).toContain("/segmentMaxBytes");
    expect(refusal(() => journalStore({ dataDir: "/nowhere", snapshotEveryOps: 0 })).code).toBe("validation_failed");
    expect(refusal(() => journalStore({ dataDir: "" })).details.map((d) => d.path)).toEqual(["/dataDir"]);
    expect(refusal(() => journalStore({ dataDir: "/nowhere", onFault: "log it" as never })).details.map((d) => d.path)).toEqual(["/onFault"]);
  });

  it("Spool.open refuses bad journal options before it touches the directory", async () => {
    await expect(Spool.open({ dataDir: "/nonexistent/never-created", journal: { fsyncIntervalMs: -5 } })).rejects.toMatchObject({ code: "validation_failed" });
  });
});
