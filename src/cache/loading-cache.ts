/**
 * The loading layer over a {@link Cache}: where values come from on a miss, where writes
 * go, and what protects the origin when things go wrong.
 *
 * - Cache-aside: `getOrLoad(key, loader)`; read-through: a loader bound at construction
 *   and `get(key)`.
 * - Write-through (`writeThrough`: the store first, then the cache; a failed write leaves
 *   the cache as it was) and write-behind (`writeBehind`: a {@link WriteBehindWriter}).
 * - Stampedes: every miss goes through a {@link SingleFlight}, so concurrent misses of a
 *   key share one load; XFetch refreshes hot entries early (`earlyRefreshBeta`);
 *   stale-while-revalidate serves a stale value within an explicit window while one
 *   background refresh runs; stale-if-error serves it within its own window when the
 *   loader fails.
 * - Penetration: a loader's "not found" (it returns `undefined`) is cached for
 *   `negativeTtlMs`, and a {@link BloomFilter} in front of the loader answers keys that
 *   cannot exist without a load.
 * - Avalanche: jittered TTLs (`ttlJitter`) and staggered warm-up (`warm`).
 * - Limits: a load that does not settle within `loadTimeoutMs` is given up (its callers
 *   reject with {@link LoadTimeoutError}), at most `loadCountMax` loads run at once and at
 *   most `writeCountMax` writes run or wait at once.
 * - Lifecycle: after `close()` every call rejects with {@link LoadingCacheClosedError};
 *   the loads running then are aborted, the writes already accepted finish.
 *
 * Each cached value travels in a {@link LoadingCacheEntry} envelope that records when it
 * was loaded, how long the load took (XFetch's delta) and when it goes stale; the entry's
 * hard TTL in the Cache is its fresh time plus the longer stale window, so the Cache drops
 * it once no window can use it. The layer needs only `get`, `peek`, `set` and `delete` of
 * the Cache ({@link LoadingCacheStore}).
 *
 * @module
 */

import {
  abortError,
  type Clock,
  type DistkitErrorLike,
  describeValue,
  Emitter,
  type Event,
  InvalidArgumentError,
  isAbortedError,
  LimitExceededError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptionalSignal,
  requireOptions,
  type ScheduledTask,
  type Scheduler,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import { type BloomFilter, isBloomFilterKey } from './bloom-filter.js';
import {
  isLoadingCacheClosedError,
  LoadingCacheClosedError,
  LoadTimeoutError,
} from './loading-errors.js';
import { WarmUp, type WarmUpAccess, warmKeyCountMax } from './loading-warm.js';
import { SingleFlight } from './single-flight.js';
import type { WriteBehindWriter } from './write-behind.js';
import { XFetch } from './xfetch.js';

/**
 * What the loading layer stores in the Cache for each key: the value (or "not found")
 * and the times the strategies need.
 */
export interface LoadingCacheEntry<V> {
  /** The value; `undefined` for a cached "not found" (negative caching). */
  readonly value: V | undefined;
  /** When the value was loaded or written, on the layer's clock. */
  readonly loadedAtMs: number;
  /** How long the load took, in ms (0 for a written value): XFetch's delta. */
  readonly loadDurationMs: number;
  /** Until when the value is fresh (soft expiry); after it, only the stale windows serve it. */
  readonly freshUntilMs: number;
}

/**
 * The part of a {@link Cache} the loading layer uses. A `Cache<K, LoadingCacheEntry<V>>`
 * is one; a test may pass a `Map`-like fake.
 */
export interface LoadingCacheStore<K, V> {
  /** The entry for `key`, counted as a use; undefined when absent or expired. */
  get(key: K): LoadingCacheEntry<V> | undefined;
  /** The entry for `key` without counting a use. */
  peek(key: K): LoadingCacheEntry<V> | undefined;
  /** Stores `entry`; it expires after `options.ttlMs` (Infinity: never). */
  set(key: K, entry: LoadingCacheEntry<V>, options: { readonly ttlMs: number }): unknown;
  /** Removes `key`'s entry. */
  delete(key: K): unknown;
}

/** What a loader is given besides the key. */
export interface LoaderContext {
  /**
   * Aborts when nobody waits for the load any more (every caller of the shared load
   * aborted, or a warm-up was cancelled; reason an `AbortedError`), when the load runs
   * past `loadTimeoutMs` (reason a {@link LoadTimeoutError}), or when the cache is closed
   * (reason a {@link LoadingCacheClosedError}). A loader should stop its work then: what
   * it returns afterwards is not stored, except after a plain abort, when a value that
   * still arrives is kept.
   */
  readonly signal: AbortSignal;
}

/**
 * Loads the value of `key` from the origin. Returning `undefined` means "not found": the
 * caller gets `undefined`, and with `negativeTtlMs` the answer is cached. Throwing (or
 * rejecting) is a failed load: nothing is cached, and the next read loads again.
 */
export type Loader<K, V> = (
  key: K,
  context: LoaderContext,
) => V | undefined | PromiseLike<V | undefined>;

/** The backing store for write-through: the cache is written only after these succeed. */
export interface WriteThroughStore<K, V> {
  /** Writes `value` for `key` to the backing store. */
  write(key: K, value: V, signal: AbortSignal | undefined): void | PromiseLike<void>;
  /** Removes `key` from the backing store. */
  delete(key: K, signal: AbortSignal | undefined): void | PromiseLike<void>;
}

/** Options for {@link LoadingCache}. */
export interface LoadingCacheOptions<K, V> {
  /**
   * The cache that holds the entries, for example `new Cache({ maxEntries: 10_000 })`.
   * Leave its `ttlMs` and `ttlJitter` unset: the loading layer gives each entry its TTL
   * (and jitter) itself, and a shorter TTL from the Cache would drop entries early.
   */
  readonly cache: LoadingCacheStore<K, V>;
  /** The loader of read-through `get`; without it only `getOrLoad` loads. */
  readonly loader?: Loader<K, V>;
  /** How long a loaded or written value is fresh, in ms (> 0; `Infinity`: always). Required. */
  readonly ttlMs: number;
  /**
   * Spreads fresh times so that values loaded together do not go stale together (an
   * avalanche): each is drawn uniformly from `ttlMs * (1 ± ttlJitter)`. In [0, 1); default 0.
   */
  readonly ttlJitter?: number;
  /**
   * Stale-while-revalidate window, in ms (>= 0; default 0, off): for this long after a
   * value goes stale, a read returns it at once and starts one background refresh.
   */
  readonly staleWhileRevalidateMs?: number;
  /**
   * Stale-if-error window, in ms (>= 0; default 0, off): for this long after a value goes
   * stale, a read whose load fails returns the stale value instead of the error.
   */
  readonly staleIfErrorMs?: number;
  /**
   * How long a "not found" (the loader returned `undefined`) is cached, in ms (>= 0;
   * default 0: not cached, every read of a missing key reaches the loader).
   */
  readonly negativeTtlMs?: number;
  /**
   * XFetch's beta for early refresh of fresh values (>= 0; default 0, off). With beta > 0
   * a read of a fresh value may start a background refresh before it goes stale, more
   * likely the nearer it is and the longer its load took; 1 is the paper's choice.
   */
  readonly earlyRefreshBeta?: number;
  /**
   * Keys that may exist. A read of a key the filter rules out answers "not found"
   * without a load; `set` adds its key. Keys must then be strings or numbers.
   */
  readonly bloomFilter?: BloomFilter;
  /** Write-through: `set` and `delete` write here first. Not with `writeBehind`. */
  readonly writeThrough?: WriteThroughStore<K, V>;
  /** Write-behind: `set` and `delete` queue here. Not with `writeThrough`. */
  readonly writeBehind?: WriteBehindWriter<K, V>;
  /**
   * Most loads running at once; one more rejects with `LimitExceededError`. A load counts
   * until its loader returns, also after every caller left it (their signals aborted): a
   * loader that ignores its signal still loads the origin. Default 10,000.
   */
  readonly loadCountMax?: number;
  /**
   * How long a load may run, in ms (> 0; `Infinity`: no limit). Default 10,000. Past it the
   * loader's signal aborts, every caller waiting on the load rejects with
   * {@link LoadTimeoutError} (or, within `staleIfErrorMs`, gets the stale value), nothing
   * is stored, the cached entry stays as it was, and the next read starts a new load. It
   * is what keeps a hung origin from holding a key's single flight, and every later miss
   * of the key that joins it, forever. The timer runs on `scheduler`.
   */
  readonly loadTimeoutMs?: number;
  /**
   * Most writes (`set` and `delete`) running or waiting behind an earlier write of their
   * key, over all keys; one more rejects with `LimitExceededError` and changes nothing.
   * Default 10,000.
   */
  readonly writeCountMax?: number;
  /** Runs warm-up; its clock times loads and entries. Default `systemScheduler`. */
  readonly scheduler?: Scheduler;
  /** Draws TTL jitter, XFetch's u and warm-up jitter. Default a `systemRandom()`. */
  readonly random?: Random;
}

/** Options of a read. */
export interface LoadingCacheReadOptions {
  /** Cancels this caller's wait; a load shared with other callers goes on for them. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of a write. */
export interface LoadingCacheWriteOptions {
  /** Passed to the write-through store; the cache is not written if the write is aborted. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link LoadingCache.warm}. */
export interface LoadingCacheWarmOptions<K, V> {
  /**
   * The window the loads are spread over, in ms (>= 0): key i of n starts at a random time
   * within its slot [i, i + 1) * windowMs / n, so the origin sees an even trickle, not a
   * burst. 0 starts every key at once (still bounded by `concurrencyMax`).
   */
  readonly windowMs: number;
  /** Most warm-up loads at once (>= 1). Default 8. */
  readonly concurrencyMax?: number;
  /** The loader; default the loader given at construction. */
  readonly loader?: Loader<K, V>;
  /** Cancels the warm-up: no further loads start, and the ones running are aborted. */
  readonly signal?: AbortSignal | undefined;
}

/** What a warm-up did. */
export interface LoadingCacheWarmResult {
  /** Keys loaded with a value. */
  readonly loadedCount: number;
  /** Keys the loader reported as not found. */
  readonly notFoundCount: number;
  /** Keys already fresh in the cache, not loaded again. */
  readonly skippedCount: number;
  /** Keys whose load failed. */
  readonly failedCount: number;
}

/** Counters of a {@link LoadingCache} since construction. */
export interface LoadingCacheStats {
  /** Reads answered by a fresh entry (negative entries included). */
  readonly hits: number;
  /** Reads that found no usable entry and waited for a load. */
  readonly misses: number;
  /** Reads of fresh "not found" entries (counted in `hits` too). */
  readonly negativeHits: number;
  /** Reads the Bloom filter answered "not found" without a load. */
  readonly bloomRejections: number;
  /** Loads started (reads, refreshes and warm-up; shared loads count once). */
  readonly loads: number;
  /** Loads that threw or rejected. */
  readonly loadFailures: number;
  /** Total time of finished loads, in ms on the clock. */
  readonly loadTimeTotalMs: number;
  /** The longest finished load, in ms. */
  readonly loadTimeMaxMs: number;
  /** Stale values served within the stale-while-revalidate window. */
  readonly staleWhileRevalidateServed: number;
  /** Stale values served within the stale-if-error window after a failed load. */
  readonly staleIfErrorServed: number;
  /** Background refreshes started (stale-while-revalidate and early). */
  readonly refreshes: number;
  /** Of those, early refreshes of fresh values (XFetch). */
  readonly earlyRefreshes: number;
  /**
   * Background refreshes not started because `loadCountMax` keys were loading already; the
   * read was still answered with the value it had. Not counted in `refreshes`.
   */
  readonly refreshesRefused: number;
  /** Loads that ran past `loadTimeoutMs` (counted in `loadFailures` too). */
  readonly loadTimeouts: number;
  /** Writes (`set` and `delete`) that reached their store. */
  readonly writes: number;
  /** Writes whose store failed; the cache was left as it was. */
  readonly writeFailures: number;
}

/** Payload of {@link LoadingCache.onLoad}. */
export interface LoadingCacheLoadEvent<K> {
  /** The key loaded. */
  readonly key: K;
  /** How long the load took, in ms. */
  readonly durationMs: number;
  /** False when the loader reported "not found". */
  readonly found: boolean;
  /** What started the load. */
  readonly cause: LoadCause;
}

/** Payload of {@link LoadingCache.onLoadFailure}. */
export interface LoadingCacheLoadFailureEvent<K> {
  /** The key whose load failed. */
  readonly key: K;
  /** How long the load ran before it failed, in ms. */
  readonly durationMs: number;
  /** What the loader threw. */
  readonly error: unknown;
  /** What started the load. */
  readonly cause: LoadCause;
}

/** Payload of {@link LoadingCache.onStaleServed}. */
export interface LoadingCacheStaleEvent<K> {
  /** The key whose stale value was served. */
  readonly key: K;
  /** Which window allowed it. */
  readonly window: 'while-revalidate' | 'if-error';
  /** How long the value had been stale, in ms. */
  readonly staleForMs: number;
}

/**
 * What started a load: a read that missed, a background refresh of a stale value, an
 * early (XFetch) refresh of a fresh one, or a warm-up.
 */
export type LoadCause = 'miss' | 'stale' | 'early' | 'warm';

/** The outcome of a shared load, as the flight hands it to its callers. */
type LoadOutcome<V> = V | undefined;

/** A load whose loader has not settled: the handle that the timeout and close() end it by. */
interface RunningLoad {
  /**
   * Ends the load now: aborts the loader's signal with `error`, rejects the load's callers
   * with it and stores nothing. `failed` counts it as a failed load (a timeout); a load
   * ended by close() is not the origin's failure.
   */
  stop(error: DistkitErrorLike, failed: boolean): void;
}

/** Operations running on one key; see `LoadingCache.#keyStates`. */
interface KeyState {
  /** Loads and writes running. */
  runningCount: number;
  /** Writes running or waiting for the previous write of the key. */
  writingCount: number;
  /** Sequence number of the newest write or invalidation. */
  lastWriteSequence: number;
  /** Settles when the newest write has; the next write of the key starts after it. */
  writeTail: Promise<void> | undefined;
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}

function requireWindow(name: string, value: unknown): number {
  return requireNumber(name, value ?? 0, { min: 0 });
}

/**
 * A cache that loads what it misses, writes through or behind, and protects its origin
 * from stampedes, penetration and avalanches. See the module notes for each strategy.
 *
 * Reads never throw for a miss: they resolve with the value, or `undefined` when the
 * loader reports "not found". A loader that throws rejects the reads waiting on it (or,
 * within `staleIfErrorMs`, they get the stale value) and never leaves anything in the
 * cache.
 *
 * @example
 * ```ts
 * const users = new LoadingCache<string, User>({
 *   cache: new Cache({ maxEntries: 10_000 }),
 *   loader: (id, { signal }) => fetchUser(id, signal),
 *   ttlMs: 60_000,
 *   ttlJitter: 0.1,
 *   staleWhileRevalidateMs: 10_000,
 *   staleIfErrorMs: 300_000,
 *   negativeTtlMs: 5_000,
 * });
 * const user = await users.get('42', { signal: request.signal });
 * ```
 */
export class LoadingCache<K, V> {
  /** How long a value is fresh, in ms. */
  readonly ttlMs: number;
  /** The spread of fresh times, a fraction of `ttlMs`. */
  readonly ttlJitter: number;
  /** The stale-while-revalidate window, in ms. */
  readonly staleWhileRevalidateMs: number;
  /** The stale-if-error window, in ms. */
  readonly staleIfErrorMs: number;
  /** How long a "not found" is cached, in ms (0: not cached). */
  readonly negativeTtlMs: number;
  /** XFetch's beta for early refresh (0: off). */
  readonly earlyRefreshBeta: number;
  /** How long a load may run, in ms (`Infinity`: no limit). */
  readonly loadTimeoutMs: number;
  /** Most loads running at once. */
  readonly loadCountMax: number;
  /** Most writes running or waiting at once, over all keys. */
  readonly writeCountMax: number;
  readonly #cache: LoadingCacheStore<K, V>;
  readonly #loader: Loader<K, V> | undefined;
  readonly #bloomFilter: BloomFilter | undefined;
  readonly #writeThrough: WriteThroughStore<K, V> | undefined;
  readonly #writeBehind: WriteBehindWriter<K, V> | undefined;
  readonly #scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #xfetch: XFetch | undefined;
  readonly #flights: SingleFlight<K, LoadOutcome<V>>;
  /** Hard TTL beyond the fresh time: the longer stale window. */
  readonly #staleKeepMs: number;
  /**
   * Keys with a load or write running: how many run, the newest write's (or
   * invalidation's) sequence number, and the tail of the key's write chain. A load stores
   * its result only if no write ran since it began, so a load that read the origin before
   * a write cannot overwrite the written value. Emptied as operations end.
   */
  readonly #keyStates = new Map<K, KeyState>();
  #sequence = 0;
  /** Warm-ups running, so that close() can cancel them. */
  readonly #warmups = new Set<AbortController>();
  /** Loads whose loader has not settled (at most one per key plus abandoned ones). */
  readonly #runningLoads = new Set<RunningLoad>();
  /** Writes running or waiting behind an earlier write of their key. */
  #writeCount = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  #hits = 0;
  #misses = 0;
  #negativeHits = 0;
  #bloomRejections = 0;
  #loads = 0;
  #loadFailures = 0;
  #loadTimeTotalMs = 0;
  #loadTimeMaxMs = 0;
  #staleWhileRevalidateServed = 0;
  #staleIfErrorServed = 0;
  #refreshes = 0;
  #earlyRefreshes = 0;
  #refreshesRefused = 0;
  #loadTimeouts = 0;
  #writes = 0;
  #writeFailures = 0;

  readonly #loaded = new Emitter<LoadingCacheLoadEvent<K>>();
  readonly #loadFailed = new Emitter<LoadingCacheLoadFailureEvent<K>>();
  readonly #staleServed = new Emitter<LoadingCacheStaleEvent<K>>();

  /** Emitted when a load finishes with a value or "not found". */
  readonly onLoad: Event<LoadingCacheLoadEvent<K>> = this.#loaded.event;
  /** Emitted when a load fails (background refreshes included, whose errors go nowhere else). */
  readonly onLoadFailure: Event<LoadingCacheLoadFailureEvent<K>> = this.#loadFailed.event;
  /** Emitted when a read is answered with a stale value. */
  readonly onStaleServed: Event<LoadingCacheStaleEvent<K>> = this.#staleServed.event;

  constructor(options: LoadingCacheOptions<K, V>) {
    const checked = requireOptions('LoadingCache options', options);
    const cache = checked.cache;
    if (
      typeof cache !== 'object' ||
      cache === null ||
      typeof cache.get !== 'function' ||
      typeof cache.peek !== 'function' ||
      typeof cache.set !== 'function' ||
      typeof cache.delete !== 'function'
    ) {
      throw new InvalidArgumentError(
        'options.cache',
        'LoadingCache options.cache must be a Cache (get, peek, set and delete); got ' +
          `${describeValue(cache)}.`,
      );
    }
    this.#cache = cache;
    this.#loader =
      checked.loader === undefined
        ? undefined
        : requireFunction('LoadingCache options.loader', checked.loader);
    if (checked.ttlMs !== Number.POSITIVE_INFINITY) {
      requireNumber('LoadingCache options.ttlMs', checked.ttlMs, { min: Number.MIN_VALUE });
    }
    this.ttlMs = checked.ttlMs;
    this.ttlJitter = requireNumber('LoadingCache options.ttlJitter', checked.ttlJitter ?? 0, {
      min: 0,
    });
    if (this.ttlJitter >= 1) {
      throw new InvalidArgumentError(
        'options.ttlJitter',
        `LoadingCache options.ttlJitter must be in [0, 1); got ${this.ttlJitter}.`,
      );
    }
    this.staleWhileRevalidateMs = requireWindow(
      'LoadingCache options.staleWhileRevalidateMs',
      checked.staleWhileRevalidateMs,
    );
    this.staleIfErrorMs = requireWindow(
      'LoadingCache options.staleIfErrorMs',
      checked.staleIfErrorMs,
    );
    this.negativeTtlMs = requireWindow('LoadingCache options.negativeTtlMs', checked.negativeTtlMs);
    this.earlyRefreshBeta = requireWindow(
      'LoadingCache options.earlyRefreshBeta',
      checked.earlyRefreshBeta,
    );
    this.#staleKeepMs = Math.max(this.staleWhileRevalidateMs, this.staleIfErrorMs);
    const loadTimeoutMs = checked.loadTimeoutMs ?? 10_000;
    this.loadTimeoutMs =
      loadTimeoutMs === Number.POSITIVE_INFINITY
        ? loadTimeoutMs
        : requireNumber('LoadingCache options.loadTimeoutMs', loadTimeoutMs, {
            min: Number.MIN_VALUE,
          });
    this.writeCountMax = requireInteger(
      'LoadingCache options.writeCountMax',
      checked.writeCountMax ?? 10_000,
      { min: 1 },
    );
    const bloomFilter = checked.bloomFilter;
    if (
      bloomFilter !== undefined &&
      (typeof bloomFilter !== 'object' ||
        bloomFilter === null ||
        typeof bloomFilter.mightContain !== 'function' ||
        typeof bloomFilter.add !== 'function')
    ) {
      throw new InvalidArgumentError(
        'options.bloomFilter',
        `LoadingCache options.bloomFilter must be a BloomFilter; got ${describeValue(bloomFilter)}.`,
      );
    }
    this.#bloomFilter = bloomFilter;
    const writeThrough = checked.writeThrough;
    if (
      writeThrough !== undefined &&
      (typeof writeThrough !== 'object' ||
        writeThrough === null ||
        typeof writeThrough.write !== 'function' ||
        typeof writeThrough.delete !== 'function')
    ) {
      throw new InvalidArgumentError(
        'options.writeThrough',
        'LoadingCache options.writeThrough must have write and delete methods; got ' +
          `${describeValue(writeThrough)}.`,
      );
    }
    const writeBehind = checked.writeBehind;
    if (
      writeBehind !== undefined &&
      (typeof writeBehind !== 'object' ||
        writeBehind === null ||
        typeof writeBehind.set !== 'function' ||
        typeof writeBehind.pending !== 'function')
    ) {
      throw new InvalidArgumentError(
        'options.writeBehind',
        `LoadingCache options.writeBehind must be a WriteBehindWriter; got ${describeValue(writeBehind)}.`,
      );
    }
    if (writeThrough !== undefined && writeBehind !== undefined) {
      throw new InvalidArgumentError(
        'options.writeBehind',
        'LoadingCache takes writeThrough or writeBehind, not both: a write either reaches ' +
          'the store before it is acknowledged or after.',
      );
    }
    this.#writeThrough = writeThrough;
    this.#writeBehind = writeBehind;
    const scheduler = checked.scheduler ?? systemScheduler;
    if (typeof scheduler?.schedule !== 'function' || typeof scheduler.clock?.nowMs !== 'function') {
      throw new InvalidArgumentError(
        'options.scheduler',
        'LoadingCache options.scheduler must be a Scheduler from distkit/core.',
      );
    }
    this.#scheduler = scheduler;
    this.#clock = scheduler.clock;
    const random = checked.random ?? systemRandom();
    if (typeof random?.float !== 'function') {
      throw new InvalidArgumentError(
        'options.random',
        'LoadingCache options.random must be a Random from distkit/core.',
      );
    }
    this.#random = random;
    this.#xfetch =
      this.earlyRefreshBeta > 0
        ? new XFetch({ beta: this.earlyRefreshBeta, random, clock: this.#clock })
        : undefined;
    this.loadCountMax = requireInteger(
      'LoadingCache options.loadCountMax',
      checked.loadCountMax ?? 10_000,
      { min: 1 },
    );
    this.#flights = new SingleFlight<K, LoadOutcome<V>>({ flightCountMax: this.loadCountMax });
  }

  /** The counters since construction. */
  get stats(): LoadingCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      negativeHits: this.#negativeHits,
      bloomRejections: this.#bloomRejections,
      loads: this.#loads,
      loadFailures: this.#loadFailures,
      loadTimeTotalMs: this.#loadTimeTotalMs,
      loadTimeMaxMs: this.#loadTimeMaxMs,
      staleWhileRevalidateServed: this.#staleWhileRevalidateServed,
      staleIfErrorServed: this.#staleIfErrorServed,
      refreshes: this.#refreshes,
      earlyRefreshes: this.#earlyRefreshes,
      refreshesRefused: this.#refreshesRefused,
      loadTimeouts: this.#loadTimeouts,
      writes: this.#writes,
      writeFailures: this.#writeFailures,
    };
  }

  /** Keys with a load running. */
  get loadingCount(): number {
    return this.#flights.flightCount;
  }

  /**
   * Read-through: the value of `key`, loaded with the loader given at construction on a
   * miss. Throws `InvalidArgumentError` when there is none (use `getOrLoad`). Rejects like
   * {@link LoadingCache.getOrLoad}.
   */
  get(key: K, options?: LoadingCacheReadOptions): Promise<V | undefined> {
    const loader = this.#loader;
    if (loader === undefined) {
      throw new InvalidArgumentError(
        'options.loader',
        'LoadingCache.get needs the loader option at construction; pass a loader to ' +
          'getOrLoad instead.',
      );
    }
    return this.#read(key, loader, options);
  }

  /**
   * Cache-aside: the value of `key`, loaded with `loader` on a miss. Resolves with
   * `undefined` when the loader reports "not found" (or the Bloom filter rules the key
   * out). Rejects with the loader's error or a {@link LoadTimeoutError}, unless a stale
   * value within `staleIfErrorMs` can answer; with the abort's error when
   * `options.signal` aborts first; with `LimitExceededError` when `loadCountMax` keys are
   * loading already; and with {@link LoadingCacheClosedError} after `close()`.
   *
   * Single flight: a call that misses while a load of `key` is running joins that load
   * and gets its outcome; its own `loader` is not called. Concurrent callers that pass
   * different loaders for one key therefore all get what the first caller's loader
   * returned: one key must mean one value, whichever loader fetches it. A stale read's
   * background refresh, likewise, runs the loader of the read that started it.
   */
  getOrLoad(
    key: K,
    loader: Loader<K, V>,
    options?: LoadingCacheReadOptions,
  ): Promise<V | undefined> {
    if (typeof loader !== 'function') {
      requireFunction('LoadingCache.getOrLoad loader', loader);
    }
    return this.#read(key, loader, options);
  }

  /**
   * The value cached for `key`, fresh or stale, without loading, counting or refreshing;
   * undefined when none (or a cached "not found").
   */
  peek(key: K): V | undefined {
    return this.#cache.peek(key)?.value;
  }

  #read(
    key: K,
    loader: Loader<K, V>,
    options: LoadingCacheReadOptions | undefined,
  ): Promise<V | undefined> {
    const signal =
      options === undefined
        ? undefined
        : requireOptionalSignal(
            'LoadingCache read options.signal',
            requireOptions('LoadingCache read options', options).signal,
          );
    const bloomFilter = this.#bloomFilter;
    if (bloomFilter !== undefined && !isBloomFilterKey(key)) {
      throw new InvalidArgumentError(
        'key',
        `LoadingCache with a bloomFilter takes string or number keys; got ${describeValue(key)}.`,
      );
    }
    if (this.#closed) {
      return Promise.reject(new LoadingCacheClosedError());
    }
    const nowMs = this.#clock.nowMs();
    const entry = this.#cache.get(key);
    if (entry !== undefined) {
      if (nowMs < entry.freshUntilMs) {
        this.#hits += 1;
        if (entry.value === undefined) {
          this.#negativeHits += 1;
        } else if (
          this.#xfetch !== undefined &&
          entry.freshUntilMs !== Number.POSITIVE_INFINITY &&
          !this.#flights.has(key) &&
          this.#xfetch.shouldRecomputeAt(nowMs, entry.freshUntilMs, entry.loadDurationMs)
        ) {
          this.#refresh(key, loader, 'early');
        }
        return Promise.resolve(entry.value);
      }
      const staleForMs = nowMs - entry.freshUntilMs;
      if (staleForMs < this.staleWhileRevalidateMs) {
        this.#staleWhileRevalidateServed += 1;
        if (this.#staleServed.listenerCount > 0) {
          this.#staleServed.emit({ key, window: 'while-revalidate', staleForMs });
        }
        if (!this.#flights.has(key)) {
          this.#refresh(key, loader, 'stale');
        }
        return Promise.resolve(entry.value);
      }
    }
    if (signal?.aborted === true) {
      return Promise.reject(abortError(signal));
    }
    if (entry === undefined && bloomFilter !== undefined) {
      if (!bloomFilter.mightContain(key as string | number)) {
        this.#bloomRejections += 1;
        return Promise.resolve(undefined);
      }
    }
    this.#misses += 1;
    const waiting = this.#load(key, loader, 'miss', signal);
    if (this.staleIfErrorMs === 0) {
      return waiting;
    }
    return waiting.then(undefined, (error: unknown) => this.#staleIfError(key, error, signal));
  }

  /** A read's load failed: answer with the stale value if its window allows, else rethrow. */
  #staleIfError(key: K, error: unknown, signal: AbortSignal | undefined): V | undefined {
    // The caller's own abort and a close() are answers, not origin failures to hide.
    if (signal?.aborted === true || isAbortedError(error) || isLoadingCacheClosedError(error)) {
      throw error;
    }
    const entry = this.#cache.peek(key);
    if (entry === undefined) {
      throw error;
    }
    const staleForMs = this.#clock.nowMs() - entry.freshUntilMs;
    if (staleForMs >= this.staleIfErrorMs) {
      throw error;
    }
    this.#staleIfErrorServed += 1;
    if (this.#staleServed.listenerCount > 0) {
      this.#staleServed.emit({ key, window: 'if-error', staleForMs: Math.max(0, staleForMs) });
    }
    return entry.value;
  }

  /**
   * Starts a background refresh whose outcome no caller waits for, unless `loadCountMax`
   * keys are loading already: then the read keeps its answer and the refresh is counted
   * as refused.
   */
  #refresh(key: K, loader: Loader<K, V>, cause: LoadCause): void {
    if (this.#loadSlotsFull()) {
      this.#refreshesRefused += 1;
      return;
    }
    this.#refreshes += 1;
    if (cause === 'early') {
      this.#earlyRefreshes += 1;
    }
    // A failure was counted and reported by #runLoad; the stale entry stays as it was.
    this.#load(key, loader, cause, undefined).catch(() => {});
  }

  /** True when one more load would pass `loadCountMax`. */
  #loadSlotsFull(): boolean {
    return (
      this.#flights.flightCount >= this.loadCountMax || this.#runningLoads.size >= this.loadCountMax
    );
  }

  /** Loads `key` through the single flight; stores what the load returns. */
  #load(
    key: K,
    loader: Loader<K, V>,
    cause: LoadCause,
    signal: AbortSignal | undefined,
  ): Promise<LoadOutcome<V>> {
    return this.#flights.run(
      key,
      (loadSignal) => this.#runLoad(key, loader, cause, loadSignal),
      signal === undefined ? undefined : { signal },
    );
  }

  /**
   * Runs the loader for the flight of `key`. The loader gets a signal of its own, which
   * follows the flight's signal (every caller gone) and also aborts at `loadTimeoutMs` and
   * at close(); a load that is ended early settles its flight at once and stores nothing,
   * whenever its loader settles.
   */
  #runLoad(
    key: K,
    loader: Loader<K, V>,
    cause: LoadCause,
    flightSignal: AbortSignal,
  ): LoadOutcome<V> | Promise<LoadOutcome<V>> {
    // A write waiting in the write-behind queue is newer than anything the origin has.
    const pending = this.#writeBehind?.pending(key);
    if (pending !== undefined) {
      const value = pending.kind === 'set' ? pending.value : undefined;
      this.#store(key, value, this.#clock.nowMs(), 0);
      return value;
    }
    // Loads whose callers all left still hold the origin until their loaders return.
    if (this.#runningLoads.size >= this.loadCountMax) {
      throw new LimitExceededError(
        this.loadCountMax,
        `${this.loadCountMax} loads are already running (some perhaps abandoned by their ` +
          'callers but not yet returned by their loaders); make the loader honour its ' +
          'signal, lower loadTimeoutMs, or raise loadCountMax.',
      );
    }
    const sequence = this.#beginLoad(key);
    this.#loads += 1;
    const startMs = this.#clock.nowMs();
    const controller = new AbortController();
    const onFlightAbort = (): void => controller.abort(flightSignal.reason);
    flightSignal.addEventListener('abort', onFlightAbort, { once: true });
    let result: V | undefined | PromiseLike<V | undefined>;
    try {
      result = loader(key, { signal: controller.signal });
    } catch (error) {
      flightSignal.removeEventListener('abort', onFlightAbort);
      this.#loadFailedWith(key, sequence, startMs, error, cause);
      throw error;
    }
    if (!isThenable<V | undefined>(result)) {
      flightSignal.removeEventListener('abort', onFlightAbort);
      return this.#loadSucceeded(key, sequence, startMs, result, cause);
    }
    const settling = result;
    return new Promise<LoadOutcome<V>>((resolve, reject) => {
      let timer: ScheduledTask | undefined;
      /** True for the first of: the loader settles, the timeout, close(). */
      const end = (): boolean => {
        if (!this.#runningLoads.delete(running)) {
          return false;
        }
        timer?.cancel();
        flightSignal.removeEventListener('abort', onFlightAbort);
        return true;
      };
      const running: RunningLoad = {
        stop: (error, failed) => {
          if (!end()) {
            return;
          }
          controller.abort(error);
          if (failed) {
            this.#loadTimeouts += 1;
            this.#loadFailedWith(key, sequence, startMs, error, cause);
          } else {
            this.#endLoad(key, sequence);
          }
          reject(error);
        },
      };
      this.#runningLoads.add(running);
      const timeoutMs = this.loadTimeoutMs;
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = this.#scheduler.schedule(timeoutMs, () => {
          running.stop(new LoadTimeoutError(timeoutMs), true);
        });
      }
      Promise.resolve(settling).then(
        (value) => {
          if (end()) {
            try {
              resolve(this.#loadSucceeded(key, sequence, startMs, value, cause));
            } catch (error) {
              reject(error);
            }
          }
        },
        (error: unknown) => {
          if (end()) {
            this.#loadFailedWith(key, sequence, startMs, error, cause);
            reject(error);
          }
        },
      );
    });
  }

  #loadSucceeded(
    key: K,
    sequence: number,
    startMs: number,
    value: V | undefined,
    cause: LoadCause,
  ): LoadOutcome<V> {
    const nowMs = this.#clock.nowMs();
    const durationMs = nowMs - startMs;
    this.#recordLoadTime(durationMs);
    if (this.#endLoad(key, sequence)) {
      this.#store(key, value, nowMs, durationMs);
    }
    if (this.#loaded.listenerCount > 0) {
      this.#loaded.emit({ key, durationMs, found: value !== undefined, cause });
    }
    return value;
  }

  #loadFailedWith(
    key: K,
    sequence: number,
    startMs: number,
    error: unknown,
    cause: LoadCause,
  ): void {
    const durationMs = this.#clock.nowMs() - startMs;
    this.#recordLoadTime(durationMs);
    this.#loadFailures += 1;
    this.#endLoad(key, sequence);
    if (this.#loadFailed.listenerCount > 0) {
      this.#loadFailed.emit({ key, durationMs, error, cause });
    }
  }

  /** The operations running on `key`, made when the first one begins. */
  #stateOf(key: K): KeyState {
    let state = this.#keyStates.get(key);
    if (state === undefined) {
      state = { runningCount: 0, writingCount: 0, lastWriteSequence: 0, writeTail: undefined };
      this.#keyStates.set(key, state);
    }
    return state;
  }

  /** Forgets `key`'s state once nothing runs on it. */
  #release(key: K, state: KeyState): void {
    state.runningCount -= 1;
    if (state.runningCount === 0 && this.#keyStates.get(key) === state) {
      this.#keyStates.delete(key);
    }
  }

  /**
   * Registers a load of `key`. Returns its sequence number, or 0 when a write of the key
   * is running: the load may then read the origin before or after the write lands, so
   * whatever it reads is not stored.
   */
  #beginLoad(key: K): number {
    const state = this.#stateOf(key);
    state.runningCount += 1;
    this.#sequence += 1;
    return state.writingCount > 0 ? 0 : this.#sequence;
  }

  /** Ends a load; true when it may store its result: no write ran since it began. */
  #endLoad(key: K, sequence: number): boolean {
    const state = this.#keyStates.get(key) as KeyState;
    this.#release(key, state);
    return sequence !== 0 && state.lastWriteSequence < sequence;
  }

  #recordLoadTime(durationMs: number): void {
    this.#loadTimeTotalMs += durationMs;
    if (durationMs > this.#loadTimeMaxMs) {
      this.#loadTimeMaxMs = durationMs;
    }
  }

  /** The fresh time of a new entry: `ttlMs` (or `negativeTtlMs`), with jitter. */
  #freshForMs(found: boolean): number {
    const baseMs = found ? this.ttlMs : this.negativeTtlMs;
    if (this.ttlJitter === 0 || baseMs === Number.POSITIVE_INFINITY) {
      return baseMs;
    }
    return baseMs * (1 + this.ttlJitter * (2 * this.#random.float() - 1));
  }

  /** Stores a value (or "not found") in its envelope; a "not found" only with negativeTtlMs. */
  #store(key: K, value: V | undefined, nowMs: number, loadDurationMs: number): void {
    if (value === undefined && this.negativeTtlMs === 0) {
      // Nothing to cache, and an older entry must not outlive the origin's answer.
      this.#cache.delete(key);
      return;
    }
    const freshForMs = this.#freshForMs(value !== undefined);
    const entry: LoadingCacheEntry<V> = {
      value,
      loadedAtMs: nowMs,
      loadDurationMs,
      freshUntilMs: nowMs + freshForMs,
    };
    this.#cache.set(key, entry, { ttlMs: freshForMs + this.#staleKeepMs });
  }

  /**
   * Writes `value` for `key`. With `writeThrough`, the store first: if it fails, the call
   * rejects with its error and the cache is left as it was. With `writeBehind`, the write
   * is queued first (rejecting, and leaving the cache as it was, when the queue is full or
   * closed). Then the cache holds the value, fresh for `ttlMs`, and a load of the key that
   * was already running will not overwrite it. `undefined` throws `InvalidArgumentError`.
   */
  set(key: K, value: V, options?: LoadingCacheWriteOptions): Promise<void> {
    if (value === undefined) {
      throw new InvalidArgumentError(
        'value',
        'LoadingCache.set value must not be undefined (it means "not found"); use delete.',
      );
    }
    return this.#write(key, value, this.#writeSignal(key, options));
  }

  /**
   * Removes `key`: from the write-through store first, or queued as a delete with
   * write-behind, then from the cache. Without a write strategy it only drops the cached
   * entry (cache-aside invalidation after the caller updated the origin itself).
   */
  delete(key: K, options?: LoadingCacheWriteOptions): Promise<void> {
    return this.#write(key, undefined, this.#writeSignal(key, options));
  }

  /**
   * Drops the cached entry of `key` without touching any store; the next read loads, and
   * a load already running (which may have read the old value) does not store its result.
   * Throws {@link LoadingCacheClosedError} after `close()`.
   */
  invalidate(key: K): void {
    if (this.#closed) {
      throw new LoadingCacheClosedError();
    }
    const state = this.#keyStates.get(key);
    if (state !== undefined) {
      this.#sequence += 1;
      state.lastWriteSequence = this.#sequence;
    }
    this.#cache.delete(key);
  }

  /** Checks a write's key and options; returns its signal. */
  #writeSignal(key: K, options: LoadingCacheWriteOptions | undefined): AbortSignal | undefined {
    if (this.#bloomFilter !== undefined && !isBloomFilterKey(key)) {
      throw new InvalidArgumentError(
        'key',
        `LoadingCache with a bloomFilter takes string or number keys; got ${describeValue(key)}.`,
      );
    }
    return options === undefined
      ? undefined
      : requireOptionalSignal(
          'LoadingCache write options.signal',
          requireOptions('LoadingCache write options', options).signal,
        );
  }

  /**
   * Runs a write after the previous write of the same key has settled, so that the store
   * receives a key's writes in the order they were made and the cache ends with the same
   * value as the store.
   */
  #write(key: K, value: V | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new LoadingCacheClosedError());
    }
    if (this.#writeCount >= this.writeCountMax) {
      return Promise.reject(
        new LimitExceededError(
          this.writeCountMax,
          `${this.writeCountMax} writes are already running or waiting behind an earlier ` +
            'write of their key; the store is slower than the writers. Slow them down, or ' +
            'raise writeCountMax.',
        ),
      );
    }
    this.#writeCount += 1;
    const state = this.#stateOf(key);
    this.#sequence += 1;
    // Loads that began before this write will not store what they read.
    state.lastWriteSequence = this.#sequence;
    state.runningCount += 1;
    state.writingCount += 1;
    const previous = state.writeTail;
    const run = (): Promise<void> => this.#applyWrite(key, value, signal);
    const written = previous === undefined ? run() : previous.then(run);
    const tail: Promise<void> = written.then(
      () => this.#endWrite(key, state, tail),
      () => this.#endWrite(key, state, tail),
    );
    state.writeTail = tail;
    return written;
  }

  async #applyWrite(key: K, value: V | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) {
      throw abortError(signal);
    }
    const writeThrough = this.#writeThrough;
    const writeBehind = this.#writeBehind;
    if (writeThrough !== undefined || writeBehind !== undefined) {
      try {
        if (writeThrough !== undefined) {
          await (value === undefined
            ? writeThrough.delete(key, signal)
            : writeThrough.write(key, value, signal));
        } else if (writeBehind !== undefined) {
          await (value === undefined ? writeBehind.delete(key) : writeBehind.set(key, value));
        }
      } catch (error) {
        this.#writeFailures += 1;
        throw error;
      }
      this.#writes += 1;
    }
    // Once the store has the write, the cache follows it even if the caller has aborted
    // meanwhile: otherwise the cache would keep a value the store replaced.
    if (value === undefined) {
      this.#cache.delete(key);
    } else {
      this.#bloomFilter?.add(key as string | number);
      this.#store(key, value, this.#clock.nowMs(), 0);
    }
  }

  #endWrite(key: K, state: KeyState, tail: Promise<void>): void {
    this.#writeCount -= 1;
    state.writingCount -= 1;
    if (state.writeTail === tail) {
      state.writeTail = undefined;
    }
    this.#release(key, state);
  }

  /**
   * Loads `keys` ahead of traffic, spread over `options.windowMs` with jitter and at most
   * `options.concurrencyMax` at once, so a cold start or a mass expiry does not hit the
   * origin in one burst. Keys already fresh are skipped. Resolves with the counts when
   * every key was handled; a failed key is counted, not thrown. Rejects with the abort's
   * error when `options.signal` aborts first, and with {@link LoadingCacheClosedError}
   * when the cache is closed before or during the warm-up.
   */
  warm(keys: Iterable<K>, options: LoadingCacheWarmOptions<K, V>): Promise<LoadingCacheWarmResult> {
    const checked = requireOptions('LoadingCache.warm options', options);
    const windowMs = requireNumber('LoadingCache.warm options.windowMs', checked.windowMs, {
      min: 0,
    });
    const concurrencyMax = requireInteger(
      'LoadingCache.warm options.concurrencyMax',
      checked.concurrencyMax ?? 8,
      { min: 1 },
    );
    const loader = checked.loader ?? this.#loader;
    if (loader === undefined) {
      throw new InvalidArgumentError(
        'options.loader',
        'LoadingCache.warm needs a loader: pass options.loader or give one at construction.',
      );
    }
    requireFunction('LoadingCache.warm options.loader', loader);
    const signal = requireOptionalSignal('LoadingCache.warm options.signal', checked.signal);
    if (keys === null || typeof (keys as Iterable<K>)?.[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError(
        'keys',
        `LoadingCache.warm keys must be iterable; got ${describeValue(keys)}.`,
      );
    }
    const list: K[] = [];
    // Bounded: a warm-up holds its keys until it ends.
    for (const key of keys) {
      if (list.length >= warmKeyCountMax) {
        throw new LimitExceededError(
          warmKeyCountMax,
          `LoadingCache.warm takes at most ${warmKeyCountMax} keys per call; split the keys ` +
            'into several warm-ups.',
        );
      }
      list.push(key);
    }
    if (this.#closed) {
      return Promise.reject(new LoadingCacheClosedError());
    }
    const access: WarmUpAccess<K, V> = {
      scheduler: this.#scheduler,
      random: this.#random,
      warmups: this.#warmups,
      isFresh: (key) => {
        const entry = this.#cache.peek(key);
        return entry !== undefined && this.#clock.nowMs() < entry.freshUntilMs;
      },
      load: (key, loadWith, loadSignal) => this.#load(key, loadWith, 'warm', loadSignal),
    };
    return new WarmUp(access, list, loader, windowMs, concurrencyMax, signal).run();
  }

  /**
   * Closes the cache for good. From the call on, `get`, `getOrLoad`, `set`, `delete` and
   * `warm` reject, and `invalidate` throws, with {@link LoadingCacheClosedError}; `peek`
   * and `stats` still answer. The loads running are aborted: their loaders' signals abort
   * and their callers (stale-if-error notwithstanding) reject with that error, and nothing
   * they return is stored, so close() leaves no load and no timer behind. Running
   * warm-ups reject with it too. The writes already accepted finish: close() waits for
   * them (and for the writes queued behind them on their keys), then closes the
   * write-behind writer, which flushes what it holds; it resolves when that flush ends
   * and rejects if it fails. Calling it again returns the first call's promise.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) {
      return this.#closing;
    }
    this.#closed = true;
    const error = new LoadingCacheClosedError();
    for (const running of [...this.#runningLoads]) {
      running.stop(error, false);
    }
    for (const controller of [...this.#warmups]) {
      controller.abort(error);
    }
    this.#closing = this.#closeWrites();
    return this.#closing;
  }

  async #closeWrites(): Promise<void> {
    const tails: Promise<void>[] = [];
    for (const state of this.#keyStates.values()) {
      if (state.writeTail !== undefined) {
        tails.push(state.writeTail);
      }
    }
    // A tail settles when its write has (either way) and never rejects.
    await Promise.all(tails);
    if (this.#writeBehind !== undefined) {
      await this.#writeBehind.close();
    }
  }
}
