/**
 * Randomness as distkit sees it: a {@link Random} is handed to everything that draws
 * (jitter, load balancing, simulated faults), so one seed reproduces a whole run.
 *
 * {@link SeededRandom} is xoshiro128** over 32-bit integer arithmetic only, so the raw
 * sequence (`uint32`, `float`, `integer`, `boolean`, `pick`, `shuffle`) is the same on
 * every JavaScript engine. The continuous draws (`exponential`, `normal`, `zipf`) also use
 * `Math.log`, `Math.exp` and `Math.sqrt`; ECMAScript lets engines round `log` and `exp`
 * differently in the last bit, so those are bit-exact per engine family (V8 everywhere
 * Node.js runs) rather than across all engines.
 *
 * @module
 */

import { InvalidArgumentError } from './errors.js';
import { requireInteger, requireNumber, requireString } from './validate.js';

/** A source of random numbers. */
export interface Random {
  /** A uniformly distributed integer in [0, 2^32). */
  uint32(): number;
  /** A uniformly distributed float in [0, 1) with 53 random bits. */
  float(): number;
  /** A uniformly distributed integer in [minInclusive, maxInclusive], without bias. */
  integer(minInclusive: number, maxInclusive: number): number;
  /** True with probability `probabilityTrue` (default 0.5). */
  boolean(probabilityTrue?: number): boolean;
  /** One element of a non-empty array, each equally likely. */
  pick<T>(items: readonly T[]): T;
  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
  /** An exponentially distributed draw with the given mean (> 0): inter-arrival times. */
  exponential(mean: number): number;
  /** A normally distributed draw (default mean 0, standard deviation 1). */
  normal(mean?: number, standardDeviation?: number): number;
  /**
   * A Zipf-distributed rank in [1, count]: rank k has probability proportional to
   * k^-exponent. Skewed key popularity for caches and partitioners.
   */
  zipf(count: number, exponent: number): number;
  /**
   * An independent generator named by `label`. The child depends only on this
   * generator's seed, path and the label, never on how much this one has drawn, so adding
   * a draw in one component does not shift any other component's stream. Forking the same
   * label twice gives two generators with the same sequence.
   */
  fork(label: string): Random;
}

/** Options for {@link SeededRandom}. */
export interface SeededRandomOptions {
  /** The seed: an integer from 0 to 2^53 - 1. Print it; it reproduces the run. */
  readonly seed: number;
}

const twoPow32 = 0x1_0000_0000;
const twoPow53 = 2 ** 53;

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

/**
 * The MurmurHash3 finaliser: a bijection on 32-bit integers in which every input bit
 * affects every output bit. Returns an unsigned 32-bit integer. The one integer mixer of
 * distkit: seeds, hash tables, sketches and filters build on it.
 *
 * @example
 * ```ts
 * import { mix32 } from 'distkit/core';
 *
 * console.log(mix32(1) !== mix32(2)); // true
 * ```
 */
export function mix32(input: number): number {
  let value = input;
  value ^= value >>> 16;
  value = Math.imul(value, 0x85eb_ca6b);
  value ^= value >>> 13;
  value = Math.imul(value, 0xc2b2_ae35);
  value ^= value >>> 16;
  return value >>> 0;
}

type Key = readonly [number, number, number, number];

/**
 * Absorbs 32-bit words into a 128-bit key. Every word passes through the non-linear
 * {@link mix32} into all four lanes, so keys of different labels are unrelated.
 */
function absorb(start: Key, words: readonly number[]): Key {
  let [lane0, lane1, lane2, lane3] = start;
  const absorbWord = (word: number): void => {
    lane0 = mix32((lane0 ^ word) + 0x9e37_79b9);
    lane1 = mix32((lane1 + lane0) ^ 0x243f_6a88);
    lane2 = mix32((lane2 ^ lane1) + 0xb7e1_5162);
    lane3 = mix32((lane3 + lane2) ^ 0x85a3_08d3);
  };
  for (const word of words) {
    absorbWord(word);
  }
  absorbWord(words.length);
  if ((lane0 | lane1 | lane2 | lane3) === 0) {
    lane0 = 1;
  }
  return [lane0, lane1, lane2, lane3];
}

const rootKey: Key = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a];

function keyOfLabel(parent: Key, label: string): Key {
  const words: number[] = [...parent];
  for (let index = 0; index < label.length; index += 1) {
    words.push(label.charCodeAt(index));
  }
  return absorb(rootKey, words);
}

/**
 * Precomputed constants of the rejection-inversion Zipf sampler (Hörmann and Derflinger,
 * "Rejection-inversion to generate variates from monotone discrete distributions", 1996):
 * O(1) memory and expected O(1) time per draw for any count.
 */
class ZipfSampler {
  readonly count: number;
  readonly exponent: number;
  readonly #integralLow: number;
  readonly #integralHigh: number;
  readonly #acceptBelow: number;

  constructor(count: number, exponent: number) {
    this.count = count;
    this.exponent = exponent;
    this.#integralLow = this.#integral(1.5) - 1;
    this.#integralHigh = this.#integral(count + 0.5);
    this.#acceptBelow = 2 - this.#inverseIntegral(this.#integral(2.5) - this.#density(2));
  }

  sample(random: Random): number {
    for (;;) {
      const area = this.#integralHigh + random.float() * (this.#integralLow - this.#integralHigh);
      const x = this.#inverseIntegral(area);
      const rank = Math.min(this.count, Math.max(1, Math.floor(x + 0.5)));
      if (
        rank - x <= this.#acceptBelow ||
        area >= this.#integral(rank + 0.5) - this.#density(rank)
      ) {
        return rank;
      }
    }
  }

  /** x^-exponent */
  #density(x: number): number {
    return Math.exp(-this.exponent * Math.log(x));
  }

  /** The integral of the density from 1 to x, stable at exponent 1. */
  #integral(x: number): number {
    const logX = Math.log(x);
    return logX * expm1OverX((1 - this.exponent) * logX);
  }

  #inverseIntegral(area: number): number {
    const t = area * (1 - this.exponent);
    return Math.exp(log1pOverX(t) * area);
  }
}

/** (e^t - 1) / t, continuous at 0. */
function expm1OverX(t: number): number {
  return Math.abs(t) > 1e-8 ? Math.expm1(t) / t : 1 + t / 2;
}

/** ln(1 + t) / t, continuous at 0. */
function log1pOverX(t: number): number {
  return Math.abs(t) > 1e-8 ? Math.log1p(t) / t : 1 - t / 2;
}

/**
 * A seeded, forkable generator: xoshiro128** (Blackman and Vigna) keyed by a 53-bit
 * seed. Fast, 128 bits of state, period 2^128 - 1.
 *
 * @example
 * ```ts
 * const random = new SeededRandom({ seed: 42 });
 * const network = random.fork('network');
 * random.integer(1, 6); // a die roll; the same on every run with seed 42
 * network.exponential(10); // a delay with mean 10, unaffected by the die rolls
 * ```
 */
export class SeededRandom implements Random {
  /** The seed this generator (or its root, for a fork) was built from. */
  readonly seed: number;
  /** The fork labels from the root to this generator, joined with `/`; '' for the root. */
  path = '';
  #key: Key;
  #state0 = 0;
  #state1 = 0;
  #state2 = 0;
  #state3 = 0;
  #zipf: ZipfSampler | undefined;

  constructor(options: SeededRandomOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        'options',
        'SeededRandom needs an options object such as { seed: 42 }.',
      );
    }
    this.seed = requireInteger('SeededRandom options.seed', options.seed, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
    });
    this.#key = absorb(rootKey, [this.seed % twoPow32, Math.floor(this.seed / twoPow32)]);
    this.#reset();
  }

  #reset(): void {
    [this.#state0, this.#state1, this.#state2, this.#state3] = this.#key;
  }

  fork(label: string): SeededRandom {
    requireString('SeededRandom.fork label', label);
    const child = new SeededRandom({ seed: this.seed });
    child.path = this.path === '' ? label : `${this.path}/${label}`;
    child.#key = keyOfLabel(this.#key, label);
    child.#reset();
    return child;
  }

  uint32(): number {
    const state1 = this.#state1;
    const result = Math.imul(rotateLeft(Math.imul(state1, 5), 7), 9) >>> 0;
    const shifted = state1 << 9;
    const state2 = this.#state2 ^ this.#state0;
    const state3 = this.#state3 ^ state1;
    this.#state1 = state1 ^ state2;
    this.#state0 = this.#state0 ^ state3;
    this.#state2 = state2 ^ shifted;
    this.#state3 = rotateLeft(state3, 11);
    return result;
  }

  float(): number {
    return this.#uint53() / twoPow53;
  }

  /** A uniformly distributed integer in [0, 2^53). */
  #uint53(): number {
    const high = this.uint32() >>> 5;
    const low = this.uint32() >>> 6;
    return high * 0x400_0000 + low;
  }

  integer(minInclusive: number, maxInclusive: number): number {
    if (
      !Number.isSafeInteger(minInclusive) ||
      !Number.isSafeInteger(maxInclusive) ||
      minInclusive > maxInclusive ||
      maxInclusive - minInclusive >= twoPow53
    ) {
      throw new InvalidArgumentError(
        'minInclusive',
        `Random.integer needs safe integers with minInclusive <= maxInclusive and a range ` +
          `below 2^53; got ${minInclusive} and ${maxInclusive}.`,
      );
    }
    const range = maxInclusive - minInclusive + 1;
    if (range <= twoPow32) {
      // Rejection keeps every value equally likely: draws past the last whole multiple of
      // `range` below 2^32 would favour small remainders.
      const limit = twoPow32 - (twoPow32 % range);
      let draw = this.uint32();
      while (draw >= limit) {
        draw = this.uint32();
      }
      return minInclusive + (draw % range);
    }
    const limit = twoPow53 - (twoPow53 % range);
    let draw = this.#uint53();
    while (draw >= limit) {
      draw = this.#uint53();
    }
    return minInclusive + (draw % range);
  }

  boolean(probabilityTrue = 0.5): boolean {
    // The typeof check matters: relational operators coerce, so '0.5', true, null or []
    // would otherwise pass as probabilities.
    if (!(typeof probabilityTrue === 'number' && probabilityTrue >= 0 && probabilityTrue <= 1)) {
      requireNumber('Random.boolean probabilityTrue', probabilityTrue, { min: 0, max: 1 });
    }
    return this.float() < probabilityTrue;
  }

  pick<T>(items: readonly T[]): T {
    if (!Array.isArray(items) || items.length === 0) {
      throw new InvalidArgumentError('items', 'Random.pick needs a non-empty array.');
    }
    return items[this.integer(0, items.length - 1)] as T;
  }

  shuffle<T>(items: T[]): T[] {
    if (!Array.isArray(items)) {
      throw new InvalidArgumentError('items', 'Random.shuffle needs an array.');
    }
    for (let index = items.length - 1; index > 0; index -= 1) {
      const other = this.integer(0, index);
      const item = items[index] as T;
      items[index] = items[other] as T;
      items[other] = item;
    }
    return items;
  }

  exponential(mean: number): number {
    if (!(mean > 0 && Number.isFinite(mean))) {
      requireNumber('Random.exponential mean', mean, { min: Number.MIN_VALUE });
    }
    return -mean * Math.log(1 - this.float());
  }

  normal(mean = 0, standardDeviation = 1): number {
    requireNumber('Random.normal mean', mean);
    requireNumber('Random.normal standardDeviation', standardDeviation, { min: 0 });
    // Marsaglia's polar method: needs only log and sqrt, no trigonometry.
    for (;;) {
      const u = 2 * this.float() - 1;
      const v = 2 * this.float() - 1;
      const radiusSquared = u * u + v * v;
      if (radiusSquared > 0 && radiusSquared < 1) {
        return (
          mean + standardDeviation * u * Math.sqrt((-2 * Math.log(radiusSquared)) / radiusSquared)
        );
      }
    }
  }

  zipf(count: number, exponent: number): number {
    let sampler = this.#zipf;
    if (sampler === undefined || sampler.count !== count || sampler.exponent !== exponent) {
      requireInteger('Random.zipf count', count, { min: 1 });
      requireNumber('Random.zipf exponent', exponent, { min: Number.MIN_VALUE });
      sampler = new ZipfSampler(count, exponent);
      this.#zipf = sampler;
    }
    return count === 1 ? 1 : sampler.sample(this);
  }
}
