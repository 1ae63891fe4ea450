/**
 * The wire format: each frame is a 4-byte big-endian unsigned payload length followed by
 * that many bytes of one MessagePack value (msgpackr, structured clone off, no records,
 * maps decoded as plain objects, `Uint8Array` as MessagePack `bin`).
 *
 * {@link encodeFrame} refuses a payload over the limit before anything is sent;
 * {@link FrameDecoder} refuses an oversized length prefix as soon as its 4 bytes arrive,
 * before buffering a byte of the payload, so a hostile peer cannot make it allocate more
 * than the limit.
 *
 * @module
 */

import { Packr } from 'msgpackr';
import { requireInteger, requireOptions } from '../core/index.js';
import { FrameMalformedError, FrameTooLargeError, MessageNotEncodableError } from './errors.js';

/** Bytes of the length prefix in front of every frame. */
export const frameHeaderBytes = 4;

/** The largest frame limit accepted anywhere: 1 GiB. */
export const frameBytesMaxLimit = 1_073_741_824;

// One codec for the whole process: without records or structured clone it keeps no state
// between messages, so sharing it is safe.
const packr = new Packr({ structuredClone: false, useRecords: false, moreTypes: false });

/**
 * Encodes `message` as one frame: the 4-byte length, then the MessagePack payload. The
 * result is a fresh buffer the caller owns.
 *
 * @throws {@link MessageNotEncodableError} when msgpackr cannot encode the value.
 * @throws {@link FrameTooLargeError} when the payload is over `frameBytesMax`.
 */
export function encodeFrame(message: unknown, frameBytesMax: number): Uint8Array {
  let payload: Uint8Array;
  try {
    payload = packr.pack(message);
  } catch (error) {
    throw new MessageNotEncodableError(
      `The message cannot be encoded as MessagePack (${errorText(error)}); send plain ` +
        'objects, arrays, strings, numbers, booleans, null, Uint8Array and 64-bit BigInts.',
      { cause: error },
    );
  }
  if (payload.length > frameBytesMax) {
    throw new FrameTooLargeError(payload.length, frameBytesMax);
  }
  // The packer reuses its output buffer between calls; the frame must own its bytes.
  const frame = new Uint8Array(frameHeaderBytes + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, frameHeaderBytes);
  return frame;
}

/**
 * Decodes one MessagePack payload (without its length prefix).
 *
 * @throws {@link FrameMalformedError} when the bytes are not exactly one MessagePack value.
 */
export function decodePayload(payload: Uint8Array): unknown {
  // A plain Uint8Array view (not a Buffer) makes `bin` values decode as Uint8Array copies.
  const view =
    payload.constructor === Uint8Array
      ? payload
      : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.length === 0) {
    throw new FrameMalformedError(
      'A frame has an empty payload, which is no MessagePack value; the peer is not speaking ' +
        'the distkit/net protocol.',
    );
  }
  try {
    return packr.unpack(view);
  } catch (error) {
    throw new FrameMalformedError(
      `A frame of ${view.length} bytes is not one valid MessagePack value ` +
        `(${errorText(error)}); the peer is not speaking the distkit/net protocol.`,
      { cause: error },
    );
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

/** Options for {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes (1 to 1 GiB). */
  readonly frameBytesMax: number;
}

/** What one {@link FrameDecoder.push} produced. */
export interface DecodedChunk {
  /** The messages completed by this chunk, in order. */
  readonly messages: unknown[];
  /**
   * Set when the stream turned out bad. The decoder then stays failed: every later push
   * returns the same error and no message. Messages completed before the bad frame are
   * still in `messages`.
   */
  readonly error: FrameTooLargeError | FrameMalformedError | undefined;
}

/**
 * Turns a byte stream cut into arbitrary chunks back into messages. Memory is bounded by
 * one frame: a length prefix over the limit fails the stream before the payload is
 * buffered, and a payload is buffered only up to its announced length.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ frameBytesMax: 1024 });
 * const frame = encodeFrame({ hello: 'world' }, 1024);
 * decoder.push(frame.subarray(0, 3)); // { messages: [], error: undefined }
 * decoder.push(frame.subarray(3)); // { messages: [{ hello: 'world' }], error: undefined }
 * ```
 */
export class FrameDecoder {
  #frameBytesMax: number;
  readonly #header = new Uint8Array(frameHeaderBytes);
  #headerFilled = 0;
  #body: Uint8Array | undefined;
  #bodyFilled = 0;
  #error: FrameTooLargeError | FrameMalformedError | undefined;

  constructor(options: FrameDecoderOptions) {
    const checked = requireOptions('FrameDecoder options', options);
    this.#frameBytesMax = requireInteger(
      'FrameDecoder options.frameBytesMax',
      checked.frameBytesMax,
      { min: 1, max: frameBytesMaxLimit },
    );
  }

  /** The current payload limit, in bytes. */
  get frameBytesMax(): number {
    return this.#frameBytesMax;
  }

  /**
   * Changes the limit for frames whose length prefix has not been read yet (the transport
   * raises it once a peer has authenticated).
   */
  set frameBytesMax(value: number) {
    this.#frameBytesMax = requireInteger('FrameDecoder.frameBytesMax', value, {
      min: 1,
      max: frameBytesMaxLimit,
    });
  }

  /** The error that failed the stream, if any. */
  get error(): FrameTooLargeError | FrameMalformedError | undefined {
    return this.#error;
  }

  /** Bytes received of the incomplete frame, header included (at most 4 + the limit). */
  get bufferedBytes(): number {
    return this.#body === undefined ? this.#headerFilled : frameHeaderBytes + this.#bodyFilled;
  }

  /** Feeds the next chunk of the stream; returns the messages it completed. */
  push(chunk: Uint8Array): DecodedChunk {
    const messages: unknown[] = [];
    if (this.#error !== undefined) {
      return { messages, error: this.#error };
    }
    const length = chunk.length;
    let offset = 0;
    while (offset < length) {
      if (this.#body === undefined) {
        let payloadBytes: number;
        if (this.#headerFilled === 0 && length - offset >= frameHeaderBytes) {
          payloadBytes =
            (chunk[offset] as number) * 0x1_00_00_00 +
            ((chunk[offset + 1] as number) << 16) +
            (((chunk[offset + 2] as number) << 8) | (chunk[offset + 3] as number));
          offset += frameHeaderBytes;
        } else {
          const take = Math.min(frameHeaderBytes - this.#headerFilled, length - offset);
          this.#header.set(chunk.subarray(offset, offset + take), this.#headerFilled);
          this.#headerFilled += take;
          offset += take;
          if (this.#headerFilled < frameHeaderBytes) {
            break;
          }
          this.#headerFilled = 0;
          const header = this.#header;
          payloadBytes =
            (header[0] as number) * 0x1_00_00_00 +
            ((header[1] as number) << 16) +
            (((header[2] as number) << 8) | (header[3] as number));
        }
        if (payloadBytes > this.#frameBytesMax) {
          this.#error = new FrameTooLargeError(payloadBytes, this.#frameBytesMax);
          return { messages, error: this.#error };
        }
        if (length - offset >= payloadBytes) {
          // The whole payload is in this chunk: decode it in place, no copy.
          if (!this.#decode(chunk.subarray(offset, offset + payloadBytes), messages)) {
            return { messages, error: this.#error };
          }
          offset += payloadBytes;
          continue;
        }
        this.#body = new Uint8Array(payloadBytes);
        this.#bodyFilled = 0;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyFilled, length - offset);
      body.set(chunk.subarray(offset, offset + take), this.#bodyFilled);
      this.#bodyFilled += take;
      offset += take;
      if (this.#bodyFilled === body.length) {
        this.#body = undefined;
        this.#bodyFilled = 0;
        if (!this.#decode(body, messages)) {
          return { messages, error: this.#error };
        }
      }
    }
    return { messages, error: undefined };
  }

  #decode(payload: Uint8Array, messages: unknown[]): boolean {
    try {
      messages.push(decodePayload(payload));
      return true;
    } catch (error) {
      this.#error =
        error instanceof FrameMalformedError
          ? error
          : new FrameMalformedError('A frame could not be decoded.', { cause: error });
      return false;
    }
  }
}
