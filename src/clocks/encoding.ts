/**
 * The clock encodings' error, and the reader of `distkit/core`'s byte format that throws
 * it.
 *
 * @module
 */

import { ByteReader, DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/** An encoded clock or timestamp is malformed: truncated, overlong, or out of range. */
export class ClockEncodingError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('CLOCK_ENCODING', message, options);
  }
}

/** Brand guard for {@link ClockEncodingError}. */
export const isClockEncodingError = errorGuard<ClockEncodingError>('CLOCK_ENCODING');

const failEncoding = (message: string, options?: DistkitErrorOptions): Error =>
  new ClockEncodingError(message, options);

/** A {@link ByteReader} that fails with {@link ClockEncodingError}. */
export class ClockByteReader extends ByteReader {
  constructor(bytes: Uint8Array, what: string) {
    super(bytes, what, failEncoding);
  }
}
