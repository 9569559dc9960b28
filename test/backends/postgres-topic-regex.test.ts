/**
 * The PostgreSQL store routes dead-letter copies through topic exchanges in SQL (`topic_matches`,
 * a translation of the binding pattern into a regular expression). It must agree with
 * routing/topic-matcher.ts on every pattern and key: checked here on random ones, words drawn
 * from a small alphabet with the regex-special characters a user's key may hold.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { postgresStore, type PostgresStore } from "../../src/index.js";
import { matchesTopic } from "../../src/routing/topic-matcher.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";

const schema = uniqueSchema();
let store: PostgresStore;
let client: pg.Client;

beforeAll(async () => {
  store = postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 1 });
  await store.open();
  client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await store?.close();
  await dropSchemas([schema]);
});

const word = fc.constantFrom("a", "b", "ab", "", "x-1", "a+b", "(c)", "[d]", "e\\f", "^", "$", "g|h", "i?", "~k", "ü");
const patternWord = fc.oneof(word, fc.constant("*"), fc.constant("#"));
const pattern = fc.array(patternWord, { minLength: 1, maxLength: 6 }).map((words) => words.join("."));
const key = fc.array(word, { minLength: 1, maxLength: 6 }).map((words) => words.join("."));

async function sqlMatches(pairs: Array<[string, string]>): Promise<boolean[]> {
  const { rows } = await client.query<{ m: boolean }>(
    `SELECT ${schema}.topic_matches(p, k) AS m FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(p, k, n) ORDER BY n`,
    [pairs.map(([p]) => p), pairs.map(([, k]) => k)],
  );
  return rows.map((row) => row.m);
}

describe("topic_matches (SQL) agrees with matchesTopic (TypeScript)", () => {
  it("on the documented examples", async () => {
    const cases: Array<[string, string]> = [
      ["a.*.c", "a.b.c"],
      ["a.*.c", "a.c"],
      ["a.#", "a"],
      ["a.#.c", "a.b.b.c"],
      ["#", ""],
      ["*", ""],
      ["", ""],
      ["", "a"],
      ["#.x", "work.x"],
      ["a.b", "a.b.c"],
    ];
    expect(await sqlMatches(cases)).toEqual(cases.map(([p, k]) => matchesTopic(p, k)));
  });

  it("on random patterns and keys (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(pattern, key), { minLength: 1, maxLength: 200 }), async (pairs) => {
        expect(await sqlMatches(pairs)).toEqual(pairs.map(([p, k]) => matchesTopic(p, k)));
      }),
      { numRuns: 50 },
    );
  });
});
