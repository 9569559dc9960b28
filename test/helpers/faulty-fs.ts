/**
 * `FaultyFs` wraps any `JournalFs` (the real one or the in-memory `CrashFs`) and injects the
 * faults of RELIABILITY.md's toolbox at the library level: an errno on the next (or every) call
 * of an operation, short writes, and gates that hold an operation until the test releases it
 * (to act "while the fdatasync is in flight" without sleeping). It also counts calls per operation.
 */
import { errnoError, type JournalFile, type JournalFs, type OpenMode } from "../../src/log/journal-fs.js";

export type FsOp =
  | "open"
  | "write"
  | "read"
  | "fdatasync"
  | "ftruncate"
  | "fstat"
  | "close"
  | "readFile"
  | "rename"
  | "link"
  | "unlink"
  | "readdir"
  | "mkdir"
  | "fsyncDir"
  | "stat";

const OPS: FsOp[] = ["open", "write", "read", "fdatasync", "ftruncate", "fstat", "close", "readFile", "rename", "link", "unlink", "readdir", "mkdir", "fsyncDir", "stat"];

/** Limits a rule to paths containing a string or matching a RegExp. */
export type PathFilter = string | RegExp | undefined;

interface FailRule {
  op: FsOp;
  errno: string;
  path: PathFilter;
  remaining: number;
}

interface ShortWriteRule {
  bytes: number;
  path: PathFilter;
}

interface HeldGate {
  op: FsOp;
  path: PathFilter;
  arrive: () => void;
  released: Promise<void>;
}

/** An operation held before it runs. */
export interface Gate {
  /** Resolves when a matching call has arrived and is waiting. */
  readonly reached: Promise<void>;
  /** Lets it run. */
  release(): void;
}

function matches(filter: PathFilter, path: string): boolean {
  if (filter === undefined) return true;
  return typeof filter === "string" ? path.includes(filter) : filter.test(path);
}

export class FaultyFs implements JournalFs {
  /** Calls per operation, counted before faults are applied. */
  readonly calls = Object.fromEntries(OPS.map((op) => [op, 0])) as Record<FsOp, number>;
  /** Runs before every operation; throwing from it fails the operation. */
  beforeOp: ((op: FsOp, path: string) => void) | undefined;

  readonly #inner: JournalFs;
  #rules: FailRule[] = [];
  #shortWrites: ShortWriteRule[] = [];
  #gates: HeldGate[] = [];

  constructor(inner: JournalFs) {
    this.#inner = inner;
  }

  /** The next `times` calls of `op` (on a matching path) fail with `errno`. */
  failNext(op: FsOp, errno: string, options: { times?: number; path?: PathFilter } = {}): void {
    this.#rules.push({ op, errno, path: options.path, remaining: options.times ?? 1 });
  }

  /** Every call of `op` fails with `errno` until the returned function (or `clearFaults`) is called. */
  failAlways(op: FsOp, errno: string, options: { path?: PathFilter } = {}): () => void {
    const rule: FailRule = { op, errno, path: options.path, remaining: Infinity };
    this.#rules.push(rule);
    return () => void (this.#rules = this.#rules.filter((r) => r !== rule));
  }

  /** The next write (on a matching path) writes at most `bytes` bytes and returns that count. */
  shortWriteNext(bytes: number, options: { path?: PathFilter } = {}): void {
    this.#shortWrites.push({ bytes, path: options.path });
  }

  clearFaults(): void {
    this.#rules = [];
    this.#shortWrites = [];
  }

  /** Holds the next call of `op` (on a matching path) until `release()`. */
  hold(op: FsOp, options: { path?: PathFilter } = {}): Gate {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gates.push({ op, path: options.path, arrive, released });
    return { reached, release };
  }

  /** Counts, runs hooks, waits at gates and throws injected faults. Used by the file handles too. */
  async enter(op: FsOp, path: string): Promise<void> {
    this.calls[op]++;
    this.beforeOp?.(op, path);
    const gateIndex = this.#gates.findIndex((gate) => gate.op === op && matches(gate.path, path));
    if (gateIndex >= 0) {
      const [gate] = this.#gates.splice(gateIndex, 1);
      gate.arrive();
      await gate.released;
    }
    const rule = this.#rules.find((r) => r.op === op && matches(r.path, path));
    if (rule) {
      if (--rule.remaining <= 0) this.#rules = this.#rules.filter((r) => r !== rule);
      throw errnoError(rule.errno, op, path, "injected fault");
    }
  }

  /** How many of `length` bytes the next write may write. */
  takeWriteLimit(path: string, length: number): number {
    const index = this.#shortWrites.findIndex((rule) => matches(rule.path, path));
    if (index < 0) return length;
    const [rule] = this.#shortWrites.splice(index, 1);
    return Math.min(length, rule.bytes);
  }

  async open(path: string, mode: OpenMode): Promise<JournalFile> {
    await this.enter("open", path);
    return new FaultyFile(this, await this.#inner.open(path, mode));
  }
  async readFile(path: string): Promise<Buffer> {
    await this.enter("readFile", path);
    return this.#inner.readFile(path);
  }
  async rename(from: string, to: string): Promise<void> {
    await this.enter("rename", from);
    return this.#inner.rename(from, to);
  }
  async link(existingPath: string, newPath: string): Promise<void> {
    await this.enter("link", newPath);
    return this.#inner.link(existingPath, newPath);
  }
  async unlink(path: string): Promise<void> {
    await this.enter("unlink", path);
    return this.#inner.unlink(path);
  }
  async readdir(dir: string): Promise<string[]> {
    await this.enter("readdir", dir);
    return this.#inner.readdir(dir);
  }
  async mkdir(dir: string): Promise<void> {
    await this.enter("mkdir", dir);
    return this.#inner.mkdir(dir);
  }
  async fsyncDir(dir: string): Promise<void> {
    await this.enter("fsyncDir", dir);
    return this.#inner.fsyncDir(dir);
  }
  async stat(path: string): Promise<{ size: number } | undefined> {
    await this.enter("stat", path);
    return this.#inner.stat(path);
  }
  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== undefined;
  }
}

class FaultyFile implements JournalFile {
  readonly #fs: FaultyFs;
  readonly #inner: JournalFile;

  constructor(fs: FaultyFs, inner: JournalFile) {
    this.#fs = fs;
    this.#inner = inner;
  }

  get path(): string {
    return this.#inner.path;
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    await this.#fs.enter("write", this.path);
    return this.#inner.write(buffer, offset, this.#fs.takeWriteLimit(this.path, length), position);
  }
  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    await this.#fs.enter("read", this.path);
    return this.#inner.read(buffer, offset, length, position);
  }
  async datasync(): Promise<void> {
    await this.#fs.enter("fdatasync", this.path);
    return this.#inner.datasync();
  }
  async truncate(length: number): Promise<void> {
    await this.#fs.enter("ftruncate", this.path);
    return this.#inner.truncate(length);
  }
  async size(): Promise<number> {
    await this.#fs.enter("fstat", this.path);
    return this.#inner.size();
  }
  async close(): Promise<void> {
    await this.#fs.enter("close", this.path);
    return this.#inner.close();
  }
}
