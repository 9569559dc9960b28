/**
 * Snapshot files: the owner's encoded state plus the log position it covers, written atomically
 * and read back with a fallback to an older snapshot when the newest is damaged.
 *
 * File layout (little endian):
 *   0  "SPOOLSNP"        magic
 *   8  u32 version (1)
 *   12 u32 crc32 of every byte from 16 to the end
 *   16 u32 segment, 20 u48 offset (+2 zero bytes)     the position covered
 *   28 u48 data length (+2 zero bytes)
 *   36 data
 *
 * Order of a write (R4): temp file → write → fdatasync → rename → fsync the directory. Only then
 * is the snapshot durable, and only then may segments it covers be deleted. Two snapshots are
 * kept by default, with the segments the older one needs, so a damaged newest snapshot has a
 * real fallback.
 */
import path from "node:path";
import { crc32 } from "./crc32.js";
import { fsFailure } from "./errors.js";
import { errorCode, writeAll, type JournalFs } from "./journal-fs.js";
import {
  comparePositions,
  parseSnapshotFileName,
  segmentFileName,
  segmentsIn,
  snapshotFileName,
  TEMP_SUFFIX,
  type LogPosition,
} from "./layout.js";

const MAGIC = Buffer.from("SPOOLSNP", "latin1");
const VERSION = 1;
const HEADER_BYTES = 36;

export interface SnapshotInfo {
  /** Full path. */
  file: string;
  position: LogPosition;
}

export interface LoadedSnapshot extends SnapshotInfo {
  data: Buffer;
}

export interface InvalidSnapshot {
  file: string;
  reason: string;
}

/** The header with its CRC left at 0; `sealHeader` fills it in once the data's CRC is known. */
function encodeHeader(position: LogPosition, dataBytes: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(position.segment, 16);
  header.writeUIntLE(position.offset, 20, 6);
  header.writeUIntLE(dataBytes, 28, 6);
  return header;
}

/** The snapshot in `buffer`, or why it is not a valid one. */
export function decodeSnapshot(buffer: Buffer): { position: LogPosition; data: Buffer } | string {
  if (buffer.length < HEADER_BYTES) return `too short (${buffer.length} bytes)`;
  if (!buffer.subarray(0, 8).equals(MAGIC)) return "not a snapshot file (bad magic)";
  const version = buffer.readUInt32LE(8);
  if (version !== VERSION) return `unknown version ${version}`;
  const length = buffer.readUIntLE(28, 6);
  if (buffer.length !== HEADER_BYTES + length) return `size ${buffer.length} does not match the recorded ${HEADER_BYTES + length}`;
  if (buffer.readUInt32LE(12) !== crc32(buffer, 16)) return "crc mismatch";
  return { position: { segment: buffer.readUInt32LE(16), offset: buffer.readUIntLE(20, 6) }, data: buffer.subarray(HEADER_BYTES) };
}

/**
 * Writes a snapshot covering the log up to `position`; resolves once it is durable (R4). `data`
 * may come in chunks (written in order, the CRC carried from one to the next), so a large state
 * is never one buffer and its CRC never one long synchronous pass.
 */
export async function writeSnapshot(fs: JournalFs, dir: string, position: LogPosition, data: Uint8Array | readonly Uint8Array[]): Promise<SnapshotInfo> {
  const chunks: readonly Uint8Array[] = data instanceof Uint8Array ? [data] : data;
  let dataBytes = 0;
  for (const chunk of chunks) dataBytes += chunk.length;
  const file = path.join(dir, snapshotFileName(position));
  const temp = file + TEMP_SUFFIX;
  let step = "removing the stale temp file";
  try {
    await fs.unlink(temp).catch((error: unknown) => {
      if (errorCode(error) !== "ENOENT") throw error;
    });
    step = "creating";
    const handle = await fs.open(temp, "createNew");
    try {
      step = "writing";
      const header = encodeHeader(position, dataBytes);
      let crc = crc32(header, 16, HEADER_BYTES);
      let offset = HEADER_BYTES;
      for (const chunk of chunks) {
        crc = crc32(chunk, 0, chunk.length, crc);
        await writeAll(handle, chunk, offset);
        offset += chunk.length;
      }
      // The header goes last, CRC included; nothing is visible before the rename anyway.
      header.writeUInt32LE(crc, 12);
      await writeAll(handle, header, 0);
      step = "syncing";
      await handle.datasync();
    } finally {
      await handle.close().catch(() => undefined);
    }
    step = "renaming";
    await fs.rename(temp, file);
    step = "syncing the directory of";
    await fs.fsyncDir(dir);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw fsFailure(`snapshot: ${step}`, step === "renaming" || step === "syncing the directory of" ? file : temp, error);
  }
  return { file, position };
}

/** Snapshot files in `names`, newest (highest position) first. */
function snapshotsNewestFirst(dir: string, names: readonly string[]): SnapshotInfo[] {
  const found: SnapshotInfo[] = [];
  for (const name of names) {
    const position = parseSnapshotFileName(name);
    if (position) found.push({ file: path.join(dir, name), position });
  }
  return found.sort((a, b) => comparePositions(b.position, a.position));
}

/**
 * The newest snapshot that decodes, and the newer ones that did not. A read error other than
 * ENOENT is a medium fault and throws (it must not silently push recovery to an older snapshot).
 */
export async function readNewestSnapshot(
  fs: JournalFs,
  dir: string,
  names?: readonly string[],
): Promise<{ snapshot: LoadedSnapshot | undefined; invalid: InvalidSnapshot[] }> {
  const invalid: InvalidSnapshot[] = [];
  for (const candidate of snapshotsNewestFirst(dir, names ?? (await fs.readdir(dir)))) {
    let buffer: Buffer;
    try {
      buffer = await fs.readFile(candidate.file);
    } catch (error) {
      if (errorCode(error) === "ENOENT") continue;
      throw fsFailure("snapshot: reading", candidate.file, error);
    }
    const decoded = decodeSnapshot(buffer);
    if (typeof decoded === "string") {
      invalid.push({ file: candidate.file, reason: decoded });
    } else if (comparePositions(decoded.position, candidate.position) !== 0) {
      invalid.push({ file: candidate.file, reason: `records position ${decoded.position.segment}/${decoded.position.offset}, not the one in its name` });
    } else {
      return { snapshot: { ...candidate, data: decoded.data }, invalid };
    }
  }
  return { snapshot: undefined, invalid };
}

/**
 * Deletes all but the newest `keep` snapshots. Returns the position of the oldest one kept when
 * `keep` of them exist: segments before it are needed by no snapshot we could fall back to, so
 * pass it to `deleteCoveredSegments`. `undefined` means: delete no segments yet.
 */
export async function pruneSnapshots(fs: JournalFs, dir: string, keep = 2): Promise<LogPosition | undefined> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be an integer >= 1, got ${keep}`);
  const snapshots = snapshotsNewestFirst(dir, await fs.readdir(dir));
  const stale = snapshots.slice(keep);
  for (const snapshot of stale) await unlinkIfPresent(fs, snapshot.file);
  if (stale.length > 0) await syncDir(fs, dir);
  return snapshots.length >= keep ? snapshots[keep - 1].position : undefined;
}

/**
 * Deletes the segments wholly before `position`. Call it only with the position of a durable
 * snapshot (the value `pruneSnapshots` returns): a crash must always find a snapshot plus every
 * segment after it. Returns the names deleted.
 */
export async function deleteCoveredSegments(fs: JournalFs, dir: string, position: LogPosition): Promise<string[]> {
  const covered = segmentsIn(await fs.readdir(dir)).filter((segment) => segment < position.segment);
  for (const segment of covered) await unlinkIfPresent(fs, path.join(dir, segmentFileName(segment)));
  if (covered.length > 0) await syncDir(fs, dir);
  return covered.map(segmentFileName);
}

async function syncDir(fs: JournalFs, dir: string): Promise<void> {
  try {
    await fs.fsyncDir(dir);
  } catch (error) {
    throw fsFailure("syncing the directory", dir, error);
  }
}

async function unlinkIfPresent(fs: JournalFs, file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw fsFailure("deleting", file, error);
  }
}
