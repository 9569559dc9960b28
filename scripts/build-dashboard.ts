/**
 * Builds the dashboard (src/dashboard) into dist/dashboard: one minified script and stylesheet
 * under assets/ and the page, index.html. Run by `npm run build` (so by `npm install`, `npm pack`
 * and CI) and before `npm start`; the server serves what it finds there (src/server/routes/dashboard.ts).
 * Prints each file's size, raw and gzipped, so growth is seen when it happens.
 *
 * The files are built beside the output and then renamed into place, each rename atomic: a
 * server running meanwhile (a test, while `npm pack` rebuilds) never serves a missing or half-
 * written file.
 */
import { copyFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = path.join(ROOT, "src", "dashboard");
const OUT = path.join(ROOT, "dist", "dashboard");
const STAGING = path.join(ROOT, "dist", `.dashboard-${process.pid}`);
const FILES = ["index.html", "assets/main.js", "assets/main.css"];

await rm(STAGING, { recursive: true, force: true });
await mkdir(path.join(STAGING, "assets"), { recursive: true });
await build({
  entryPoints: { main: path.join(SOURCE, "main.tsx") },
  outdir: path.join(STAGING, "assets"),
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  tsconfig: path.join(SOURCE, "tsconfig.json"),
  legalComments: "none",
  logLevel: "warning",
});
await copyFile(path.join(SOURCE, "index.html"), path.join(STAGING, "index.html"));
await mkdir(path.join(OUT, "assets"), { recursive: true });
// The page last: once it is new, the assets it names are too.
for (const file of [...FILES].reverse()) await rename(path.join(STAGING, file), path.join(OUT, file));
await rm(STAGING, { recursive: true, force: true });

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
for (const file of FILES) {
  const content = await readFile(path.join(OUT, file));
  console.log(`dashboard ${file.padEnd(16)} ${kb(content.length).padStart(10)}  gzip ${kb(gzipSync(content).length).padStart(9)}`);
}
