/**
 * A message's story (progress, log, result) and dead-letter copies survive a restart of the
 * journal: replayed from the log, then loaded from a snapshot (the story rides in the rows'
 * extras, which the snapshot codec writes as JSON, so older snapshots and logs read as before).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Spool, type MessageStatus } from "../../src/index.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await removeTempDir(dir);
});

describe("the story and dead-letter copies across a restart", () => {
  it("progress, log and result read back the same after a replay and after a snapshot; the lease still reports", async () => {
    let spool = await Spool.open({ dataDir: dir });
    const jobs = spool.queue<string>("jobs", { deadLetter: { queue: "jobs.dead" } });
    const [doneId, runningId, rejectedId] = (await jobs.publishMany([{ body: "a" }, { body: "b" }, { body: "c" }])).map((r) => r.id);
    const [done, running, rejected] = await jobs.lease({ max: 3 });
    await jobs.report(done.id, done.leaseToken, { progress: 100, log: ["fetched", "rendered"] });
    await jobs.ack(done.id, done.leaseToken, { result: { pages: 3 } });
    await jobs.report(running.id, running.leaseToken, { progress: { step: 2 }, log: "halfway" });
    await jobs.nack(rejected.id, rejected.leaseToken, { reject: true, error: "malformed" });
    const before: Array<MessageStatus | undefined> = await Promise.all([doneId, runningId, rejectedId].map((id) => spool.status(id)));
    expect(before[0]).toMatchObject({ state: "completed", result: { pages: 3 }, progress: 100 });
    expect(before[1]).toMatchObject({ state: "leased", progress: { step: 2 } });
    await spool.close();

    spool = await Spool.open({ dataDir: dir });
    expect(await Promise.all([doneId, runningId, rejectedId].map((id) => spool.status(id)))).toEqual(before);
    // The lease survived too: the running handler can go on reporting.
    await spool.queue("jobs").report(running.id, running.leaseToken, { log: "after the restart" });
    const copies = await spool.queue<string>("jobs.dead").lease({ max: 10 });
    expect(copies.map((m) => [m.body, m.headers?.["x-death-reason"], m.headers?.["x-death-id"]])).toEqual([["c", "rejected", rejectedId]]);
    await spool.snapshot();
    const afterSnapshot = await Promise.all([doneId, runningId, rejectedId].map((id) => spool.status(id)));
    await spool.close();

    spool = await Spool.open({ dataDir: dir });
    expect(await Promise.all([doneId, runningId, rejectedId].map((id) => spool.status(id)))).toEqual(afterSnapshot);
    expect(afterSnapshot[1]?.log?.map((entry) => entry.line)).toEqual(["halfway", "after the restart"]);
    expect((await spool.queue("jobs.dead").stats()).leased).toBe(1);
    await spool.close();
  });
});
