/**
 * An operation that changes nothing writes nothing: a delete that finds nothing to delete (a
 * queue, an exchange, a binding, a dead letter that is not there) leaves the journal as it was.
 * Over HTTP these are 404s, and a refused request must leave no trace (test/server/rejected-requests.test.ts).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool } from "../../src/index.js";
import { observe, plain } from "../helpers/store-observe.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => removeTempDir(dir)));
});

async function files(dir: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const name of (await fs.readdir(dir)).sort()) sizes[name] = (await fs.stat(path.join(dir, name))).size;
  return sizes;
}

describe("journal: a delete that finds nothing", () => {
  it("writes no record, and the state reopens the same", async () => {
    const dir = await makeTempDir("spool-no-op-");
    dirs.push(dir);
    const open = async () => Spool.open({ store: journalStore({ dataDir: dir, clock: new ManualClock(), fsync: "always" }) });
    const spool = await open();
    const id = (await spool.publish("jobs", { n: 1 })).id;
    await spool.declareExchange("events", "topic");
    await spool.bind("events", "jobs", "a.*");
    const before = await files(dir);
    const state = plain(await observe(spool.store, [id]));

    expect(await spool.store.deleteQueue("no-such-queue")).toBe(false);
    expect(await spool.store.deleteExchange("no-such-exchange")).toBe(false);
    expect(await spool.store.unbind("events", "jobs", "b.*")).toBe(false);
    expect(await spool.store.deleteDead("jobs", id)).toBe(false); // a message, but not a dead letter
    expect(await files(dir)).toEqual(before);

    // What does change is written, as ever.
    expect(await spool.store.unbind("events", "jobs", "a.*")).toBe(true);
    expect(Object.values(await files(dir)).reduce((a, b) => a + b, 0)).toBeGreaterThan(Object.values(before).reduce((a, b) => a + b, 0));
    await spool.store.bind("events", "jobs", "a.*");
    await spool.close();

    const reopened = await open();
    expect(plain(await observe(reopened.store, [id]))).toEqual(state);
    await reopened.close();
  });
});
