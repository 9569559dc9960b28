/** The delivery.websocket job handler, with the log double and a ManualClock. */
import { beforeEach, describe, expect, it } from "vitest";
import { websocketJobHandler } from "../../../src/delivery/channels/websocket.js";
import { ConnectionHub, type HubSocket } from "../../../src/delivery/realtime/connection-hub.js";
import type { DeliveryJob } from "../../../src/delivery/types.js";
import type { HandlerContext, LeasedMessage } from "../../../src/index.js";
import { ManualClock } from "../../../src/util/clock.js";
import { MemoryMessageLog } from "./memory-message-log.js";

let log: MemoryMessageLog;
let clock: ManualClock;
let hub: ConnectionHub;
let handle: (job: DeliveryJob, attempt?: number) => Promise<unknown>;

const ctx = { signal: new AbortController().signal } as HandlerContext;
const job = (logId: string, recipientId = "alice"): DeliveryJob => ({ logId, batchId: "B", recipientId, content: { body: "hi" } });

beforeEach(() => {
  log = new MemoryMessageLog();
  clock = new ManualClock();
  hub = new ConnectionHub({ log, clock, heartbeatMs: 0 });
  const handler = websocketJobHandler({ log, hub, clock });
  handle = async (body, attempt = 2) => handler({ body, attempt } as LeasedMessage<DeliveryJob>, ctx);
});

function online(recipientId: string): string[] {
  const frames: string[] = [];
  const socket: HubSocket = { send: (f) => void frames.push(f), ping() {}, close() {}, terminate() {} };
  hub.connect(recipientId, socket);
  return frames;
}

describe("websocketJobHandler", () => {
  it("pushes to an online recipient and completes once sent is durable", async () => {
    const frames = online("alice");
    const id = log.add("alice", "hi");
    await handle(job(id));
    expect(log.status(id)).toBe("sent");
    expect(frames.filter((f) => f.includes('"message"'))).toHaveLength(1);
  });

  it("completes at once for an offline recipient, leaving the message queued (held)", async () => {
    const id = log.add("alice", "hi");
    await handle(job(id));
    expect(log.status(id)).toBe("queued");
  });

  it("waits for an entry the expander has not recorded yet, then delivers it", async () => {
    const frames = online("alice");
    const id = log.add("alice", "hi", { status: "pending" });
    const done = handle(job(id));
    await log.advance(id, "queued");
    await done;
    expect(log.status(id)).toBe("sent");
    expect(frames.some((f) => f.includes(id))).toBe(true);
  });

  it("fails (to be retried) when the entry stays pending", async () => {
    const id = log.add("alice", "hi", { status: "pending" });
    const done = handle(job(id));
    clock.advance(5000);
    await expect(done).rejects.toThrow("still pending");
  });

  it("a replayed dead job (attempt 1) reopens its failed entry and delivers it; a redelivery (attempt > 1) leaves it failed", async () => {
    const frames = online("alice");
    const id = log.add("alice", "hi", { status: "failed", content: null });
    await handle(job(id), 2);
    expect(log.status(id)).toBe("failed");
    await handle(job(id), 1);
    expect(log.writes).toEqual([`reopen ${id}`, `advance ${id} sent`]);
    expect(frames.filter((f) => f.includes(id))).toHaveLength(1);
  });

  it("fails permanently for an unknown entry or another channel's", async () => {
    await expect(handle(job("B_99"))).rejects.toMatchObject({ name: "PermanentError" });
    const id = log.add("alice", "hi");
    log.entries.get(id)!.channel = "webhook";
    await expect(handle(job(id))).rejects.toMatchObject({ name: "PermanentError" });
  });
});
