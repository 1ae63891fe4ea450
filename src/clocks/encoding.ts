/**
 * The byte format shared by the clock encodings: unsigned LEB128 varints and
 * length-prefixed UTF-8 strings, read by a cursor that fails with
 * {@link ClockEncodingError} instead of reading past the end.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/** An encoded clock or timestamp is malformed: truncated, overlong, or out of range. */
export class ClockEncodingError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('CLOCK_ENCODING', message, options);
  }
}

/** Brand guard for {@link ClockEncodingError}. */
export const isClockEncodingError = errorGuard<ClockEncodingError>('CLOCK_ENCODING');

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Appends bytes to a growing buffer. */
export class ByteWriter {
  #bytes = new Uint8Array(64);
  #length = 0;

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

  /** Writes a non-negative safe integer as an unsigned LEB128 varint. */
  varint(value: number): void {
    this.#reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.#bytes[this.#length] = (rest % 0x80) | 0x80;
      this.#length += 1;
      rest = Math.floor(rest / 0x80);
    }
    this.#bytes[this.#length] = rest;
    this.#length += 1;
  }

  /** Writes a string as its UTF-8 byte length (varint) and bytes. */
  string(value: string): void {
    const encoded = textEncoder.encode(value);
    this.varint(encoded.length);
    this.#reserve(encoded.length);
    this.#bytes.set(encoded, this.#length);
    this.#length += encoded.length;
  }

  /** Writes a byte string as its length (varint) and bytes. */
  byteString(value: Uint8Array): void {
    this.varint(value.length);
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
  }

  /** The bytes written. */
  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }
}

/** Reads what {@link ByteWriter} wrote, failing with {@link ClockEncodingError}. */
export class ByteReader {
  #offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    if (!(bytes instanceof Uint8Array)) {
      throw new ClockEncodingError(`${what}: expected a Uint8Array; got ${typeof bytes}.`);
    }
  }

  /** Reads an unsigned varint no larger than `Number.MAX_SAFE_INTEGER`. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let count = 0; count < 8; count += 1) {
      if (this.#offset >= this.bytes.length) {
        throw new ClockEncodingError(`${this.what}: truncated varint at byte ${this.#offset}.`);
      }
      const byte = this.bytes[this.#offset] as number;
      this.#offset += 1;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value) || (count > 0 && byte === 0)) {
          throw new ClockEncodingError(
            `${this.what}: varint ending at byte ${this.#offset - 1} is overlong or beyond 2^53.`,
          );
        }
        return value;
      }
      scale *= 0x80;
    }
    throw new ClockEncodingError(`${this.what}: varint at byte ${this.#offset} is too long.`);
  }

  /** Reads a length-prefixed byte string (a copy). */
  byteString(): Uint8Array {
    return this.#slice('byte string').slice();
  }

  /** Reads a length-prefixed UTF-8 string. */
  string(): string {
    const slice = this.#slice('string');
    try {
      return textDecoder.decode(slice);
    } catch (error) {
      throw new ClockEncodingError(`${this.what}: a string is not valid UTF-8.`, { cause: error });
    }
  }

  #slice(what: string): Uint8Array {
    const length = this.varint();
    if (this.#offset + length > this.bytes.length) {
      throw new ClockEncodingError(
        `${this.what}: ${what} of ${length} bytes at byte ${this.#offset} runs past the end.`,
      );
    }
    const slice = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }

  /** Fails unless every byte was read. */
  end(): void {
    if (this.#offset !== this.bytes.length) {
      throw new ClockEncodingError(
        `${this.what}: ${this.bytes.length - this.#offset} unexpected bytes after the end.`,
      );
    }
  }
}
