/**
 * A compact, aging estimate of how often each key was seen: the frequency filter of
 * TinyLFU (Einziger, Friedman and Manes, 2017).
 *
 * - A count-min sketch of 4-bit counters, eight per 32-bit word: a key's four counters
 *   are one nibble in each of four words, chosen by a second hash, the estimate is the
 *   smallest of them, so collisions can only overestimate. Counters saturate at 15.
 * - A doorkeeper in front of it: a Bloom filter (two bits of one 32-bit word). A
 *   key's first sighting in a period only sets its doorkeeper bits; later sightings
 *   increment the counters. One-hit wonders, most keys of a long-tailed workload, so
 *   never reach the counters. The doorkeeper adds 1 to the estimate of a key it holds.
 * - Layout: one 32-byte block per key hash (`entryCount` blocks, rounded up to a power
 *   of two, at most 2^23), holding the four counter words and the doorkeeper bits, so
 *   an update touches one block of memory rather than five scattered words.
 * - Aging: after `sampleSize` sightings (ten times the expected entry count) every
 *   counter is halved and the doorkeeper cleared, so the estimate follows the recent
 *   popularity of keys rather than their whole history.
 *
 * @module
 */

import { mix32, requireInteger } from '../core/index.js';

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

let objectIdNext = 1;
const objectIds = new WeakMap<object, number>();

/**
 * A 32-bit hash of any key: integers and object identities are mixed directly, strings
 * hashed FNV-1a-style over pairs of their UTF-16 code units and then mixed with their
 * length, other values through `String(key)`.
 * `seed` makes the hashes differ between caches, so that keys chosen to collide in one
 * process do not collide in another.
 */
export function hashKey(key: unknown, seed = 0): number {
  if (typeof key === 'number' && (key | 0) === key) {
    return mix32(key ^ seed) | 0;
  }
  if ((typeof key === 'object' && key !== null) || typeof key === 'function') {
    let id = objectIds.get(key);
    if (id === undefined) {
      id = objectIdNext;
      objectIdNext += 1;
      objectIds.set(key, id);
    }
    return mix32(id ^ seed) | 0;
  }
  const text = typeof key === 'string' ? key : String(key);
  const length = text.length;
  let h = 0x811c9dc5 ^ seed;
  // Two UTF-16 code units per step: half the multiplications of a chain that cannot overlap.
  let index = 0;
  for (; index + 1 < length; index += 2) {
    h = Math.imul(h ^ (text.charCodeAt(index) | (text.charCodeAt(index + 1) << 16)), 0x01000193);
  }
  if (index < length) {
    h = Math.imul(h ^ text.charCodeAt(index), 0x01000193);
  }
  return mix32(h ^ length) | 0;
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
  /**
   * Blocks of eight words, one block per key: words 0-3 hold the key's four counters (one
   * nibble in each), words 4-7 its doorkeeper bits. An update touches one 32-byte block.
   */
  readonly #table: Uint32Array;
  readonly #blockMask: number;
  /** Sightings until the next aging. */
  #sightingsLeft: number;
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
    const blocks = Math.min(nextPowerOfTwo(Math.max(16, entryCount)), 1 << 23);
    this.#blockMask = blocks - 1;
    this.#table = new Uint32Array(blocks * 8);
    this.#sightingsLeft = this.sampleSize;
  }

  /** How many times the sketch has aged (halved its counters). */
  get agings(): number {
    return this.#agings;
  }

  /** Records one sighting of the key with `hash`. */
  increment(hash: number): void {
    this.#record(hash, 1, true);
  }

  /**
   * Records `count` sightings of the key with `hash` at once (a positive integer): the
   * same as `count` calls of {@link FrequencySketch.increment} in a row, except that an
   * aging the batch reaches happens after the whole batch. A caller that buffers
   * sightings flushes them with this.
   */
  add(hash: number, count: number): void {
    this.#record(hash, sightingCount('FrequencySketch.add count', count), true);
  }

  /**
   * Records `count` sightings of the key with `hash` as part of the batch that brings the
   * sketch to its aging: like {@link FrequencySketch.add}, except that the doorkeeper is
   * only read, never written (the aging clears it anyway), so the outcome of the batch
   * does not depend on the order of its keys. A caller that keeps sightings pending per
   * key flushes them all with this when its count of sightings reaches `sampleSize`.
   */
  addBeforeAging(hash: number, count: number): void {
    this.#record(hash, sightingCount('FrequencySketch.addBeforeAging count', count), false);
  }

  #record(hash: number, count: number, writeDoorkeeper: boolean): void {
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
    const table = this.#table;
    const block = (hash & this.#blockMask) << 3;
    const door = block + 4 + ((second >>> 12) & 3);
    const bits = (1 << (second & 31)) | (1 << ((second >>> 7) & 31));
    const held = table[door] as number;
    // The first sighting in a period only sets the doorkeeper's bits.
    let counted = count;
    if ((held & bits) !== bits) {
      if (writeDoorkeeper) {
        table[door] = held | bits;
      }
      counted -= 1;
    }
    if (counted > 0) {
      table[block] = saturatedAdd(table[block] as number, ((second >>> 14) & 7) << 2, counted);
      table[block + 1] = saturatedAdd(
        table[block + 1] as number,
        ((second >>> 17) & 7) << 2,
        counted,
      );
      table[block + 2] = saturatedAdd(
        table[block + 2] as number,
        ((second >>> 20) & 7) << 2,
        counted,
      );
      table[block + 3] = saturatedAdd(
        table[block + 3] as number,
        ((second >>> 23) & 7) << 2,
        counted,
      );
    }
    this.#sightingsLeft -= count;
    if (this.#sightingsLeft <= 0) {
      this.#age();
    }
  }

  /** The estimated sightings of the key with `hash` in the recent past (0 to 16). */
  frequency(hash: number): number {
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
    const table = this.#table;
    const block = (hash & this.#blockMask) << 3;
    let estimate = ((table[block] as number) >>> (((second >>> 14) & 7) << 2)) & 15;
    const count1 = ((table[block + 1] as number) >>> (((second >>> 17) & 7) << 2)) & 15;
    const count2 = ((table[block + 2] as number) >>> (((second >>> 20) & 7) << 2)) & 15;
    const count3 = ((table[block + 3] as number) >>> (((second >>> 23) & 7) << 2)) & 15;
    if (count1 < estimate) {
      estimate = count1;
    }
    if (count2 < estimate) {
      estimate = count2;
    }
    if (count3 < estimate) {
      estimate = count3;
    }
    const bits = (1 << (second & 31)) | (1 << ((second >>> 7) & 31));
    const held = table[block + 4 + ((second >>> 12) & 3)] as number;
    return (held & bits) === bits ? estimate + 1 : estimate;
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.fill(0);
    this.#sightingsLeft = this.sampleSize;
  }

  #age(): void {
    halve(this.#table);
    this.#sightingsLeft = this.sampleSize;
    this.#agings += 1;
  }
}

/** `count` if it is a positive integer; the common small one is checked without a call. */
function sightingCount(name: string, count: number): number {
  return (count | 0) === count && count >= 1 ? count : requireInteger(name, count, { min: 1 });
}

/** `word` with its 4-bit counter at `shift` raised by `count`, saturating at 15. */
function saturatedAdd(word: number, shift: number, count: number): number {
  const counter = (word >>> shift) & 15;
  const raised = counter + count > 15 ? 15 : counter + count;
  return word + ((raised - counter) << shift);
}

/**
 * Halves every counter and clears every doorkeeper bit of `table`. A function of its own:
 * V8 compiles its long loop on stack replacement, and code after such a loop in a method
 * (the countdown's reset) deoptimized on every aging.
 */
function halve(table: Uint32Array): void {
  for (let block = 0; block < table.length; block += 8) {
    table[block] = ((table[block] as number) >>> 1) & 0x77777777;
    table[block + 1] = ((table[block + 1] as number) >>> 1) & 0x77777777;
    table[block + 2] = ((table[block + 2] as number) >>> 1) & 0x77777777;
    table[block + 3] = ((table[block + 3] as number) >>> 1) & 0x77777777;
    table[block + 4] = 0;
    table[block + 5] = 0;
    table[block + 6] = 0;
    table[block + 7] = 0;
  }
}
