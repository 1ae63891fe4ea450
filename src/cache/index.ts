/**
 * `distkit/cache`: a bounded in-process cache with the eviction policies of the caching
 * research (LRU, LFU, SLRU, ARC and the default W-TinyLFU), bounds by entry count or
 * weight, per-entry TTLs with jitter, invalidation by key, tag and prefix across
 * instances, and statistics and eviction events; and the loading layer on top of it
 * (cache-aside, read-through, write-through, write-behind, single flight, early refresh,
 * stale windows, negative caching, a Bloom filter). It runs on the injected Clock,
 * Scheduler and Random of `distkit/core` and keeps no timers of its own.
 *
 * @packageDocumentation
 */

export {
  BloomFilter,
  type BloomFilterKey,
  type BloomFilterOptions,
  bloomFilterSize,
  isBloomFilterKey,
} from './bloom-filter.js';
export {
  Cache,
  type CacheOptions,
  type CachePolicy,
  type CacheRemoval,
  type CacheRemovalReason,
  type CacheSetOptions,
  type CacheStats,
  cacheRemovalReasons,
} from './cache.js';
export { EntryTooHeavyError, isEntryTooHeavyError } from './errors.js';
export {
  FrequencySketch,
  type FrequencySketchOptions,
  hashKey,
} from './frequency-sketch.js';
export {
  type InvalidationBus,
  type InvalidationEvent,
  LocalInvalidationBus,
} from './invalidation.js';
export {
  type LoadCause,
  type Loader,
  type LoaderContext,
  LoadingCache,
  type LoadingCacheEntry,
  type LoadingCacheLoadEvent,
  type LoadingCacheLoadFailureEvent,
  type LoadingCacheOptions,
  type LoadingCacheReadOptions,
  type LoadingCacheStaleEvent,
  type LoadingCacheStats,
  type LoadingCacheStore,
  type LoadingCacheWarmOptions,
  type LoadingCacheWarmResult,
  type LoadingCacheWriteOptions,
  type WriteThroughStore,
} from './loading-cache.js';
export {
  isLoadingCacheClosedError,
  isLoadTimeoutError,
  LoadingCacheClosedError,
  LoadTimeoutError,
} from './loading-errors.js';
export {
  SingleFlight,
  type SingleFlightCallOptions,
  type SingleFlightLoad,
  type SingleFlightOptions,
} from './single-flight.js';
export {
  InMemoryWriteBehindQueue,
  isWriteBehindClosedError,
  isWriteBehindFullError,
  type PendingWrite,
  type WriteBehindBatchWriter,
  WriteBehindClosedError,
  type WriteBehindCloseOptions,
  type WriteBehindFlushEvent,
  type WriteBehindFlushFailureEvent,
  WriteBehindFullError,
  type WriteBehindOptions,
  type WriteBehindQueue,
  type WriteBehindStats,
  WriteBehindWriter,
} from './write-behind.js';
export { XFetch, type XFetchOptions, xfetchProbability } from './xfetch.js';
