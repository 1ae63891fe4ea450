/**
 * Checksummed records on a {@link SimDisk} file: how storage code tells a clean log from
 * one whose tail a crash tore or whose bytes a read corrupted. Each record is framed as
 * `[length: u32 LE][crc32c of payload: u32 LE][payload]`.
 *
 * @module
 */

import { crc32c, InvalidArgumentError } from '../core/index.js';
import type { SimDisk } from './disk.js';

const frameHeaderBytes = 8;

/** The largest payload one record may carry (16 MiB): a length above it is damage. */
export const recordPayloadBytesMax = 16 * 1024 * 1024;

/** Frames `payload` as one record: length, checksum, bytes. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  if (!(payload instanceof Uint8Array)) {
    throw new InvalidArgumentError(
      'encodeRecord payload',
      `encodeRecord payload must be a Uint8Array; got ${typeof payload}.`,
    );
  }
  if (payload.length > recordPayloadBytesMax) {
    throw new InvalidArgumentError(
      'encodeRecord payload',
      `encodeRecord payload is ${payload.length} bytes; a record carries at most ${recordPayloadBytesMax}.`,
    );
  }
  const frame = new Uint8Array(frameHeaderBytes + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(payload), true);
  frame.set(payload, frameHeaderBytes);
  return frame;
}

/** Appends one framed record to `file` (not synced: call `disk.sync(file)` to make it durable). */
export function appendRecord(disk: SimDisk, file: string, payload: Uint8Array): void {
  disk.append(file, encodeRecord(payload));
}

/**
 * How a record file ends:
 * - `'clean'`: every byte belongs to a whole, valid record;
 * - `'torn'`: the last record is cut short (a crash tore an unsynced append);
 * - `'corrupt'`: a whole record fails its checksum or has an impossible length (bit rot,
 *   a corrupted read), so nothing from there on can be trusted.
 */
export type RecordLogEnd = 'clean' | 'torn' | 'corrupt';

/** What {@link decodeRecords} found. */
export interface DecodedRecords {
  /** The valid records, in order, up to the first damage. */
  readonly records: Uint8Array[];
  /** Bytes covered by the valid records: truncate the file here to drop the damage. */
  readonly validBytes: number;
  /** How the file ends. */
  readonly end: RecordLogEnd;
}

/** Reads framed records from `bytes`, stopping at the first torn or corrupt one. */
export function decodeRecords(bytes: Uint8Array): DecodedRecords {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < frameHeaderBytes) {
      return { records, validBytes: offset, end: 'torn' };
    }
    const length = view.getUint32(offset, true);
    const checksum = view.getUint32(offset + 4, true);
    if (length > recordPayloadBytesMax) {
      return { records, validBytes: offset, end: 'corrupt' };
    }
    const start = offset + frameHeaderBytes;
    if (start + length > bytes.length) {
      return { records, validBytes: offset, end: 'torn' };
    }
    const payload = bytes.slice(start, start + length);
    if (crc32c(payload) !== checksum) {
      return { records, validBytes: offset, end: 'corrupt' };
    }
    records.push(payload);
    offset = start + length;
  }
  return { records, validBytes: offset, end: 'clean' };
}

/** Reads and decodes every record of `file`; see {@link decodeRecords}. */
export function readRecords(disk: SimDisk, file: string): DecodedRecords {
  return decodeRecords(disk.read(file));
}
