/** Acks of one event-loop turn go out as one request; each still settles on its own. */
import { expect, it } from "vitest";
import { AckBatcher } from "../../src/client/ack-batcher.js";
import { LeaseLostError, UnavailableError, type AckItem, type AckOutcome } from "../../src/index.js";

function recorder(answer: (items: AckItem[]) => AckOutcome[] | Promise<AckOutcome[]> = (items) => items.map(({ id }) => ({ id, ok: true }))) {
  const requests: AckItem[][] = [];
  const batcher = new AckBatcher(async (items) => {
    requests.push(items);
    return answer(items);
  });
  return { requests, batcher };
}

const settle = (promises: Promise<void>[]) => Promise.allSettled(promises);

it("sends the acks of one turn in one request, in order", async () => {
  const { requests, batcher } = recorder();
  const acks = Array.from({ length: 100 }, (_, i) => batcher.ack(`m${i}`, `t${i}`));
  await Promise.all(acks);
  expect(requests).toHaveLength(1);
  expect(requests[0].map((a) => a.id)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));

  await batcher.ack("later", "t");
  expect(requests).toHaveLength(2);
});

it("splits more than 10,000 acks into requests the route accepts", async () => {
  const { requests, batcher } = recorder();
  await Promise.all(Array.from({ length: 25_000 }, (_, i) => batcher.ack(`m${i}`, "t")));
  expect(requests.map((r) => r.length)).toEqual([10_000, 10_000, 5_000]);
});

it("a stale token rejects only its own ack, with LeaseLostError", async () => {
  const { batcher } = recorder((items) => items.map(({ id }) => (id === "stale" ? { id, ok: false, code: "lease_lost" as const } : { id, ok: true })));
  const results = await settle([batcher.ack("a", "t"), batcher.ack("stale", "t"), batcher.ack("b", "t")]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
});

it("a failed request rejects every ack it carried; an answer missing an item rejects that one", async () => {
  const down = new UnavailableError("down");
  const failing = recorder(() => Promise.reject(down));
  const results = await settle([failing.batcher.ack("a", "t"), failing.batcher.ack("b", "t")]);
  expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([down, down]);

  const short = recorder((items) => [{ id: items[0].id, ok: true }]);
  const partial = await settle([short.batcher.ack("a", "t"), short.batcher.ack("b", "t")]);
  expect(partial.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
  expect((partial[1] as PromiseRejectedResult).reason).toBeInstanceOf(UnavailableError);
});

it("flush() sends at once and waits for requests in flight", async () => {
  const { requests, batcher } = recorder();
  const ack = batcher.ack("a", "t");
  await batcher.flush();
  expect(requests).toHaveLength(1);
  await ack;
});
