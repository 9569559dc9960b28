import { describe, expect, it } from "vitest";
import { newId } from "../../../src/core/ids.js";
import { MessageTable, NIL, Slot, type NewRow } from "../../../src/engine/message-table.js";

const row = (seq: number): NewRow => ({ queue: 3, seq, priority: 2, publishedAt: 1000 + seq, availableAt: 2000 + seq, maxAttempts: 5 });

describe("MessageTable", () => {
  it("creates rows that read back as stored messages, across growth", () => {
    const t = new MessageTable();
    const ids = Array.from({ length: 1000 }, () => newId());
    const rows = ids.map((id, i) => t.create(id, JSON.stringify({ i, text: "ü".repeat(i % 40) }), row(i)));
    expect(t.size).toBe(1000);
    rows.forEach((r, i) => {
      expect(t.find(ids[i])).toBe(r);
      expect(t.slot[r]).toBe(Slot.None);
      expect(t.prev[r]).toBe(NIL);
      const stored = t.toStored(r, "q");
      expect(stored).toMatchObject({ id: ids[i], queue: "q", priority: 2, publishedAt: 1000 + i, availableAt: 2000 + i, maxAttempts: 5, attempt: 0, expiresAt: undefined });
      expect(JSON.parse(stored.body)).toEqual({ i, text: "ü".repeat(i % 40) });
    });
  });

  it("frees rows for reuse and forgets their id, body, token and extras", () => {
    const t = new MessageTable();
    const a = newId();
    const r = t.create(a, '"a"', row(0));
    t.leaseTokens.set(r, "token");
    t.extras.set(r, { groupKey: "g" });
    t.free(r);
    expect(t.find(a)).toBe(NIL);
    expect(t.slot[r]).toBe(Slot.Free);
    expect(t.leaseTokens.size + t.extras.size).toBe(0);
    expect(t.bodies.pageBytes).toBe(0);
    const b = newId();
    const reused = t.create(b, '"b"', row(1));
    expect(reused).toBe(r);
    expect(t.body(reused)).toBe('"b"');
    expect(t.leaseTokens.get(reused)).toBeUndefined();
  });

  it("refuses a duplicate or non-canonical id without leaking the row", () => {
    const t = new MessageTable();
    const id = newId();
    t.create(id, "1", row(0));
    expect(() => t.create(id, "2", row(1))).toThrow(/already in use/);
    expect(() => t.create("not-an-id", "3", row(2))).toThrow(/not a canonical message id/);
    expect(t.size).toBe(1);
    expect(t.body(t.find(id))).toBe("1");
  });

  it("drops and replaces bodies", () => {
    const t = new MessageTable();
    const r = t.create(newId(), '"old"', row(0));
    t.replaceBody(r, '"a much longer new body that needs another size class"');
    expect(t.body(r)).toBe('"a much longer new body that needs another size class"');
    t.dropBody(r);
    expect(t.body(r)).toBe("");
  });

  it("reports the state of each slot", () => {
    const t = new MessageTable();
    const r = t.create(newId(), "1", row(0));
    const states = [Slot.None, Slot.Ready, Slot.Delayed, Slot.Leased, Slot.GroupWaiting, Slot.Completed, Slot.Dead].map((slot) => {
      t.slot[r] = slot;
      return t.state(r);
    });
    expect(states).toEqual(["ready", "ready", "delayed", "leased", "ready", "completed", "dead"]);
  });
});
