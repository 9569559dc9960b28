/**
 * What lives in a data directory and how it is named. Names sort in log order as plain strings
 * (fixed-width numbers), so a directory listing is enough to find segments and snapshots.
 *
 *   seg-000000000001.log                      log segment 1 (records, CRC-framed)
 *   snap-000000000003-0000000000000000.snap   snapshot covering the log up to segment 3, offset 0
 *   snap-….snap.tmp                           a snapshot being written (removed on recovery)
 *   LOCK                                      the pid of the process that has the directory open
 */
import path from "node:path";

/** A place in the log: a byte offset within a segment. A snapshot covers everything before its position. */
export interface LogPosition {
  readonly segment: number;
  readonly offset: number;
}

/** Where an empty log starts. */
export const LOG_START: LogPosition = Object.freeze({ segment: 1, offset: 0 });

export const LOCK_FILE = "LOCK";
export const TEMP_SUFFIX = ".tmp";

const SEGMENT_NAME = /^seg-(\d{12})\.log$/;
const SNAPSHOT_NAME = /^snap-(\d{12})-(\d{16})\.snap$/;

export function segmentFileName(segment: number): string {
  return `seg-${String(segment).padStart(12, "0")}.log`;
}

export function segmentPath(dir: string, segment: number): string {
  return path.join(dir, segmentFileName(segment));
}

export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function snapshotFileName(position: LogPosition): string {
  return `snap-${String(position.segment).padStart(12, "0")}-${String(position.offset).padStart(16, "0")}.snap`;
}

export function parseSnapshotFileName(name: string): LogPosition | undefined {
  const match = SNAPSHOT_NAME.exec(name);
  return match ? { segment: Number(match[1]), offset: Number(match[2]) } : undefined;
}

export function isSnapshotTempFile(name: string): boolean {
  return name.startsWith("snap-") && name.endsWith(TEMP_SUFFIX);
}

export function comparePositions(a: LogPosition, b: LogPosition): number {
  return a.segment - b.segment || a.offset - b.offset;
}

export function formatPosition(position: LogPosition): string {
  return `${segmentFileName(position.segment)}@${position.offset}`;
}

/** Segment numbers found in a directory listing, ascending. */
export function segmentsIn(names: readonly string[]): number[] {
  const segments: number[] = [];
  for (const name of names) {
    const segment = parseSegmentFileName(name);
    if (segment !== undefined) segments.push(segment);
  }
  return segments.sort((a, b) => a - b);
}
