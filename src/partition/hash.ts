/**
 * Fast non-cryptographic hashes for placing keys: MurmurHash3 (x86, 32-bit) and xxHash32,
 * over bytes or over strings encoded as UTF-8, written from the published algorithm
 * descriptions and checked against their reference test vectors.
 *
 * Strings are encoded into one module-level scratch buffer, so hashing a key allocates
 * nothing once the buffer has grown to the longest key seen (at most
 * {@link keyLengthMax} UTF-16 code units, three bytes each). A key that is not a string,
 * is longer than the limit or holds a lone surrogate (it has no UTF-8 encoding, and
 * `TextEncoder` would silently replace it, making two different keys collide) is
 * rejected with `InvalidArgumentError`.
 *
 * Neither hash resists an adversary who picks keys to collide; use them to spread keys,
 * not to defend against hash flooding.
 *
 * @module
 */

import { describeValue, InvalidArgumentError, mix32, requireInteger } from '../core/index.js';

/** The MurmurHash3 finaliser, `mix32` of `distkit/core`, here too for the hashes built on it. */
export { mix32 };

/** The longest key, in UTF-16 code units, that the partitioners accept: 65,536. */
export const keyLengthMax = 65_536;

const murmurC1 = 0xcc9e_2d51;
const murmurC2 = 0x1b87_3593;

const xxPrime1 = 0x9e37_79b1;
const xxPrime2 = 0x85eb_ca77;
const xxPrime3 = 0xc2b2_ae3d;
const xxPrime4 = 0x27d4_eb2f;
const xxPrime5 = 0x1656_67b1;

let scratch = new Uint8Array(256);

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function malformedKey(name: string, key: unknown, why: string): InvalidArgumentError {
  return new InvalidArgumentError(name, `${name} ${why}; got ${describeValue(key)}.`);
}

/**
 * Encodes `key` as UTF-8 into the scratch buffer and returns the byte count. Throws
 * InvalidArgumentError for a non-string, an over-long key or a lone surrogate.
 */
function encodeKey(key: unknown, name: string): number {
  if (typeof key !== 'string') {
    throw malformedKey(name, key, 'must be a string');
  }
  const length = key.length;
  if (length > keyLengthMax) {
    throw malformedKey(name, key, `must be at most ${keyLengthMax} UTF-16 code units long`);
  }
  if (scratch.length < length * 3) {
    scratch = new Uint8Array(Math.max(length * 3, scratch.length * 2));
  }
  const bytes = scratch;
  let byteCount = 0;
  for (let index = 0; index < length; index += 1) {
    let code = key.charCodeAt(index);
    if (code < 0x80) {
      bytes[byteCount] = code;
      byteCount += 1;
    } else if (code < 0x800) {
      bytes[byteCount] = 0xc0 | (code >>> 6);
      bytes[byteCount + 1] = 0x80 | (code & 0x3f);
      byteCount += 2;
    } else if (code < 0xd800 || code > 0xdfff) {
      bytes[byteCount] = 0xe0 | (code >>> 12);
      bytes[byteCount + 1] = 0x80 | ((code >>> 6) & 0x3f);
      bytes[byteCount + 2] = 0x80 | (code & 0x3f);
      byteCount += 3;
    } else {
      const low = index + 1 < length ? key.charCodeAt(index + 1) : 0;
      if (code > 0xdbff || low < 0xdc00 || low > 0xdfff) {
        throw malformedKey(
          name,
          key,
          `must be well-formed UTF-16 (a lone surrogate at index ${index} has no UTF-8 encoding)`,
        );
      }
      code = 0x1_0000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      bytes[byteCount] = 0xf0 | (code >>> 18);
      bytes[byteCount + 1] = 0x80 | ((code >>> 12) & 0x3f);
      bytes[byteCount + 2] = 0x80 | ((code >>> 6) & 0x3f);
      bytes[byteCount + 3] = 0x80 | (code & 0x3f);
      byteCount += 4;
      index += 1;
    }
  }
  return byteCount;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset] as number) |
    ((bytes[offset + 1] as number) << 8) |
    ((bytes[offset + 2] as number) << 16) |
    ((bytes[offset + 3] as number) << 24)
  );
}

function murmur3Bytes(bytes: Uint8Array, length: number, seed: number): number {
  let hash = seed | 0;
  const blockEnd = length & ~3;
  for (let offset = 0; offset < blockEnd; offset += 4) {
    let block = readWord(bytes, offset);
    block = Math.imul(block, murmurC1);
    block = rotateLeft(block, 15);
    block = Math.imul(block, murmurC2);
    hash ^= block;
    hash = rotateLeft(hash, 13);
    hash = (Math.imul(hash, 5) + 0xe654_6b64) | 0;
  }
  const remainder = length & 3;
  if (remainder !== 0) {
    let tail = bytes[blockEnd] as number;
    if (remainder > 1) {
      tail |= (bytes[blockEnd + 1] as number) << 8;
    }
    if (remainder > 2) {
      tail |= (bytes[blockEnd + 2] as number) << 16;
    }
    tail = Math.imul(tail, murmurC1);
    tail = rotateLeft(tail, 15);
    tail = Math.imul(tail, murmurC2);
    hash ^= tail;
  }
  return mix32(hash ^ length);
}

function xxRound(accumulator: number, lane: number): number {
  return Math.imul(rotateLeft((accumulator + Math.imul(lane, xxPrime2)) | 0, 13), xxPrime1);
}

function xxHash32Bytes(bytes: Uint8Array, length: number, seed: number): number {
  let offset = 0;
  let hash: number;
  if (length >= 16) {
    let lane1 = (seed + xxPrime1 + xxPrime2) | 0;
    let lane2 = (seed + xxPrime2) | 0;
    let lane3 = seed | 0;
    let lane4 = (seed - xxPrime1) | 0;
    const stripeEnd = length - 16;
    while (offset <= stripeEnd) {
      lane1 = xxRound(lane1, readWord(bytes, offset));
      lane2 = xxRound(lane2, readWord(bytes, offset + 4));
      lane3 = xxRound(lane3, readWord(bytes, offset + 8));
      lane4 = xxRound(lane4, readWord(bytes, offset + 12));
      offset += 16;
    }
    hash =
      (rotateLeft(lane1, 1) +
        rotateLeft(lane2, 7) +
        rotateLeft(lane3, 12) +
        rotateLeft(lane4, 18)) |
      0;
  } else {
    hash = (seed + xxPrime5) | 0;
  }
  hash = (hash + length) | 0;
  while (offset + 4 <= length) {
    hash = (hash + Math.imul(readWord(bytes, offset), xxPrime3)) | 0;
    hash = Math.imul(rotateLeft(hash, 17), xxPrime4);
    offset += 4;
  }
  while (offset < length) {
    hash = (hash + Math.imul(bytes[offset] as number, xxPrime5)) | 0;
    hash = Math.imul(rotateLeft(hash, 11), xxPrime1);
    offset += 1;
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, xxPrime2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, xxPrime3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function requireSeed(seed: unknown): number {
  return requireInteger('seed', seed, { min: 0, max: 0xffff_ffff });
}

function inputBytes(input: unknown, name: string): { bytes: Uint8Array; length: number } {
  if (input instanceof Uint8Array) {
    return { bytes: input, length: input.length };
  }
  const length = encodeKey(input, name);
  return { bytes: scratch, length };
}

/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby), of a string's UTF-8 encoding or of
 * bytes. Returns an unsigned 32-bit integer.
 *
 * @param input - a string (hashed as UTF-8) or bytes.
 * @param seed - an unsigned 32-bit integer; default 0.
 *
 * @example
 * ```ts
 * murmur3(''); // 0
 * murmur3('Hello, world!', 0x9747b28c); // 0x24884cba
 * ```
 */
export function murmur3(input: string | Uint8Array, seed = 0): number {
  const checkedSeed = seed === 0 ? 0 : requireSeed(seed);
  if (typeof input === 'string' && input.length <= keyLengthMax) {
    const hash = murmur3Ascii(input, checkedSeed);
    if (hash >= 0) {
      return hash;
    }
  }
  const { bytes, length } = inputBytes(input, 'input');
  return murmur3Bytes(bytes, length, checkedSeed);
}

/**
 * xxHash32 (Yann Collet) of a string's UTF-8 encoding or of bytes. Returns an unsigned
 * 32-bit integer. Faster than {@link murmur3} on long inputs (four lanes at a time).
 *
 * @param input - a string (hashed as UTF-8) or bytes.
 * @param seed - an unsigned 32-bit integer; default 0.
 *
 * @example
 * ```ts
 * xxHash32(''); // 0x02cc5d05
 * xxHash32('abc'); // 0x32d153ff
 * ```
 */
export function xxHash32(input: string | Uint8Array, seed = 0): number {
  const checkedSeed = seed === 0 ? 0 : requireSeed(seed);
  const { bytes, length } = inputBytes(input, 'input');
  return xxHash32Bytes(bytes, length, checkedSeed);
}

/**
 * The position of a key in the 32-bit hash space every partitioner of this module uses:
 * MurmurHash3 x86_32 of its UTF-8 encoding with seed 0. Throws InvalidArgumentError
 * (argument `name`) for a malformed key.
 *
 * @internal Shared by the partitioners; exported from the module as {@link hashKey}.
 */
export function hashKeyNamed(key: string, name: string): number {
  if (typeof key === 'string' && key.length <= keyLengthMax) {
    const hash = murmur3Ascii(key, 0);
    if (hash >= 0) {
      return hash;
    }
  }
  return murmur3Bytes(scratch, encodeKey(key, name), 0);
}

/**
 * MurmurHash3 x86_32 of an all-ASCII string, read straight from its char
 * codes (an ASCII string's UTF-8 bytes are its char codes); -1 when a char is not ASCII.
 * Skipping the encoding makes the common case of a lookup about a third cheaper.
 */
function murmur3Ascii(key: string, seed: number): number {
  const length = key.length;
  let hash = seed | 0;
  const blockEnd = length & ~3;
  for (let offset = 0; offset < blockEnd; offset += 4) {
    const code0 = key.charCodeAt(offset);
    const code1 = key.charCodeAt(offset + 1);
    const code2 = key.charCodeAt(offset + 2);
    const code3 = key.charCodeAt(offset + 3);
    if ((code0 | code1 | code2 | code3) >= 0x80) {
      return -1;
    }
    let block = code0 | (code1 << 8) | (code2 << 16) | (code3 << 24);
    block = Math.imul(block, murmurC1);
    block = rotateLeft(block, 15);
    block = Math.imul(block, murmurC2);
    hash ^= block;
    hash = rotateLeft(hash, 13);
    hash = (Math.imul(hash, 5) + 0xe654_6b64) | 0;
  }
  const remainder = length & 3;
  if (remainder !== 0) {
    const code0 = key.charCodeAt(blockEnd);
    const code1 = remainder > 1 ? key.charCodeAt(blockEnd + 1) : 0;
    const code2 = remainder > 2 ? key.charCodeAt(blockEnd + 2) : 0;
    if ((code0 | code1 | code2) >= 0x80) {
      return -1;
    }
    let tail = code0 | (code1 << 8) | (code2 << 16);
    tail = Math.imul(tail, murmurC1);
    tail = rotateLeft(tail, 15);
    tail = Math.imul(tail, murmurC2);
    hash ^= tail;
  }
  return mix32(hash ^ length);
}

/**
 * The position of `key` in the 32-bit hash space that the ring, Maglev, rendezvous and
 * modulo partitioners of this module share: MurmurHash3 x86_32 of its UTF-8 encoding,
 * seed 0. Resharding plans over the hash space are expressed in these positions.
 *
 * @example
 * ```ts
 * hashKey('user:42') === murmur3('user:42'); // true
 * ```
 */
export function hashKey(key: string): number {
  return hashKeyNamed(key, 'key');
}
