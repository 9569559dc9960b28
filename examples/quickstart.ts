// A runnable tour of the library API: `npm run example`. Runs from source, so it needs no build.
import { PermanentError, Spool } from "../src/index.js";

type Email = { to: string; subject: string };

const spool = await Spool.open({ dataDir: "./data-example" }); // the embedded durable journal; `npm start` has ./data
const emails = spool.queue<Email>("emails", { maxAttempts: 3, backoff: { baseMs: 50 } });
const audit = spool.queue<{ sent: string }>("audit");

await emails.publish({ to: "a@example.com", subject: "hello" }, { priority: 5 });
await emails.publishMany([
  { body: { to: "b@example.com", subject: "later" }, delayMs: 200 },
  { body: { to: "not-an-address", subject: "bounce" } },
]);

let handled = 0;
const worker = emails.work(
  async (msg, ctx) => {
    if (!msg.body.to.includes("@")) throw new PermanentError(`bad address ${msg.body.to}`);
    console.log(`sent "${msg.body.subject}" to ${msg.body.to} (attempt ${msg.attempt})`);
    await ctx.publish("audit", { sent: msg.id }); // chaining: correlationId / causationId are set
    handled++;
  },
  { concurrency: 4, timeoutMs: 5_000, circuitBreaker: {} },
);

while (handled < 2) await new Promise((resolve) => worker.once("message:completed", resolve));
const dead = await emails.deadLetters();
console.log("dead letters:", dead.items.map((d) => `${d.body.to}: ${d.reason} (${d.lastError?.message})`));
console.log("emails:", await emails.stats());
console.log("audit:", (await audit.stats()).ready, "ready");
await spool.close();
