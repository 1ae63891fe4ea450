/**
 * The rate limiters of `distkit/resilience`: one decision type for every algorithm, the
 * algorithms as pure transitions over small states, single-key and keyed in-memory
 * limiters, the port for remote stores, and a bounded waiter.
 *
 * `src/resilience/index.ts` re-exports all of this.
 *
 * @module
 */

export {
  type AsyncKeyedRateLimiter,
  isRateLimitedError,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  RateLimitedError,
  type ShapeDecision,
  type SyncKeyedRateLimiter,
  type SyncRateLimiter,
} from './decision.js';
export { FixedWindow, type FixedWindowOptions, type FixedWindowState } from './fixed-window.js';
export { Gcra, type GcraOptions, type GcraState } from './gcra.js';
export {
  KeyedRateLimiter,
  type KeyedRateLimiterOptions,
  type KeyedRateLimiterWhenFull,
} from './keyed-limiter.js';
export {
  LeakyBucketMeter,
  type LeakyBucketMeterOptions,
  type LeakyBucketMeterState,
  LeakyBucketShaper,
  type LeakyBucketShaperOptions,
  type LeakyBucketShaperState,
} from './leaky-bucket.js';
export { RateLimiter, type RateLimiterOptions } from './limiter.js';
export {
  SlidingWindowCounter,
  type SlidingWindowCounterOptions,
  type SlidingWindowCounterState,
} from './sliding-window-counter.js';
export {
  SlidingWindowLog,
  type SlidingWindowLogOptions,
  type SlidingWindowLogState,
} from './sliding-window-log.js';
export { TokenBucket, type TokenBucketOptions, type TokenBucketState } from './token-bucket.js';
export {
  RateLimitWaiter,
  type RateLimitWaiterOptions,
  type RateLimitWaitOptions,
} from './waiter.js';
