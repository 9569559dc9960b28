/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball
 * installed into an empty project, and every entry point in package.json `exports` imported there
 * by its package name: each has the runtime exports of its source entry and every name the docs
 * promise, its types resolve under NodeNext, the `spool` binary answers `--help`, and a short run
 * through the packed entries works (a Spool, its metrics page, a server that answers ready and
 * serves the dashboard built into the package).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { mustRun } from "../helpers/run-command.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** What README.md, docs/operations.md and docs/configuration.md tell users to import, per entry. */
const DOCUMENTED: Readonly<Record<string, readonly string[]>> = {
  spool: ["Spool", "SpoolClient", "PermanentError", "TransientError", "SpoolError", "memoryStore", "journalStore", "JournalStore"],
  "spool/metrics": ["SpoolMetrics"],
  "spool/tracing": ["withPublishSpan", "injectTraceContext", "withHandleSpan", "hasActiveSpan"],
  "spool/server": ["loadServerConfig", "startServer", "installShutdownSignals", "SERVER_SETTINGS", "ServerConfigSchema"],
};

interface PackageJson {
  name: string;
  exports: Record<string, { types: string; default: string }>;
}

/** `./dist/entries/metrics.js` → `<root>/src/entries/metrics.ts`. */
function sourceOf(distFile: string): string {
  return path.join(ROOT, distFile.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"));
}

/** npm with no notices or prompts, and none of the settings of an `npm test` that may be running this. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
}

const SMOKE = `
import { Spool, memoryStore } from "spool";
import { SpoolMetrics } from "spool/metrics";
import { loadServerConfig, startServer } from "spool/server";

const spool = await Spool.open({ store: memoryStore() });
await spool.queue("jobs").publish({ n: 1 });
const metrics = new SpoolMetrics(spool, { defaultMetrics: false });
const page = await metrics.render();
metrics.close();
await spool.close();

const config = loadServerConfig({ env: {}, flags: { port: "0", dataDir: "data", logLevel: "silent" }, cwd: process.cwd() });
const server = await startServer(config);
const ready = await fetch(server.url + "/health/ready");
const dashboard = await fetch(server.url + "/");
const script = await fetch(server.url + "/assets/main.js");
await server.close();
console.log(JSON.stringify({ publishedSeries: /spool_messages_published_total\\{queue="jobs"\\} 1/.test(page), ready: ready.status, dashboard: dashboard.status, script: script.status }));
`;

describe("the packed package", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it("installs from its tarball, quietly, and every entry point in exports imports by package name", async () => {
    const pkg = JSON.parse(await fs.readFile(path.join(ROOT, "package.json"), "utf8")) as PackageJson;
    const specifiers = Object.keys(pkg.exports).map((key) => (key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`));
    expect(specifiers.sort(), "package.json exports and the documented entry points").toEqual(Object.keys(DOCUMENTED).sort());

    const work = await makeTempDir("spool-pack-");
    dirs.push(work);
    const env = npmEnv();
    const packed = await mustRun("npm", ["pack", "--json", "--pack-destination", work], "npm pack", { cwd: ROOT, env });
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as [{ filename: string }];

    const app = path.join(work, "app");
    await fs.mkdir(app);
    const tarball = path.join(work, filename);
    // allowScripts: npm lists the `prepare` of a tarball (a non-registry source) for review; the
    // packed package has nothing to build, and a registry install has nothing to review.
    const appPackage = { name: "pack-check", private: true, type: "module", allowScripts: { [`file:${tarball}`]: false } };
    await fs.writeFile(path.join(app, "package.json"), JSON.stringify(appPackage));
    const install = await mustRun("npm", ["install", "--prefer-offline", tarball], "npm install of the tarball", { cwd: app, env });
    // Quiet on the declared Node floor: no dependency asks for a newer Node, no install script awaits review.
    expect(install.stderr).not.toMatch(/EBADENGINE|install-scripts/);

    // Runtime: the same exports as the source entries, and the documented names among them.
    const list = `for (const s of ${JSON.stringify(specifiers)}) console.log(JSON.stringify([s, Object.keys(await import(s)).sort()]));`;
    await fs.writeFile(path.join(app, "list.mjs"), list);
    const listed = await mustRun(process.execPath, ["list.mjs"], "importing the entry points", { cwd: app });
    const packedExports = new Map(listed.stdout.trim().split("\n").map((line) => JSON.parse(line) as [string, string[]]));
    for (const [key, target] of Object.entries(pkg.exports)) {
      const specifier = key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`;
      const source = Object.keys(await import(sourceOf(target.default))).sort();
      expect(packedExports.get(specifier), `${specifier}: the packed entry's exports`).toEqual(source);
      expect(source, `${specifier}: the names the docs promise`).toEqual(expect.arrayContaining([...DOCUMENTED[specifier]!]));
    }

    // Types: each entry resolves, with its declarations, under NodeNext.
    const typeImports = specifiers.map((s, i) => `import * as entry${i} from "${s}";`).join("\n");
    await fs.writeFile(path.join(app, "types.ts"), `${typeImports}\nexport const entries = [${specifiers.map((_, i) => `entry${i}`).join(", ")}];\n`);
    const tsconfig = { compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ["types.ts"] };
    await fs.writeFile(path.join(app, "tsconfig.json"), JSON.stringify(tsconfig));
    await mustRun(process.execPath, [TSC, "-p", "tsconfig.json"], "type-checking imports of the packed entry points", { cwd: app });

    const help = await mustRun(path.join(app, "node_modules", ".bin", "spool"), ["--help"], "the packed spool binary", { cwd: app });
    expect(help.stdout).toMatch(/serve/);

    await fs.writeFile(path.join(app, "smoke.mjs"), SMOKE);
    const smoke = await mustRun(process.execPath, ["smoke.mjs"], "a run through the packed entry points", { cwd: app });
    expect(JSON.parse(smoke.stdout.trim().split("\n").pop()!)).toEqual({ publishedSeries: true, ready: 200, dashboard: 200, script: 200 });
  }, 300_000);
});
