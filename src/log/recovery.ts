/**
 * Reading a data directory back: the newest valid snapshot, then every record after the
 * position it covers, segment by segment (R5, R6).
 *
 * - A bad frame with nothing valid after it, in the LAST segment, is a torn tail: it is truncated
 *   (ftruncate + fdatasync) and reported as a warning naming the file, offset and bytes dropped.
 * - Anything else that would drop data — a bad frame followed by valid ones, a bad frame in a
 *   segment that is not the last, a missing segment, a snapshot the log does not match — throws a
 *   `JournalCorruptError` (code `unavailable`). With `repair: true` the log is cut at the first
 *   problem instead (later segments deleted first, then the truncate) and the loss is reported.
 *
 * Idempotent and safe to kill at any point: it only deletes segments that follow the cut, from
 * the last one backwards, before truncating, so a rerun finds the same problem or a clean log.
 */
import path from "node:path";
import { fsFailure, JournalCorruptError } from "./errors.js";
import { errorCode, type JournalFs } from "./journal-fs.js";
import { isSnapshotTempFile, LOG_START, segmentFileName, segmentsIn, type LogPosition } from "./layout.js";
import { countValidFrames, decodeFrames, type FrameFault } from "./record-codec.js";
import { readNewestSnapshot, type LoadedSnapshot } from "./snapshot-file.js";

export interface ReadLogOptions {
  /** Cut the log at the first corruption instead of refusing to open. Default false. */
  repair?: boolean;
  maxPayloadBytes?: number;
}

export interface LogRecord {
  type: number;
  /** A view into the segment buffer it was read from. */
  payload: Buffer;
}

export type JournalWarning =
  | { kind: "torn-tail"; file: string; offset: number; bytesDropped: number; reason: FrameFault; message: string }
  | { kind: "snapshot-invalid"; file: string; reason: string; message: string }
  | { kind: "temp-file-removed"; file: string; message: string }
  | {
      kind: "repaired";
      file: string;
      offset: number;
      bytesDropped: number;
      /** Valid records found after the cut and dropped with it (best effort count). */
      recordsDropped: number;
      segmentsDropped: string[];
      message: string;
    };

export interface ReadLogResult {
  snapshot: LoadedSnapshot | undefined;
  /** Records after the snapshot's position, in log order. */
  records: LogRecord[];
  /** Where a writer continues (pass to `SegmentLog.open`). */
  end: LogPosition;
  warnings: JournalWarning[];
}

const FAULT_TEXT: Record<FrameFault, string> = { torn: "record cut short", crc: "crc mismatch", header: "impossible length or type" };

export async function readLog(fs: JournalFs, dir: string, options: ReadLogOptions = {}): Promise<ReadLogResult> {
  const repair = options.repair ?? false;
  const decodeOptions = { maxPayloadBytes: options.maxPayloadBytes };
  const warnings: JournalWarning[] = [];

  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { snapshot: undefined, records: [], end: LOG_START, warnings };
    throw fsFailure("listing", dir, error);
  }

  for (const name of names.filter(isSnapshotTempFile)) {
    const file = path.join(dir, name);
    await unlinkIfPresent(fs, file);
    warnings.push({ kind: "temp-file-removed", file, message: `journal: removed ${file}, a snapshot that was never completed` });
  }

  const { snapshot, invalid } = await readNewestSnapshot(fs, dir, names);
  for (const bad of invalid) {
    warnings.push({ kind: "snapshot-invalid", file: bad.file, reason: bad.reason, message: `journal: ignoring snapshot ${bad.file}: ${bad.reason}` });
  }
  const start = snapshot?.position ?? LOG_START;
  const startText = snapshot ? `snapshot ${snapshot.file}` : invalid.length > 0 ? "the start of the log (no snapshot is valid)" : "the start of the log";

  // Segments from the start position on must be numbered without gaps.
  const contiguous: number[] = [];
  const orphans: number[] = [];
  for (const segment of segmentsIn(names)) {
    if (segment < start.segment) continue; // covered by the snapshot; left by an interrupted cleanup
    if (orphans.length === 0 && segment === start.segment + contiguous.length) contiguous.push(segment);
    else orphans.push(segment);
  }
  const missingStart = contiguous.length === 0 && start.offset > 0;
  if (orphans.length > 0 || missingStart) {
    const missing = path.join(dir, segmentFileName(start.segment + contiguous.length));
    const message = `journal ${dir}: segment ${missing} is missing; recovery from ${startText} needs it`;
    if (!repair) throw new JournalCorruptError(`${message}. Open with repair: true to drop ${orphans.length} later segment(s)`, missing, 0);
    const dropped = await dropSegments(fs, dir, orphans);
    warnings.push({ kind: "repaired", file: missing, offset: 0, ...dropped, message: `${message}: dropped ${dropped.segmentsDropped.length} later segment(s)` });
  }

  const records: LogRecord[] = [];
  let end: LogPosition = start.offset === 0 ? start : { segment: start.segment + 1, offset: 0 };
  for (let i = 0; i < contiguous.length; i++) {
    const segment = contiguous[i];
    const file = path.join(dir, segmentFileName(segment));
    const isLast = i === contiguous.length - 1;
    const buffer = await readWhole(fs, file);
    const from = segment === start.segment ? start.offset : 0;
    if (buffer.length < from) {
      throw new JournalCorruptError(
        `journal ${dir}: ${startText} covers ${file} up to offset ${from}, but the file has only ${buffer.length} bytes; the snapshot and the log disagree`,
        file,
        buffer.length,
      );
    }

    const decoded = decodeFrames(buffer, from, decodeOptions);
    for (const record of decoded.records) records.push({ type: record.type, payload: record.payload });
    end = { segment, offset: decoded.validBytes };

    if (decoded.tail && isLast) {
      const bytesDropped = buffer.length - decoded.tail.offset;
      await truncateFile(fs, file, decoded.tail.offset);
      warnings.push({
        kind: "torn-tail",
        file,
        offset: decoded.tail.offset,
        bytesDropped,
        reason: decoded.tail.reason,
        message: `journal: truncated ${file} at offset ${decoded.tail.offset}, dropping ${bytesDropped} bytes of an incomplete tail (${FAULT_TEXT[decoded.tail.reason]})`,
      });
    } else if (decoded.tail || decoded.midCorruption) {
      const bad = (decoded.midCorruption ?? decoded.tail)!;
      const later = contiguous.slice(i + 1);
      const after = decoded.midCorruption
        ? decoded.midCorruption.nextValidOffset === undefined
          ? "followed by data the scan could not rule out as valid records"
          : `followed by a valid record at offset ${decoded.midCorruption.nextValidOffset}`
        : `followed by ${later.length} later segment(s)`;
      const message = `journal ${dir}: bad record in ${file} at offset ${bad.offset} (${FAULT_TEXT[bad.reason]}) ${after}`;
      if (!repair) {
        throw new JournalCorruptError(`${message}; refusing to open, as truncating would drop records that may have been acknowledged. Open with repair: true to cut the log there`, file, bad.offset);
      }
      const inThisFile = countValidFrames(buffer, bad.offset + 1, decodeOptions);
      const dropped = await dropSegments(fs, dir, later); // later segments first, then the truncate (R6)
      await truncateFile(fs, file, bad.offset);
      warnings.push({
        kind: "repaired",
        file,
        offset: bad.offset,
        bytesDropped: buffer.length - bad.offset + dropped.bytesDropped,
        recordsDropped: inThisFile + dropped.recordsDropped,
        segmentsDropped: dropped.segmentsDropped,
        message: `${message}: repaired by cutting the log there (${inThisFile + dropped.recordsDropped} records dropped)`,
      });
      break;
    } else {
      end = { segment, offset: buffer.length };
    }
  }
  return { snapshot, records, end, warnings };
}

async function readWhole(fs: JournalFs, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    throw fsFailure("reading", file, error);
  }
}

async function truncateFile(fs: JournalFs, file: string, length: number): Promise<void> {
  try {
    const handle = await fs.open(file, "readWrite");
    try {
      await handle.truncate(length);
      await handle.datasync();
    } finally {
      await handle.close().catch(() => undefined);
    }
  } catch (error) {
    throw fsFailure(`truncating (to ${length} bytes)`, file, error);
  }
}

async function unlinkIfPresent(fs: JournalFs, file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw fsFailure("deleting", file, error);
  }
}

/** Deletes `segments`, last first, then syncs the directory; counts what they held. */
async function dropSegments(
  fs: JournalFs,
  dir: string,
  segments: readonly number[],
): Promise<{ bytesDropped: number; recordsDropped: number; segmentsDropped: string[] }> {
  let bytesDropped = 0;
  let recordsDropped = 0;
  for (const segment of segments) {
    const buffer = await fs.readFile(path.join(dir, segmentFileName(segment))).catch(() => undefined);
    if (!buffer) continue;
    bytesDropped += buffer.length;
    recordsDropped += countValidFrames(buffer, 0);
  }
  for (const segment of [...segments].reverse()) await unlinkIfPresent(fs, path.join(dir, segmentFileName(segment)));
  if (segments.length > 0) {
    try {
      await fs.fsyncDir(dir);
    } catch (error) {
      throw fsFailure("syncing the directory", dir, error);
    }
  }
  return { bytesDropped, recordsDropped, segmentsDropped: segments.map(segmentFileName) };
}
