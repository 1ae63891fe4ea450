import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import { hashKey, keyLengthMax, murmur3, xxHash32 } from '../../src/partition/index.js';

const encoder = new TextEncoder();

/**
 * The sanity buffer of the xxHash reference test program (xxhsum's BMK_sanityCheck):
 * byte i is the top byte of PRIME32 × PRIME64^i (mod 2^64).
 */
function xxHashSanityBuffer(length: number): Uint8Array {
  const prime64 = 11_400_714_785_074_694_797n;
  const buffer = new Uint8Array(length);
  let generator = 2_654_435_761n;
  for (let index = 0; index < length; index += 1) {
    buffer[index] = Number(generator >> 56n);
    generator = (generator * prime64) & 0xffff_ffff_ffff_ffffn;
  }
  return buffer;
}

describe('murmur3 (x86, 32-bit)', () => {
  it('matches the reference test vectors', () => {
    // SMHasher's published MurmurHash3_x86_32 vectors.
    const vectors: [string | Uint8Array, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e_28b7],
      ['', 0xffff_ffff, 0x81f1_6f39],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 0x7629_3b50],
      [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b_516b],
      [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082_edee, 0x2362_f9de],
      [new Uint8Array([0x21, 0x43, 0x65]), 0, 0x7e4a_8634],
      [new Uint8Array([0x21, 0x43]), 0, 0xa0f7_b07a],
      [new Uint8Array([0x21]), 0, 0x7266_1cf4],
      [new Uint8Array([0, 0, 0, 0]), 0, 0x2362_f9de],
      [new Uint8Array([0, 0, 0]), 0, 0x85f0_b427],
      [new Uint8Array([0, 0]), 0, 0x30f4_c306],
      [new Uint8Array([0]), 0, 0x514e_28b7],
      ['aaaa', 0x9747_b28c, 0x5a97_808a],
      ['aaa', 0x9747_b28c, 0x283e_0130],
      ['aa', 0x9747_b28c, 0x5d21_1726],
      ['a', 0x9747_b28c, 0x7fa0_9ea6],
      ['abcd', 0x9747_b28c, 0xf047_8627],
      ['abc', 0x9747_b28c, 0xc84a_62dd],
      ['ab', 0x9747_b28c, 0x7487_5592],
      ['Hello, world!', 0x9747_b28c, 0x2488_4cba],
      ['ππππππππ', 0x9747_b28c, 0xd580_63c1],
      ['The quick brown fox jumps over the lazy dog', 0x9747_b28c, 0x2fa8_26cd],
    ];
    for (const [input, seed, expected] of vectors) {
      assert.equal(murmur3(input, seed), expected, `${String(input)} seed ${seed}`);
    }
  });

  it('hashes a string exactly as its UTF-8 bytes, including astral characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat(), (text, seed) => {
        const bytes = encoder.encode(text);
        assert.equal(murmur3(text, seed >>> 0), murmur3(bytes, seed >>> 0));
        assert.equal(xxHash32(text, seed >>> 0), xxHash32(bytes, seed >>> 0));
      }),
    );
  });

  it('hashKey is murmur3 with seed 0', () => {
    assert.equal(hashKey('user:42'), murmur3('user:42'));
    assert.equal(hashKey(''), 0);
  });
});

describe('xxHash32', () => {
  it("matches the reference program's sanity vectors", () => {
    const buffer = xxHashSanityBuffer(222);
    const prime = 2_654_435_761;
    const vectors: [number, number, number][] = [
      [0, 0, 0x02cc_5d05],
      [0, prime, 0x36b7_8ae7],
      [1, 0, 0xcf65_b03e],
      [1, prime, 0xb454_5aa4],
      [14, 0, 0x1208_e7e2],
      [14, prime, 0x6af1_d1fe],
      [222, 0, 0x5bd1_1dbd],
      [222, prime, 0x5880_3c5f],
    ];
    for (const [length, seed, expected] of vectors) {
      assert.equal(
        xxHash32(buffer.subarray(0, length), seed),
        expected,
        `${length} bytes, seed ${seed}`,
      );
    }
  });

  it('matches the published string vectors', () => {
    assert.equal(xxHash32(''), 0x02cc_5d05);
    assert.equal(xxHash32('a'), 0x550d_7456);
    assert.equal(xxHash32('abc'), 0x32d1_53ff);
    assert.equal(xxHash32('Nobody inspects the spammish repetition'), 0xe229_3b2f);
  });
});

describe('malformed keys', () => {
  it('rejects non-strings, lone surrogates and over-long keys with InvalidArgumentError', () => {
    const bad: unknown[] = [
      undefined,
      null,
      42,
      {},
      '\ud800',
      'a\udc00b',
      'x\ud83d',
      'x'.repeat(keyLengthMax + 1),
    ];
    for (const key of bad) {
      assert.throws(
        () => hashKey(key as string),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === 'key',
      );
      assert.throws(() => murmur3(key as string), isInvalidArgumentError);
    }
    assert.equal(typeof hashKey('x'.repeat(keyLengthMax)), 'number');
  });

  it('rejects seeds that are not unsigned 32-bit integers', () => {
    for (const seed of [-1, 0.5, 2 ** 32, Number.NaN]) {
      assert.throws(() => murmur3('a', seed), isInvalidArgumentError);
      assert.throws(() => xxHash32('a', seed), isInvalidArgumentError);
    }
  });
});

describe('hashKey fast path for ASCII keys', () => {
  it('equals murmur3 of the UTF-8 bytes for ASCII, Latin-1, BMP and astral keys of every length', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            'a',
            'Z',
            '~',
            '\u0000',
            '\u007f',
            '\u0080',
            'é',
            '\u0100',
            '\u0101',
            '€',
            '😀',
          ),
          maxLength: 11,
        }),
        (key) => {
          assert.equal(hashKey(key), murmur3(encoder.encode(key)));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
