/** The hub's logic with fake sockets, the in-memory log double and a ManualClock: no network, no waiting. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConnectionHub, type HubConnection, type HubSocket } from "../../../src/delivery/realtime/connection-hub.js";
import { ManualClock, type Clock, type TimerHandle } from "../../../src/util/clock.js";
import { MemoryMessageLog } from "./memory-message-log.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- frames are whatever the hub sent
type Frame = any;

class FakeSocket implements HubSocket {
  readonly frames: Frame[] = [];
  pings = 0;
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  connection!: HubConnection;
  send(frame: string): void {
    this.frames.push(JSON.parse(frame));
  }
  ping(): void {
    this.pings++;
  }
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }
  terminate(): void {
    this.terminated = true;
  }
  messages(): Frame[] {
    return this.frames.filter((f) => f.type === "message");
  }
  ids(): string[] {
    return this.messages().map((f) => f.id);
  }
  errors(): Frame[] {
    return this.frames.filter((f) => f.type === "error");
  }
  ack(id: string): void {
    this.connection.receive(JSON.stringify({ type: "ack", id }));
  }
}

/** A ManualClock that counts the timers that are armed and neither fired nor cancelled. */
class CountingClock implements Clock {
  readonly inner = new ManualClock();
  live = 0;
  now(): number {
    return this.inner.now();
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.live++;
    let done = false;
    const finish = () => {
      if (!done) this.live--;
      done = true;
    };
    const handle = this.inner.setTimer(() => {
      finish();
      callback();
    }, delayMs);
    return {
      cancel: () => {
        finish();
        handle.cancel();
      },
    };
  }
  advance(ms: number): void {
    this.inner.advance(ms);
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

let log: MemoryMessageLog;
let clock: CountingClock;
let hub: ConnectionHub;

function open(recipientId: string): FakeSocket {
  const socket = new FakeSocket();
  socket.connection = hub.connect(recipientId, socket);
  return socket;
}

beforeEach(() => {
  log = new MemoryMessageLog();
  clock = new CountingClock();
  hub = new ConnectionHub({ log, clock, ackTimeoutMs: 1000, heartbeatMs: 0, closeGraceMs: 10 });
});
afterEach(async () => {
  const closing = hub.close();
  clock.advance(10);
  await closing;
});

describe("connect", () => {
  it("sends ready, then everything undelivered in publish order, and marks it sent", async () => {
    const a = log.add("alice", "one");
    const b = log.add("alice", "two");
    log.add("bob", "not yours");
    const socket = open("alice");
    expect(socket.frames[0]).toEqual({ type: "ready", recipientId: "alice", ackTimeoutMs: 1000 });
    expect(socket.messages()).toEqual([
      { type: "message", id: a, batchId: "B", content: { body: "one" }, attempt: 1 },
      { type: "message", id: b, batchId: "B", content: { body: "two" }, attempt: 1 },
    ]);
    await flush();
    expect(log.status(a)).toBe("sent");
    expect(log.entries.get(a)?.attempts).toBe(1);
    expect(hub.isOnline("alice")).toBe(true);
    expect(hub.isOnline("bob")).toBe(false);
  });

  it("a second connection gets what is in flight; one ack settles it for both", async () => {
    const a = log.add("alice", "one");
    const tab1 = open("alice");
    const tab2 = open("alice");
    expect(tab1.ids()).toEqual([a]);
    expect(tab2.ids()).toEqual([a]);
    tab2.ack(a);
    await flush();
    expect(log.status(a)).toBe("delivered");
    clock.advance(5000);
    expect(tab1.ids()).toEqual([a]);
    expect(tab2.ids()).toEqual([a]);
  });
});

describe("deliver", () => {
  it("pushes at once to every connection of an online recipient and resolves once sent is durable", async () => {
    const tab1 = open("alice");
    const tab2 = open("alice");
    const id = log.add("alice", "hi");
    await expect(hub.deliver(id)).resolves.toBe("pushed");
    expect(log.status(id)).toBe("sent");
    expect(tab1.ids()).toEqual([id]);
    expect(tab2.ids()).toEqual([id]);
    await expect(hub.deliver(id)).resolves.toBe("pushed");
    expect(tab1.ids()).toEqual([id]); // not twice
  });

  it("holds a message for an offline recipient, and pushes it on connect", async () => {
    const id = log.add("alice", "hi");
    await expect(hub.deliver(id)).resolves.toBe("held");
    expect(log.status(id)).toBe("queued");
    const socket = open("alice");
    expect(socket.ids()).toEqual([id]);
  });

  it("answers settled for a message already acknowledged", async () => {
    const id = log.add("alice", "hi", { status: "delivered" });
    open("alice");
    await expect(hub.deliver(id)).resolves.toBe("settled");
  });

  it("uses the job's content when the entry has none", async () => {
    const socket = open("alice");
    const id = log.add("alice", "", { content: null });
    await hub.deliver(id, { subject: "s", body: "from the job" });
    expect(socket.messages()[0].content).toEqual({ subject: "s", body: "from the job" });
  });

  it("rejects when the sent write fails (the job is retried), and reports the fault", async () => {
    const socket = open("alice");
    const id = log.add("alice", "hi");
    const faults: unknown[] = [];
    hub.on("hub:fault", (fault) => faults.push(fault));
    log.failWrites = new Error("disk full");
    await expect(hub.deliver(id)).rejects.toThrow("disk full");
    expect(socket.ids()).toEqual([id]);
    expect(faults).toHaveLength(1);
  });
});

describe("ack timeout", () => {
  it("pushes again to every connection when no ack comes in time, counting attempts", async () => {
    const id = log.add("alice", "hi");
    const socket = open("alice");
    clock.advance(999);
    expect(socket.ids()).toEqual([id]);
    clock.advance(1);
    expect(socket.messages().map((f) => f.attempt)).toEqual([1, 2]);
    await flush();
    expect(log.entries.get(id)).toMatchObject({ status: "sent", attempts: 2, lastError: { message: "no ack within 1000 ms" } });
    clock.advance(1000);
    expect(socket.messages().map((f) => f.attempt)).toEqual([1, 2, 3]);
    socket.ack(id);
    await flush();
    clock.advance(10_000);
    expect(socket.messages()).toHaveLength(3);
  });

  it("keeps one deadline timer however many messages are in flight", async () => {
    const socket = open("alice");
    for (let i = 0; i < 200; i++) await hub.deliver(log.add("alice", `m${i}`));
    expect(socket.messages()).toHaveLength(200);
    expect(clock.live).toBe(1);
    clock.advance(1000);
    expect(socket.messages()).toHaveLength(400);
    expect(clock.live).toBe(1);
  });

  it("an ack on the HTTP path (no connection) ends the flight too", async () => {
    const id = log.add("alice", "hi");
    const socket = open("alice");
    await hub.acknowledge(id, "delivered");
    clock.advance(5000);
    expect(socket.ids()).toEqual([id]);
  });

  it("a settle made elsewhere (seen through onChange) ends the flight", async () => {
    const id = log.add("alice", "hi");
    const socket = open("alice");
    await log.advance(id, "read");
    await flush();
    expect(hub.inFlight("alice")).toEqual([]);
    clock.advance(5000);
    expect(socket.ids()).toEqual([id]);
  });
});

describe("client frames", () => {
  it("ack → delivered, read → read, and read without ack is fine", async () => {
    const a = log.add("alice", "one");
    const b = log.add("alice", "two");
    const socket = open("alice");
    socket.ack(a);
    await flush();
    socket.connection.receive(JSON.stringify({ type: "read", id: a }));
    socket.connection.receive(JSON.stringify({ type: "read", id: b }));
    await flush();
    expect([log.status(a), log.status(b)]).toEqual(["read", "read"]);
    expect(socket.errors()).toEqual([]);
  });

  it("refuses an ack for another recipient's message, and an unknown id", async () => {
    const bobs = log.add("bob", "secret");
    const socket = open("alice");
    socket.ack(bobs);
    socket.ack("nope_1");
    await flush();
    expect(log.status(bobs)).toBe("queued");
    expect(socket.errors()).toEqual([
      { type: "error", code: "forbidden", id: bobs, message: expect.any(String) },
      { type: "error", code: "not_found", id: "nope_1", message: expect.any(String) },
    ]);
  });

  it("answers ping with pong, and anything else with a validation error", () => {
    const socket = open("alice");
    for (const frame of ["{", "[]", JSON.stringify({ type: "nack", id: "x" }), JSON.stringify({ type: "ack" }), JSON.stringify({ type: "ping" })]) socket.connection.receive(frame);
    expect(socket.frames.slice(1).map((f) => f.type === "error" ? f.code : f.type)).toEqual(["validation_failed", "validation_failed", "validation_failed", "validation_failed", "pong"]);
  });

  it("tells the client when an ack could not be recorded", async () => {
    const id = log.add("alice", "hi");
    const socket = open("alice");
    await flush();
    log.failWrites = new Error("disk full");
    socket.ack(id);
    await flush();
    expect(socket.errors()).toEqual([{ type: "error", code: "unavailable", id, message: expect.any(String) }]);
  });
});

describe("connections come and go", () => {
  it("forgets a recipient whose last connection closed; a reconnect gets the unacked messages again", async () => {
    const a = log.add("alice", "one");
    const first = open("alice");
    await flush();
    first.connection.closed();
    expect(hub.isOnline("alice")).toBe(false);
    expect(hub.inFlight("alice")).toEqual([]);
    clock.advance(5000); // no deadline left behind fires
    const second = open("alice");
    expect(second.messages()).toEqual([expect.objectContaining({ id: a, attempt: 2 })]);
  });

  it("keeps at most maxUnackedPerRecipient in flight, pushing the rest in order as acks make room", async () => {
    const small = new ConnectionHub({ log, clock, ackTimeoutMs: 1000, heartbeatMs: 0, maxUnackedPerRecipient: 2 });
    const ids = [0, 1, 2, 3].map((i) => log.add("alice", `m${i}`));
    const socket = new FakeSocket();
    socket.connection = small.connect("alice", socket);
    expect(socket.ids()).toEqual(ids.slice(0, 2));
    socket.ack(ids[0]);
    expect(socket.ids()).toEqual(ids.slice(0, 3));
    socket.ack(ids[2]);
    expect(socket.ids()).toEqual(ids);
    await flush();
    void small.close();
    clock.advance(2000);
  });

  it("drops a connection that does not answer its heartbeat ping", () => {
    const beating = new ConnectionHub({ log, clock, ackTimeoutMs: 1000, heartbeatMs: 100 });
    const live = new FakeSocket();
    live.connection = beating.connect("alice", live);
    const dead = new FakeSocket();
    dead.connection = beating.connect("alice", dead);
    clock.advance(100);
    expect([live.pings, dead.pings]).toEqual([1, 1]);
    live.connection.pong();
    clock.advance(100);
    expect(dead.terminated).toBe(true);
    expect(live.terminated).toBe(false);
    expect(beating.connectionCount).toBe(1);
    void beating.close();
    clock.advance(2000);
  });

  it("close() says goodbye (1001) to every connection and refuses new ones", async () => {
    const a = open("alice");
    const b = open("bob");
    const closing = hub.close();
    expect(a.closedWith).toEqual({ code: 1001, reason: "server shutting down" });
    expect(b.closedWith?.code).toBe(1001);
    a.connection.closed();
    clock.advance(10); // b never finishes its handshake: dropped after the grace
    await closing;
    expect(b.terminated).toBe(true);
    const late = open("alice");
    expect(late.closedWith?.code).toBe(1001);
    await expect(hub.deliver(log.add("alice", "x"))).resolves.toBe("held");
  });
});
