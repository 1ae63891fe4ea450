/**
 * Typed errors of `distkit/cache`. Bad options and arguments (a zero size, a NaN TTL,
 * `undefined` as a value) are `InvalidArgumentError` from `distkit/core`; the errors here
 * are the runtime refusals a correct program can still meet. Each has a stable `code`
 * and a brand guard that works across copies of the package.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/**
 * An entry weighs more than the whole cache may hold (`maxWeight`), so storing it would
 * evict everything and still break the bound. Nothing was stored and nothing was evicted.
 */
export class EntryTooHeavyError extends DistkitError {
  /** The entry's weight. */
  readonly weight: number;
  /** The cache's bound, `maxWeight`. */
  readonly weightMax: number;

  constructor(weight: number, weightMax: number, options?: DistkitErrorOptions) {
    super(
      'CACHE_ENTRY_TOO_HEAVY',
      `An entry of weight ${weight} cannot fit in a cache whose maxWeight is ${weightMax}; ` +
        'store it elsewhere, split it, or raise maxWeight.',
      options,
    );
    this.weight = weight;
    this.weightMax = weightMax;
  }
}

/** Brand guard for {@link EntryTooHeavyError}. */
export const isEntryTooHeavyError = errorGuard<EntryTooHeavyError>('CACHE_ENTRY_TOO_HEAVY');
