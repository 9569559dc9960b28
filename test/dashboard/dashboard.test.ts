/**
 * The dashboard in a real Chromium against a real `spool serve` child process: the overview's
 * numbers move while messages flow, a dead letter is read and replayed by a click and completes,
 * a batch of 1,000 on the mock channel shows its progress to the end with its failed recipients,
 * purge asks first, a wrong key is refused plainly and a key without admin sees no admin buttons.
 * Each test saves screenshots at laptop and phone sizes under test-results/dashboard/.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/auth/api-keys.js";
import { PermanentError, SpoolClient } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { launchBrowser, screenshots, VIEWPORTS } from "./browser.js";
import { startServe, type ServeProcess } from "./serve-process.js";

const ADMIN = generateApiKey();
const READER = generateApiKey();

let server: ServeProcess;
let browser: Browser;

beforeAll(async () => {
  // One after the other: if the browser is missing, the server is already known to afterAll, which stops it.
  server = await startServe([
    { name: "ops", key: ADMIN, scopes: ["admin"] },
    { name: "reader", key: READER, scopes: ["consume"] },
  ]);
  browser = await launchBrowser();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh tab with its own sessionStorage; an action that cannot happen fails in 10 s, saying which. */
async function newTab(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(10_000);
  return page;
}

/** A fresh tab with the key typed into the prompt. */
async function openWith(key: string, hash = ""): Promise<Page> {
  const page = await newTab();
  await page.goto(`${server.url}/${hash}`);
  await page.getByLabel("Key").fill(key);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  await page.locator("header.top").waitFor();
  return page;
}

/** Polls until the matcher passes (10 s unless told): the page moves on events, never on a sleep. */
const eventually = <T>(read: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(read, { timeout: 10_000, interval: 50, ...options });

const admin = <T>(method: string, route: string, body?: unknown) => server.api<T>(method, route, body, ADMIN);

async function publish(queue: string, count: number, body: (i: number) => unknown = (i) => ({ n: i })): Promise<void> {
  await admin("POST", `/v1/queues/${queue}/messages/batch`, { messages: Array.from({ length: count }, (_, i) => ({ body: body(i) })) });
}

// A browser and a server process share the machine with the rest of `npm test`: room for a slow moment.
const TEST_TIMEOUT_MS = 45_000;

describe("dashboard", { timeout: TEST_TIMEOUT_MS }, () => {
  it("keeps the key out of URLs and localStorage, and the overview's counts move while messages flow", async () => {
    const queue = "dash.flow";
    await publish(queue, 300);
    const page = await openWith(ADMIN);
    const ready = page.locator(`tr[data-queue="${queue}"] [data-count="ready"]`);
    await eventually(() => ready.textContent(), { timeout: 10_000 }).toBe("300");
    expect(page.url()).not.toContain(ADMIN);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(ADMIN);
    expect(await page.evaluate(() => sessionStorage.getItem("spool.apiKey"))).toBe(ADMIN);
    await eventually(() => page.getByTestId("health").textContent()).toBe("ready");

    // A worker in another process drains the queue; the page follows without a reload.
    const client = new SpoolClient({ url: server.url, apiKey: ADMIN });
    const worker = client.queue(queue).work(async () => undefined, { concurrency: 8 });
    try {
      await eventually(() => ready.textContent(), { timeout: 15_000 }).toBe("0");
      // The ack sparkline has seen a second with acks in it.
      await expect
        .poll(() => page.locator(`tr[data-queue="${queue}"] td[data-label="Acked"] svg polyline`).count(), { timeout: 5_000 })
        .toBeGreaterThan(0);
      await publish(queue, 1234, () => ({ later: true }));
    } finally {
      await worker.close();
      await client.close();
    }
    await publish("dash.flow.waiting", 10_000);
    await publish("dash.flow.waiting", 2_345);
    await eventually(() => page.locator('tr[data-queue="dash.flow.waiting"] [data-count="ready"]').textContent(), { timeout: 10_000 }).toBe("12,345");
    await screenshots(page, "overview");
    await page.close();
  });

  it("draws the publishes of a queue's first second, when the queue is made and filled between two stats events", async () => {
    const page = await openWith(ADMIN);
    await eventually(() => page.getByTestId("health").textContent()).toBe("ready");
    await publish("dash.born-busy", 500);
    const published = page.locator('tr[data-queue="dash.born-busy"] td[data-label="Published"] .spark');
    // 500 over the second or so between two events (the events' own times say how long it was).
    const peak = async () => Number(/peak ([\d,.]+)\/s/.exec((await published.getAttribute("title")) ?? "")?.[1]?.replace(/,/g, ""));
    await eventually(peak).toBeGreaterThan(400);
    await page.close();
  });

  it("shows a message failed with PermanentError in dead letters with its error, replays it on a click, and it completes", async () => {
    const queue = "dash.payments";
    let failing = true;
    const client = new SpoolClient({ url: server.url, apiKey: ADMIN });
    const worker = client.queue<{ card: string }>(queue).work(async (msg) => {
      if (failing) throw new PermanentError(`card ${msg.body.card} declined: do not retry`);
    });
    try {
      const { id } = await admin<{ id: string }>("POST", `/v1/queues/${queue}/messages`, { body: { card: "4242" } });
      await pollUntil(async () => (await admin<{ state: string }>("GET", `/v1/messages/${id}`)).state === "dead", { timeoutMs: 10_000, what: "the message to die" });

      const page = await openWith(ADMIN, `#/dead?queue=${queue}`);
      const item = page.locator(`[data-dead-id="${id}"]`);
      await eventually(() => item.textContent(), { timeout: 10_000 }).toContain("card 4242 declined: do not retry");
      expect(await item.textContent()).toContain("permanent_error");
      await item.getByRole("button", { name: "Show body" }).click();
      await eventually(() => item.locator("pre.body").textContent()).toContain('"card": "4242"');
      await screenshots(page, "dead-letters");

      // The reason filter asks the server: another reason shows none, the right one shows it again.
      await page.getByLabel("Reason").selectOption("expired");
      await eventually(() => page.getByText(`No dead letters of ${queue} died of expired.`).count()).toBe(1);
      await page.getByLabel("Reason").selectOption("permanent_error");
      await eventually(() => item.textContent(), { timeout: 10_000 }).toContain("card 4242 declined");

      failing = false;
      await item.getByRole("button", { name: "Replay", exact: true }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Replay" }).click();
      const replayed = page.locator(`[data-replayed="${id}"] [data-state]`);
      await eventually(() => replayed.getAttribute("data-state"), { timeout: 15_000 }).toBe("completed");
      await screenshots(page, "dead-letters-replayed");

      await page.goto(`${server.url}/#/messages/${id}`);
      await eventually(() => page.locator("[data-state]").first().getAttribute("data-state")).toBe("completed");
      await screenshots(page, "message");
      await page.close();
    } finally {
      await worker.close();
      await client.close();
    }
  });

  it("follows a batch of 1,000 on the mock channel to its end, with its failed recipients", async () => {
    // Two attempts 10 ms apart and a slow, flaky mock: the batch takes a few seconds and some recipients fail.
    await admin("PUT", "/v1/queues/delivery.mock", { maxAttempts: 2, backoff: { type: "fixed", baseMs: 10, jitter: "none" } });
    await admin("POST", "/v1/admin/workers/delivery.mock/scale", { concurrency: 64 });
    const recipients = Array.from({ length: 1000 }, (_, i) => ({ id: `user-${i}`, vars: { name: `User ${i}` } }));
    const { batchId } = await admin<{ batchId: string }>("POST", "/v1/batches", {
      channel: "mock",
      template: { body: "Hello {{name}}" },
      recipients,
      mock: { latencyMs: 150, failureRate: 0.25 },
    });

    const page = await openWith(ADMIN, `#/batches/${batchId}`);
    const done = page.getByTestId("batch-done");
    // Part way: some recipients done, not all.
    await eventually(async () => Number((await done.textContent())?.replace(/\D/g, "")), { timeout: 15_000 }).toBeGreaterThan(0);
    const partWay = Number((await done.textContent())?.replace(/\D/g, ""));
    if (partWay < 1000) await screenshots(page, "batch-running");

    await page.getByTestId("batch-complete").waitFor({ timeout: 30_000 });
    expect(await done.textContent()).toBe("1,000");
    const summary = await admin<{ counts: { failed: number; sent: number } }>("GET", `/v1/batches/${batchId}`);
    expect(summary.counts.failed).toBeGreaterThan(0);
    expect(summary.counts.sent + summary.counts.failed).toBe(1000);
    await eventually(() => page.locator('[data-status="failed"]').textContent()).toBe(summary.counts.failed.toLocaleString("en-US"));
    await eventually(() => page.getByRole("heading", { name: "Failed recipients" }).count()).toBe(1);
    await eventually(() => page.locator("ul.errors li").first().textContent()).toContain("mock channel: simulated failure");
    await screenshots(page, "batch");

    // The log filtered to failed recipients.
    await page.getByLabel("Status").selectOption("failed");
    await eventually(async () => (await page.locator("tr[data-recipient] .badge").allTextContents()).every((s) => s === "failed")).toBe(true);
    expect(await page.locator("tr[data-recipient]").count()).toBe(Math.min(50, summary.counts.failed));

    await page.goto(`${server.url}/#/batches`);
    await eventually(() => page.locator(`[data-batch="${batchId}"]`).textContent()).toContain("1,000 of 1,000 done");
    await screenshots(page, "batches");
    await page.close();
  });

  it("shows a queue's messages as they arrive, asks before purging it, and purges only once confirmed", async () => {
    const queue = "dash.purge";
    await admin("PUT", `/v1/queues/${queue}`, { maxAttempts: 3 });
    const page = await openWith(ADMIN, `#/queues/${queue}`);
    const readyFigure = page.locator('[data-figure="ready"]');
    await eventually(() => readyFigure.textContent()).toBe("0");
    // Published while the page is open: the newest show under "Recent messages", from /v1/events.
    await page.locator('[data-stream="live"]').waitFor();
    await publish(queue, 50);
    await eventually(() => readyFigure.textContent()).toBe("50");
    await eventually(() => page.locator('[data-recent] [data-event="published"]').count()).toBe(25);
    // The waiting messages themselves, without leasing them: the first 20 in lease order.
    await eventually(() => page.locator('[data-browse="ready"] [data-message]').count()).toBe(20);
    expect(await page.getByText("1–20 of 50").count()).toBe(1);
    const firstOfPage1 = await page.locator('[data-browse="ready"] [data-message]').first().getAttribute("data-message");
    // Paging on: the third page has the last 10, and Previous goes back.
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("button", { name: "Next" }).click();
    await eventually(() => page.getByText("41–50 of 50").count()).toBe(1);
    await eventually(() => page.locator('[data-browse="ready"] [data-message]').count()).toBe(10);
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous" }).click();
    await page.getByRole("button", { name: "Previous" }).click();
    await eventually(() => page.locator('[data-browse="ready"] [data-message]').first().getAttribute("data-message")).toBe(firstOfPage1);

    await page.getByRole("button", { name: "Purge…" }).click();
    const dialog = page.getByRole("dialog");
    await eventually(() => dialog.textContent()).toContain("removes every waiting message");
    await screenshots(page, "purge-confirm");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await eventually(() => dialog.count()).toBe(0);
    expect((await admin<{ ready: number }>("GET", `/v1/queues/${queue}`)).ready).toBe(50);

    await page.getByRole("button", { name: "Purge…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Purge" }).click();
    await eventually(() => readyFigure.textContent(), { timeout: 10_000 }).toBe("0");
    expect((await admin<{ ready: number }>("GET", `/v1/queues/${queue}`)).ready).toBe(0);
    await eventually(() => page.getByRole("status").first().textContent()).toContain("Purged 50");
    await eventually(() => page.getByText("No ready messages.").count()).toBe(1);
    await screenshots(page, "queue");

    // A waiting message's story, body included.
    await publish(queue, 1, () => ({ order: 42 }));
    await eventually(() => page.locator('[data-browse="ready"] [data-message]').count()).toBe(1);
    await page.locator('[data-browse="ready"] [data-message] a').first().click();
    await eventually(() => page.locator("pre.body").textContent()).toContain('"order": 42');
    expect(await page.locator("[data-state]").first().getAttribute("data-state")).toBe("ready");
    await screenshots(page, "message-waiting");
    await page.close();
  });

  it("keeps a confirmation open while its action runs, so Escape neither hides the outcome nor seems to cancel what is under way", async () => {
    const queue = "dash.slow-purge";
    await publish(queue, 5);
    const page = await openWith(ADMIN, `#/queues/${queue}`);
    await eventually(() => page.locator('[data-figure="ready"]').textContent()).toBe("5");
    // A slow server that then fails: the one answer the person must not miss.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(`**/v1/queues/${queue}/purge`, async (route) => {
      await held;
      await route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "the store is unavailable" } }) });
    });
    await page.getByRole("button", { name: "Purge…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Purge" }).click();
    await eventually(() => dialog.getByRole("button", { name: "Working…" }).count()).toBe(1);
    await page.keyboard.press("Escape");
    release();
    await eventually(() => dialog.getByRole("alert").textContent()).toContain("the store is unavailable");
    await page.keyboard.press("Escape");
    await eventually(() => dialog.count()).toBe(0);
    await page.close();
  });

  it("says a queue is gone when it is deleted while its page is open, rather than show its old numbers", async () => {
    const queue = "dash.deleted";
    await publish(queue, 3);
    const page = await openWith(ADMIN, `#/queues/${queue}`);
    await eventually(() => page.locator('[data-figure="ready"]').textContent()).toBe("3");
    await admin("DELETE", `/v1/queues/${queue}`);
    await eventually(() => page.getByRole("alert").first().textContent()).toContain("Not found");
    expect(await page.locator('[data-figure="ready"]').count()).toBe(0);
    await page.close();
  });

  it("shows a refused resume as a failure, not in a success notice", async () => {
    const queue = "dash.resume-refused";
    await publish(queue, 1);
    await admin("POST", `/v1/queues/${queue}/pause`);
    const page = await openWith(ADMIN, `#/queues/${queue}`);
    await page.route(`**/v1/queues/${queue}/resume`, (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "the store is unavailable" } }) }),
    );
    await page.getByRole("button", { name: "Resume" }).click();
    await eventually(() => page.getByRole("alert").first().textContent()).toContain("Resume failed: the store is unavailable");
    expect(await page.locator(".notice").count()).toBe(0);
    await page.close();
  });

  it("writes absolute times with their time zone, so they can be set beside a server's UTC logs", async () => {
    const { id } = await admin<{ id: string }>("POST", "/v1/queues/dash.zoned/messages", { body: 1 });
    const page = await browser.newPage({ viewport: VIEWPORTS.laptop, timezoneId: "Asia/Tokyo", locale: "en-US" });
    page.setDefaultTimeout(10_000);
    await page.goto(`${server.url}/#/messages/${id}`);
    await page.getByLabel("Key").fill(ADMIN);
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await eventually(() => page.locator(".time .abs").first().textContent()).toContain("GMT+9");
    await page.close();
  });

  it("lists exchanges with their bindings and publishes a test message through one", async () => {
    await admin("PUT", "/v1/exchanges/dash.orders", { type: "topic" });
    await admin("POST", "/v1/exchanges/dash.orders/bindings", { queue: "dash.audit", bindingKey: "order.#" });
    await admin("POST", "/v1/exchanges/dash.orders/bindings", { queue: "dash.shipping", bindingKey: "order.paid" });
    const page = await openWith(ADMIN, "#/exchanges");
    const card = page.locator('[data-exchange="dash.orders"]');
    await eventually(() => card.textContent()).toContain("order.#");
    expect(await card.textContent()).toContain("dash.shipping");
    await page.getByLabel("Exchange").selectOption("dash.orders");
    await page.getByLabel("Routing key").fill("order.paid");
    await page.getByLabel("Body (JSON)").fill('{"order": 7}');
    await page.getByRole("button", { name: "Publish" }).click();
    await eventually(() => page.getByRole("status").textContent()).toContain("Routed to 2 queues");
    await screenshots(page, "exchanges");
    await page.close();
  });

  it("keeps a queue name of the longest kind (200 characters, no break) inside the page, and every queue's numbers in view", async () => {
    const long = `dash.${"n".repeat(191)}.end`;
    expect(long.length).toBe(200);
    await publish(long, 2);
    await publish("dash.short", 1);
    const { messages } = await admin<{ messages: Array<{ id: string }> }>("GET", `/v1/queues/${long}/messages?state=ready`);
    const page = await openWith(ADMIN);
    const ready = page.locator('tr[data-queue="dash.short"] [data-count="ready"]');
    await eventually(() => ready.textContent()).toBe("1");
    // The name wraps: the columns after it stay where the table can show them, not scrolled away.
    const box = await ready.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(1280);
    await screenshots(page, "overview-long-name");
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await admin("PUT", "/v1/exchanges/dash.long", { type: "direct" });
    await admin("POST", "/v1/exchanges/dash.long/bindings", { queue: long, bindingKey: "k".repeat(255) });
    for (const hash of [`#/queues/${long}`, `#/messages/${messages[0]!.id}`, `#/dead?queue=${long}`, "#/exchanges"]) {
      await page.goto(`${server.url}/${hash}`);
      await page.locator("h1").first().waitFor();
      for (const viewport of [VIEWPORTS.laptop, VIEWPORTS.phone]) {
        await page.setViewportSize(viewport);
        await eventually(overflow).toBe(0);
      }
      await page.setViewportSize(VIEWPORTS.laptop);
    }
    await page.goto(`${server.url}/#/queues/${long}`);
    await screenshots(page, "queue-long-name");
    await page.close();
  });

  it("replays and deletes dead letters by keyboard alone, and leaves the focus on the outcome, not on nothing", async () => {
    const queue = "dash.keyboard";
    await publish(queue, 3);
    const { messages } = await admin<{ messages: Array<{ id: string; leaseToken: string }> }>("POST", `/v1/queues/${queue}/lease`, { max: 3 });
    for (const m of messages) await admin("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true, error: { message: "refused by hand" } });
    const page = await openWith(ADMIN, `#/dead?queue=${queue}`);
    const items = page.locator("[data-dead-id]");
    await eventually(() => items.count()).toBe(3);
    const focused = () => page.evaluate(() => (document.activeElement === document.body ? "body" : (document.activeElement?.textContent ?? "")));

    // Replay the first: Enter opens the dialog on Cancel, Tab reaches Replay, Enter does it.
    await items.first().getByRole("button", { name: "Replay", exact: true }).focus();
    await page.keyboard.press("Enter");
    await eventually(() => focused()).toBe("Cancel");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await eventually(() => items.count()).toBe(2);
    // The button pressed went with its dead letter: the focus is on what happened, where Tab goes on from.
    await eventually(() => focused()).toBe("Replayed 1.");

    await items.first().getByRole("button", { name: "Delete…" }).focus();
    await page.keyboard.press("Enter");
    await eventually(() => focused()).toBe("Cancel");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await eventually(() => items.count()).toBe(1);
    await eventually(() => focused()).toBe("Deleted.");
    await screenshots(page, "dead-letters-keyboard");
    await page.close();
  });

  it("replays all the dead letters of the reason filtered to, and only those", async () => {
    const queue = "dash.reasons";
    await publish(queue, 3);
    const { messages } = await admin<{ messages: Array<{ id: string; leaseToken: string }> }>("POST", `/v1/queues/${queue}/lease`, { max: 3 });
    const [declined, ...rejected] = messages;
    await admin("POST", `/v1/messages/${declined!.id}/nack`, { leaseToken: declined!.leaseToken, error: { message: "declined", kind: "permanent" } });
    for (const m of rejected) await admin("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true });
    const page = await openWith(ADMIN, `#/dead?queue=${queue}&reason=permanent_error`);
    await eventually(() => page.locator("[data-dead-id]").count()).toBe(1);
    await page.getByRole("button", { name: "Replay all" }).click();
    const dialog = page.getByRole("dialog");
    await eventually(() => dialog.textContent()).toContain("permanent_error");
    await dialog.getByRole("button", { name: "Replay" }).click();
    await eventually(() => page.getByRole("status").first().textContent()).toBe("Replayed 1.");
    // The two rejected ones, hidden by the filter, are still dead.
    const dead = await admin<{ items: Array<{ id: string }> }>("GET", `/v1/queues/${queue}/dead`);
    expect(dead.items.map((item) => item.id).sort()).toEqual(rejected.map((m) => m.id).sort());
    await page.close();
  });

  it("asks for a key again when the stats stream refuses the one it has (revoked while the page is open)", async () => {
    const page = await newTab();
    // The key passes GET /v1/whoami, then the server refuses it: what a key revoked mid-session looks like to the overview, whose numbers come from the stream alone.
    await page.route("**/v1/stats/stream", (route) =>
      route.fulfill({ status: 401, contentType: "application/json", body: JSON.stringify({ error: { code: "unauthorized", message: "invalid API key" } }) }),
    );
    await page.goto(`${server.url}/`);
    await page.getByLabel("Key").fill(ADMIN);
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await eventually(() => page.getByRole("alert").textContent()).toContain("The server refused this key");
    expect(await page.evaluate(() => sessionStorage.getItem("spool.apiKey"))).toBeNull();
    await screenshots(page, "key-refused-by-stream");
    await page.close();
  });

  it("says so when loading more dead letters fails, offers to try again, and loads each page once however often it is clicked", async () => {
    const queue = "dash.many-dead";
    await publish(queue, 150);
    const { messages } = await admin<{ messages: Array<{ id: string; leaseToken: string }> }>("POST", `/v1/queues/${queue}/lease`, { max: 150 });
    for (const m of messages) await admin("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true });
    const page = await openWith(ADMIN, `#/dead?queue=${queue}`);
    const items = page.locator("[data-dead-id]");
    await eventually(() => items.count()).toBe(100);
    const unavailable = JSON.stringify({ error: { code: "unavailable", message: "the store is unavailable" } });
    await page.route("**/dead?*cursor=*", (route) => route.fulfill({ status: 503, contentType: "application/json", body: unavailable }));
    await page.getByRole("button", { name: "Load more" }).click();
    await eventually(() => page.getByRole("alert").textContent()).toContain("the store is unavailable");
    await page.unroute("**/dead?*cursor=*");
    // A page held on its way: a second click meanwhile must not add the same page twice.
    let letPageThrough!: () => void;
    const held = new Promise<void>((resolve) => (letPageThrough = resolve));
    let asked = 0;
    await page.route("**/dead?*cursor=*", async (route) => {
      asked++;
      await held;
      await route.continue();
    });
    await page.getByRole("button", { name: "Try again" }).click();
    await eventually(() => asked).toBe(1);
    await page.getByRole("button", { name: /Load more|Loading/ }).click({ force: true });
    letPageThrough();
    await eventually(() => items.count()).toBe(150);
    expect(asked).toBe(1);
    await page.unroute("**/dead?*cursor=*");
    const ids = await items.evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-dead-id")));
    expect(new Set(ids).size).toBe(150);
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.close();
  });

  it("says when a message's story is no longer being refreshed because the server fails", async () => {
    const { id } = await admin<{ id: string }>("POST", "/v1/queues/dash.story/messages", { body: { n: 1 } });
    const page = await openWith(ADMIN, `#/messages/${id}`);
    await eventually(() => page.locator("[data-state]").first().getAttribute("data-state")).toBe("ready");
    await page.route(`**/v1/messages/${id}`, (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "the store is unavailable" } }) }),
    );
    await eventually(() => page.getByRole("alert").textContent()).toContain("the store is unavailable");
    expect(await page.getByText("(refreshed every second)").count()).toBe(0);
    await screenshots(page, "message-stale");
    await page.unroute(`**/v1/messages/${id}`);
    await eventually(() => page.getByRole("alert").count()).toBe(0);
    await page.close();
  });

  it("says what the server answered when the stats stream gets a 503, not that the server does not answer", async () => {
    const page = await newTab();
    await page.route("**/v1/stats/stream", (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "the store is unavailable" } }) }),
    );
    await page.goto(`${server.url}/`);
    await page.getByLabel("Key").fill(ADMIN);
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await eventually(() => page.locator(".health").textContent()).toContain("the store is unavailable");
    expect(await page.locator(".health").textContent()).not.toContain("does not answer");
    // The server's words, however long, wrap on a phone.
    await page.setViewportSize(VIEWPORTS.phone);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await screenshots(page, "stats-unavailable");
    await page.close();
  });

  it("refuses a wrong key with a clear message, and shows a key without admin no admin buttons", async () => {
    const page = await newTab();
    await page.goto(`${server.url}/`);
    await page.getByLabel("Key").fill(generateApiKey());
    await page.getByRole("button", { name: "Open the dashboard" }).click();
    await eventually(() => page.getByRole("alert").textContent()).toContain("The server refused this key");
    expect(await page.evaluate(() => sessionStorage.getItem("spool.apiKey"))).toBeNull();
    await screenshots(page, "key-refused");
    await page.close();

    const queue = "dash.readonly";
    await publish(queue, 3);
    const reader = await openWith(READER, `#/queues/${queue}`);
    await eventually(() => reader.locator('[data-figure="ready"]').textContent(), { timeout: 10_000 }).toBe("3");
    expect(await reader.locator("header .key-name").textContent()).toContain("reader");
    for (const name of ["Pause", "Resume", "Purge…"]) expect(await reader.getByRole("button", { name, exact: true }).count()).toBe(0);
    await screenshots(reader, "readonly-queue");
    await reader.goto(`${server.url}/#/dead`);
    await eventually(() => reader.getByRole("alert").textContent()).toContain("needs a key with the admin scope");
    expect(await reader.getByRole("button", { name: /Replay|Purge/ }).count()).toBe(0);
    await screenshots(reader, "readonly-dead");
    await reader.close();
  });
});

describe("dashboard without keys", { timeout: TEST_TIMEOUT_MS }, () => {
  it("opens at once on a loopback server with no keys, and says when the server stops answering", async () => {
    const open = await startServe();
    let stopped = false;
    try {
      const page = await newTab();
      await page.goto(`${open.url}/`);
      await eventually(() => page.locator("header .who").textContent()).toContain("no keys");
      expect(await page.getByLabel("Key").count()).toBe(0);
      await eventually(() => page.getByTestId("health").textContent()).toBe("ready");
      await open.stop();
      stopped = true;
      await eventually(() => page.locator(".health").textContent()).toContain("the server does not answer");
      await screenshots(page, "server-down");
      await page.close();
    } finally {
      if (!stopped) await open.stop();
    }
  });

  it("stays on the queue it opened with no queue named, after replaying all its dead letters", async () => {
    // A server of its own: which queue opens first must not depend on the dead letters other tests leave.
    const open = await startServe();
    try {
      for (const queue of ["dash.first-dead", "dash.second-dead"]) {
        await open.api("POST", `/v1/queues/${queue}/messages/batch`, { messages: [{ body: 1 }, { body: 2 }] });
        const { messages } = await open.api<{ messages: Array<{ id: string; leaseToken: string }> }>("POST", `/v1/queues/${queue}/lease`, { max: 2 });
        for (const m of messages) await open.api("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true });
      }
      const page = await newTab();
      await page.goto(`${open.url}/#/dead`);
      await eventually(() => page.locator("[data-dead-id]").count()).toBe(2);
      const opened = await page.getByLabel("Queue").inputValue();
      await page.getByRole("button", { name: "Replay all" }).click();
      // The dialog says how many "every" is.
      await eventually(() => page.getByRole("dialog").locator("h2").textContent()).toBe(`Replay every dead letter of ${opened} (2 now)?`);
      await page.getByRole("dialog").getByRole("button", { name: "Replay" }).click();
      await eventually(() => page.getByRole("status").first().textContent()).toBe("Replayed 2.");
      // Its dead count falls to 0 in the next stats: the page must not move on to the other queue's dead letters.
      await eventually(() => page.getByLabel("Queue").locator("option:checked").textContent()).toBe(`${opened} (0 dead)`);
      expect(await page.getByRole("status").first().textContent()).toBe("Replayed 2.");
      await page.close();
    } finally {
      await open.stop();
    }
  });
});
