/**
 * The compact byte format distkit's encodings share: unsigned LEB128 varints, zigzag
 * varints for signed numbers, length-prefixed UTF-8 strings and byte strings, and UTF-16
 * text for strings UTF-8 cannot carry (unpaired surrogates). The reader never reads past
 * the end and refuses overlong varints, failing with the error its owner chooses, so a
 * malformed encoding never turns into a half-built value.
 *
 * @module
 */

import { type DistkitErrorOptions, InvalidArgumentError } from './errors.js';

const textEncoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Appends bytes to a buffer that grows by doubling. */
export class ByteWriter {
  #bytes: Uint8Array;
  #length = 0;

  /**
   * @param initial - the buffer to start in (a reused scratch buffer saves allocating one
   *   per encoding; two writers alive at once must not share one). Default: 64 new bytes.
   */
  constructor(initial: Uint8Array = new Uint8Array(64)) {
    if (!(initial instanceof Uint8Array) || initial.length === 0) {
      throw new InvalidArgumentError(
        'ByteWriter initial',
        'ByteWriter initial must be a non-empty Uint8Array.',
      );
    }
    this.#bytes = initial;
  }

  /** How many bytes have been written. */
  get length(): number {
    return this.#length;
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

  /** Writes one byte (0 to 255). */
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

  /** Writes a string as its UTF-8 byte length and bytes. */
  string(value: string): void {
    this.byteString(textEncoder.encode(value));
  }

  /**
   * Writes a string of any size: as {@link ByteWriter.string} does, or, when `utf16`, as
   * its UTF-16LE byte length and bytes (for text with unpaired surrogates, which UTF-8
   * would change). The reader must be told which.
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

  /** Writes a byte string as its length (varint) and bytes. */
  byteString(value: Uint8Array): void {
    this.varint(value.length);
    this.bytes(value);
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

/** Builds the error a {@link ByteReader} throws for malformed input. */
export type ByteReaderFailure = (message: string, options?: DistkitErrorOptions) => Error;

/** Reads what a {@link ByteWriter} wrote, failing through its owner's error. */
export class ByteReader {
  #offset = 0;
  readonly #bytes: Uint8Array;
  readonly #fail: ByteReaderFailure;

  /**
   * @param bytes - the input.
   * @param what - what the input is, to start every error message with.
   * @param fail - builds the error to throw; the encoding's own typed error.
   */
  constructor(
    bytes: Uint8Array,
    readonly what: string,
    fail: ByteReaderFailure,
  ) {
    this.#fail = fail;
    if (!(bytes instanceof Uint8Array)) {
      throw fail(`${what}: expected a Uint8Array; got ${typeof bytes}.`);
    }
    this.#bytes = bytes;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw this.#fail(
        `${this.what}: ${this.#bytes.length - this.#offset} unexpected bytes after the end.`,
      );
    }
  }

  /** Reads one byte. */
  byte(): number {
    if (this.#offset >= this.#bytes.length) {
      throw this.#fail(`${this.what}: truncated at byte ${this.#offset}.`);
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
        throw this.#fail(`${this.what}: truncated varint at byte ${offset}.`);
      }
      const byte = bytes[offset] as number;
      offset += 1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value) || (count > 0 && byte === 0)) {
          throw this.#fail(
            `${this.what}: varint ending at byte ${offset - 1} is overlong or beyond 2^53.`,
          );
        }
        this.#offset = offset;
        return value;
      }
      scale *= 0x80;
    }
    throw this.#fail(`${this.what}: varint at byte ${offset} is too long.`);
  }

  /** Reads an unsigned varint and checks it is at most `max`; `name` says what it counts. */
  varintAtMost(max: number, name: string): number {
    const value = this.varint();
    if (value > max) {
      throw this.#fail(`${this.what}: ${name} ${value} is above its limit ${max}.`);
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
      throw this.#fail(`${this.what}: a string is not valid UTF-8.`, { cause: error });
    }
  }

  /** Reads what {@link ByteWriter.text} wrote with the same `utf16`. */
  text(utf16: boolean): string {
    if (!utf16) {
      return this.string();
    }
    const slice = this.#slice('text');
    if (slice.length % 2 !== 0) {
      throw this.#fail(`${this.what}: UTF-16 text of an odd number of bytes.`);
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

  /** Reads a length-prefixed byte string (a copy). */
  byteString(): Uint8Array {
    return this.#slice('byte string').slice();
  }

  #slice(name: string): Uint8Array {
    const length = this.varint();
    if (length > this.#bytes.length - this.#offset) {
      throw this.#fail(
        `${this.what}: ${name} of ${length} bytes at byte ${this.#offset} runs past the end.`,
      );
    }
    const slice = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }
}
