/**
 * The byte format of the text CRDT's encodings: unsigned LEB128 varints, zigzag varints
 * for signed deltas, and strings stored once per encoding as UTF-8 (or UTF-16 when the
 * text holds unpaired surrogates, which UTF-8 cannot carry). The reader fails with
 * {@link CrdtEncodingError} instead of reading past the end or accepting an overlong
 * varint, so a malformed encoding never reaches the document.
 *
 * @module
 */

import { ByteReader, ByteWriter, type DistkitErrorOptions } from '../core/index.js';
import { CrdtEncodingError } from './causal.js';

const surrogatePattern = /[\uD800-\uDFFF]/;

/** True when every surrogate in `value` is part of a pair, so UTF-8 round-trips it. */
export function isWellFormedText(value: string): boolean {
  if (!surrogatePattern.test(value)) {
    return true;
  }
  for (let index = 0; index < value.length; index += 1) {
    const unit = value.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) {
        return false;
      }
      index += 1;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/**
 * Two buffers the writers start in, so that encoding a small update allocates nothing
 * but its result. Encoding is synchronous and never nested beyond two writers at once
 * (a run encoder's body and its envelope), one per slot.
 */
const scratchBuffers = [new Uint8Array(1 << 14), new Uint8Array(1 << 14)] as const;

/** A {@link ByteWriter} that starts in one of the two scratch buffers. */
export class TextByteWriter extends ByteWriter {
  /**
   * @param slot - the scratch buffer to start in; two writers alive at the same time
   *   must use different slots.
   */
  constructor(slot: 0 | 1 = 0) {
    super(scratchBuffers[slot]);
  }
}

const failEncoding = (message: string, options?: DistkitErrorOptions): Error =>
  new CrdtEncodingError(message, options);

/** Reads what {@link TextByteWriter} wrote, failing with {@link CrdtEncodingError}. */
export class TextByteReader extends ByteReader {
  constructor(bytes: Uint8Array, what: string) {
    super(bytes, what, failEncoding);
  }
}
