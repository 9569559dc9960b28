import { describe, expectTypeOf, it } from "vitest";
import { memoryStore, Spool, type LeasedMessage, type PublishResult, type QueueOptions } from "../../src/index.js";

type Email = { to: string; subject: string };

describe("typed bodies and options (compile-time)", () => {
  it("carries the body type from queue<T>() to publish, lease and handlers", async () => {
    const spool = await Spool.open({ store: memoryStore() });
    const emails = spool.queue<Email>("typed-emails");
    expectTypeOf(emails.publish).parameter(0).toEqualTypeOf<Email>();
    expectTypeOf(emails.publish({ to: "a@x.io", subject: "hi" })).resolves.toEqualTypeOf<PublishResult>();
    expectTypeOf(emails.lease()).resolves.toEqualTypeOf<LeasedMessage<Email>[]>();
    const worker = emails.work(async (msg) => {
      expectTypeOf(msg.body).toEqualTypeOf<Email>();
    });
    // @ts-expect-error a body of the wrong shape does not compile
    void emails.publish({ to: 1 }).catch(() => undefined);
    // @ts-expect-error unknown publish options do not compile
    void emails.publish({ to: "a", subject: "b" }, { priorty: 1 }).catch(() => undefined);
    await worker.close();
    await spool.close();
  });

  it("types queue options", () => {
    expectTypeOf<QueueOptions["maxAttempts"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<NonNullable<QueueOptions["overflow"]>>().toEqualTypeOf<"reject" | "block" | "drop-oldest">();
  });
});
