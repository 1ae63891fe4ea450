/**
 * Randomness seeded by the operating system. One of the few files allowed to draw
 * ambient randomness (see `docs/architecture.md`, rule 2).
 *
 * @module
 */

import { SeededRandom } from './random.js';

/** A fresh 53-bit seed from the operating system's entropy source. */
export function systemSeed(): number {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return ((words[0] as number) & 0x1f_ffff) * 0x1_0000_0000 + (words[1] as number);
}

/**
 * A {@link SeededRandom} seeded from the operating system. Its `seed` is readable, so
 * even a production run can log the seed and be replayed.
 *
 * @example
 * ```ts
 * const random = systemRandom();
 * console.log(`random seed ${random.seed}`);
 * ```
 */
export function systemRandom(): SeededRandom {
  return new SeededRandom({ seed: systemSeed() });
}
