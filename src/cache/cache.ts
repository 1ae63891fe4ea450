/**
 * The cache container: keys map to slot indices, values live in arrays indexed by slot,
 * and the eviction policy orders slots in typed-array linked lists, so a hit allocates
 * nothing and calls no closure. Optional features (expiry, weights, tags, events, an
 * invalidation bus) cost one branch each when unused.
 *
 * @module
 */

import {
  type Clock,
  type Disposable,
  Emitter,
  type Event,
  InvalidArgumentError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptions,
  requireString,
  systemClock,
  systemRandom,
} from '../core/index.js';
import { ExpiryHeap } from './cache-expiry.js';
import { EntryTooHeavyError } from './errors.js';
import type { InvalidationBus, InvalidationEvent } from './invalidation.js';
import { ArcPolicy } from './policies/arc.js';
import { LfuPolicy } from './policies/lfu.js';
import { grownInt32, slotBase } from './policies/links.js';
import { LruPolicy } from './policies/lru.js';
import type { CachePolicy, EvictionPolicy } from './policies/policy.js';
import { SlruPolicy } from './policies/slru.js';
import { WindowTinyLfuPolicy } from './policies/w-tinylfu.js';

export type { CachePolicy } from './policies/policy.js';

/**
 * Why an entry left the cache:
 * - `capacity`: the policy evicted it to keep the cache within its bound;
 * - `rejected`: an admission filter (W-TinyLFU) refused to keep a new entry in place of a
 *   more frequently used one;
 * - `expired`: its TTL passed;
 * - `invalidated`: `invalidateTag`, `invalidatePrefix`, or an event from the
 *   invalidation bus;
 * - `replaced`: `set` stored a new value for its key (the event carries the old value);
 * - `deleted`: `delete(key)`;
 * - `cleared`: `clear()`, on this instance or, through the invalidation bus, another.
 */
export type CacheRemovalReason =
  | 'capacity'
  | 'rejected'
  | 'expired'
  | 'invalidated'
  | 'replaced'
  | 'deleted'
  | 'cleared';

/** The reasons of {@link CacheRemovalReason}, in a fixed order. */
export const cacheRemovalReasons: readonly CacheRemovalReason[] = [
  'capacity',
  'rejected',
  'expired',
  'invalidated',
  'replaced',
  'deleted',
  'cleared',
];

/** What {@link Cache.removed} reports: one entry that left, and why. */
export interface CacheRemoval<K, V> {
  /** The entry's key. */
  readonly key: K;
  /** The value that left (for `replaced`, the old value). */
  readonly value: V;
  /** Why it left. */
  readonly reason: CacheRemovalReason;
}

/** Options for {@link Cache}. Give exactly one of `maxEntries` and `maxWeight`. */
export interface CacheOptions<K, V> {
  /** Most entries held at once: a positive integer. */
  readonly maxEntries?: number;
  /**
   * Most total weight held at once: a positive number. Each entry's weight comes from
   * `set(key, value, { weight })`, else from `weigh(key, value)`, else is 1.
   */
  readonly maxWeight?: number;
  /**
   * Weighs an entry (only with `maxWeight`). It must return a finite positive number no
   * larger than `maxWeight`: anything else is an `InvalidArgumentError`, and a weight
   * over `maxWeight` an {@link EntryTooHeavyError}, thrown by `set` before anything
   * changes.
   */
  readonly weigh?: (key: K, value: V) => number;
  /**
   * The eviction policy. Default `'w-tinylfu'`; see docs/cache.md "Choosing a policy".
   * - `'lru'`: evicts the least recently used entry.
   * - `'lfu'`: evicts the entry with the fewest uses since it was stored; among equals,
   *   the least recently used (constant time per operation).
   * - `'slru'`: new entries in probation, entries used again in a protected segment of
   *   `protectedFraction` (80%); evicts probation's least recently used entry.
   * - `'arc'`: Adaptive Replacement Cache (recency and frequency lists sized by ghost
   *   hits).
   * - `'w-tinylfu'`: an LRU admission window in front of an SLRU main region; a frequency
   *   sketch decides whether the window's candidate replaces the main region's victim.
   *
   * Under `maxWeight` every policy picks victims in the same order and evicts until the
   * total fits; the regions of SLRU, ARC and W-TinyLFU are budgeted in weight.
   */
  readonly policy?: CachePolicy;
  /** Default time to live of an entry, in ms (> 0). Default: entries do not expire. */
  readonly ttlMs?: number;
  /**
   * Spreads TTLs so that entries written together do not expire together: each entry's
   * TTL is drawn uniformly from `ttlMs * (1 ± ttlJitter)` with `random`. A fraction in
   * [0, 1). Default 0.
   */
  readonly ttlJitter?: number;
  /** W-TinyLFU: the admission window's initial share of the capacity, in (0, 1). Default 0.01. */
  readonly windowFraction?: number;
  /** W-TinyLFU: whether the window size adapts by hill climbing on the hit ratio. Default true. */
  readonly adaptiveWindow?: boolean;
  /** SLRU and W-TinyLFU: the protected segment's share of the (main) capacity, in (0, 1). Default 0.8. */
  readonly protectedFraction?: number;
  /** Invalidation across instances: this cache publishes to and listens on `bus`. */
  readonly invalidation?: {
    /** The shared bus. */
    readonly bus: InvalidationBus;
    /** This instance's id, to ignore its own events. Default: a random id from `random`. */
    readonly origin?: string;
  };
  /** Time source for TTLs. Default `systemClock`. */
  readonly clock?: Clock;
  /** Randomness for TTL jitter, hashing seeds and admission. Default `systemRandom`. */
  readonly random?: Random;
}

/** Options for {@link Cache.set}. */
export interface CacheSetOptions {
  /**
   * Time to live in ms (> 0), overriding the cache's `ttlMs`; `Infinity` stores an entry
   * that does not expire. Jitter applies as for the default.
   */
  readonly ttlMs?: number;
  /** The entry's weight (with `maxWeight`), overriding `weigh`. */
  readonly weight?: number;
  /** Tags for {@link Cache.invalidateTag}. */
  readonly tags?: readonly string[];
}

/** Counters of a {@link Cache} since it was made (or since `resetStats()`). */
export interface CacheStats {
  /** Reads that found a live entry (`get`). */
  readonly hits: number;
  /** Reads that found nothing or an expired entry (`get`). */
  readonly misses: number;
  /** hits / (hits + misses), or 0 before any read. */
  readonly hitRatio: number;
  /** New entries stored. */
  readonly inserts: number;
  /** Values replaced for keys already stored. */
  readonly updates: number;
  /** Entries that left, by reason. */
  readonly removals: Readonly<Record<CacheRemovalReason, number>>;
  /** Entries evicted to respect the bound: `capacity` plus `rejected` removals. */
  readonly evictions: number;
  /** Entries held now (expired ones not yet purged included). */
  readonly size: number;
  /** Total weight held now. */
  readonly weight: number;
}

const noTags: readonly string[] = [];
const capacityIndex = 0;
const rejectedIndex = 1;
const expiredIndex = 2;
const invalidatedIndex = 3;
const replacedIndex = 4;
const deletedIndex = 5;
const clearedIndex = 6;

function createPolicy<K, V>(
  name: CachePolicy,
  capacity: number,
  slotCount: number,
  options: CacheOptions<K, V>,
  random: Random,
): EvictionPolicy {
  const protectedFraction = requireNumber(
    'Cache options.protectedFraction',
    options.protectedFraction ?? 0.8,
    { min: 0, max: 1 },
  );
  switch (name) {
    case 'lru':
      return new LruPolicy(capacity, slotCount);
    case 'lfu':
      return new LfuPolicy(capacity, slotCount);
    case 'slru':
      return new SlruPolicy(capacity, slotCount, protectedFraction);
    case 'arc':
      return new ArcPolicy(capacity, slotCount);
    case 'w-tinylfu': {
      const windowFraction = requireNumber(
        'Cache options.windowFraction',
        options.windowFraction ?? 0.01,
        { min: 0, max: 1 },
      );
      const adaptive = options.adaptiveWindow ?? true;
      if (typeof adaptive !== 'boolean') {
        throw new InvalidArgumentError(
          'Cache options.adaptiveWindow',
          'Cache options.adaptiveWindow must be a boolean.',
        );
      }
      return new WindowTinyLfuPolicy(capacity, slotCount, {
        windowFraction,
        protectedFraction,
        adaptive,
        random,
        entryCountEstimate: options.maxEntries ?? Math.min(Math.ceil(capacity), 1 << 16),
      });
    }
  }
}

function requirePositiveTtl(name: string, ttlMs: unknown): number {
  if (ttlMs === Number.POSITIVE_INFINITY) {
    return ttlMs;
  }
  return requireNumber(name, ttlMs, { min: Number.MIN_VALUE });
}

/**
 * A bounded in-process cache.
 *
 * `get` returns `undefined` for a miss, which is why `undefined` cannot be stored: `set`
 * with an `undefined` value throws `InvalidArgumentError` (store `null` or a sentinel to
 * cache "nothing here"). Expired entries are never returned; they are removed when read,
 * a few at a time during writes, and all at once by {@link Cache.purgeExpired}. The cache
 * has no timers.
 *
 * @example
 * ```ts
 * const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
 * cache.set('a', 1).set('b', 2);
 * cache.get('a'); // 1, and 'a' is now the most recently used
 * cache.set('c', 3); // evicts 'b'
 * cache.has('b'); // false
 * ```
 */
export class Cache<K, V> {
  /** The policy in use. */
  readonly policy: CachePolicy;
  /** The bound: `maxEntries`, or `maxWeight`. */
  readonly capacity: number;
  /** Whether the bound is on weight (`maxWeight`) rather than entries. */
  readonly weighted: boolean;

  readonly #index = new Map<K, number>();
  #keys: (K | undefined)[];
  #values: (V | undefined)[];
  #free: Int32Array;
  #freeCount = 0;
  #nextSlot = slotBase;
  #slotCount: number;
  readonly #lru: LruPolicy | null;
  readonly #tinyLfu: WindowTinyLfuPolicy | null;
  readonly #policy: EvictionPolicy;
  /** The policy's per-slot weights, read here through a field of one shape. */
  #weights: Float64Array;
  #used = 0;

  readonly #weigh: ((key: K, value: V) => number) | undefined;
  readonly #ttlMs: number;
  readonly #ttlJitter: number;
  readonly #clock: Clock;
  readonly #random: Random;
  #expiry: ExpiryHeap | null = null;
  #tags: (readonly string[] | undefined)[] | null = null;
  #tagIndex: Map<string, Set<K>> | null = null;

  #hits = 0;
  #misses = 0;
  #inserts = 0;
  #updates = 0;
  readonly #removals = new Float64Array(cacheRemovalReasons.length);
  readonly #removed = new Emitter<CacheRemoval<K, V>>();

  readonly #bus: InvalidationBus | undefined;
  readonly #origin: string;
  readonly #subscription: Disposable | undefined;

  /** Each entry that leaves the cache, with the reason. Free when nobody listens. */
  readonly removed: Event<CacheRemoval<K, V>> = this.#removed.event;

  constructor(options: CacheOptions<K, V>) {
    requireOptions('Cache options', options);
    if (options === undefined) {
      throw new InvalidArgumentError(
        'Cache options',
        'Cache options are required: give maxEntries or maxWeight.',
      );
    }
    const { maxEntries, maxWeight } = options;
    if ((maxEntries === undefined) === (maxWeight === undefined)) {
      throw new InvalidArgumentError(
        'Cache options.maxEntries',
        'Cache options need exactly one bound: maxEntries (an entry count) or maxWeight (a total weight).',
      );
    }
    if (maxEntries !== undefined) {
      this.capacity = requireInteger('Cache options.maxEntries', maxEntries, { min: 1 });
      this.weighted = false;
      if (options.weigh !== undefined) {
        throw new InvalidArgumentError(
          'Cache options.weigh',
          'Cache options.weigh needs maxWeight; with maxEntries every entry counts as 1.',
        );
      }
    } else {
      this.capacity = requireNumber('Cache options.maxWeight', maxWeight, {
        min: Number.MIN_VALUE,
      });
      this.weighted = true;
    }
    this.#weigh =
      options.weigh === undefined
        ? undefined
        : requireFunction<(key: K, value: V) => number>('Cache options.weigh', options.weigh);
    this.policy = requireOneOf('Cache options.policy', options.policy ?? 'w-tinylfu', [
      'lru',
      'lfu',
      'arc',
      'slru',
      'w-tinylfu',
    ]);
    this.#ttlMs =
      options.ttlMs === undefined
        ? Number.POSITIVE_INFINITY
        : requirePositiveTtl('Cache options.ttlMs', options.ttlMs);
    this.#ttlJitter = requireNumber('Cache options.ttlJitter', options.ttlJitter ?? 0, {
      min: 0,
      max: 0.999999,
    });
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom();
    this.#slotCount = this.weighted
      ? slotBase + 64
      : slotBase + Math.min(this.capacity + 1, 1 << 16);
    this.#keys = new Array(this.#slotCount).fill(undefined);
    this.#values = new Array(this.#slotCount).fill(undefined);
    this.#free = new Int32Array(this.#slotCount);
    this.#policy = createPolicy(this.policy, this.capacity, this.#slotCount, options, this.#random);
    this.#weights = this.#policy.weights;
    // The two policies that must be fastest get call sites of their own, which stay
    // monomorphic however many policies a program uses.
    this.#lru = this.#policy instanceof LruPolicy ? this.#policy : null;
    this.#tinyLfu = this.#policy instanceof WindowTinyLfuPolicy ? this.#policy : null;
    if (this.#ttlMs !== Number.POSITIVE_INFINITY) {
      this.#expiry = new ExpiryHeap(this.#slotCount);
    }
    const invalidation = options.invalidation;
    if (invalidation !== undefined) {
      requireOptions('Cache options.invalidation', invalidation);
      const bus = invalidation.bus;
      if (
        typeof bus !== 'object' ||
        bus === null ||
        typeof bus.publish !== 'function' ||
        typeof bus.subscribe !== 'function'
      ) {
        throw new InvalidArgumentError(
          'Cache options.invalidation.bus',
          'Cache options.invalidation.bus must be an InvalidationBus (publish and subscribe).',
        );
      }
      this.#bus = bus;
      this.#origin =
        invalidation.origin === undefined
          ? `cache-${this.#random.uint32().toString(16)}${this.#random.uint32().toString(16)}`
          : requireString('Cache options.invalidation.origin', invalidation.origin);
      this.#subscription = bus.subscribe((event) => this.#onInvalidation(event));
    } else {
      this.#bus = undefined;
      this.#origin = '';
      this.#subscription = undefined;
    }
  }

  /** Entries held (expired entries not yet purged included). */
  get size(): number {
    return this.#index.size;
  }

  /** Total weight held (equal to `size` under `maxEntries`). */
  get weight(): number {
    return this.#used;
  }

  /**
   * W-TinyLFU only: the admission window's current budget (entries, or weight), which the
   * hill climber moves; undefined for the other policies.
   */
  get windowMax(): number | undefined {
    const policy = this.#policy;
    return policy instanceof WindowTinyLfuPolicy ? policy.windowMax : undefined;
  }

  /** This instance's id on the invalidation bus ('' without a bus). */
  get origin(): string {
    return this.#origin;
  }

  /** The value for `key`, or `undefined`; a hit counts as a use for the policy. */
  get(key: K): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined) {
      this.#misses += 1;
      return undefined;
    }
    const expiry = this.#expiry;
    if (expiry !== null && (expiry.expiresAtMs[slot] as number) <= this.#clock.nowMs()) {
      this.#removeSlot(slot, expiredIndex);
      this.#misses += 1;
      return undefined;
    }
    this.#hits += 1;
    const lru = this.#lru;
    if (lru !== null) {
      lru.access(slot);
    } else {
      const tinyLfu = this.#tinyLfu;
      if (tinyLfu !== null) {
        tinyLfu.access(slot);
      } else {
        this.#policy.access(slot);
      }
    }
    return this.#values[slot];
  }

  /** The value for `key`, or `undefined`, without counting a use or a hit or miss. */
  peek(key: K): V | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined || this.#isExpired(slot)) {
      return undefined;
    }
    return this.#values[slot];
  }

  /** Whether a live entry for `key` is held; not a use, not a hit or miss. */
  has(key: K): boolean {
    const slot = this.#index.get(key);
    return slot !== undefined && !this.#isExpired(slot);
  }

  /** The time left to live of `key`'s entry in ms (Infinity if it does not expire), or undefined. */
  ttlMsOf(key: K): number | undefined {
    const slot = this.#index.get(key);
    if (slot === undefined || this.#isExpired(slot)) {
      return undefined;
    }
    const expiry = this.#expiry;
    return expiry === null
      ? Number.POSITIVE_INFINITY
      : (expiry.expiresAtMs[slot] as number) - this.#clock.nowMs();
  }

  /**
   * Stores `value` for `key`, then evicts until the cache is within its bound (which may
   * evict or reject the new entry itself under W-TinyLFU). Returns the cache.
   *
   * Throws `InvalidArgumentError` for an `undefined` value, a bad TTL, weight or tag, and
   * {@link EntryTooHeavyError} for a weight over `maxWeight`; the cache is then unchanged.
   */
  set(key: K, value: V, options?: CacheSetOptions): this {
    if (value === undefined) {
      throw new InvalidArgumentError(
        'Cache.set value',
        'Cache.set value must not be undefined: get() returns undefined for a miss, so a ' +
          'stored undefined could not be told apart; store null or a sentinel instead.',
      );
    }
    let weight = 1;
    let ttlMs = this.#ttlMs;
    let tags: readonly string[] | undefined;
    if (options !== undefined) {
      requireOptions('Cache.set options', options);
      if (options.ttlMs !== undefined) {
        ttlMs = requirePositiveTtl('Cache.set options.ttlMs', options.ttlMs);
      }
      if (options.weight !== undefined) {
        weight = this.#checkWeight('Cache.set options.weight', options.weight);
      } else if (this.#weigh !== undefined) {
        weight = this.#checkWeight('Cache options.weigh result', this.#weigh(key, value));
      }
      if (options.tags !== undefined) {
        tags = this.#checkTags(options.tags);
      }
    } else if (this.#weigh !== undefined) {
      weight = this.#checkWeight('Cache options.weigh result', this.#weigh(key, value));
    }
    const existing = this.#index.get(key);
    if (existing !== undefined) {
      this.#replace(existing, value, weight, ttlMs, tags);
    } else {
      if (this.#expiry !== null) {
        this.#sweep(2);
      }
      this.#insert(key, value, weight, ttlMs, tags);
    }
    if (this.#bus !== undefined) {
      this.#publish({ kind: 'key', key: String(key), origin: this.#origin });
    }
    return this;
  }

  /** Removes `key`'s entry; true if a live one was there. */
  delete(key: K): boolean {
    const found = this.#deleteKey(key, deletedIndex);
    if (this.#bus !== undefined) {
      this.#publish({ kind: 'key', key: String(key), origin: this.#origin });
    }
    return found;
  }

  /** Removes every entry (reason `cleared`) and the policy's history. */
  clear(): void {
    this.#clearAll();
    if (this.#bus !== undefined) {
      this.#publish({ kind: 'clear', origin: this.#origin });
    }
  }

  /** Removes every entry stored with `tag`; returns how many live ones it removed. */
  invalidateTag(tag: string): number {
    requireString('Cache.invalidateTag tag', tag);
    const removed = this.#invalidateTag(tag);
    if (this.#bus !== undefined) {
      this.#publish({ kind: 'tag', tag, origin: this.#origin });
    }
    return removed;
  }

  /**
   * Removes every entry whose key is a string starting with `prefix`; returns how many
   * live ones it removed. It scans every key: O(size).
   */
  invalidatePrefix(prefix: string): number {
    requireString('Cache.invalidatePrefix prefix', prefix, true);
    const removed = this.#invalidatePrefix(prefix);
    if (this.#bus !== undefined) {
      this.#publish({ kind: 'prefix', prefix, origin: this.#origin });
    }
    return removed;
  }

  /** Removes every expired entry now; returns how many. Work is proportional to that count. */
  purgeExpired(): number {
    return this.#expiry === null ? 0 : this.#sweep(Number.POSITIVE_INFINITY);
  }

  /** Live keys, in no particular order. Do not modify the cache while iterating. */
  *keys(): IterableIterator<K> {
    for (const [key, slot] of this.#index) {
      if (!this.#isExpired(slot)) {
        yield key;
      }
    }
  }

  /** Live values, in no particular order. */
  *values(): IterableIterator<V> {
    for (const slot of this.#index.values()) {
      if (!this.#isExpired(slot)) {
        yield this.#values[slot] as V;
      }
    }
  }

  /** Live entries as [key, value], in no particular order. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.#index) {
      if (!this.#isExpired(slot)) {
        yield [key, this.#values[slot] as V];
      }
    }
  }

  /** Same as {@link Cache.entries}. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** The counters since construction or `resetStats()`. */
  stats(): CacheStats {
    const removals = {} as Record<CacheRemovalReason, number>;
    cacheRemovalReasons.forEach((reason, index) => {
      removals[reason] = this.#removals[index] as number;
    });
    const reads = this.#hits + this.#misses;
    return {
      hits: this.#hits,
      misses: this.#misses,
      hitRatio: reads === 0 ? 0 : this.#hits / reads,
      inserts: this.#inserts,
      updates: this.#updates,
      removals,
      evictions: removals.capacity + removals.rejected,
      size: this.#index.size,
      weight: this.#used,
    };
  }

  /** Sets every counter of {@link Cache.stats} back to zero. */
  resetStats(): void {
    this.#hits = 0;
    this.#misses = 0;
    this.#inserts = 0;
    this.#updates = 0;
    this.#removals.fill(0);
  }

  /** Stops listening on the invalidation bus. The cache stays usable locally. */
  close(): void {
    this.#subscription?.dispose();
  }

  #isExpired(slot: number): boolean {
    const expiry = this.#expiry;
    return expiry !== null && (expiry.expiresAtMs[slot] as number) <= this.#clock.nowMs();
  }

  #checkWeight(name: string, weight: unknown): number {
    if (!this.weighted) {
      throw new InvalidArgumentError(
        name,
        `${name}: weights need a cache bounded by maxWeight; this one has maxEntries.`,
      );
    }
    const checked = requireNumber(name, weight, { min: Number.MIN_VALUE });
    if (checked > this.capacity) {
      throw new EntryTooHeavyError(checked, this.capacity);
    }
    return checked;
  }

  #checkTags(tags: readonly string[]): readonly string[] {
    if (!Array.isArray(tags)) {
      throw new InvalidArgumentError(
        'Cache.set options.tags',
        'Cache.set options.tags must be an array of non-empty strings.',
      );
    }
    for (const tag of tags) {
      requireString('Cache.set options.tags[]', tag);
    }
    return tags.length === 0 ? noTags : tags.slice();
  }

  #expiresAt(ttlMs: number): number {
    if (ttlMs === Number.POSITIVE_INFINITY) {
      return ttlMs;
    }
    const jitter = this.#ttlJitter;
    const spread = jitter === 0 ? ttlMs : ttlMs * (1 + jitter * (2 * this.#random.float() - 1));
    return this.#clock.nowMs() + spread;
  }

  #allocate(): number {
    if (this.#freeCount > 0) {
      this.#freeCount -= 1;
      return this.#free[this.#freeCount] as number;
    }
    if (this.#nextSlot === this.#slotCount) {
      this.#grow();
    }
    const slot = this.#nextSlot;
    this.#nextSlot += 1;
    return slot;
  }

  #grow(): void {
    const slotCount = this.#slotCount * 2;
    this.#slotCount = slotCount;
    this.#keys.length = slotCount;
    this.#values.length = slotCount;
    this.#free = grownInt32(this.#free, slotCount);
    this.#policy.grow(slotCount);
    this.#weights = this.#policy.weights;
    this.#expiry?.grow(slotCount);
    if (this.#tags !== null) {
      this.#tags.length = slotCount;
    }
  }

  #insert(
    key: K,
    value: V,
    weight: number,
    ttlMs: number,
    tags: readonly string[] | undefined,
  ): void {
    const lru = this.#lru;
    if (lru !== null && !this.weighted && this.#index.size >= this.capacity) {
      // Evicting first lets the new entry reuse the victim's slot at once.
      this.#release(lru.victim(), capacityIndex);
    }
    const slot = this.#allocate();
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#index.set(key, slot);
    this.#used += weight;
    this.#inserts += 1;
    if (ttlMs !== Number.POSITIVE_INFINITY) {
      this.#expiryHeap().set(slot, this.#expiresAt(ttlMs));
    }
    if (tags !== undefined && tags.length > 0) {
      this.#tag(key, slot, tags);
    }
    if (lru !== null) {
      lru.insert(slot, key, weight);
    } else {
      const tinyLfu = this.#tinyLfu;
      if (tinyLfu !== null) {
        tinyLfu.insert(slot, key, weight);
      } else {
        this.#policy.insert(slot, key, weight);
      }
    }
    if (this.#used > this.capacity) {
      this.#evict();
    }
  }

  #replace(
    slot: number,
    value: V,
    weight: number,
    ttlMs: number,
    tags: readonly string[] | undefined,
  ): void {
    const old = this.#values[slot] as V;
    this.#values[slot] = value;
    this.#updates += 1;
    const expiry = this.#expiry;
    if (expiry !== null || ttlMs !== Number.POSITIVE_INFINITY) {
      this.#expiryHeap().set(slot, this.#expiresAt(ttlMs));
    }
    if (tags !== undefined || (this.#tags !== null && this.#tags[slot] !== undefined)) {
      const key = this.#keys[slot] as K;
      this.#untag(key, slot);
      if (tags !== undefined && tags.length > 0) {
        this.#tag(key, slot, tags);
      }
    }
    this.#used += weight - (this.#weights[slot] as number);
    this.#count(replacedIndex, this.#keys[slot] as K, old);
    const lru = this.#lru;
    if (lru !== null) {
      lru.reweigh(slot, weight);
    } else {
      const tinyLfu = this.#tinyLfu;
      if (tinyLfu !== null) {
        tinyLfu.reweigh(slot, weight);
      } else {
        this.#policy.reweigh(slot, weight);
      }
    }
    if (this.#used > this.capacity) {
      this.#evict();
    }
  }

  #expiryHeap(): ExpiryHeap {
    if (this.#expiry === null) {
      this.#expiry = new ExpiryHeap(this.#slotCount);
    }
    return this.#expiry;
  }

  #evict(): void {
    const lru = this.#lru;
    if (lru !== null) {
      while (this.#used > this.capacity) {
        this.#release(lru.victim(), capacityIndex);
      }
      return;
    }
    const tinyLfu = this.#tinyLfu;
    if (tinyLfu !== null) {
      while (this.#used > this.capacity) {
        const slot = tinyLfu.victim();
        this.#release(slot, tinyLfu.rejected ? rejectedIndex : capacityIndex);
      }
      return;
    }
    const policy = this.#policy;
    while (this.#used > this.capacity) {
      const slot = policy.victim();
      this.#release(slot, policy.rejected ? rejectedIndex : capacityIndex);
    }
  }

  /** Frees `slot`, already unlinked from the policy, and reports its removal. */
  #release(slot: number, reason: number): void {
    const key = this.#keys[slot] as K;
    const value = this.#values[slot] as V;
    this.#index.delete(key);
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    this.#used -= this.#weights[slot] as number;
    if (this.#index.size === 0) {
      this.#used = 0;
    }
    this.#expiry?.delete(slot);
    if (this.#tags !== null && this.#tags[slot] !== undefined) {
      this.#untag(key, slot);
    }
    this.#free[this.#freeCount] = slot;
    this.#freeCount += 1;
    this.#count(reason, key, value);
  }

  #count(reason: number, key: K, value: V): void {
    this.#removals[reason] = (this.#removals[reason] as number) + 1;
    if (this.#removed.listenerCount !== 0) {
      this.#removed.emit({ key, value, reason: cacheRemovalReasons[reason] as CacheRemovalReason });
    }
  }

  #removeSlot(slot: number, reason: number): void {
    this.#policy.remove(slot);
    this.#release(slot, reason);
  }

  #deleteKey(key: K, reason: number): boolean {
    const slot = this.#index.get(key);
    if (slot === undefined) {
      return false;
    }
    const live = !this.#isExpired(slot);
    this.#removeSlot(slot, live ? reason : expiredIndex);
    return live;
  }

  #sweep(countMax: number): number {
    const expiry = this.#expiry as ExpiryHeap;
    if (expiry.size === 0) {
      return 0;
    }
    const nowMs = this.#clock.nowMs();
    let removed = 0;
    while (removed < countMax) {
      const slot = expiry.expired(nowMs);
      if (slot < 0) {
        break;
      }
      this.#removeSlot(slot, expiredIndex);
      removed += 1;
    }
    return removed;
  }

  #tag(key: K, slot: number, tags: readonly string[]): void {
    if (this.#tags === null) {
      this.#tags = new Array(this.#slotCount).fill(undefined);
      this.#tagIndex = new Map();
    }
    this.#tags[slot] = tags;
    const index = this.#tagIndex as Map<string, Set<K>>;
    for (const tag of tags) {
      let keys = index.get(tag);
      if (keys === undefined) {
        keys = new Set();
        index.set(tag, keys);
      }
      keys.add(key);
    }
  }

  #untag(key: K, slot: number): void {
    const tagsBySlot = this.#tags;
    if (tagsBySlot === null) {
      return;
    }
    const tags = tagsBySlot[slot];
    if (tags === undefined) {
      return;
    }
    tagsBySlot[slot] = undefined;
    const index = this.#tagIndex as Map<string, Set<K>>;
    for (const tag of tags) {
      const keys = index.get(tag);
      if (keys !== undefined) {
        keys.delete(key);
        if (keys.size === 0) {
          index.delete(tag);
        }
      }
    }
  }

  #invalidateTag(tag: string): number {
    const keys = this.#tagIndex?.get(tag);
    if (keys === undefined) {
      return 0;
    }
    let removed = 0;
    for (const key of [...keys]) {
      if (this.#deleteKey(key, invalidatedIndex)) {
        removed += 1;
      }
    }
    return removed;
  }

  #invalidatePrefix(prefix: string): number {
    const matching: K[] = [];
    for (const key of this.#index.keys()) {
      if (typeof key === 'string' && key.startsWith(prefix)) {
        matching.push(key);
      }
    }
    let removed = 0;
    for (const key of matching) {
      if (this.#deleteKey(key, invalidatedIndex)) {
        removed += 1;
      }
    }
    return removed;
  }

  #clearAll(): void {
    if (this.#removed.listenerCount !== 0 || this.#index.size > 0) {
      this.#removals[clearedIndex] = (this.#removals[clearedIndex] as number) + this.#index.size;
      if (this.#removed.listenerCount !== 0) {
        for (const [key, slot] of this.#index) {
          this.#removed.emit({ key, value: this.#values[slot] as V, reason: 'cleared' });
        }
      }
    }
    this.#index.clear();
    this.#keys.fill(undefined);
    this.#values.fill(undefined);
    this.#freeCount = 0;
    this.#nextSlot = slotBase;
    this.#used = 0;
    this.#policy.clear();
    this.#expiry?.clear();
    if (this.#tags !== null) {
      this.#tags.fill(undefined);
      this.#tagIndex?.clear();
    }
  }

  #publish(event: InvalidationEvent): void {
    (this.#bus as InvalidationBus).publish(event);
  }

  #onInvalidation(event: InvalidationEvent): void {
    if (event.origin === this.#origin) {
      return;
    }
    switch (event.kind) {
      case 'key': {
        // Keys travel as strings: try the string itself, then the number it spells.
        if (!this.#deleteKey(event.key as K, invalidatedIndex)) {
          const asNumber = Number(event.key);
          if (String(asNumber) === event.key) {
            this.#deleteKey(asNumber as K, invalidatedIndex);
          }
        }
        return;
      }
      case 'tag':
        this.#invalidateTag(event.tag);
        return;
      case 'prefix':
        this.#invalidatePrefix(event.prefix);
        return;
      case 'clear': {
        this.#clearAll();
        return;
      }
    }
  }
}
