/**
 * Where `spool serve` gets its configuration, each source overriding the one before, key by key:
 * `serverDefaults` < `spool.config.json` < `SPOOL_*` variables < flags. Every source is checked
 * against the one `ServerConfigSchema`, and an error names the source and the key that was wrong,
 * so a bad deployment fails at start, not on the first request that needs the setting.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { ValidationError, type ErrorDetail } from "../core/errors.js";
import { QueueNameSchema } from "./schemas.js";
import { ServerConfigSchema, serverDefaults, type ResolvedServerConfig, type ServerConfig } from "./server-config.js";
import { schemaErrors } from "./validate.js";

const DEFAULT_CONFIG_FILE = "spool.config.json";

/** One setting that a variable and a flag can set, besides the file. */
export interface ServerSetting {
  /** Its place in the config object: `["journal", "fsync"]`. */
  path: readonly string[];
  env: string;
  flag: string;
  /** The key commander gives the flag's value (`--data-dir` → `dataDir`). */
  option: keyof ServerConfigFlags;
  /** What the flag's value is, for help: `<port>`. */
  placeholder: string;
  type: "string" | "integer";
  description: string;
}

/** Flag values as typed on the command line (parsed here, so errors name the flag). */
export interface ServerConfigFlags {
  store?: string;
  schema?: string;
  host?: string;
  port?: string;
  dataDir?: string;
  fsync?: string;
  logLevel?: string;
  bodyLimitBytes?: string;
  maxBodyBytes?: string;
  shutdownTimeoutMs?: string;
}

export const SERVER_SETTINGS: readonly ServerSetting[] = [
  { path: ["host"], env: "SPOOL_HOST", flag: "--host", option: "host", type: "string",
    placeholder: "<address>", description: "address to bind (anything but loopback needs keys)" },
  { path: ["port"], env: "SPOOL_PORT", flag: "--port", option: "port", type: "integer",
    placeholder: "<port>", description: "port to listen on (0 = any free port)" },
  { path: ["store"], env: "SPOOL_STORE", flag: "--store", option: "store", type: "string",
    placeholder: "<store>", description: "journal (default) or postgres://user@host:port/database" },
  { path: ["postgres", "schema"], env: "SPOOL_SCHEMA", flag: "--schema", option: "schema", type: "string",
    placeholder: "<name>", description: "PostgreSQL store: the schema holding Spool's tables (default spool)" },
  { path: ["dataDir"], env: "SPOOL_DATA_DIR", flag: "--data-dir", option: "dataDir", type: "string",
    placeholder: "<path>", description: "where the journal keeps its files" },
  { path: ["journal", "fsync"], env: "SPOOL_FSYNC", flag: "--fsync", option: "fsync", type: "string",
    placeholder: "<policy>", description: "when a write counts as durable: always, interval or never" },
  { path: ["logLevel"], env: "SPOOL_LOG_LEVEL", flag: "--log-level", option: "logLevel", type: "string",
    placeholder: "<level>", description: "fatal, error, warn, info, debug, trace or silent" },
  { path: ["bodyLimitBytes"], env: "SPOOL_BODY_LIMIT_BYTES", flag: "--body-limit-bytes", option: "bodyLimitBytes", type: "integer",
    placeholder: "<bytes>", description: "largest request body, bytes" },
  { path: ["maxBodyBytes"], env: "SPOOL_MAX_BODY_BYTES", flag: "--max-body-bytes", option: "maxBodyBytes", type: "integer",
    placeholder: "<bytes>", description: "largest message body, bytes" },
  { path: ["shutdownTimeoutMs"], env: "SPOOL_SHUTDOWN_TIMEOUT_MS", flag: "--shutdown-timeout-ms", option: "shutdownTimeoutMs", type: "integer",
    placeholder: "<ms>", description: "how long SIGTERM waits for in-flight requests, ms" },
];

export interface LoadServerConfigOptions {
  /** `--config PATH`; wins over `SPOOL_CONFIG`. */
  configPath?: string;
  env: Readonly<Record<string, string | undefined>>;
  flags: ServerConfigFlags;
  /** Relative paths from variables and flags (and the default file) are resolved against it. */
  cwd: string;
}

/** Where a value came from, for error messages: `spool.config.json`, `SPOOL_PORT`, `--port`. */
interface Override {
  path: readonly string[];
  source: string;
  rank: number;
  /** As typed: errors quote it rather than what it was parsed into. */
  raw: string;
  value: string | number;
}

interface Problem {
  source: string;
  /** 0 file, 1 variable, 2 flag. */
  rank: number;
  detail: ErrorDetail;
  /** The whole line, as the error message shows it. */
  text: string;
}

export function loadServerConfig(options: LoadServerConfigOptions): ResolvedServerConfig {
  const file = readConfigFile(options);
  const problems: Problem[] = [];
  if (file) problems.push(...fileProblems(file));

  const overrides: Override[] = [];
  for (const setting of SERVER_SETTINGS) {
    const fromEnv = options.env[setting.env];
    if (fromEnv !== undefined && fromEnv !== "") collect(setting, { source: setting.env, rank: 1 }, fromEnv, overrides, problems);
  }
  for (const setting of SERVER_SETTINGS) {
    const fromFlag = options.flags[setting.option];
    if (fromFlag !== undefined) collect(setting, { source: setting.flag, rank: 2 }, String(fromFlag), overrides, problems);
  }

  const base = file && isPlainObject(file.value) ? file.value : {};
  let merged: Record<string, unknown> = base;
  for (const override of overrides) merged = withValueAt(merged, override.path, override.value);
  problems.push(...overrideProblems(merged, overrides));
  if (problems.length > 0) throw configError(problems);

  const config = merged as ServerConfig;
  const dataDirFromFile = file !== undefined && !overrides.some((o) => o.path[0] === "dataDir") && config.dataDir !== undefined;
  const dataDir = resolve(dataDirFromFile ? dirname(file.path) : options.cwd, config.dataDir ?? serverDefaults.dataDir);
  return { ...serverDefaults, ...config, dataDir };
}

// ── the file ──────────────────────────────────────────────────────────────────────────────

interface ConfigFile {
  /** Absolute. */
  path: string;
  /** As the user would recognise it in a message: the path they gave, or `spool.config.json`. */
  label: string;
  value: unknown;
}

function readConfigFile({ configPath, env, cwd }: LoadServerConfigOptions): ConfigFile | undefined {
  const named = configPath !== undefined ? { given: configPath, by: "--config" } : env.SPOOL_CONFIG ? { given: env.SPOOL_CONFIG, by: "SPOOL_CONFIG" } : undefined;
  const path = resolve(cwd, named?.given ?? DEFAULT_CONFIG_FILE);
  const label = named?.given ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The default file is optional; a file someone named must exist.
    if (code === "ENOENT" && !named) return undefined;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, not a file" : (error as Error).message;
    throw new ValidationError(`${label}: cannot read the config file${named ? ` (named by ${named.by})` : ""}: ${why}`, [{ path: "/", message: why }]);
  }
  try {
    // A byte-order mark (some Windows editors write one) is not JSON, but is not a mistake either.
    return { path, label, value: JSON.parse(text.replace(/^\uFEFF/, "")) as unknown };
  } catch (error) {
    const reason = (error as Error).message;
    throw new ValidationError(`${label}: invalid JSON${where(text, reason)}: ${reason}`, [{ path: "/", message: reason }]);
  }
}

/** " at line 3, column 7" from V8's "... in JSON at position 42", when it says where. */
function where(text: string, reason: string): string {
  const match = /position (\d+)/.exec(reason);
  if (!match) return "";
  const before = text.slice(0, Number(match[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` at line ${line}, column ${column}`;
}

function fileProblems(file: ConfigFile): Problem[] {
  const problems = schemaErrors(ServerConfigSchema, file.value).map((detail): Problem => {
    const text = isUnknownKey(detail) ? unknownKeyText(detail.path) : `${detail.path} ${explain(detail, valueAt(file.value, detail.path))}`;
    return { source: file.label, rank: 0, detail, text: `${file.label}: ${text}` };
  });
  // The schema's `queues` record does not check its keys; without this, a bad name would only
  // fail later, inside startServer, with no file or key named.
  const queues = valueAt(file.value, "/queues");
  for (const name of isPlainObject(queues) ? Object.keys(queues) : []) {
    const pointer = toPointer(["queues", name]);
    if (problems.some((p) => p.detail.path === pointer) || schemaErrors(QueueNameSchema, name).length === 0) continue;
    const message = `is not a valid queue name: ${expectation(QueueNameSchema)} of 1 to 200 characters`;
    problems.push({ source: file.label, rank: 0, detail: { path: pointer, message }, text: `${file.label}: ${pointer} ${message}` });
  }
  return problems;
}

// ── variables and flags ───────────────────────────────────────────────────────────────────

function collect(setting: ServerSetting, { source, rank }: { source: string; rank: number }, raw: string, overrides: Override[], problems: Problem[]): void {
  if (setting.type === "integer" && !/^-?\d+$/.test(raw.trim())) {
    // "12abc" and "1e3" are typos, not numbers: parseInt would quietly take 12 and 1.
    const pointer = toPointer(setting.path);
    const message = `${expectation(schemaAt(ServerConfigSchema, pointer)) ?? "expected an integer"}, got ${JSON.stringify(raw)}`;
    problems.push({ source, rank, detail: { path: pointer, message }, text: `${source}: ${message}` });
    return;
  }
  overrides.push({ path: setting.path, source, rank, raw, value: setting.type === "integer" ? Number(raw.trim()) : raw });
}

/** Problems in the merged object that an override caused (the file was checked on its own). */
function overrideProblems(merged: Record<string, unknown>, overrides: Override[]): Problem[] {
  const problems: Problem[] = [];
  for (const detail of schemaErrors(ServerConfigSchema, merged)) {
    // The last override of a path is the one in effect (flags come after variables).
    const override = [...overrides].reverse().find((o) => toPointer(o.path) === detail.path);
    if (!override) continue;
    const schema = schemaAt(ServerConfigSchema, detail.path);
    const message = `${expectation(schema) ?? stripGot(detail.message)}, got ${JSON.stringify(override.raw)}`;
    problems.push({ source: override.source, rank: override.rank, detail: { path: detail.path, message }, text: `${override.source}: ${message}` });
  }
  return problems;
}

function configError(unsorted: Problem[]): ValidationError {
  // The file's problems first, then the variables', then the flags', each in setting order.
  const problems = unsorted.sort((a, b) => a.rank - b.rank);
  const details = problems.map((p) => ({ path: p.detail.path, message: `${p.source}: ${p.detail.message}` }));
  return new ValidationError(problems.map((p) => p.text).join("; "), details);
}

// ── messages ──────────────────────────────────────────────────────────────────────────────

function isUnknownKey(detail: ErrorDetail): boolean {
  return detail.message.startsWith("unknown option");
}

/** `unknown key "prot" (did you mean "port"?)`, or `unknown key "bar" in /queues/emails`. */
function unknownKeyText(pointer: string): string {
  const segments = fromPointer(pointer);
  const key = segments[segments.length - 1] ?? "";
  const parent = toPointer(segments.slice(0, -1));
  const known = Object.keys((schemaAt(ServerConfigSchema, parent)?.properties as Record<string, unknown> | undefined) ?? {});
  const near = known.find((candidate) => editDistance(candidate.toLowerCase(), key.toLowerCase()) <= 2);
  return `unknown key "${key}"${parent === "" ? "" : ` in ${parent}`}${near ? ` (did you mean "${near}"?)` : ""}`;
}

/** "must be one of always, interval, never, got \"sometimes\"" for a simple value; TypeBox's words otherwise. */
function explain(detail: ErrorDetail, value: unknown): string {
  const expected = expectation(schemaAt(ServerConfigSchema, detail.path));
  return expected === undefined ? detail.message : `${expected}, got ${JSON.stringify(value) ?? "nothing"}`;
}

function stripGot(message: string): string {
  return message.replace(/, got .*$/, "");
}

/** What a scalar schema accepts, in words; undefined for objects and arrays (TypeBox says it better). */
function expectation(schema: TSchema | undefined): string | undefined {
  if (!schema) return undefined;
  const literals = (schema.anyOf as TSchema[] | undefined)?.map((branch) => branch.const as unknown);
  if (literals?.every((literal) => typeof literal === "string")) return `must be one of ${literals.join(", ")}`;
  const range = rangeText(schema);
  switch (schema.type) {
    case "integer":
      return `expected an integer${range}`;
    case "number":
      return `expected a number${range}`;
    case "boolean":
      return "expected true or false";
    case "string":
      if (schema.pattern !== undefined) return `expected a string matching ${String(schema.pattern)}`;
      return schema.minLength ? "expected a non-empty string" : "expected a string";
    default:
      return undefined;
  }
}

/** " from 1 to 10", " >= 1", " > 0 and <= 1", or "". */
function rangeText(schema: TSchema): string {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema as Record<string, number | undefined>;
  if (minimum !== undefined && maximum !== undefined) return ` from ${minimum} to ${maximum}`;
  const bounds = [
    minimum !== undefined ? `>= ${minimum}` : exclusiveMinimum !== undefined ? `> ${exclusiveMinimum}` : undefined,
    maximum !== undefined ? `<= ${maximum}` : exclusiveMaximum !== undefined ? `< ${exclusiveMaximum}` : undefined,
  ].filter((bound) => bound !== undefined);
  return bounds.length === 0 ? "" : ` ${bounds.join(" and ")}`;
}

// ── paths ─────────────────────────────────────────────────────────────────────────────────

function toPointer(path: readonly string[]): string {
  return path.map((segment) => `/${segment.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

function fromPointer(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The sub-schema that validates the value at `pointer` (objects, records and arrays). */
function schemaAt(schema: TSchema, pointer: string): TSchema | undefined {
  let current: TSchema | undefined = schema;
  for (const segment of fromPointer(pointer)) {
    if (!current) return undefined;
    const properties = current.properties as Record<string, TSchema> | undefined;
    const patterns = current.patternProperties as Record<string, TSchema> | undefined;
    if (properties?.[segment]) current = properties[segment];
    else if (patterns) current = Object.entries(patterns).find(([pattern]) => new RegExp(pattern).test(segment))?.[1];
    else if (current.items && /^\d+$/.test(segment)) current = current.items as TSchema;
    else return undefined;
  }
  return current;
}

function valueAt(value: unknown, pointer: string): unknown {
  let current = value;
  for (const segment of fromPointer(pointer)) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A copy of `target` with `value` at `path`; objects on the way are copied, not changed. */
function withValueAt(target: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (rest.length === 0) return { ...target, [head]: value };
  const child = isPlainObject(target[head]) ? target[head] : {};
  return { ...target, [head]: withValueAt(child, rest, value) };
}

/** Levenshtein distance, for "did you mean" on short keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}
