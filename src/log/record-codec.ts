/**
 * Record framing for log segments. A frame is
 *
 *   [u32 LE length][u32 LE crc32][u8 type][payload]
 *
 * where `length` = 1 + payload bytes (the type and the payload) and `crc32` covers exactly those
 * bytes. Type 0 is never written, so zero-filled space (a file extended but never written) can
 * not decode as a frame. Payloads are opaque `Buffer`s: how a record encodes its fields is the
 * owner's choice and can change without touching the framing.
 *
 * Decoding tells a bad TAIL (nothing valid after the first bad frame: a torn write, safe to
 * truncate) from a bad frame FOLLOWED by valid ones (corruption in the middle: truncating there
 * would silently drop records that may have been acknowledged, KAFKA-12520). To tell them apart it
 * scans every later byte offset for a frame whose CRC checks out.
 */
import { crc32 } from "./crc32.js";

/** Length (4) + CRC (4) + type (1). */
export const FRAME_HEADER_BYTES = 9;
/** Largest payload a frame may carry; larger lengths are treated as corrupt headers. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024 - 1;
/**
 * How many bytes the corruption scan may CRC before it gives up and reports the damage as
 * mid-log corruption anyway. Random garbage makes some offsets look like long frames; refusing
 * to open (the safe side) bounds the work on a huge garbage tail instead of running for minutes.
 */
export const DEFAULT_SCAN_BUDGET_BYTES = 512 * 1024 * 1024;

export interface LogRecordInput {
  /** 1–255. */
  type: number;
  payload: Uint8Array;
}

export interface DecodedRecord {
  type: number;
  /** A view into the decoded buffer (no copy): it keeps that buffer alive. */
  payload: Buffer;
  /** Where the frame starts in the buffer. */
  offset: number;
}

/** Why a frame is bad: cut short, failing its CRC, or with an impossible length or type. */
export type FrameFault = "torn" | "crc" | "header";

export interface DecodeResult {
  records: DecodedRecord[];
  /** Where the last good frame ends: a writer may continue here after truncating. */
  validBytes: number;
  /** The first bad frame, with no valid frame anywhere after it: a torn or corrupt tail. */
  tail?: { offset: number; reason: FrameFault };
  /**
   * The first bad frame, with a valid frame after it (at `nextValidOffset`; `undefined` when the
   * scan budget ran out before deciding, which is treated the same way).
   */
  midCorruption?: { offset: number; reason: FrameFault; nextValidOffset: number | undefined };
}

export interface DecodeOptions {
  maxPayloadBytes?: number;
  scanBudgetBytes?: number;
}

export function frameBytes(payloadLength: number): number {
  return FRAME_HEADER_BYTES + payloadLength;
}

/** Throws a RangeError for a record that cannot be framed. */
export function checkRecord(type: number, payload: Uint8Array, maxPayloadBytes = MAX_PAYLOAD_BYTES): void {
  if (!Number.isInteger(type) || type < 1 || type > 255) throw new RangeError(`journal record type must be an integer 1–255, got ${type}`);
  if (payload.length > maxPayloadBytes) throw new RangeError(`journal record payload is ${payload.length} bytes, over the ${maxPayloadBytes}-byte limit`);
}

/** Writes one frame into `target` at `offset` (room must be there); returns the offset after it. */
export function writeFrame(target: Buffer, offset: number, type: number, payload: Uint8Array): number {
  const length = payload.length + 1;
  target.writeUInt32LE(length, offset);
  target[offset + 8] = type;
  target.set(payload, offset + 9);
  target.writeUInt32LE(crc32(target, offset + 8, offset + 8 + length), offset + 4);
  return offset + 8 + length;
}

/** Frames a group of records into one buffer (one write). */
export function encodeFrames(records: readonly LogRecordInput[]): Buffer {
  let total = 0;
  for (const record of records) {
    checkRecord(record.type, record.payload);
    total += frameBytes(record.payload.length);
  }
  const buffer = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const record of records) offset = writeFrame(buffer, offset, record.type, record.payload);
  return buffer;
}

/** The frame at `offset`: where it ends, or why it is bad. */
function checkFrame(buffer: Buffer, offset: number, end: number, maxPayloadBytes: number): number | FrameFault {
  if (end - offset < FRAME_HEADER_BYTES) return "torn";
  const length = buffer.readUInt32LE(offset);
  if (length < 1 || length - 1 > maxPayloadBytes || buffer[offset + 8] === 0) return "header";
  const frameEnd = offset + 8 + length;
  if (frameEnd > end) return "torn";
  if (buffer.readUInt32LE(offset + 4) !== crc32(buffer, offset + 8, frameEnd)) return "crc";
  return frameEnd;
}

/**
 * The first offset after `from` where a valid frame starts, `null` if there is none, or
 * `undefined` if the budget ran out first.
 */
function findValidFrame(buffer: Buffer, from: number, end: number, maxPayloadBytes: number, budgetBytes: number): number | null | undefined {
  let budget = budgetBytes;
  for (let offset = from; offset + FRAME_HEADER_BYTES <= end; offset++) {
    // Cheap header checks first: most garbage offsets fail on length or type without a CRC.
    const length = buffer.readUInt32LE(offset);
    if (length < 1 || length - 1 > maxPayloadBytes || offset + 8 + length > end || buffer[offset + 8] === 0) continue;
    budget -= length;
    if (budget < 0) return undefined;
    if (buffer.readUInt32LE(offset + 4) === crc32(buffer, offset + 8, offset + 8 + length)) return offset;
  }
  return null;
}

/** Decodes frames from `start` to the end of `buffer`. Never throws on bad data. */
export function decodeFrames(buffer: Buffer, start = 0, options: DecodeOptions = {}): DecodeResult {
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  const end = buffer.length;
  const records: DecodedRecord[] = [];
  let offset = start;
  while (offset < end) {
    const next = checkFrame(buffer, offset, end, maxPayloadBytes);
    if (typeof next !== "number") {
      const found = findValidFrame(buffer, offset + 1, end, maxPayloadBytes, options.scanBudgetBytes ?? DEFAULT_SCAN_BUDGET_BYTES);
      if (found === null) return { records, validBytes: offset, tail: { offset, reason: next } };
      return { records, validBytes: offset, midCorruption: { offset, reason: next, nextValidOffset: found } };
    }
    records.push({ type: buffer[offset + 8], payload: buffer.subarray(offset + 9, next), offset });
    offset = next;
  }
  return { records, validBytes: offset };
}

/**
 * How many valid frames follow a corruption: decodes from `from`, skipping over further damage.
 * Only for reporting what a repair drops.
 */
export function countValidFrames(buffer: Buffer, from: number, options: DecodeOptions = {}): number {
  let count = 0;
  let offset: number | undefined = from;
  while (offset !== undefined && offset < buffer.length) {
    const result = decodeFrames(buffer, offset, options);
    count += result.records.length;
    offset = result.midCorruption?.nextValidOffset;
  }
  return count;
}
