import { expect, it } from "vitest";
import { RecipientIds } from "../../src/delivery/recipient-ids.js";

it("keeps each index's id; unknown indexes answer undefined", () => {
  const ids = new RecipientIds(4);
  ids.fill(0, "ann");
  ids.fill(2, "bö-😀");
  expect([0, 1, 2, 3, 99].map((index) => ids.get(index))).toEqual(["ann", undefined, "bö-😀", undefined, undefined]);
  expect(ids.known).toBe(2);
});

it("an id once set stays (a recipient's id never changes); an empty id is no id", () => {
  const ids = new RecipientIds(2);
  ids.fill(0, "ann");
  ids.fill(0, "other");
  ids.fill(1, "");
  expect([ids.get(0), ids.get(1), ids.known]).toEqual(["ann", undefined, 1]);
});

it("grows past its first capacity, in indexes and in bytes", () => {
  const ids = new RecipientIds();
  const long = "x".repeat(200);
  for (let index = 0; index < 50_000; index++) ids.fill(index, index % 1000 === 0 ? `${long}${index}` : `user-${index}`);
  expect(ids.known).toBe(50_000);
  expect(ids.get(0)).toBe(`${long}0`);
  expect(ids.get(49_999)).toBe("user-49999");
  expect(ids.get(31_000)).toBe(`${long}31000`);
});

it("fillFrom copies what the other knows, whole into an empty one or index by index", () => {
  const intake = new RecipientIds();
  for (let index = 0; index < 3; index++) intake.fill(index, `u${index}`);
  const fresh = new RecipientIds(3);
  fresh.fillFrom(intake);
  expect([fresh.get(0), fresh.get(1), fresh.get(2), fresh.known]).toEqual(["u0", "u1", "u2", 3]);
  fresh.fill(2, "changed");
  expect(fresh.get(2)).toBe("u2");

  const partial = new RecipientIds(3);
  partial.fill(1, "kept");
  partial.fillFrom(intake);
  expect([partial.get(0), partial.get(1), partial.get(2), partial.known]).toEqual(["u0", "kept", "u2", 3]);
});

it("export and restore keep every id at its index, gaps included", () => {
  const ids = new RecipientIds(6);
  ids.fill(5, "last");
  ids.fill(0, "zoë");
  ids.fill(2, "😀");
  const { bytes, lengths } = ids.export();
  expect(Array.from(lengths)).toEqual([4, 0, 4, 0, 0, 4]);
  expect(bytes.toString("utf8")).toBe("zoë😀last");
  const back = new RecipientIds(6);
  back.restore(Buffer.from(bytes), lengths);
  expect([0, 1, 2, 3, 4, 5].map((index) => back.get(index))).toEqual(["zoë", undefined, "😀", undefined, undefined, "last"]);
  expect(back.known).toBe(3);
  back.fill(1, "added");
  expect(back.get(1)).toBe("added");
  expect(back.get(5)).toBe("last");
});
