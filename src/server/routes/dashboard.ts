/**
 * GET /: the dashboard, and GET /assets/*: its script and stylesheet. The page is a client of
 * the public API like any other (docs/dashboard.md); here it is only files. They are built from
 * src/dashboard into dist/dashboard by `npm run build:dashboard` (part of `npm run build`, which
 * `npm install`, `npm start` and the package run), and found beside this module both in a
 * checkout (src/server/routes) and in the package (dist/server/routes). Without them the server
 * still starts, and `/` says how to build them.
 */
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL("../../../dist/dashboard/", import.meta.url));

// Everything the page loads comes from this server: no CDN, no inline script.
const PAGE_HEADERS = {
  "cache-control": "no-cache",
  "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spool: dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>This server runs, and its API answers under <a href="/v1/queues">/v1</a> (<a href="/docs">API docs</a>),
but the dashboard's files are missing. In the Spool checkout run</p>
<pre>npm run build:dashboard</pre>
<p>(or <code>npm run build</code>, which <code>npm install</code> and <code>npm start</code> run too), then reload this page.</p>
</body></html>
`;

export async function dashboardRoutes(app: FastifyInstance, dashboardDir: string = DEFAULT_DASHBOARD_DIR): Promise<void> {
  const index = path.join(dashboardDir, "index.html");
  // Looked up per request: building while the server runs needs no restart.
  app.get("/", { schema: { hide: true }, config: { access: "none" } }, async (_request, reply) => {
    const built = await access(index).then(() => true, () => false);
    if (!built) return reply.code(503).type("text/html; charset=utf-8").header("cache-control", "no-store").send(NOT_BUILT);
    return reply.headers(PAGE_HEADERS).type("text/html; charset=utf-8").send(await readFile(index));
  });
  await app.register(async (assets) => {
    // Static files need no key, like the docs page: the page itself holds no data.
    assets.addHook("onRoute", (route) => {
      route.config = { ...route.config, access: "none" };
    });
    await assets.register(fastifyStatic, {
      root: path.join(dashboardDir, "assets"),
      prefix: "/assets/",
      suppressWarning: true,
      cacheControl: true,
      maxAge: 0,
      index: false,
      list: false,
      decorateReply: false,
    });
  });
}
