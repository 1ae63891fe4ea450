/**
 * What the bulkhead and the load shedder share: free a slot when the work in it settles,
 * without a closure or an extra promise hop per call. Internal to `distkit/resilience`.
 *
 * @module
 */

import { isThenable } from './timeout.js';

/**
 * Returns the work's own result as a promise and calls `release` once it has settled. The
 * reaction is registered before the promise is handed back, so the slot is free before
 * the caller resumes. Pass a `release` bound once per policy, not a new closure per call.
 */
export function holdUntilSettled<T>(result: T | PromiseLike<T>, release: () => void): Promise<T> {
  if (isThenable(result)) {
    const promise = Promise.resolve(result);
    promise.then(release, release);
    return promise;
  }
  release();
  return Promise.resolve(result);
}
