import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { serverLogger } from "../../src/server/logger.js";

function sink(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough();
  stream.isTTY = isTTY;
  let text = "";
  stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  return { stream, text: () => text };
}

describe("the server's default logger", () => {
  it("writes JSON lines when its destination is not a terminal", async () => {
    const out = sink(false);
    const logger = await serverLogger({ level: "info", destination: out.stream });
    logger.info({ url: "http://127.0.0.1:7400" }, "spool serving");
    logger.debug("below the level");
    expect(out.text().trim().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ level: 30, name: "spool", msg: "spool serving", url: "http://127.0.0.1:7400" }),
    ]);
  });

  it("writes readable lines, not JSON, when its destination is a terminal", async () => {
    const out = sink(true);
    const logger = await serverLogger({ level: "info", destination: out.stream });
    logger.warn({ keys: 0 }, "no API keys configured");
    logger.debug("below the level");
    const lines = out.text().trim().split("\n");
    expect(lines[0]).toMatch(/WARN.*\(spool\): no API keys configured$/);
    expect(lines.slice(1).join("\n")).toMatch(/keys: 0/);
    expect(() => JSON.parse(lines[0]!)).toThrow();
    expect(out.text()).not.toMatch(/below the level|"pid"|hostname/);
  });
});
