/**
 * Four processes on one PostgreSQL schema drain a backlog; one is SIGKILLed mid-run. Three are
 * library processes; the fourth is a `spool serve` whose worker is a SpoolClient leasing and
 * acking over its HTTP API (pg-host.ts `serve`).
 *
 * The parent publishes SPOOL_PG_DRAIN_MESSAGES messages (default 100,000) into a queue with
 * 2-second leases, starts four `pg-host.ts work` processes, and SIGKILLs one of them once a third
 * of the messages are acked. Every handler reports (id, attempt, lease token, leaseUntil, start,
 * end) and every accepted ack; the parent then checks:
 *
 *   - none lost: every published id is in the store's completed set, nothing is left live or
 *     dead (the total-queue checker: lost = 0, unexpected = 0, duplicated = 0);
 *   - completed exactly once as far as acks go: no message has two accepted acks (so no two
 *     handlings of one message both ended in an accepted ack, overlapping or not), and every
 *     message without an accepted ack the parent heard of was one the victim held (its report
 *     died with it);
 *   - never held by two processes at once (fencing, in the database's time): a later lease of a
 *     message starts no earlier than the earlier lease's leaseUntil;
 *   - a stale token is refused: every token the victim held, and every token whose ack was
 *     accepted, is answered lease_lost by ackMany and by extend, and changes nothing;
 *   - the survivors finish the victim's work once its leases expire (takeover times printed;
 *     an expired lease's message joins the back of the line, so with a long backlog the others
 *     reach it only after the messages already waiting).
 *
 * On this project's 2-core machines, with the database on the same machine, 100,000 messages
 * take ~35 s in all once the ready-message lease uses its index on a table without statistics
 * (the messages_queue_state index made a fresh table's lease sort every ready row: ~120 s).
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresStore, Spool, SpoolError } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { allDeadLetters } from "../helpers/store-observe.js";
import { check, formatFigures, History, keyOf } from "../helpers/total-queue.js";
import { DRAIN, type Body, type PgHostMessage } from "./pg-spec.js";
import { spawnHost, type HostHandle } from "./spawn-host.js";

const PG_HOST = new URL("./pg-host.ts", import.meta.url).pathname;
const MESSAGES = Number(process.env.SPOOL_PG_DRAIN_MESSAGES ?? 100_000);
const PROCESSES = 4;
const CONCURRENCY = 64;

interface Handling {
  host: number;
  id: string;
  attempt: number;
  token: string;
  leaseUntil: number;
  start: number;
  end?: number;
  ackedAt?: number;
}

describe("four processes on one PostgreSQL schema, one SIGKILLed mid-drain", () => {
  const schemas: string[] = [];
  const hosts: Array<HostHandle<PgHostMessage>> = [];
  afterAll(async () => {
    for (const host of hosts) if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill("SIGKILL");
    await Promise.all(hosts.map((host) => host.ended));
    await dropSchemas(schemas);
  });

  it(`drain ${MESSAGES} messages: none lost, none completed twice, none held by two processes at once`, async () => {
    const schema = uniqueSchema("spool_drain");
    schemas.push(schema);
    const store = postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 });
    const spool = await Spool.open({ store });
    try {
      const queue = spool.queue<Body>(DRAIN.queue, DRAIN.options);
      const history = new History();
      const published: string[] = [];
      const publishStarted = Date.now();
      for (let from = 0; from < MESSAGES; from += 10_000) {
        const bodies: Body[] = [];
        for (let seq = from; seq < Math.min(MESSAGES, from + 10_000); seq++) bodies.push({ producer: "seed", seq });
        for (const body of bodies) history.publishInvoked(keyOf(body));
        const results = await queue.publishMany(bodies.map((body) => ({ body })));
        results.forEach((r, i) => {
          history.publishOk(keyOf(bodies[i]), r.id);
          published.push(r.id);
        });
      }
      const keyById = new Map(published.map((id, seq) => [id, `seed:${seq}`]));
      const publishMs = Date.now() - publishStarted;

      // ── run ─────────────────────────────────────────────────────────────────────────
      const handlings = new Map<string, Handling[]>(); // by message id, in arrival order
      const byLease = new Map<string, Handling>(); // `${id}/${attempt}`
      const sameLeaseTwice: string[] = [];
      const errors: string[] = [];
      let acked = 0;
      let refused = 0;
      let victim = -1;
      let killedAt = 0;
      let waitingAtKill = 0;
      const seqOf = new Map(published.map((id, seq) => [id, seq]));
      const slowRunning: Handling[][] = Array.from({ length: PROCESSES }, () => []);
      const started = Date.now();

      const onMessage = (host: number) => (message: PgHostMessage) => {
        if (message.t === "error") errors.push(`host ${host}: ${message.message}`);
        if (message.t !== "handlings") return;
        refused += message.refused;
        for (const [id, attempt, token, leaseUntil, start] of message.starts) {
          const h: Handling = { host, id, attempt, token, leaseUntil, start };
          const lease = `${id}/${attempt}`;
          if (byLease.has(lease)) sameLeaseTwice.push(`${lease}: hosts ${byLease.get(lease)!.host} and ${host}`);
          byLease.set(lease, h);
          const list = handlings.get(id);
          if (list) list.push(h);
          else handlings.set(id, [h]);
        }
        for (const [id, attempt, at] of message.ends) byLease.get(`${id}/${attempt}`)!.end = at;
        for (const [id, attempt, at] of message.done) {
          byLease.get(`${id}/${attempt}`)!.ackedAt = at;
          acked++;
        }
        // Once a third is acked, the first host seen running a slow handler (DRAIN.slowEvery) that
        // will still be running when the signal lands is killed: it dies holding a lease it has
        // reported (besides whatever it leased in its last moments and never reported).
        if (victim < 0 && acked >= MESSAGES / 3) {
          const now = Date.now();
          for (const h of message.starts) {
            if (seqOf.get(h[0])! % DRAIN.slowEvery === 0) slowRunning[host].push(byLease.get(`${h[0]}/${h[1]}`)!);
          }
          slowRunning[host] = slowRunning[host].filter((h) => h.end === undefined && now < h.start + DRAIN.slowMs - 300);
          if (slowRunning[host].length > 0) {
            victim = host;
            killedAt = now;
            waitingAtKill = MESSAGES - acked;
            hosts[victim].child.kill("SIGKILL");
          }
        }
      };
      for (let i = 0; i < PROCESSES; i++) {
        const mode = i === PROCESSES - 1 ? "serve" : "work";
        hosts.push(spawnHost<PgHostMessage>([mode, TEST_PG_URL, schema, DRAIN.queue, String(CONCURRENCY)], onMessage(i), PG_HOST));
      }
      await Promise.all(hosts.map((host) => host.waitFor((m) => m.t === "ready", "the host opened the store")));
      const readyMs = Date.now() - started;

      // Done when the store has nothing left to hand out (an ack of the victim's may have been
      // accepted with its report dying with it, so the acks heard of need not add up).
      await pollUntil(
        async () => {
          const stats = await queue.stats();
          return stats.totals.completed >= MESSAGES && stats.ready + stats.delayed + stats.leased === 0;
        },
        { timeoutMs: 240_000, intervalMs: 100, what: "the backlog drained" },
      );
      const drainedMs = Date.now() - started;
      const checksStarted = Date.now();
      expect(victim, "the kill happened").toBeGreaterThanOrEqual(0);
      expect((await hosts[victim].ended).signal).toBe("SIGKILL");
      const survivors = hosts.filter((_, i) => i !== victim);
      for (const host of survivors) host.child.send({ t: "close" });
      await Promise.all(survivors.map((host) => host.ended)); // every report has arrived
      for (const [i, host] of hosts.entries()) if (i !== victim) expect(host.child.exitCode, host.stderr()).toBe(0);
      expect(errors).toEqual([]);

      // ── none lost ───────────────────────────────────────────────────────────────────
      const stats = await queue.stats();
      expect(stats).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
      expect(stats.totals.completed).toBe(MESSAGES);
      const completedIds = await completedInStore(schema);
      const dead = await allDeadLetters(store, DRAIN.queue, 1000);
      for (const h of byLease.values()) if (h.ackedAt !== undefined) history.ackOk(keyById.get(h.id)!, h.id);
      // status(id) of the messages the victim held with no accepted ack heard of (the rest: the completed set above).
      const victimOnly = [...handlings].filter(([, list]) => list.some((h) => h.host === victim) && !list.some((h) => h.ackedAt !== undefined)).map(([id]) => id);
      const statuses = new Map(await Promise.all(victimOnly.map(async (id) => [id, await spool.status(id)] as const)));
      const figures = check(history, {
        delivered: [],
        dead: dead.map((d) => ({ key: keyOf(JSON.parse(d.body) as Body), id: d.id })),
        completed: completedIds.map((id) => ({ id, key: keyById.get(id) ?? `?${id}` })),
        statuses,
      });
      const line = formatFigures(`pg drain (${PROCESSES} processes, host ${victim} killed)`, figures);
      expect(figures, line).toMatchObject({ lost: 0, unexpected: 0, duplicated: 0, ackedNotCompleted: 0, dead: 0, completed: MESSAGES });

      // ── completed exactly once as far as acks go ────────────────────────────────────
      const twice: string[] = [];
      const unheard: string[] = [];
      for (const id of published) {
        const list = handlings.get(id) ?? [];
        const accepted = list.filter((h) => h.ackedAt !== undefined);
        if (accepted.length > 1) twice.push(`${id}: ${accepted.map((h) => `host ${h.host} attempt ${h.attempt} [${h.start}, ${h.ackedAt}]`).join(" and ")}`);
        // No accepted ack heard of: only the victim may have made it, its report dying with it.
        if (accepted.length === 0 && (!list.some((h) => h.host === victim) || statuses.get(id)?.state !== "completed")) unheard.push(id);
      }
      expect(twice, "messages with two accepted acks").toEqual([]);
      expect(unheard, "messages completed with no accepted ack heard of, not held by the victim").toEqual([]);
      expect(sameLeaseTwice, "one lease (id, attempt) handed to two handlings").toEqual([]);

      // ── never held by two processes at once (database time) ─────────────────────────
      const overlapping: string[] = [];
      for (const [id, list] of handlings) {
        const sorted = [...list].sort((a, b) => a.attempt - b.attempt);
        for (let j = 1; j < sorted.length; j++) {
          const leasedAt = sorted[j].leaseUntil - DRAIN.leaseMs;
          for (let i = 0; i < j; i++) {
            if (leasedAt < sorted[i].leaseUntil) {
              overlapping.push(`${id}: attempt ${sorted[j].attempt} (host ${sorted[j].host}) leased at ${leasedAt}, before attempt ${sorted[i].attempt}'s lease (host ${sorted[i].host}) ran out at ${sorted[i].leaseUntil}`);
            }
          }
        }
      }
      expect(overlapping).toEqual([]);

      // ── the survivors finished the victim's work ────────────────────────────────────
      const victimHeld = [...byLease.values()].filter((h) => h.host === victim && h.ackedAt === undefined);
      const takenOver = [...byLease.values()].filter((h) => h.host !== victim && h.attempt > 1 && h.start >= killedAt);
      expect(takenOver.length, "the survivors took over some of the victim's leases").toBeGreaterThan(0);
      // …among them some whose handling the victim had reported (its token is a stale one below).
      const reportedTakeovers = victimHeld.filter((h) => (handlings.get(h.id) ?? []).some((other) => other.host !== victim && other.attempt > h.attempt));
      expect(reportedTakeovers.length, "taken-over leases the victim had reported").toBeGreaterThan(0);

      // ── a stale token is refused and changes nothing ────────────────────────────────
      const stale = [...byLease.values()].filter((h) => h.host === victim || h.ackedAt !== undefined);
      for (let from = 0; from < stale.length; from += 10_000) {
        const outcomes = await spool.ackMany(stale.slice(from, from + 10_000).map((h) => ({ id: h.id, leaseToken: h.token })));
        expect(outcomes.filter((o) => o.ok)).toEqual([]);
        expect(new Set(outcomes.map((o) => (o.ok ? "ok" : o.code)))).toEqual(new Set(["lease_lost"]));
      }
      const victimHandling = [...byLease.values()].find((h) => h.host === victim)!;
      const extendError = await queue.extend(victimHandling.id, victimHandling.token, 60_000).catch((error: unknown) => error);
      expect(extendError).toBeInstanceOf(SpoolError);
      expect((extendError as SpoolError).code).toBe("lease_lost");
      expect((await queue.stats()).totals.completed).toBe(MESSAGES);

      const takeoverMs = takenOver.map((h) => h.start - killedAt).sort((a, b) => a - b);
      console.log(
        `${line}\npg drain: ${MESSAGES} messages published in ${(publishMs / 1000).toFixed(1)} s, drained by ${PROCESSES} processes in ${(drainedMs / 1000).toFixed(1)} s from their start ` +
          `(${(readyMs / 1000).toFixed(1)} s of it starting them; ${Math.round(MESSAGES / ((drainedMs - readyMs) / 1000))} msg/s after), checked in ${((Date.now() - checksStarted) / 1000).toFixed(1)} s; ` +
          `host ${victim} SIGKILLed after ${((killedAt - started) / 1000).toFixed(1)} s holding ${victimHeld.length} unacked handlings heard of (${reportedTakeovers.length} later taken over), with ${waitingAtKill} messages not acked yet; ` +
          `${takenOver.length} taken over once their ${DRAIN.leaseMs} ms leases ran out, the first ${takeoverMs[0]} ms and the last ${takeoverMs[takeoverMs.length - 1]} ms after the kill ` +
          `(an expired lease's message joins the back of the line); ` +
          `leases found lost by live workers: ${refused}; accepted acks heard of: ${acked}`,
      );
    } finally {
      await spool.close();
    }
  }, 300_000);
});

/** The ids in the store's completed set: read from its table, since status(id) is one round trip per id. */
async function completedInStore(schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM "${schema}".completed`);
    return rows.map((row) => row.id);
  } finally {
    await client.end();
  }
}
