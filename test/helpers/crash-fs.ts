/**
 * A power-loss double of the journal's file system (RELIABILITY.md, toolbox "power loss (a)").
 *
 * `MemoryDisk` keeps, for every file, its current bytes and its bytes as of the last successful
 * fdatasync, and for every directory its current entries and its entries as of the last fsync of
 * that directory. `CrashFs` is one process's view of a disk, with `FaultyFs`'s fault injection.
 * `crash()` is the power cut: the process's handles die, every directory goes back to its synced
 * entries, every file to its synced bytes (optionally plus a torn prefix of what was appended
 * after), and a fresh `CrashFs` — the rebooted process — is returned.
 *
 * Simplifications: directories made by `mkdir` are durable at once; only appended bytes can be
 * torn (a rewrite of synced bytes is simply lost); fdatasync and fsync are the same thing.
 * `capacityBytes` models a full disk the way Node shows it: a write that does not fit writes what
 * fits and returns the short count; the next one fails with ENOSPC.
 */
import nodePath from "node:path";
import { errnoError, type JournalFile, type JournalFs, type OpenMode } from "../../src/log/journal-fs.js";
import { FaultyFs } from "./faulty-fs.js";

const posix = nodePath.posix;

class Inode {
  data = Buffer.alloc(0);
  size = 0;
  synced = Buffer.alloc(0);

  bytes(): Buffer {
    return this.data.subarray(0, this.size);
  }

  resize(size: number): void {
    if (size > this.data.length) {
      const grown = Buffer.alloc(Math.max(size, this.data.length * 2, 256));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    if (size > this.size) this.data.fill(0, this.size, size);
    this.size = size;
  }
}

interface Directory {
  current: Map<string, Inode>;
  durable: Map<string, Inode>;
}

export interface CrashOptions {
  /**
   * Random source in [0, 1). When given, each file keeps a random prefix of the bytes appended
   * since its last fdatasync (a torn write) instead of losing them all.
   */
  tornPrefix?: () => number;
  /** With `tornPrefix`: the kept bytes may end in zeros instead (the size reached the disk, the data did not). */
  zeroFill?: boolean;
}

export class MemoryDisk {
  readonly dirs = new Map<string, Directory>();
  /** Total bytes the files may hold. */
  capacityBytes = Infinity;

  usedBytes(): number {
    const seen = new Set<Inode>();
    for (const dir of this.dirs.values()) for (const inode of dir.current.values()) seen.add(inode);
    let used = 0;
    for (const inode of seen) used += inode.size;
    return used;
  }

  mkdir(dir: string): void {
    const normal = posix.resolve(dir);
    if (this.dirs.has(normal)) return;
    const parent = posix.dirname(normal);
    if (parent !== normal) this.mkdir(parent);
    this.dirs.set(normal, { current: new Map(), durable: new Map() });
  }

  /** The power cut: see the module comment. */
  powerLoss(options: CrashOptions): void {
    const inodes = new Set<Inode>();
    for (const dir of this.dirs.values()) {
      dir.current = new Map(dir.durable);
      for (const inode of dir.current.values()) inodes.add(inode);
    }
    for (const inode of inodes) {
      let kept = inode.synced;
      const current = inode.bytes();
      const appended = current.length > kept.length && current.subarray(0, kept.length).equals(kept);
      if (options.tornPrefix && appended) {
        const extra = Math.floor(options.tornPrefix() * (current.length - kept.length + 1));
        kept = Buffer.from(current.subarray(0, kept.length + extra));
        if (options.zeroFill && extra > 0 && options.tornPrefix() < 0.5) {
          const zeros = 1 + Math.floor(options.tornPrefix() * extra);
          kept.fill(0, kept.length - zeros);
        }
      }
      inode.data = Buffer.from(kept);
      inode.size = kept.length;
      inode.synced = Buffer.from(kept);
    }
  }

  /** An independent copy (same files, same synced state), e.g. to compare two recoveries of one crash. */
  clone(): MemoryDisk {
    const copy = new MemoryDisk();
    copy.capacityBytes = this.capacityBytes;
    const inodes = new Map<Inode, Inode>();
    const copyOf = (inode: Inode): Inode => {
      let twin = inodes.get(inode);
      if (!twin) {
        twin = new Inode();
        twin.data = Buffer.from(inode.data);
        twin.size = inode.size;
        twin.synced = Buffer.from(inode.synced);
        inodes.set(inode, twin);
      }
      return twin;
    };
    for (const [path, dir] of this.dirs) {
      copy.dirs.set(path, {
        current: new Map([...dir.current].map(([name, inode]) => [name, copyOf(inode)])),
        durable: new Map([...dir.durable].map(([name, inode]) => [name, copyOf(inode)])),
      });
    }
    return copy;
  }

  /** What a file holds now, for tests that corrupt or inspect it; `undefined` if missing. */
  fileBytes(path: string): Buffer | undefined {
    const { dir, name } = this.locate(path);
    return this.dirs.get(dir)?.current.get(name)?.bytes();
  }

  /** Overwrites a file's current AND synced bytes (corruption that is already on the platter). */
  setFileBytes(path: string, bytes: Uint8Array): void {
    const { dir, name } = this.locate(path);
    const directory = this.dirs.get(dir);
    if (!directory) throw new Error(`no directory ${dir}`);
    let inode = directory.current.get(name);
    if (!inode) {
      inode = new Inode();
      directory.current.set(name, inode);
      directory.durable.set(name, inode);
    }
    inode.data = Buffer.from(bytes);
    inode.size = bytes.length;
    inode.synced = Buffer.from(bytes);
  }

  locate(path: string): { dir: string; name: string } {
    const normal = posix.resolve(path);
    return { dir: posix.dirname(normal), name: posix.basename(normal) };
  }
}

/** One process's access to a `MemoryDisk`. Dead after a crash: every call fails. */
class DiskProcess implements JournalFs {
  alive = true;
  constructor(readonly disk: MemoryDisk) {}

  check(op: string, path: string): void {
    if (!this.alive) throw errnoError("EIO", op, path, "this process crashed");
  }

  #dir(op: string, path: string): { directory: Directory; name: string } {
    const { dir, name } = this.disk.locate(path);
    const directory = this.disk.dirs.get(dir);
    if (!directory) throw errnoError("ENOENT", op, path, "no such file or directory");
    return { directory, name };
  }

  #inode(op: string, path: string): Inode {
    const { directory, name } = this.#dir(op, path);
    const inode = directory.current.get(name);
    if (!inode) throw errnoError(this.disk.dirs.has(posix.resolve(path)) ? "EISDIR" : "ENOENT", op, path, "no such file");
    return inode;
  }

  async open(path: string, mode: OpenMode): Promise<JournalFile> {
    this.check("open", path);
    const { directory, name } = this.#dir("open", path);
    let inode = directory.current.get(name);
    if (inode && mode === "createNew") throw errnoError("EEXIST", "open", path, "file already exists");
    if (!inode) {
      if (mode === "read") throw errnoError("ENOENT", "open", path, "no such file or directory");
      inode = new Inode();
      directory.current.set(name, inode);
    }
    return new MemoryFile(this, path, inode);
  }

  async readFile(path: string): Promise<Buffer> {
    this.check("readFile", path);
    return Buffer.from(this.#inode("readFile", path).bytes());
  }

  async rename(from: string, to: string): Promise<void> {
    this.check("rename", from);
    const source = this.#dir("rename", from);
    const inode = source.directory.current.get(source.name);
    if (!inode) throw errnoError("ENOENT", "rename", from, "no such file or directory");
    const target = this.#dir("rename", to);
    source.directory.current.delete(source.name);
    target.directory.current.set(target.name, inode);
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    this.check("link", newPath);
    const inode = this.#inode("link", existingPath);
    const target = this.#dir("link", newPath);
    if (target.directory.current.has(target.name)) throw errnoError("EEXIST", "link", newPath, "file already exists");
    target.directory.current.set(target.name, inode);
  }

  async unlink(path: string): Promise<void> {
    this.check("unlink", path);
    const { directory, name } = this.#dir("unlink", path);
    if (!directory.current.delete(name)) throw errnoError("ENOENT", "unlink", path, "no such file or directory");
  }

  async readdir(dir: string): Promise<string[]> {
    this.check("readdir", dir);
    const normal = posix.resolve(dir);
    const directory = this.disk.dirs.get(normal);
    if (!directory) throw errnoError("ENOENT", "readdir", dir, "no such file or directory");
    const names = [...directory.current.keys()];
    for (const other of this.disk.dirs.keys()) if (other !== normal && posix.dirname(other) === normal) names.push(posix.basename(other));
    return names;
  }

  async mkdir(dir: string): Promise<void> {
    this.check("mkdir", dir);
    this.disk.mkdir(dir);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.check("fsyncDir", dir);
    const directory = this.disk.dirs.get(posix.resolve(dir));
    if (!directory) throw errnoError("ENOENT", "fsync", dir, "no such file or directory");
    directory.durable = new Map(directory.current);
  }

  async stat(path: string): Promise<{ size: number } | undefined> {
    this.check("stat", path);
    if (this.disk.dirs.has(posix.resolve(path))) return { size: 0 };
    const { dir, name } = this.disk.locate(path);
    const inode = this.disk.dirs.get(dir)?.current.get(name);
    return inode ? { size: inode.size } : undefined;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== undefined;
  }
}

class MemoryFile implements JournalFile {
  #closed = false;
  constructor(
    readonly process: DiskProcess,
    readonly path: string,
    readonly inode: Inode,
  ) {}

  #check(op: string): void {
    this.process.check(op, this.path);
    if (this.#closed) throw errnoError("EBADF", op, this.path, "bad file descriptor");
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.#check("write");
    const disk = this.process.disk;
    const growth = Math.max(0, position + length - this.inode.size);
    const free = disk.capacityBytes - disk.usedBytes();
    if (growth > free) {
      length = Math.max(0, length - (growth - Math.max(0, free)));
      if (length === 0) throw errnoError("ENOSPC", "write", this.path, "no space left on device");
    }
    if (position + length > this.inode.size) this.inode.resize(position + length);
    this.inode.data.set(buffer.subarray(offset, offset + length), position);
    return length;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.#check("read");
    const bytes = this.inode.bytes().subarray(position, position + length);
    buffer.set(bytes, offset);
    return bytes.length;
  }

  async datasync(): Promise<void> {
    this.#check("fdatasync");
    this.inode.synced = Buffer.from(this.inode.bytes());
  }

  async truncate(length: number): Promise<void> {
    this.#check("ftruncate");
    this.inode.resize(length);
  }

  async size(): Promise<number> {
    this.#check("fstat");
    return this.inode.size;
  }

  async close(): Promise<void> {
    this.#check("close");
    this.#closed = true;
  }
}

export class CrashFs extends FaultyFs {
  readonly disk: MemoryDisk;
  readonly #process: DiskProcess;

  constructor(disk: MemoryDisk = new MemoryDisk()) {
    const process = new DiskProcess(disk);
    super(process);
    this.disk = disk;
    this.#process = process;
  }

  /** Cuts the power now; returns the file system of the process that starts next. */
  crash(options: CrashOptions = {}): CrashFs {
    this.#process.alive = false;
    this.disk.powerLoss(options);
    return new CrashFs(this.disk);
  }

  /**
   * Cuts the power just before the `n`-th file-system call from now (1 = the next one), which
   * then fails. Resolves with the next process's file system. Like strace's
   * `inject=…:signal=KILL:when=N`, but losing un-synced data too.
   */
  crashAtOp(n: number, options: CrashOptions = {}): Promise<CrashFs> {
    let count = 0;
    return new Promise((resolve) => {
      this.beforeOp = (op, path) => {
        if (++count < n) return;
        this.beforeOp = undefined;
        resolve(this.crash(options));
        throw errnoError("EIO", op, path, "power lost");
      };
    });
  }
}
