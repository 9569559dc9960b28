/**
 * The code in README.md and docs/*.md runs as written. A fenced block whose info string is
 * `ts runnable` is saved as a file in a fresh directory (an ESM project, as a reader's would be)
 * and run with tsx; `ts runnable server` also gets a fresh `spool serve`, its URL in SPOOL_URL.
 * `"spool"` and its subpaths resolve to this checkout's sources, through the package's `exports`,
 * so the blocks are checked against the code as it is now. Each must exit 0; all of them together
 * must also type-check. Every `ts` block of the README must be runnable. `ts runnable postgres`
 * gets a database of its own on the test PostgreSQL (created before, dropped after), its URL in
 * DATABASE_URL, and `pg` (with its types) installed beside it, as a reader's project would have.
 */
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadServerConfig, startServer } from "../../src/entries/server.js";
import { TEST_PG_URL } from "../helpers/postgres.js";
import { runCommand } from "../helpers/run-command.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
/** A bound on one block's run, so a block that never ends fails instead of hanging the suite. */
const BLOCK_TIMEOUT_MS = 60_000;

interface Block {
  /** `README.md:42`: the line of the opening fence. */
  where: string;
  language: string;
  flags: string[];
  code: string;
}

function blocksOf(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```(\w*)([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of text.matchAll(fence)) {
    const line = text.slice(0, match.index).split("\n").length;
    blocks.push({ where: `${file}:${line}`, language: match[1]!, flags: match[2]!.trim().split(/\s+/).filter(Boolean), code: match[3]! });
  }
  return blocks;
}

async function documents(): Promise<Array<{ file: string; text: string }>> {
  const docs = (await fs.readdir(path.join(ROOT, "docs"))).filter((name) => name.endsWith(".md")).sort();
  const files = ["README.md", ...docs.map((name) => `docs/${name}`)];
  return Promise.all(files.map(async (file) => ({ file, text: await fs.readFile(path.join(ROOT, file), "utf8") })));
}

/** tsconfig `paths` that send each entry of package.json `exports` to its source file (tsx honours them). */
async function sourcePaths(): Promise<Record<string, string[]>> {
  const pkg = JSON.parse(await fs.readFile(path.join(ROOT, "package.json"), "utf8")) as { name: string; exports: Record<string, { default: string }> };
  return Object.fromEntries(
    Object.entries(pkg.exports).map(([key, target]) => [
      key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`,
      [path.join(ROOT, target.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"))],
    ]),
  );
}

/** A directory that is an ESM project whose tsconfig resolves `spool` to the sources. */
async function project(dir: string): Promise<void> {
  const compilerOptions = {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    types: ["node"],
    typeRoots: [path.join(ROOT, "node_modules", "@types")],
    paths: await sourcePaths(),
  };
  await fs.writeFile(path.join(dir, "package.json"), JSON.stringify({ name: "docs-block", private: true, type: "module" }));
  await fs.writeFile(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions }));
  // What a reader installs beside spool to use the PostgreSQL store's outbox: pg and its types.
  await fs.mkdir(path.join(dir, "node_modules", "@types"), { recursive: true });
  await fs.symlink(path.join(ROOT, "node_modules", "pg"), path.join(dir, "node_modules", "pg"), "dir");
  await fs.symlink(path.join(ROOT, "node_modules", "@types", "pg"), path.join(dir, "node_modules", "@types", "pg"), "dir");
}

let databases = 0;

/** A fresh database on the test server for one block (dropped by the returned function), and its URL. */
async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `spool_doc_${process.pid}_${Date.now().toString(36)}_${databases++}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

const all = (await documents()).flatMap(({ file, text }) => blocksOf(file, text));
const runnable = all.filter((block) => block.flags.includes("runnable"));

describe("runnable code blocks in README.md and docs/", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it("every ts block of the README is marked runnable, and the docs have some", () => {
    const readmeTs = all.filter((block) => block.where.startsWith("README.md:") && block.language === "ts");
    expect(readmeTs.filter((block) => !block.flags.includes("runnable")).map((block) => block.where)).toEqual([]);
    expect(runnable.filter((block) => block.where.startsWith("docs/")).length).toBeGreaterThan(0);
  });

  it.each(runnable.map((block) => [block.where, block] as const))("%s runs and exits 0", async (_where, block) => {
    const dir = await makeTempDir("spool-doc-block-");
    dirs.push(dir);
    await project(dir);
    await fs.writeFile(path.join(dir, "block.ts"), block.code);
    const env: NodeJS.ProcessEnv = { ...process.env };
    const server = block.flags.includes("server")
      ? await startServer(loadServerConfig({ env: {}, flags: { port: "0", dataDir: path.join(dir, "server-data"), logLevel: "silent" }, cwd: dir }))
      : undefined;
    if (server) env.SPOOL_URL = server.url;
    const database = block.flags.includes("postgres") ? await freshDatabase() : undefined;
    if (database) env.DATABASE_URL = database.url;
    try {
      const result = await runCommand(process.execPath, ["--import", TSX_LOADER, "block.ts"], { cwd: dir, env, timeoutMs: BLOCK_TIMEOUT_MS });
      expect(result, `${block.where}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`).toMatchObject({ code: 0, signal: null });
    } finally {
      await server?.close();
      await database?.drop();
    }
  }, BLOCK_TIMEOUT_MS + 20_000);

  it("type-checks, all together", async () => {
    const dir = await makeTempDir("spool-doc-types-");
    dirs.push(dir);
    await project(dir);
    const files = runnable.map((block, i) => ({ name: `block${i}.ts`, block }));
    await Promise.all(files.map(({ name, block }) => fs.writeFile(path.join(dir, name), block.code)));
    const result = await runCommand(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: dir });
    // tsc names the file; say which document block it was.
    const named = files.reduce((text, { name, block }) => text.replaceAll(name, `${name} (${block.where})`), result.stdout);
    expect(result.code, named).toBe(0);
  }, 120_000);
});
