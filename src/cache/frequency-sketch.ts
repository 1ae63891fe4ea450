/**
 * A compact, aging estimate of how often each key was seen: the frequency filter of
 * TinyLFU (Einziger, Friedman and Manes, 2017).
 *
 * - A count-min sketch of 4-bit counters (eight per 32-bit word), four rows of 4 ×
 *   `entryCount` counters (rounded up to a power of two, at most 2^24), each row
 *   indexed by a different hash of the key: the estimate is the smallest of the four
 *   counters, so collisions can only overestimate. Counters saturate at 15.
 * - A doorkeeper in front of it: a bit set (a Bloom filter with two probes, four bits
 *   per sighting of a sample period, at most 2^28 bits). A
 *   key's first sighting in a period only sets its doorkeeper bits; later sightings
 *   increment the counters. One-hit wonders, most keys of a long-tailed workload, so
 *   never reach the counters. The doorkeeper adds 1 to the estimate of a key it holds.
 * - Aging: after `sampleSize` sightings (ten times the expected entry count) every
 *   counter is halved and the doorkeeper cleared, so the estimate follows the recent
 *   popularity of keys rather than their whole history.
 *
 * @module
 */

import { requireInteger } from '../core/index.js';

/** Options for {@link FrequencySketch}. */
export interface FrequencySketchOptions {
  /** How many distinct keys the cache in front of it holds (a positive integer). */
  readonly entryCount: number;
  /** Sightings between two agings. Default 10 × `entryCount`. */
  readonly sampleSize?: number;
}

function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) {
    power *= 2;
  }
  return power;
}

/** Mixes the bits of a 32-bit integer (an avalanche finalizer). */
export function mix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

let objectIdNext = 1;
const objectIds = new WeakMap<object, number>();

/**
 * A 32-bit hash of any key: integers and object identities are mixed directly, strings
 * hashed by FNV-1a over their UTF-16 code units, other values through `String(key)`.
 * `seed` makes the hashes differ between caches, so that keys chosen to collide in one
 * process do not collide in another.
 */
export function hashKey(key: unknown, seed = 0): number {
  if (typeof key === 'number' && (key | 0) === key) {
    return mix32(key ^ seed);
  }
  if ((typeof key === 'object' && key !== null) || typeof key === 'function') {
    let id = objectIds.get(key);
    if (id === undefined) {
      id = objectIdNext;
      objectIdNext += 1;
      objectIds.set(key, id);
    }
    return mix32(id ^ seed);
  }
  const text = typeof key === 'string' ? key : String(key);
  let h = 0x811c9dc5 ^ seed;
  for (let index = 0; index < text.length; index += 1) {
    h = Math.imul(h ^ text.charCodeAt(index), 0x01000193);
  }
  return mix32(h);
}

/**
 * The frequency filter of W-TinyLFU: a count-min sketch of 4-bit counters with a
 * doorkeeper and periodic halving. It takes 32-bit key hashes (see {@link hashKey}).
 *
 * @example
 * ```ts
 * const sketch = new FrequencySketch({ entryCount: 100 });
 * const hash = hashKey('popular');
 * for (let i = 0; i < 5; i += 1) sketch.increment(hash);
 * sketch.frequency(hash); // 5: 1 from the doorkeeper, 4 from the counters
 * ```
 */
export class FrequencySketch {
  /** Sightings between two agings. */
  readonly sampleSize: number;
  readonly #table: Uint32Array;
  readonly #blockMask: number;
  readonly #doorkeeper: Uint32Array;
  readonly #doorkeeperMask: number;
  #sightings = 0;
  #agings = 0;

  constructor(options: FrequencySketchOptions) {
    const entryCount = requireInteger('FrequencySketch options.entryCount', options.entryCount, {
      min: 1,
      max: 1 << 26,
    });
    this.sampleSize = requireInteger(
      'FrequencySketch options.sampleSize',
      options.sampleSize ?? 10 * entryCount,
      { min: 1 },
    );
    // A block is four words; a key's four counters are one nibble in each word of its
    // block, so an update touches one cache line.
    const blocks = Math.min(nextPowerOfTwo(Math.max(16, entryCount)), 1 << 24);
    this.#blockMask = blocks - 1;
    this.#table = new Uint32Array(blocks * 4);
    const doorkeeperWords = Math.min(nextPowerOfTwo(Math.max(8, this.sampleSize / 4)), 1 << 23);
    this.#doorkeeperMask = doorkeeperWords - 1;
    this.#doorkeeper = new Uint32Array(doorkeeperWords);
  }

  /** How many times the sketch has aged (halved its counters). */
  get agings(): number {
    return this.#agings;
  }

  /** Records one sighting of the key with `hash`. */
  increment(hash: number): void {
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
    const door = this.#doorkeeper;
    const doorWord = (hash >>> 8) & this.#doorkeeperMask;
    const doorBits = (1 << (second & 31)) | (1 << ((second >>> 5) & 31));
    const held = door[doorWord] as number;
    if ((held & doorBits) !== doorBits) {
      door[doorWord] = held | doorBits;
    } else {
      const table = this.#table;
      const block = (hash & this.#blockMask) << 2;
      for (let row = 0; row < 4; row += 1) {
        const word = block + row;
        const shift = ((second >>> (10 + 3 * row)) & 7) << 2;
        const value = table[word] as number;
        if (((value >>> shift) & 15) !== 15) {
          table[word] = value + (1 << shift);
        }
      }
    }
    this.#sightings += 1;
    if (this.#sightings >= this.sampleSize) {
      this.#age();
    }
  }

  /** The estimated sightings of the key with `hash` in the recent past (0 to 16). */
  frequency(hash: number): number {
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
    const table = this.#table;
    const block = (hash & this.#blockMask) << 2;
    let estimate = 15;
    for (let row = 0; row < 4; row += 1) {
      const value =
        ((table[block + row] as number) >>> (((second >>> (10 + 3 * row)) & 7) << 2)) & 15;
      if (value < estimate) {
        estimate = value;
      }
    }
    const doorBits = (1 << (second & 31)) | (1 << ((second >>> 5) & 31));
    const held = this.#doorkeeper[(hash >>> 8) & this.#doorkeeperMask] as number;
    return (held & doorBits) === doorBits ? estimate + 1 : estimate;
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.fill(0);
    this.#doorkeeper.fill(0);
    this.#sightings = 0;
  }

  #age(): void {
    const table = this.#table;
    for (let index = 0; index < table.length; index += 1) {
      table[index] = ((table[index] as number) >>> 1) & 0x77777777;
    }
    this.#doorkeeper.fill(0);
    this.#sightings = 0;
    this.#agings += 1;
  }
}
