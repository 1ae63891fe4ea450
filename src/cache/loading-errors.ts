/**
 * Typed runtime errors of {@link LoadingCache}: a load that ran past `loadTimeoutMs`, and
 * a call made after `close()`. Each has a stable `code` and a brand guard.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/**
 * A load ran longer than the cache's `loadTimeoutMs`. The loader's signal was aborted
 * with this error, every caller waiting on the load was rejected with it, nothing was
 * stored and the cached entry (if any) was left as it was; the next read starts a new
 * load. A read within `staleIfErrorMs` of a stale value gets that value instead.
 */
export class LoadTimeoutError extends DistkitError {
  /** The limit the load ran past, in ms. */
  readonly loadTimeoutMs: number;

  constructor(loadTimeoutMs: number, options?: DistkitErrorOptions) {
    super(
      'CACHE_LOAD_TIMEOUT',
      `The load did not settle within loadTimeoutMs (${loadTimeoutMs} ms), so its callers ` +
        'stopped waiting and its signal was aborted; make the loader honour its signal and ' +
        'answer sooner, or raise loadTimeoutMs.',
      options,
    );
    this.loadTimeoutMs = loadTimeoutMs;
  }
}

/** Brand guard for {@link LoadTimeoutError}. */
export const isLoadTimeoutError = errorGuard<LoadTimeoutError>('CACHE_LOAD_TIMEOUT');

/**
 * The {@link LoadingCache} was closed: it takes no more reads, writes, invalidations or
 * warm-ups, and the loads and warm-ups that were running when it closed were ended with
 * this error.
 */
export class LoadingCacheClosedError extends DistkitError {
  constructor(options?: DistkitErrorOptions) {
    super(
      'CACHE_LOADING_CLOSED',
      'The LoadingCache is closed and takes no more calls; make a new one, or close it ' +
        'only after the last request that uses it.',
      options,
    );
  }
}

/** Brand guard for {@link LoadingCacheClosedError}. */
export const isLoadingCacheClosedError =
  errorGuard<LoadingCacheClosedError>('CACHE_LOADING_CLOSED');
