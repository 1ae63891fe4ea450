/**
 * The byte format of the text CRDT's encodings: unsigned LEB128 varints, zigzag varints
 * for signed deltas, and strings stored once per encoding as UTF-8 (or UTF-16 when the
 * text holds unpaired surrogates, which UTF-8 cannot carry). The reader fails with
 * {@link CrdtEncodingError} instead of reading past the end or accepting an overlong
 * varint, so a malformed encoding never reaches the document.
 *
 * @module
 */

import { CrdtEncodingError } from './causal.js';

const textEncoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
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

/** Appends bytes to a growing buffer. */
export class TextByteWriter {
  #bytes: Uint8Array;
  #length = 0;

  /**
   * @param slot - the scratch buffer to start in; two writers alive at the same time
   *   must use different slots.
   */
  constructor(slot: 0 | 1 = 0) {
    this.#bytes = scratchBuffers[slot];
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#bytes.length) {
      return;
    }
    let capacity = this.#bytes.length * 2;
    while (capacity < this.#length + count) {
      capacity *= 2;
    }
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }

  /** Writes one byte. */
  byte(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length] = value;
    this.#length += 1;
  }

  /** Writes a non-negative safe integer as an unsigned LEB128 varint. */
  varint(value: number): void {
    this.#reserve(8);
    const bytes = this.#bytes;
    let length = this.#length;
    let rest = value;
    while (rest >= 0x80) {
      bytes[length] = (rest % 0x80) | 0x80;
      length += 1;
      rest = Math.floor(rest / 0x80);
    }
    bytes[length] = rest;
    this.#length = length + 1;
  }

  /** Writes a signed safe integer as a zigzag varint (small magnitudes, few bytes). */
  signedVarint(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** Writes a short string (a replica id) as its UTF-8 byte length and bytes. */
  string(value: string): void {
    const encoded = textEncoder.encode(value);
    this.varint(encoded.length);
    this.#reserve(encoded.length);
    this.#bytes.set(encoded, this.#length);
    this.#length += encoded.length;
  }

  /**
   * Writes a string of any size as its byte length and bytes: UTF-8, or UTF-16LE when
   * `utf16` (for text that is not {@link isWellFormedText}, which UTF-8 would change).
   * The caller records which, for {@link TextByteReader.text}.
   */
  text(value: string, utf16: boolean): void {
    if (!utf16) {
      this.string(value);
      return;
    }
    this.varint(value.length * 2);
    this.#reserve(value.length * 2);
    for (let index = 0; index < value.length; index += 1) {
      const unit = value.charCodeAt(index);
      this.#bytes[this.#length] = unit & 0xff;
      this.#bytes[this.#length + 1] = unit >>> 8;
      this.#length += 2;
    }
  }

  /** Appends `value` as it is, without a length. */
  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  /** The bytes written, as a copy of exactly that length. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/** Reads what {@link TextByteWriter} wrote, failing with {@link CrdtEncodingError}. */
export class TextByteReader {
  #offset = 0;
  readonly #bytes: Uint8Array;

  constructor(
    bytes: Uint8Array,
    readonly what: string,
  ) {
    this.#bytes = bytes;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new CrdtEncodingError(
        `${this.what}: ${this.#bytes.length - this.#offset} unexpected bytes after the end.`,
      );
    }
  }

  /** Reads one byte. */
  byte(): number {
    if (this.#offset >= this.#bytes.length) {
      throw new CrdtEncodingError(`${this.what}: truncated at byte ${this.#offset}.`);
    }
    const value = this.#bytes[this.#offset] as number;
    this.#offset += 1;
    return value;
  }

  /** Reads an unsigned varint no larger than `Number.MAX_SAFE_INTEGER`. */
  varint(): number {
    const bytes = this.#bytes;
    let offset = this.#offset;
    if (offset < bytes.length) {
      const first = bytes[offset] as number;
      if (first < 0x80) {
        this.#offset = offset + 1;
        return first;
      }
    }
    let value = 0;
    let scale = 1;
    for (let count = 0; count < 8; count += 1) {
      if (offset >= bytes.length) {
        throw new CrdtEncodingError(`${this.what}: truncated varint at byte ${offset}.`);
      }
      const byte = bytes[offset] as number;
      offset += 1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value) || (count > 0 && byte === 0)) {
          throw new CrdtEncodingError(
            `${this.what}: varint ending at byte ${offset - 1} is overlong or beyond 2^53.`,
          );
        }
        this.#offset = offset;
        return value;
      }
      scale *= 0x80;
    }
    throw new CrdtEncodingError(`${this.what}: varint at byte ${offset} is too long.`);
  }

  /** Reads an unsigned varint and checks it is at most `max`. */
  varintAtMost(max: number, what: string): number {
    const value = this.varint();
    if (value > max) {
      throw new CrdtEncodingError(`${this.what}: ${what} ${value} is above its limit ${max}.`);
    }
    return value;
  }

  /** Reads a zigzag varint. */
  signedVarint(): number {
    const value = this.varint();
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** Reads a length-prefixed UTF-8 string. */
  string(): string {
    const slice = this.#slice('string');
    try {
      return utf8Decoder.decode(slice);
    } catch (error) {
      throw new CrdtEncodingError(`${this.what}: a string is not valid UTF-8.`, { cause: error });
    }
  }

  /** Reads what {@link TextByteWriter.text} wrote with the same `utf16`. */
  text(utf16: boolean): string {
    if (!utf16) {
      return this.string();
    }
    const slice = this.#slice('text');
    if (slice.length % 2 !== 0) {
      throw new CrdtEncodingError(`${this.what}: UTF-16 text of an odd number of bytes.`);
    }
    // Not TextDecoder: it would replace unpaired surrogates, which this format keeps.
    const parts: string[] = [];
    const chunkLength = 4096;
    const units = new Array<number>(chunkLength);
    for (let start = 0; start < slice.length; start += chunkLength * 2) {
      const end = Math.min(slice.length, start + chunkLength * 2);
      units.length = (end - start) / 2;
      for (let index = start; index < end; index += 2) {
        units[(index - start) / 2] = (slice[index] as number) | ((slice[index + 1] as number) << 8);
      }
      parts.push(String.fromCharCode(...units));
    }
    return parts.join('');
  }

  #slice(what: string): Uint8Array {
    const length = this.varint();
    if (length > this.#bytes.length - this.#offset) {
      throw new CrdtEncodingError(
        `${this.what}: ${what} of ${length} bytes at byte ${this.#offset} runs past the end.`,
      );
    }
    const slice = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }
}
