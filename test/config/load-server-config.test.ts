import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadServerConfig, type LoadServerConfigOptions } from "../../src/config/load-server-config.js";
import { serverDefaults } from "../../src/config/server-config.js";
import { SpoolError } from "../../src/core/errors.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

let cwd: string;

beforeEach(async () => {
  cwd = await makeTempDir("spool-config-");
});

afterEach(async () => {
  await removeTempDir(cwd);
});

async function writeConfig(content: unknown, name = "spool.config.json"): Promise<string> {
  const path = join(cwd, name);
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

function load(options: Partial<LoadServerConfigOptions> = {}) {
  return loadServerConfig({ env: {}, flags: {}, cwd, ...options });
}

/** The error `load` throws; fails the test if it returns. */
function loadError(options: Partial<LoadServerConfigOptions> = {}): SpoolError {
  try {
    load(options);
  } catch (error) {
    expect(error).toBeInstanceOf(SpoolError);
    return error as SpoolError;
  }
  throw new Error("expected loadServerConfig to throw");
}

describe("loadServerConfig: sources and precedence", () => {
  it("uses serverDefaults when there is no file, variable or flag", () => {
    const config = load();
    expect(config).toEqual({ ...serverDefaults, dataDir: join(cwd, "data") });
  });

  it("reads ./spool.config.json when present", async () => {
    await writeConfig({ port: 7500, journal: { fsync: "never" }, queues: { emails: { maxAttempts: 3 } } });
    const config = load();
    expect(config.port).toBe(7500);
    expect(config.journal).toEqual({ fsync: "never" });
    expect(config.queues).toEqual({ emails: { maxAttempts: 3 } });
    expect(config.host).toBe(serverDefaults.host);
  });

  it("ranks file < SPOOL_* variable < flag, key by key", async () => {
    await writeConfig({ host: "127.0.0.2", port: 1000, logLevel: "warn", journal: { fsync: "never", fsyncIntervalMs: 5 } });
    const config = load({
      env: { SPOOL_PORT: "2000", SPOOL_LOG_LEVEL: "error", SPOOL_FSYNC: "interval" },
      flags: { port: "3000" },
    });
    expect(config.host).toBe("127.0.0.2"); // file only
    expect(config.logLevel).toBe("error"); // variable over file
    expect(config.port).toBe(3000); // flag over variable over file
    // A variable replaces one key of a nested object, not the whole object.
    expect(config.journal).toEqual({ fsync: "interval", fsyncIntervalMs: 5 });
  });

  it("parses every numeric variable", () => {
    const config = load({
      env: { SPOOL_BODY_LIMIT_BYTES: "2048", SPOOL_MAX_BODY_BYTES: "1000", SPOOL_SHUTDOWN_TIMEOUT_MS: "250", SPOOL_HOST: "localhost", SPOOL_DATA_DIR: "/var/spool" },
    });
    expect(config).toMatchObject({ bodyLimitBytes: 2048, maxBodyBytes: 1000, shutdownTimeoutMs: 250, host: "localhost", dataDir: "/var/spool" });
  });

  it("treats an empty variable as unset", () => {
    expect(load({ env: { SPOOL_PORT: "" } }).port).toBe(serverDefaults.port);
  });

  it("takes the file from --config, else SPOOL_CONFIG", async () => {
    await writeConfig({ port: 1111 }, "a.json");
    await writeConfig({ port: 2222 }, "b.json");
    await writeConfig({ port: 3333 });
    expect(load({ configPath: "a.json", env: { SPOOL_CONFIG: "b.json" } }).port).toBe(1111);
    expect(load({ env: { SPOOL_CONFIG: join(cwd, "b.json") } }).port).toBe(2222);
  });

  it("resolves dataDir from the file against the file's directory, and from flags against cwd", async () => {
    await mkdir(join(cwd, "etc"));
    await writeConfig({ dataDir: "queue-data" }, "etc/spool.json");
    expect(load({ configPath: "etc/spool.json" }).dataDir).toBe(join(cwd, "etc", "queue-data"));
    expect(load({ configPath: "etc/spool.json", flags: { dataDir: "here" } }).dataDir).toBe(join(cwd, "here"));
  });
});

describe("loadServerConfig: errors name the source and the key", () => {
  it("a bad value in the file", async () => {
    await writeConfig({ journal: { fsync: "sometimes" } });
    const error = loadError();
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe('spool.config.json: /journal/fsync must be one of always, interval, never, got "sometimes"');
    expect(error.details).toEqual([{ path: "/journal/fsync", message: expect.stringContaining("spool.config.json") }]);
  });

  it("a bad value deep in a queue's options", async () => {
    await writeConfig({ queues: { emails: { maxAttempts: 0 } } });
    expect(loadError().message).toBe("spool.config.json: /queues/emails/maxAttempts expected an integer from 1 to 1000000, got 0");
  });

  it("a webhook circuit window under a second; a config from before the time window still loads", async () => {
    await writeConfig({ delivery: { circuitBreaker: { windowMs: 500 } } });
    expect(loadError().message).toBe("spool.config.json: /delivery/circuitBreaker/windowMs expected an integer from 1000 to 3600000, got 500");
    const before = { sampleSize: 10, failureThreshold: 0.5, openMs: 30_000 };
    await writeConfig({ delivery: { circuitBreaker: before } });
    expect(load().delivery?.circuitBreaker).toEqual(before);
  });

  it("a variable that is not a number", () => {
    const error = loadError({ env: { SPOOL_PORT: "abc" } });
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe('SPOOL_PORT: expected an integer from 0 to 65535, got "abc"');
  });

  it("a variable with trailing garbage is not read as its leading digits", () => {
    expect(loadError({ env: { SPOOL_SHUTDOWN_TIMEOUT_MS: "12abc" } }).message).toBe(
      'SPOOL_SHUTDOWN_TIMEOUT_MS: expected an integer from 0 to 3600000, got "12abc"',
    );
  });

  it("a variable out of range", () => {
    expect(loadError({ env: { SPOOL_PORT: "70000" } }).message).toBe('SPOOL_PORT: expected an integer from 0 to 65535, got "70000"');
  });

  it("a flag, named as typed", () => {
    expect(loadError({ flags: { port: "-1" } }).message).toBe('--port: expected an integer from 0 to 65535, got "-1"');
    expect(loadError({ flags: { logLevel: "loud" } }).message).toBe('--log-level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
  });

  it("every problem at once, file first, then variables, then flags", async () => {
    await writeConfig({ logLevel: 3 });
    const error = loadError({ env: { SPOOL_FSYNC: "nope" }, flags: { dataDir: "" } });
    expect(error.message.split("; ")).toEqual([
      expect.stringMatching(/^spool\.config\.json: \/logLevel must be one of/),
      'SPOOL_FSYNC: must be one of always, interval, never, got "nope"',
      '--data-dir: expected a non-empty string, got ""',
    ]);
    expect(error.details).toHaveLength(3);
  });

  it("unknown keys, with a suggestion when one is close", async () => {
    await writeConfig({ prot: 7400, queues: { emails: { maxAtempts: 3 } }, extra: true });
    const error = loadError();
    expect(error.message).toContain('unknown key "prot" (did you mean "port"?)');
    expect(error.message).toContain('unknown key "maxAtempts" in /queues/emails (did you mean "maxAttempts"?)');
    expect(error.message).toContain('unknown key "extra"');
  });

  it("a queue name that is not valid", async () => {
    await writeConfig({ queues: { "bad name!": {}, ok: {} } });
    expect(loadError().message).toBe("spool.config.json: /queues/bad name! is not a valid queue name: expected a string matching ^[A-Za-z0-9_.:-]+$ of 1 to 200 characters");
  });

  it("invalid JSON names the file and where the parser stopped", async () => {
    await writeConfig('{\n  "port": 7400,\n  "host": "x",,\n}');
    const error = loadError();
    expect(error.code).toBe("validation_failed");
    expect(error.message).toMatch(/^spool\.config\.json: invalid JSON at line 3, column \d+: .*position \d+/);
  });

  it("a file that is not an object", async () => {
    await writeConfig("[1, 2]");
    expect(loadError().message).toMatch(/^spool\.config\.json: \/ expected object/);
  });

  it("an explicitly named file that is missing (the default file may be absent)", () => {
    expect(loadError({ configPath: "nope.json" }).message).toBe("nope.json: cannot read the config file (named by --config): no such file");
    expect(loadError({ env: { SPOOL_CONFIG: "gone.json" } }).message).toBe("gone.json: cannot read the config file (named by SPOOL_CONFIG): no such file");
  });
});

describe("loadServerConfig: the store", () => {
  it("store and postgres.schema from the file, SPOOL_STORE / SPOOL_SCHEMA and --store / --schema, key by key", async () => {
    await writeConfig({ store: "postgres://file@db/app", postgres: { schema: "from_file", poolSize: 4, migrate: false } });
    expect(load()).toMatchObject({ store: "postgres://file@db/app", postgres: { schema: "from_file", poolSize: 4, migrate: false } });
    const config = load({ env: { SPOOL_STORE: "postgresql://env@db/app", SPOOL_SCHEMA: "from_env" }, flags: { schema: "from_flag" } });
    expect(config.store).toBe("postgresql://env@db/app");
    expect(config.postgres).toEqual({ schema: "from_flag", poolSize: 4, migrate: false });
    expect(load({ flags: { store: "journal" } }).store).toBe("journal");
  });

  it("a bad store, schema or postgres setting names its source and key", async () => {
    expect(loadError({ env: { SPOOL_STORE: "mysql://db/app" } }).message).toMatch(/^SPOOL_STORE: expected a string matching .*, got "mysql:\/\/db\/app"$/);
    expect(loadError({ flags: { schema: "Bad-Name" } }).message).toMatch(/^--schema: expected a string matching .*, got "Bad-Name"$/);
    await writeConfig({ postgres: { poolSize: 0, statementTimeout: 5 } });
    const error = loadError();
    expect(error.message).toContain("spool.config.json: /postgres/poolSize expected an integer from 1 to 1000, got 0");
    expect(error.message).toContain('spool.config.json: unknown key "statementTimeout" in /postgres (did you mean "statementTimeoutMs"?)');
  });
});
