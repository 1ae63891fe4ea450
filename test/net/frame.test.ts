import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import {
  decodePayload,
  encodeFrame,
  FrameDecoder,
  isFrameMalformedError,
  isFrameTooLargeError,
  isMessageNotEncodableError,
} from '../../src/net/index.js';

const frameBytesMax = 64 * 1024;

/** Messages as the codec carries them: JSON-like values with byte strings. */
const message = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: false }),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((key) => key !== '__proto__'),
      tie('value'),
      { maxKeys: 5, noNullPrototype: true },
    ),
  ),
})).value;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]) {
  const messages: unknown[] = [];
  let error: unknown;
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    messages.push(...result.messages);
    error ??= result.error;
  }
  return { messages, error };
}

function header(payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, payloadBytes);
  return bytes;
}

describe('frame codec', () => {
  it('round-trips messages, Uint8Array as Uint8Array', () => {
    const original = { type: 'append', term: 3, entries: [new Uint8Array([1, 2, 3])], ok: true };
    const decoder = new FrameDecoder({ frameBytesMax });
    const { messages, error } = decoder.push(encodeFrame(original, frameBytesMax));
    assert.equal(error, undefined);
    assert.deepEqual(messages, [original]);
    const entries = (messages[0] as { entries: unknown[] }).entries;
    assert.equal(Object.getPrototypeOf(entries[0]), Uint8Array.prototype);
  });

  it('decodes any stream of valid frames cut at arbitrary points into the originals', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (originals, cuts) => {
          const stream = concat(originals.map((value) => encodeFrame(value, frameBytesMax)));
          const { messages, error } = decodeAll(
            new FrameDecoder({ frameBytesMax }),
            split(stream, cuts),
          );
          assert.equal(error, undefined);
          assert.deepEqual(messages, originals);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes a stream split at every single offset, and byte by byte', () => {
    const originals = [{ a: 1 }, 'two', new Uint8Array([3, 3, 3]), [4, { five: null }]];
    const stream = concat(originals.map((value) => encodeFrame(value, frameBytesMax)));
    for (let offset = 0; offset <= stream.length; offset += 1) {
      const { messages, error } = decodeAll(new FrameDecoder({ frameBytesMax }), [
        stream.subarray(0, offset),
        stream.subarray(offset),
      ]);
      assert.equal(error, undefined);
      assert.deepEqual(messages, originals, `split at ${offset}`);
    }
    const bytes = [...stream].map((byte) => new Uint8Array([byte]));
    assert.deepEqual(decodeAll(new FrameDecoder({ frameBytesMax }), bytes).messages, originals);
  });

  it('decodes a truncated stream to a prefix of the originals and holds the rest', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.nat(), (originals, cut) => {
        const frames = originals.map((value) => encodeFrame(value, frameBytesMax));
        const stream = concat(frames);
        const length = cut % (stream.length + 1);
        const decoder = new FrameDecoder({ frameBytesMax });
        const { messages, error } = decodeAll(decoder, [stream.subarray(0, length)]);
        assert.equal(error, undefined);
        let complete = 0;
        let end = 0;
        for (const frame of frames) {
          if (end + frame.length > length) {
            break;
          }
          end += frame.length;
          complete += 1;
        }
        assert.deepEqual(messages, originals.slice(0, complete));
        assert.equal(decoder.bufferedBytes, length - end);
      }),
      { numRuns: 200 },
    );
  });

  it('turns random bytes into messages or a typed error, never a throw or a hang', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, cuts) => {
          const decoder = new FrameDecoder({ frameBytesMax: 256 });
          const { error } = decodeAll(decoder, split(bytes, cuts));
          if (error !== undefined) {
            assert.ok(isFrameMalformedError(error) || isFrameTooLargeError(error));
            assert.equal(decoder.push(new Uint8Array([0, 0, 0, 1, 0xc0])).error, error);
          }
          assert.ok(decoder.bufferedBytes <= 4 + 256);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('turns a random payload behind a valid length into one message or FrameMalformedError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (payload) => {
        const decoder = new FrameDecoder({ frameBytesMax: 1024 });
        const { messages, error } = decoder.push(concat([header(payload.length), payload]));
        if (error === undefined) {
          assert.equal(messages.length, 1);
        } else {
          assert.ok(isFrameMalformedError(error), String(error));
          assert.equal(messages.length, 0);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses an oversized length prefix before any of its payload arrives', () => {
    const decoder = new FrameDecoder({ frameBytesMax: 100 });
    const first = decoder.push(concat([encodeFrame('ok', 100), header(101).subarray(0, 2)]));
    assert.deepEqual(first.messages, ['ok']);
    assert.equal(first.error, undefined);
    const second = decoder.push(header(101).subarray(2));
    assert.ok(isFrameTooLargeError(second.error));
    assert.equal(second.error.frameBytes, 101);
    assert.equal(decoder.bufferedBytes, 0);
    const huge = new FrameDecoder({ frameBytesMax: 100 }).push(header(0xffff_ffff));
    assert.ok(isFrameTooLargeError(huge.error));
  });

  it('accepts a frame exactly at the limit and refuses one byte more on send', () => {
    const limit = 1_000;
    const fits = new Uint8Array(limit - 3); // bin 16: 3 bytes of header
    const frame = encodeFrame(fits, limit);
    assert.equal(frame.length, 4 + limit);
    assert.deepEqual(new FrameDecoder({ frameBytesMax: limit }).push(frame).messages, [fits]);
    assert.throws(
      () => encodeFrame(new Uint8Array(limit - 2), limit),
      (error) => isFrameTooLargeError(error) && error.frameBytes === limit + 1,
    );
  });

  it('refuses empty payloads, trailing bytes and unencodable messages with typed errors', () => {
    assert.ok(isFrameMalformedError(new FrameDecoder({ frameBytesMax }).push(header(0)).error));
    assert.throws(() => decodePayload(new Uint8Array([0xc0, 0xc0])), isFrameMalformedError);
    assert.throws(() => encodeFrame(2n ** 70n, frameBytesMax), isMessageNotEncodableError);
  });

  it('survives deep nesting without a crash', () => {
    const depth = 100_000;
    const payload = new Uint8Array(depth + 1).fill(0x91); // fixarray of 1, nested
    payload[depth] = 0xc0;
    const { messages, error } = new FrameDecoder({ frameBytesMax: 200_000 }).push(
      concat([header(payload.length), payload]),
    );
    assert.ok(error === undefined ? messages.length === 1 : isFrameMalformedError(error));
  });

  it('validates its options', () => {
    assert.throws(() => new FrameDecoder({ frameBytesMax: 0 }), isInvalidArgumentError);
    assert.throws(() => new FrameDecoder({ frameBytesMax: 2 ** 31 }), isInvalidArgumentError);
    assert.throws(
      () => new FrameDecoder(undefined as unknown as { frameBytesMax: number }),
      isInvalidArgumentError,
    );
  });
});
