/** core/story.ts: the log keeps its newest lines, each cut at the limit. */
import { describe, expect, it } from "vitest";
import { appendLog, boundLogLine, STORY_LIMITS } from "../../../src/core/story.js";

describe("a message's log", () => {
  it("appends stamped lines and drops the oldest past maxLogLines", () => {
    let log = appendLog(undefined, ["a", "b"], 1);
    expect(log).toEqual([{ at: 1, line: "a" }, { at: 1, line: "b" }]);
    log = appendLog(log, Array.from({ length: STORY_LIMITS.maxLogLines }, (_, i) => `n${i}`), 2);
    expect(log).toHaveLength(STORY_LIMITS.maxLogLines);
    expect(log[0]).toEqual({ at: 2, line: "n0" });
  });

  it("cuts a long line to maxLogLineChars, ending in an ellipsis", () => {
    expect(boundLogLine("short")).toBe("short");
    const cut = boundLogLine("x".repeat(STORY_LIMITS.maxLogLineChars + 1));
    expect(cut).toHaveLength(STORY_LIMITS.maxLogLineChars);
    expect(cut.endsWith("…")).toBe(true);
  });
});
