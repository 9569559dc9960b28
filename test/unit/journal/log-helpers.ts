/** Shared set-up for the journal's unit tests (not a test file itself). */
import { readLog } from "../../../src/log/recovery.js";
import { SegmentLog, type SegmentLogOptions } from "../../../src/log/segment-log.js";
import type { JournalFs } from "../../../src/log/journal-fs.js";

export const DIR = "/data";

export function text(i: number | string): Buffer {
  return Buffer.from(`record-${i}`);
}

/** Opens a log the way its owner will: readLog, then SegmentLog.open at the end it found. */
export async function openLog(fs: JournalFs, options: Partial<SegmentLogOptions> = {}, dir = DIR): Promise<SegmentLog> {
  await fs.mkdir(dir);
  const { end } = await readLog(fs, dir);
  return SegmentLog.open({ fs, dir, end, ...options });
}

/** The payloads readLog finds, as strings. */
export async function payloadsOn(fs: JournalFs, dir = DIR): Promise<string[]> {
  return (await readLog(fs, dir)).records.map((record) => record.payload.toString());
}

/** Settles after every setImmediate queued so far has run (a loop turn, not a sleep). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
