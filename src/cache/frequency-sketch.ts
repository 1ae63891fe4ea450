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
  readonly #rowMask: number;
  readonly #rowWords: number;
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
    const rowCounters = Math.min(nextPowerOfTwo(Math.max(64, 4 * entryCount)), 1 << 24);
    this.#rowMask = rowCounters - 1;
    this.#rowWords = rowCounters / 8;
    this.#table = new Uint32Array(this.#rowWords * 4);
    const doorkeeperBits = Math.min(nextPowerOfTwo(Math.max(256, 4 * this.sampleSize)), 1 << 28);
    this.#doorkeeperMask = doorkeeperBits - 1;
    this.#doorkeeper = new Uint32Array(doorkeeperBits / 32);
  }

  /** How many times the sketch has aged (halved its counters). */
  get agings(): number {
    return this.#agings;
  }

  /** Records one sighting of the key with `hash`. */
  increment(hash: number): void {
    const second = mix32(hash) | 1;
    const door = this.#doorkeeper;
    const d1 = hash & this.#doorkeeperMask;
    const d2 = second & this.#doorkeeperMask;
    const w1 = d1 >>> 5;
    const w2 = d2 >>> 5;
    const m1 = 1 << (d1 & 31);
    const m2 = 1 << (d2 & 31);
    if (((door[w1] as number) & m1) === 0 || ((door[w2] as number) & m2) === 0) {
      door[w1] = (door[w1] as number) | m1;
      door[w2] = (door[w2] as number) | m2;
    } else {
      const table = this.#table;
      const mask = this.#rowMask;
      for (let row = 0; row < 4; row += 1) {
        const counter = (hash + row * second) & mask;
        const word = row * this.#rowWords + (counter >>> 3);
        const shift = (counter & 7) << 2;
        const value = ((table[word] as number) >>> shift) & 15;
        if (value < 15) {
          table[word] = (table[word] as number) + (1 << shift);
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
    const second = mix32(hash) | 1;
    const table = this.#table;
    const mask = this.#rowMask;
    let estimate = 15;
    for (let row = 0; row < 4; row += 1) {
      const counter = (hash + row * second) & mask;
      const word = row * this.#rowWords + (counter >>> 3);
      const value = ((table[word] as number) >>> ((counter & 7) << 2)) & 15;
      if (value < estimate) {
        estimate = value;
      }
    }
    const door = this.#doorkeeper;
    const d1 = hash & this.#doorkeeperMask;
    const d2 = second & this.#doorkeeperMask;
    const held =
      ((door[d1 >>> 5] as number) & (1 << (d1 & 31))) !== 0 &&
      ((door[d2 >>> 5] as number) & (1 << (d2 & 31))) !== 0;
    return held ? estimate + 1 : estimate;
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
