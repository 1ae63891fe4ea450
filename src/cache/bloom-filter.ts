/**
 * A Bloom filter: a set that answers "definitely not here" or "probably here" in a fixed
 * number of bits. A cache puts one in front of its loader so that lookups of keys that
 * cannot exist (cache penetration: a scan of random ids, a typo repeated by a client)
 * are answered without touching the origin.
 *
 * The size follows from the two numbers a user knows: how many items will be added and
 * what share of absent keys may be mistaken for present. With n items and a false-positive
 * rate p, the filter takes m = -n ln p / (ln 2)^2 bits and k = round(m / n * ln 2) hash
 * positions per key, the m and k that minimise the false-positive rate (Bloom 1970; the
 * optimum is derived in Broder and Mitzenmacher, "Network applications of Bloom filters",
 * 2004). The k positions come from two 32-bit hashes by double hashing, h1 + i * h2
 * (Kirsch and Mitzenmacher, "Less hashing, same performance", 2006), which keeps the
 * asymptotic false-positive rate of k independent hashes.
 *
 * @module
 */

import { describeValue, InvalidArgumentError, mix32, requireOptions } from '../core/index.js';

/** A key a {@link BloomFilter} accepts. Strings and numbers are never equal to each other. */
export type BloomFilterKey = string | number;

/** Options for {@link BloomFilter}. */
export interface BloomFilterOptions {
  /**
   * How many distinct keys will be added (an integer from 1 to 100,000,000). Adding more
   * keeps working but raises the false-positive rate above `falsePositiveRate`; see
   * {@link BloomFilter.expectedFalsePositiveRate}.
   */
  readonly expectedItems: number;
  /**
   * The share of absent keys the filter may report as present once `expectedItems` keys
   * were added: greater than 0 and less than 1, for example 0.01.
   */
  readonly falsePositiveRate: number;
}

/** The most bits a filter may take: 2^32 - 32, so every index fits an unsigned 32-bit integer. */
const bitCountMax = 2 ** 32 - 32;
const expectedItemsMax = 100_000_000;
const ln2 = Math.LN2;

// One scratch buffer turns a number into its IEEE-754 bits without an allocation per key.
const numberScratch = new Float64Array(1);
const numberWords = new Uint32Array(numberScratch.buffer);

/** Mixes one 32-bit word into a running hash (a multiply-rotate step in Murmur style). */
function mixWord(hash: number, word: number): number {
  let mixed = Math.imul(word, 0xcc9e_2d51);
  mixed = (mixed << 15) | (mixed >>> 17);
  mixed = Math.imul(mixed, 0x1b87_3593);
  let next = hash ^ mixed;
  next = (next << 13) | (next >>> 19);
  return (Math.imul(next, 5) + 0xe654_6b64) | 0;
}

/**
 * The two hashes of a key, written into `out`. The lanes start from different seeds and
 * are finalised separately, so they behave as independent for double hashing. A type tag
 * keeps the string "1" apart from the number 1.
 */
function hashKey(key: BloomFilterKey, out: Uint32Array): void {
  let first = 0x2f69_3b1d;
  let second = 0x5bd1_e995;
  if (typeof key === 'string') {
    first = mixWord(first, 0x7374_7200);
    second = mixWord(second, 0x7374_7200);
    const length = key.length;
    let index = 0;
    // Two UTF-16 code units per word: half the mixing steps of one unit per word.
    for (; index + 1 < length; index += 2) {
      const word = key.charCodeAt(index) | (key.charCodeAt(index + 1) << 16);
      first = mixWord(first, word);
      second = mixWord(second, word ^ 0x9e37_79b9);
    }
    if (index < length) {
      const word = key.charCodeAt(index);
      first = mixWord(first, word);
      second = mixWord(second, word ^ 0x9e37_79b9);
    }
    first ^= length;
    second ^= length;
  } else {
    // -0 and 0 are one key, as in a Map; every NaN is one key.
    numberScratch[0] = key === 0 ? 0 : Number.isNaN(key) ? Number.NaN : key;
    const low = numberWords[0] as number;
    const high = numberWords[1] as number;
    first = mixWord(mixWord(mixWord(first, 0x6e75_6d00), low), high);
    second = mixWord(mixWord(mixWord(second, 0x6e75_6d00), low ^ 0x9e37_79b9), high);
    first ^= 8;
    second ^= 8;
  }
  out[0] = mix32(first);
  out[1] = mix32(second ^ 0x85eb_ca6b);
}

function checkKey(method: string, key: unknown): asserts key is BloomFilterKey {
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new InvalidArgumentError(
      'key',
      `BloomFilter.${method} key must be a string or a number; got ${describeValue(key)}.`,
    );
  }
}

/**
 * The bit count and hash count that give false-positive rate `falsePositiveRate` after
 * `expectedItems` keys: m = ceil(-n ln p / (ln 2)^2), k = max(1, round(m / n * ln 2)).
 * Throws {@link InvalidArgumentError} for options out of range, including a size above
 * 2^32 - 32 bits (512 MiB).
 */
export function bloomFilterSize(options: BloomFilterOptions): {
  readonly bitCount: number;
  readonly hashCount: number;
} {
  const checked = requireOptions('BloomFilter options', options);
  const expectedItems = checked.expectedItems;
  if (
    typeof expectedItems !== 'number' ||
    !Number.isSafeInteger(expectedItems) ||
    expectedItems < 1 ||
    expectedItems > expectedItemsMax
  ) {
    throw new InvalidArgumentError(
      'options.expectedItems',
      `BloomFilter options.expectedItems must be an integer from 1 to ${expectedItemsMax}; ` +
        `got ${describeValue(expectedItems)}.`,
    );
  }
  const rate = checked.falsePositiveRate;
  if (typeof rate !== 'number' || !(rate > 0 && rate < 1)) {
    throw new InvalidArgumentError(
      'options.falsePositiveRate',
      'BloomFilter options.falsePositiveRate must be a number greater than 0 and less than 1 ' +
        `(0.01 is one absent key in a hundred mistaken for present); got ${describeValue(rate)}.`,
    );
  }
  const bitCount = Math.max(32, Math.ceil((-expectedItems * Math.log(rate)) / (ln2 * ln2)));
  if (bitCount > bitCountMax) {
    throw new InvalidArgumentError(
      'options.falsePositiveRate',
      `BloomFilter of ${expectedItems} items at false-positive rate ${rate} would need ` +
        `${bitCount} bits, more than the ${bitCountMax} a filter may take; accept a higher ` +
        'rate or split the keys over several filters.',
    );
  }
  const hashCount = Math.max(1, Math.round((bitCount / expectedItems) * ln2));
  return { bitCount, hashCount };
}

/**
 * A Bloom filter over string and number keys. No false negatives: a key that was added
 * is always reported as possibly present, until {@link BloomFilter.clear}. Absent keys
 * are reported as possibly present at about the configured rate once `expectedItems` keys
 * were added. Keys cannot be removed (a counting filter would be needed); rebuild or
 * clear the filter when the key set shrinks.
 *
 * The hashes are fixed, not seeded per process, so a filter's answers are the same on
 * every run; a client that can choose keys could search for false positives, which costs
 * only loads, never a wrong answer.
 *
 * @example
 * ```ts
 * const known = new BloomFilter({ expectedItems: 10_000, falsePositiveRate: 0.01 });
 * known.add('user:42');
 * known.mightContain('user:42'); // true
 * known.mightContain('user:43'); // false, except about one time in a hundred
 * ```
 */
export class BloomFilter {
  /** The number of keys the filter was sized for. */
  readonly expectedItems: number;
  /** The false-positive rate the filter was sized for. */
  readonly falsePositiveRate: number;
  /** Bits in the filter (m). */
  readonly bitCount: number;
  /** Bit positions set and tested per key (k). */
  readonly hashCount: number;
  readonly #bits: Uint32Array;
  readonly #hashes = new Uint32Array(2);
  #count = 0;
  #setBitCount = 0;

  constructor(options: BloomFilterOptions) {
    const { bitCount, hashCount } = bloomFilterSize(options);
    this.expectedItems = options.expectedItems;
    this.falsePositiveRate = options.falsePositiveRate;
    this.bitCount = bitCount;
    this.hashCount = hashCount;
    this.#bits = new Uint32Array(Math.ceil(bitCount / 32));
  }

  /**
   * Keys added that set at least one new bit: the distinct keys added, less the few that
   * collided completely with earlier ones (each a false positive at the time it was added).
   */
  get count(): number {
    return this.#count;
  }

  /** Bits currently set; `setBitCount / bitCount` is the filter's fill ratio. */
  get setBitCount(): number {
    return this.#setBitCount;
  }

  /**
   * The key's probe sequence: the first bit index and the step between its bits (double
   * hashing; the step is never 0), in {@link BloomFilter.#hashes}.
   */
  #probe(key: BloomFilterKey): Uint32Array {
    const hashes = this.#hashes;
    hashKey(key, hashes);
    hashes[0] = (hashes[0] as number) % this.bitCount;
    hashes[1] = (hashes[1] as number) % this.bitCount || 1;
    return hashes;
  }

  /**
   * Adds `key`. Returns true when the key was certainly new (it set a bit), false when
   * every one of its bits was already set (added before, or a false positive).
   */
  add(key: BloomFilterKey): boolean {
    checkKey('add', key);
    const hashes = this.#probe(key);
    const bits = this.#bits;
    const bitCount = this.bitCount;
    let index = hashes[0] as number;
    const step = hashes[1] as number;
    let changed = false;
    for (let round = 0; round < this.hashCount; round += 1) {
      const word = index >>> 5;
      const mask = 1 << (index & 31);
      const before = bits[word] as number;
      if ((before & mask) === 0) {
        bits[word] = before | mask;
        this.#setBitCount += 1;
        changed = true;
      }
      index += step;
      if (index >= bitCount) {
        index -= bitCount;
      }
    }
    if (changed) {
      this.#count += 1;
    }
    return changed;
  }

  /**
   * False when `key` was certainly never added; true when it probably was (or is a false
   * positive, at about {@link BloomFilter.expectedFalsePositiveRate}).
   */
  mightContain(key: BloomFilterKey): boolean {
    checkKey('mightContain', key);
    const hashes = this.#probe(key);
    const bits = this.#bits;
    const bitCount = this.bitCount;
    let index = hashes[0] as number;
    const step = hashes[1] as number;
    for (let round = 0; round < this.hashCount; round += 1) {
      if (((bits[index >>> 5] as number) & (1 << (index & 31))) === 0) {
        return false;
      }
      index += step;
      if (index >= bitCount) {
        index -= bitCount;
      }
    }
    return true;
  }

  /**
   * The false-positive rate to expect now, from the number of keys added:
   * (1 - e^(-k n / m))^k with n = {@link BloomFilter.count}. Equals about
   * `falsePositiveRate` at `expectedItems` keys, and grows past it when more are added.
   */
  expectedFalsePositiveRate(): number {
    const exponent = (-this.hashCount * this.#count) / this.bitCount;
    return (1 - Math.exp(exponent)) ** this.hashCount;
  }

  /** Removes every key. */
  clear(): void {
    this.#bits.fill(0);
    this.#count = 0;
    this.#setBitCount = 0;
  }
}

/** Checks a value is a usable Bloom filter key; for callers that accept keys of any type. */
export function isBloomFilterKey(value: unknown): value is BloomFilterKey {
  return typeof value === 'string' || typeof value === 'number';
}
