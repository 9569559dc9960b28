/**
 * Capabilities in the conformance suite. A test that needs one is registered with `itWith`: on a
 * store that declares it, the test itself; on a store that does not, under the same name, the
 * test that using it is refused loudly (`expectRefused`). Both kinds count the same, so every
 * store runs every test.
 */
import { expect } from "vitest";
import { UnsupportedError } from "../../../src/index.js";
import type { GatedCapability } from "../../../src/store/capabilities.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import { it } from "../registry.js";
import type { SuiteContext, SuiteRun } from "../suite.js";
import { detailPaths, spoolError } from "./publish-helpers.js";

type Open = () => Promise<SuiteContext>;

/** Registers `body` if the store declares `capability`, else (same name) the check that its use is refused. */
export function itWith(suite: SuiteRun, open: Open, capability: GatedCapability, name: string, body: () => Promise<void>): void {
  it(name, suite.supports[capability] ? body : async () => expectRefused(await open(), capability, { direct: true }));
}

/**
 * Every way the library lets a caller use `capability` is refused with `unsupported`
 * (UnsupportedError), naming the option and the capability, and changes nothing: the queue the
 * calls name is not even created. `direct`: the store itself refuses it too, when a caller
 * reaches it without the library (only where the store can see the use: a transaction).
 */
export async function expectRefused(ctx: SuiteContext, capability: GatedCapability, { direct }: { direct: boolean }): Promise<void> {
  const { spool } = ctx;
  const name = uniqueQueueName("refused");
  const queue = spool.queue<number>(name);
  const refused = async (action: () => unknown, path: string) => {
    const error = await spoolError(action, "unsupported");
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error.message).toContain(`capabilities.${capability} is false`);
    expect(detailPaths(error)).toEqual([path]);
  };
  switch (capability) {
    case "transactionalPublish": {
      const transaction = { begun: true };
      await refused(() => queue.publish(1, { transaction }), "/transaction");
      await refused(() => queue.publishMany([{ body: 1 }], { transaction }), "/transaction");
      await refused(() => spool.publish(name, 1, { transaction }), "/transaction");
      await refused(() => spool.publishToExchange("", name, 1, { transaction }), "/transaction");
      if (direct) await refused(() => ctx.store.publish([{ queue: name, body: "1", priority: 0 }], { transaction }), "/transaction");
      break;
    }
    case "replaceInPlace":
      await refused(() => queue.publish(1, { dedupKey: "k" }), "/dedupKey");
      await refused(() => queue.publishMany([{ body: 1 }, { body: 2, dedupKey: "k" }]), "/1/dedupKey");
      await refused(() => spool.publishToExchange("", name, 1, { dedupKey: "k" }), "/dedupKey");
      break;
    case "orderingGroups":
      await refused(() => queue.publish(1, { groupKey: "g" }), "/groupKey");
      await refused(() => queue.publishMany([{ body: 1 }, { body: 2, groupKey: "g" }]), "/1/groupKey");
      await refused(() => spool.publishToExchange("", name, 1, { groupKey: "g" }), "/groupKey");
      break;
    case "deadLetterPaging":
      await refused(() => queue.deadLetters({ cursor: "0", limit: 1 }), "/cursor");
      break;
  }
  expect((await spool.queues()).map((q) => q.name), "a refused call creates no queue").not.toContain(name);
}
