/**
 * The byte layout of WAL segments, as pure functions over byte arrays so the recovery
 * rules can be tested (and fuzzed) without a disk.
 *
 * Segment header, 24 bytes: magic `DKWALSG1` (8), format version u32 LE (= 1), first
 * index u64 LE, CRC-32C of the previous 20 bytes u32 LE.
 *
 * Record frame, 17 bytes then the payload: CRC-32C u32 LE over everything after it,
 * payload length u32 LE, record type u8, record index u64 LE, payload. The index is
 * inside the checksum so a record that is intact but in the wrong place is caught too.
 *
 * @module
 */

import { crc32cUpdate } from '../core/index.js';
import { WalCorruptionError } from './errors.js';

/** Bytes of a segment header. */
export const segmentHeaderBytes = 24;
/** Bytes of a record frame before its payload. */
export const frameHeaderBytes = 17;
/** Format version written in every segment header. */
export const segmentFormatVersion = 1;

const magic = new TextEncoder().encode('DKWALSG1');
const twoPower32 = 0x1_0000_0000;
const highWordLimit = 0x20_0000; // 2^53 / 2^32: above it an index is not a safe integer

function writeIndex(view: DataView, offset: number, index: number): void {
  view.setUint32(offset, index % twoPower32, true);
  view.setUint32(offset + 4, Math.floor(index / twoPower32), true);
}

/** Reads a u64 LE index, or -1 when it is not a safe integer. */
function readIndex(bytes: Uint8Array, offset: number): number {
  const low =
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0;
  const high =
    ((bytes[offset + 4] as number) |
      ((bytes[offset + 5] as number) << 8) |
      ((bytes[offset + 6] as number) << 16) |
      ((bytes[offset + 7] as number) << 24)) >>>
    0;
  return high >= highWordLimit ? -1 : high * twoPower32 + low;
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  );
}

/** The 24-byte header of a segment whose first record has index `firstIndex`. */
export function encodeSegmentHeader(firstIndex: number): Uint8Array {
  const header = new Uint8Array(segmentHeaderBytes);
  const view = new DataView(header.buffer);
  header.set(magic, 0);
  view.setUint32(8, segmentFormatVersion, true);
  writeIndex(view, 12, firstIndex);
  view.setUint32(20, crc32cUpdate(0, header, 0, 20), true);
  return header;
}

/** The first index a valid segment header names, or -1 when the header is not valid. */
export function decodeSegmentHeader(bytes: Uint8Array): number {
  if (bytes.length < segmentHeaderBytes) {
    return -1;
  }
  for (let position = 0; position < magic.length; position += 1) {
    if (bytes[position] !== magic[position]) {
      return -1;
    }
  }
  if (readUint32(bytes, 8) !== segmentFormatVersion) {
    return -1;
  }
  if (readUint32(bytes, 20) !== crc32cUpdate(0, bytes, 0, 20)) {
    return -1;
  }
  return readIndex(bytes, 12);
}

/** Writes one record frame into `target` at `offset`; returns the offset after it. */
export function encodeFrameInto(
  target: Uint8Array,
  offset: number,
  index: number,
  type: number,
  payload: Uint8Array,
): number {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset + 4, payload.length, true);
  target[offset + 8] = type;
  writeIndex(view, offset + 9, index);
  target.set(payload, offset + frameHeaderBytes);
  const end = offset + frameHeaderBytes + payload.length;
  view.setUint32(offset, crc32cUpdate(0, target, offset + 4, end), true);
  return end;
}

/** What {@link checkFrame} found at an offset. */
export type FrameCheck =
  | { readonly kind: 'valid'; readonly endOffset: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'checksum' }
  | { readonly kind: 'sequence'; readonly index: number };

/**
 * Checks the frame at `offset`: complete within `endOffset`, checksum right, index equal
 * to `expectedIndex`.
 */
export function checkFrame(
  bytes: Uint8Array,
  offset: number,
  endOffset: number,
  expectedIndex: number,
): FrameCheck {
  if (endOffset - offset < frameHeaderBytes) {
    return { kind: 'incomplete' };
  }
  const length = readUint32(bytes, offset + 4);
  if (length > endOffset - offset - frameHeaderBytes) {
    return { kind: 'incomplete' };
  }
  const frameEnd = offset + frameHeaderBytes + length;
  if (readUint32(bytes, offset) !== crc32cUpdate(0, bytes, offset + 4, frameEnd)) {
    return { kind: 'checksum' };
  }
  const index = readIndex(bytes, offset + 9);
  if (index !== expectedIndex) {
    return { kind: 'sequence', index };
  }
  return { kind: 'valid', endOffset: frameEnd };
}

/** Decodes the frame at `offset`, which {@link checkFrame} found valid. */
export function decodeFrame(
  bytes: Uint8Array,
  offset: number,
): { readonly index: number; readonly type: number; readonly payload: Uint8Array } {
  const length = readUint32(bytes, offset + 4);
  const start = offset + frameHeaderBytes;
  return {
    index: readIndex(bytes, offset + 9),
    type: bytes[offset + 8] as number,
    payload: bytes.slice(start, start + length),
  };
}

/**
 * Looks for any intact frame that starts after `fromOffset` and carries an index above
 * `indexAfter`: evidence that a damaged record is followed by good data, so the damage
 * is not a torn tail. The index window is checked before the checksum, so random bytes
 * and zeros cost a few comparisons per offset and the scan stays linear.
 */
export function findLaterFrame(bytes: Uint8Array, fromOffset: number, indexAfter: number): number {
  const end = bytes.length;
  const indexMax = indexAfter + Math.floor((end - fromOffset) / frameHeaderBytes) + 1;
  for (let offset = fromOffset; offset + frameHeaderBytes <= end; offset += 1) {
    const index = readIndex(bytes, offset + 9);
    if (index <= indexAfter || index > indexMax) {
      continue;
    }
    const length = readUint32(bytes, offset + 4);
    if (length > end - offset - frameHeaderBytes) {
      continue;
    }
    const frameEnd = offset + frameHeaderBytes + length;
    if (readUint32(bytes, offset) === crc32cUpdate(0, bytes, offset + 4, frameEnd)) {
      return offset;
    }
  }
  return -1;
}

/** The outcome of {@link scanSegment}: where each intact record starts, and any torn tail. */
export interface SegmentScan {
  /** Index of the segment's first record (from its name). */
  readonly firstIndex: number;
  /** Byte offset of each intact record, in index order. */
  readonly offsets: number[];
  /** Offset just past the last intact record: where the next append goes. */
  readonly endOffset: number;
  /** False when the header itself was torn (only possible in the last segment). */
  readonly headerValid: boolean;
  /** Set when the last segment ended in a torn tail that recovery must cut off. */
  readonly tornTail?: { readonly offsetBytes: number; readonly reason: string };
}

/** Where a segment sits, for {@link scanSegment}. */
export interface ScanSegmentOptions {
  /** Shown in errors. */
  readonly path: string;
  /** The first index the file name promises. */
  readonly firstIndex: number;
  /** True for the newest segment, the only one allowed a torn tail. */
  readonly isLast: boolean;
}

/**
 * Validates one segment's bytes. A damaged tail of the last segment with no intact frame
 * after it is a torn write and is reported in `tornTail`; every other damage throws
 * {@link WalCorruptionError}. Never returns a record whose checksum or index is wrong.
 */
export function scanSegment(bytes: Uint8Array, options: ScanSegmentOptions): SegmentScan {
  const { path, firstIndex, isLast } = options;
  const headerIndex = decodeSegmentHeader(bytes);
  if (headerIndex !== firstIndex) {
    const reason =
      headerIndex === -1
        ? 'invalid segment header'
        : `segment header names index ${headerIndex}, the file name ${firstIndex}`;
    if (
      isLast &&
      headerIndex === -1 &&
      findLaterFrame(bytes, Math.min(bytes.length, segmentHeaderBytes), firstIndex - 1) === -1
    ) {
      return {
        firstIndex,
        offsets: [],
        endOffset: 0,
        headerValid: false,
        tornTail: { offsetBytes: 0, reason },
      };
    }
    throw new WalCorruptionError(path, 0, reason);
  }
  const offsets: number[] = [];
  let offset = segmentHeaderBytes;
  let index = firstIndex;
  const end = bytes.length;
  while (offset < end) {
    const check = checkFrame(bytes, offset, end, index);
    if (check.kind === 'valid') {
      offsets.push(offset);
      offset = check.endOffset;
      index += 1;
      continue;
    }
    const reason =
      check.kind === 'incomplete'
        ? 'incomplete record'
        : check.kind === 'checksum'
          ? 'record checksum mismatch'
          : `record index ${check.index} where ${index} was expected`;
    if (
      check.kind !== 'sequence' &&
      isLast &&
      findLaterFrame(bytes, offset + 1, index - 1) === -1
    ) {
      return {
        firstIndex,
        offsets,
        endOffset: offset,
        headerValid: true,
        tornTail: { offsetBytes: offset, reason },
      };
    }
    throw new WalCorruptionError(
      path,
      offset,
      check.kind === 'sequence' || isLast ? reason : `${reason} before the last segment`,
    );
  }
  return { firstIndex, offsets, endOffset: offset, headerValid: true };
}
