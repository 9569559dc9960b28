/**
 * Model-based run: random command sequences (publish with random priority / delay / group /
 * TTL / maxAttempts, lease, ack, ackMany, nack with each error kind, extend, clock advance, ack
 * with an old or made-up token) go to the real store through the public API and to a naive
 * reference model (../reference-model.ts). After every command the observable results must
 * agree: the ids (and attempts) a lease hands out, in order; ack / nack / extend success or
 * `lease_lost`; nack outcomes; stats counts and totals; the dead-letter list; and each
 * message's state.
 *
 * On a ManualClock, times are multiples of 50 ms so that delays, lease ends and TTLs often fall
 * due at the same instant, where the tie-break rules matter, and `advance` commands move time.
 * On the system clock the test cannot move time: times are multiples of a minute, so nothing falls
 * due within a run (the system-clock variants of the other areas cover what falls due), there are
 * no `advance` commands, the model's "now" follows the store's clock before each command, and a
 * time the store sets (leaseUntil, availableAt) is held to the window of the command that set it.
 * On failure fast-check prints the seed and the shrunk command list.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { it } from "../registry.js";
import { SpoolError, type Queue, type Spool } from "../../../src/index.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import { ReferenceQueue, type RefErrorKind, type RefMessage, type RefNackOutcome, type RefQueueOptions } from "../reference-model.js";
import type { AreaDefinition } from "../suite.js";
import { manualClock } from "./publish-helpers.js";

interface PublishSpec {
  priority: number;
  delayMs: number;
  groupKey: string | undefined;
  ttlMs: number | undefined;
  maxAttempts: number | undefined;
}

type Command =
  | ({ type: "publish" } & PublishSpec)
  | { type: "publishMany"; items: PublishSpec[] }
  | { type: "lease"; max: number; leaseMs: number | undefined }
  | { type: "ack"; pick: number }
  | { type: "ackMany"; picks: number[] }
  | { type: "ackOldToken"; pick: number; made: boolean }
  | { type: "nack"; pick: number; kind: RefErrorKind; delayMs: number | undefined }
  | { type: "extend"; pick: number; leaseMs: number }
  | { type: "advance"; ms: number };

/**
 * The command mix for one run: times in steps of `unit` ms; `advance` commands only where the
 * test moves time; group keys only on a store with ordering groups.
 */
function commandsFor(unit: number, advance: boolean, groups: boolean): fc.Arbitrary<Command> {
  const steps = (min: number, max: number) => fc.integer({ min, max }).map((k) => k * unit);

  const publishSpecArb: fc.Arbitrary<PublishSpec> = fc.record({
    priority: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }) }),
    delayMs: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: steps(1, 16) }),
    groupKey: groups ? fc.option(fc.constantFrom("g1", "g2"), { freq: 3, nil: undefined }) : fc.constant(undefined),
    ttlMs: fc.option(steps(1, 40), { freq: 5, nil: undefined }),
    maxAttempts: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 4, nil: undefined }),
  });

  const commands: fc.WeightedArbitrary<Command>[] = [
    { weight: 5, arbitrary: publishSpecArb.map((spec) => ({ type: "publish" as const, ...spec })) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant("publishMany" as const), items: fc.array(publishSpecArb, { minLength: 1, maxLength: 5 }) }) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant("lease" as const), max: fc.integer({ min: 1, max: 4 }), leaseMs: fc.option(steps(1, 30), { freq: 2, nil: undefined }) }) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant("ack" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("ackMany" as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("ackOldToken" as const), pick: fc.nat(), made: fc.boolean() }) },
    {
      weight: 3,
      arbitrary: fc.record({
        type: fc.constant("nack" as const),
        pick: fc.nat(),
        kind: fc.constantFrom<RefErrorKind>("error", "error", "transient", "permanent"),
        delayMs: fc.option(fc.oneof(fc.constant(0), steps(1, 16)), { freq: 3, nil: undefined }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ type: fc.constant("extend" as const), pick: fc.nat(), leaseMs: steps(1, 30) }) },
  ];
  if (advance) {
    commands.push({ weight: 4, arbitrary: fc.record({ type: fc.constant("advance" as const), ms: fc.oneof(steps(1, 24), fc.integer({ min: 1, max: 1_200 })) }) });
  }
  return fc.oneof(...commands);
}

/** The queue's options in one clock mode: lease and backoff in the same steps as the commands' times. */
function optionsFor(unit: number): RefQueueOptions {
  return {
    maxAttempts: 3,
    leaseMs: 10 * unit,
    backoff: { type: "exponential", baseMs: 2 * unit, factor: 2, maxMs: 8 * unit, jitter: "full" },
    random: 0.5,
  };
}

/** A ManualClock's step: 50 ms. The system clock's: a minute, so that nothing falls due while a run lasts. */
const MANUAL_UNIT = 50;
const SYSTEM_UNIT = 60_000;

/** Runs `action`; answers "lease_lost" when it fails with that code (anything else fails the run). */
async function orLeaseLost<T>(action: () => Promise<T>): Promise<T | "lease_lost"> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof SpoolError && error.code === "lease_lost") return "lease_lost";
    throw error;
  }
}

/** A message the model has leased now, chosen by `pick`; else any message with its last token (stale). */
function target(model: ReferenceQueue, pick: number): { id: string; token: string } | undefined {
  const leased = model.inState("leased");
  if (leased.length > 0) {
    const m = leased[pick % leased.length];
    return { id: m.id, token: m.leaseToken as string };
  }
  const everLeased = model.messages.filter((m) => m.tokens.length > 0);
  if (everLeased.length === 0) return undefined;
  const m = everLeased[pick % everLeased.length];
  return { id: m.id, token: m.tokens[m.tokens.length - 1] };
}

function realState(m: RefMessage): string {
  return m.state === "waiting" ? "ready" : m.state; // a message waiting for its group's turn reports "ready"
}

/** What of a model message its status shows; a change means the status must be checked. */
function fingerprint(m: RefMessage): string {
  return `${m.state} ${m.attempt} ${m.availableAt} ${m.leaseUntil}`;
}

/**
 * When the store may have taken "now" for a command: exactly the model's now on a ManualClock;
 * on the system clock anywhere from the model's now (the store's clock just before the command)
 * to `slackMs` later (just after it). A time the command set is checked within that window.
 */
function expectTime(real: number | undefined, model: number, slackMs: number, what: string): void {
  if (slackMs === 0) {
    expect(real, what).toBe(model);
  } else {
    expect(real, what).toBeGreaterThanOrEqual(model);
    expect(real, what).toBeLessThanOrEqual(model + slackMs);
  }
}

/** A message's times in the model: what a command may set. */
type Times = { availableAt: number; leaseUntil: number; attempt: number; state: RefMessage["state"] };
const timesOf = (m: RefMessage): Times => ({ availableAt: m.availableAt, leaseUntil: m.leaseUntil, attempt: m.attempt, state: m.state });

/**
 * Holds a real time to the model's: a time the command set (it differs from `before`) to the
 * command's window (see expectTime); one it left alone, exactly. The model then takes the real
 * time, so that later commands compare exactly what this one checked within its window (a no-op
 * on a ManualClock, where the two are equal).
 */
function checkTime(m: RefMessage, field: "availableAt" | "leaseUntil", real: number | undefined, before: Times | undefined, slackMs: number, what: string): void {
  // Set by this command: the time moved, or the message moved (a new lease or a retry may land on
  // the very millisecond the old time had, on the system clock).
  const set = before === undefined || before[field] !== m[field] || before.attempt !== m.attempt || before.state !== m.state;
  if (set) {
    expectTime(real, m[field], slackMs, what);
    m[field] = real as number;
  } else {
    expect(real, what).toBe(m[field]);
  }
}

/**
 * Compares stats, the dead-letter list (when it may have changed) and the status of `watched`
 * messages: those the command changed in the model (the stats catch a real change the model did
 * not make; a sweep over every message ends each run). `before` holds the model's times before
 * the command; `slackMs` is its window (see checkTime).
 */
async function compare(
  step: string,
  model: ReferenceQueue,
  spool: Spool,
  queue: Queue<number>,
  watched: RefMessage[],
  deadBefore: number,
  before: ReadonlyMap<RefMessage, Times>,
  slackMs: number,
): Promise<void> {
  const stats = await queue.stats();
  const { ready, delayed, leased, dead, totals } = stats;
  expect({ ready, delayed, leased, dead, totals }, `stats after ${step}`).toEqual(model.stats());
  if (model.deadIds().length !== deadBefore) {
    const { items } = await queue.deadLetters({ limit: 1000 });
    expect(items.map((d) => d.id), `dead letters after ${step}`).toEqual(model.deadIds());
  }
  for (const m of watched) {
    const status = await spool.status(m.id);
    const expected: Record<string, unknown> = { state: realState(m), attempt: m.attempt };
    if (m.state === "dead") expected.deadReason = m.deadReason;
    expect(status, `status of message #${m.seq} after ${step}`).toMatchObject(expected);
    if (m.state === "leased") checkTime(m, "leaseUntil", status?.leaseUntil, before.get(m), slackMs, `leaseUntil of message #${m.seq} after ${step}`);
    if (m.state === "delayed" || m.state === "waiting") {
      checkTime(m, "availableAt", status?.availableAt, before.get(m), slackMs, `availableAt of message #${m.seq} after ${step}`);
    }
  }
}

export const modelBased: AreaDefinition = (suite, open) => {
  const manual = suite.clockMode === "manual";
  const unit = manual ? MANUAL_UNIT : SYSTEM_UNIT;
  const OPTIONS = optionsFor(unit);
  const commandArb = commandsFor(unit, manual, suite.supports.orderingGroups);

  it("random publish / lease / ack / nack / extend / expiry sequences match the reference model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 60, size: "max" }), async (commands) => {
        const ctx = await open({ random: () => OPTIONS.random });
        const clock = ctx.store.clock;
        try {
          const { maxAttempts, leaseMs, backoff } = OPTIONS;
          const queue = ctx.spool.queue<number>(uniqueQueueName("model"), { maxAttempts, leaseMs, backoff });
          await queue.info();
          const model = new ReferenceQueue(clock.now(), OPTIONS);

          for (let index = 0; index < commands.length; index++) {
            const command = commands[index];
            const step = `command ${index} ${JSON.stringify(command)}`;
            const before = model.messages.map(fingerprint);
            const timesBefore = new Map(model.messages.map((m) => [m, timesOf(m)]));
            const deadBefore = model.deadIds().length;
            // On the system clock the model follows the store's time (nothing falls due: see above).
            if (!manual) model.advance(Math.max(0, clock.now() - model.now));
            const from = model.now;
            switch (command.type) {
              case "publish": {
                const { type: _type, ...spec } = command;
                const { id } = await queue.publish(model.messages.length, spec);
                model.publish(id, spec);
                break;
              }
              case "publishMany": {
                const results = await queue.publishMany(command.items.map((spec, i) => ({ body: model.messages.length + i, ...spec })));
                command.items.forEach((spec, i) => model.publish(results[i].id, spec));
                break;
              }
              case "lease": {
                const real = await queue.lease({ max: command.max, leaseMs: command.leaseMs });
                const expected = model.lease(command.max, command.leaseMs);
                expect(real.map((m) => [m.id, m.attempt]), `leased by ${step}`).toEqual(expected.map((m) => [m.id, m.attempt]));
                for (const m of real) model.setToken(m.id, m.leaseToken);
                break;
              }
              case "ack": {
                const t = target(model, command.pick);
                if (!t) break;
                const real = await orLeaseLost(() => queue.ack(t.id, t.token));
                expect(real === "lease_lost" ? "lease_lost" : "ok", step).toBe(model.ack(t.id, t.token) ? "ok" : "lease_lost");
                break;
              }
              case "ackMany": {
                const items = command.picks.map((pick) => target(model, pick)).filter((t) => t !== undefined).map((t) => ({ id: t.id, leaseToken: t.token }));
                if (items.length === 0) break;
                const real = await queue.ackMany(items);
                const expected = items.map((item) => (model.ack(item.id, item.leaseToken) ? "ok" : "lease_lost"));
                expect(real.map((o) => (o.ok ? "ok" : o.code)), step).toEqual(expected);
                break;
              }
              case "ackOldToken": {
                const everLeased = model.messages.filter((m) => m.tokens.length > 0);
                if (everLeased.length === 0) break;
                const m = everLeased[command.pick % everLeased.length];
                const token = command.made ? `made-up-${command.pick}` : m.tokens[command.pick % m.tokens.length];
                const real = await orLeaseLost(() => queue.ack(m.id, token));
                expect(real === "lease_lost" ? "lease_lost" : "ok", step).toBe(model.ack(m.id, token) ? "ok" : "lease_lost");
                break;
              }
              case "nack": {
                const t = target(model, command.pick);
                if (!t) break;
                const real = await orLeaseLost(() => queue.nack(t.id, t.token, { error: { message: "nacked", kind: command.kind }, delayMs: command.delayMs }));
                const expected: RefNackOutcome = model.nack(t.id, t.token, command.kind, command.delayMs);
                if (real === "lease_lost" || expected === "lease_lost") expect(real, step).toBe(expected);
                else if (expected.state === "dead") expect(real, step).toMatchObject(expected);
                else {
                  expect(real.state, step).toBe(expected.state);
                  expectTime(real.availableAt, expected.availableAt, manual ? 0 : clock.now() - from, `availableAt after ${step}`);
                }
                break;
              }
              case "extend": {
                const t = target(model, command.pick);
                if (!t) break;
                const real = await orLeaseLost(() => queue.extend(t.id, t.token, command.leaseMs));
                const expected = model.extend(t.id, t.token, command.leaseMs);
                if (real === "lease_lost" || expected === "lease_lost") expect(real, step).toBe(expected);
                else expectTime(real.leaseUntil, expected, manual ? 0 : clock.now() - from, `leaseUntil after ${step}`);
                break;
              }
              case "advance": {
                const moving = manualClock(ctx);
                moving.advance(command.ms);
                model.advance(command.ms);
                expect(moving.now(), step).toBe(model.now);
                break;
              }
            }
            const slackMs = manual ? 0 : clock.now() - from;
            const changed = model.messages.filter((m, i) => before[i] !== fingerprint(m));
            await compare(step, model, ctx.spool, queue, changed, deadBefore, timesBefore, slackMs);
          }
          const unchanged = new Map(model.messages.map((m) => [m, timesOf(m)]));
          await compare("the last command", model, ctx.spool, queue, model.messages, -1, unchanged, 0);
        } finally {
          await ctx.spool.close();
        }
      }),
      // On the system clock nothing falls due, so fewer runs cover what it adds: real times held to their windows.
      { numRuns: manual ? 100 : 50 },
    );
  }, 120_000); // fifty runs of up to sixty commands, each a round trip or more on a database
};
