/**
 * One writer per data directory (R7). The `LOCK` file holds "<pid> <nonce>" of the process that
 * has the directory open. It survives kill -9; the next opener sees that the pid is dead and
 * takes the lock over. Only the handle that took the lock removes it, so a stray `close()` of
 * an unrelated handle cannot free a directory someone else is writing.
 *
 * How it stays exclusive without flock (which Node lacks): the content is written and synced to
 * a private temp file first, then hard-linked to `LOCK`; link() fails with EEXIST if `LOCK`
 * exists, so `LOCK` is never seen half-written. A stale lock is claimed by renaming it to a
 * private name (only one claimant's rename can move a given file) and checking that what moved
 * is still the stale content; if a live owner's lock was moved by mistake, it is linked back.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { UnavailableError } from "../core/errors.js";
import { fsFailure } from "./errors.js";
import { errorCode, writeAll, type JournalFs } from "./journal-fs.js";
import { LOCK_FILE } from "./layout.js";

export interface DirLock {
  readonly file: string;
  readonly pid: number;
  /** Removes the lock if this handle still owns it. Idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Default: `process.pid`. */
  pid?: number;
  /** Whether a process exists. Default: `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
}

/**
 * Locks taken through each `JournalFs` (for the real one: by this process), so a second open here
 * fails even though our own pid is alive. Keyed by fs so that a test's simulated restart (a new
 * in-memory fs over the same disk) is a new process.
 */
const heldByFs = new WeakMap<JournalFs, Set<string>>();

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return errorCode(error) === "EPERM";
  }
}

function parsePid(content: string): number | undefined {
  const pid = Number(content.split(" ", 1)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function readIfPresent(fs: JournalFs, file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file)).toString("utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw fsFailure("lock: reading", file, error);
  }
}

async function unlinkQuietly(fs: JournalFs, file: string): Promise<void> {
  await fs.unlink(file).catch(() => undefined);
}

/** Takes the data directory's lock, or rejects (`unavailable`) naming the process that holds it. */
export async function acquireDirLock(fs: JournalFs, dir: string, options: LockOptions = {}): Promise<DirLock> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? isProcessAlive;
  const file = path.join(dir, LOCK_FILE);
  const key = path.resolve(file);
  const heldHere = heldByFs.get(fs) ?? new Set<string>();
  heldByFs.set(fs, heldHere);
  if (heldHere.has(key)) throw new UnavailableError(`data directory ${dir} is already open in this process (${pid})`);
  heldHere.add(key);

  const nonce = randomBytes(8).toString("hex");
  const content = `${pid} ${nonce}\n`;
  const temp = path.join(dir, `${LOCK_FILE}.${pid}.${nonce}.tmp`);
  try {
    await writeTemp(fs, temp, content);
    try {
      for (let attempt = 0; ; attempt++) {
        if (await tryLink(fs, temp, file)) break;
        const holder = await readIfPresent(fs, file);
        if (holder === undefined) continue; // released meanwhile: try again
        const holderPid = parsePid(holder);
        // Our own pid in a lock this process does not hold is a previous incarnation (pid reuse after a restart).
        if (holderPid !== undefined && holderPid !== pid && isAlive(holderPid)) {
          throw new UnavailableError(`data directory ${dir} is in use by process ${holderPid}`);
        }
        if (attempt >= 5) throw new UnavailableError(`data directory ${dir}: could not take over the stale lock ${file} (it keeps changing)`);
        await claimStale(fs, dir, file, holder, `${file}.stale.${pid}.${nonce}`);
      }
    } finally {
      await unlinkQuietly(fs, temp);
    }
    await fs.fsyncDir(dir).catch((error: unknown) => {
      throw fsFailure("lock: syncing the directory", dir, error);
    });
  } catch (error) {
    heldHere.delete(key);
    throw error;
  }
  await removeDeadLeftovers(fs, dir, isAlive);

  let released: Promise<void> | undefined;
  return {
    file,
    pid,
    release() {
      released ??= (async () => {
        try {
          if ((await readIfPresent(fs, file)) === content) {
            await fs.unlink(file);
            await fs.fsyncDir(dir);
          }
        } finally {
          heldHere.delete(key);
        }
      })();
      return released;
    },
  };
}

async function writeTemp(fs: JournalFs, temp: string, content: string): Promise<void> {
  try {
    const handle = await fs.open(temp, "createNew");
    try {
      await writeAll(handle, Buffer.from(content, "utf8"), 0);
      await handle.datasync();
    } finally {
      await handle.close().catch(() => undefined);
    }
  } catch (error) {
    await unlinkQuietly(fs, temp);
    throw fsFailure("lock: writing", temp, error);
  }
}

async function tryLink(fs: JournalFs, temp: string, file: string): Promise<boolean> {
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw fsFailure("lock: creating", file, error);
  }
}

/** Moves a stale `LOCK` out of the way, unless it changed since it was read. */
async function claimStale(fs: JournalFs, dir: string, file: string, staleContent: string, claimed: string): Promise<void> {
  try {
    await fs.rename(file, claimed);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return; // someone else moved it first
    throw fsFailure("lock: taking over", file, error);
  }
  const moved = await readIfPresent(fs, claimed);
  if (moved !== staleContent && moved !== undefined) {
    // A new owner locked between our read and our rename: give its lock back.
    await fs.link(claimed, file).catch(() => undefined);
  }
  await unlinkQuietly(fs, claimed);
  await fs.fsyncDir(dir).catch(() => undefined);
}

/** Temp and claimed files left by processes that died while locking. */
async function removeDeadLeftovers(fs: JournalFs, dir: string, isAlive: (pid: number) => boolean): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^LOCK\.(?:stale\.)?(\d+)\./.exec(name);
    if (match && !isAlive(Number(match[1]))) await unlinkQuietly(fs, path.join(dir, name));
  }
}
