/**
 * One rate limit per key (per user, per IP, per API token) in memory, with a bounded
 * number of keys.
 *
 * @module
 */

import {
  type Clock,
  describeValue,
  InvalidArgumentError,
  LimitExceededError,
  requireInteger,
  requireOneOf,
} from '../../core/index.js';
import { requireOptionsObject } from './arithmetic.js';
import type {
  AsyncKeyedRateLimiter,
  RateLimitAlgorithm,
  RateLimitDecision,
  SyncKeyedRateLimiter,
} from './decision.js';
import { requireAlgorithm, requireClock } from './limiter.js';

/**
 * Keys looked at, least recently used first, for idle ones to evict when a new key
 * arrives at a full limiter. Bounds the work of one call.
 */
const idleScanCountMax = 32;

/** What {@link KeyedRateLimiter} does when a new key arrives and no key is idle. */
export type KeyedRateLimiterWhenFull = 'throw' | 'evict-least-recent';

/** Options for {@link KeyedRateLimiter}. */
export interface KeyedRateLimiterOptions<State, Decision extends RateLimitDecision> {
  /** The algorithm and its limits, applied to each key separately. */
  readonly algorithm: RateLimitAlgorithm<State, Decision>;
  /**
   * Most keys held at once (required; an integer from 1 to 16,777,216, the most entries a
   * `Map` holds). Each key costs its state plus the key string.
   */
  readonly keyCountMax: number;
  /**
   * When a new key arrives, all keys are held and none of the least recently used ones is
   * idle: `'throw'` (default) throws `LimitExceededError` and keeps every key's limit
   * exact; `'evict-least-recent'` forgets the least recently used key, which then starts
   * afresh (more lenient for that key) but lets every new key in.
   */
  readonly whenFull?: KeyedRateLimiterWhenFull;
  /** Longest key accepted, in UTF-16 code units (1 to 1,048,576). Default 1,024. */
  readonly keyLengthMax?: number;
  /** The clock the limits are measured on. Default: the `systemClock` of `distkit/core`. */
  readonly clock?: Clock;
}

/** A held key: its state, and the decision count when it was last moved to the recent end. */
interface KeyEntry<State> {
  readonly state: State;
  movedAt: number;
}

/**
 * One rate limit per key, in memory, for any {@link RateLimitAlgorithm}. Decisions are
 * synchronous ({@link KeyedRateLimiter.tryAcquire}); {@link KeyedRateLimiter.acquire}
 * offers the same decision through the {@link AsyncKeyedRateLimiter} port that a Redis
 * version will implement.
 *
 * Keys are bounded by `keyCountMax` and kept in least-recently-used order (approximate for
 * more than 8 keys: a key is moved to the recent end at most once per `keyCountMax / 8`
 * decisions, which no decision depends on). A key whose
 * state is idle (behaves exactly like a fresh one, see
 * {@link RateLimitAlgorithm.idleAtMs}) is worth nothing: dropping it changes no decision.
 * Only keys whose requests change their state are stored at all (a denied request or a
 * cost-0 probe for an unknown key stores nothing), and a new key at a full limiter first
 * evicts idle keys among the 32 least recently used. If none is idle it applies
 * `whenFull`. The map never holds more than `keyCountMax` keys.
 *
 * No timers: idle keys are found when room is needed, or by {@link KeyedRateLimiter.evictIdle}.
 *
 * @example
 * ```ts
 * const perUser = new KeyedRateLimiter({
 *   algorithm: new Gcra({ limit: 60, periodMs: 60_000, burst: 10 }),
 *   keyCountMax: 100_000,
 * });
 * const decision = perUser.tryAcquire(userId);
 * ```
 */
export class KeyedRateLimiter<State, Decision extends RateLimitDecision = RateLimitDecision>
  implements SyncKeyedRateLimiter<Decision>, AsyncKeyedRateLimiter<Decision>
{
  /** The algorithm and its limits. */
  readonly algorithm: RateLimitAlgorithm<State, Decision>;
  /** The clock the limits are measured on. */
  readonly clock: Clock;
  /** Most keys held at once. */
  readonly keyCountMax: number;
  /** Longest key accepted. */
  readonly keyLengthMax: number;
  /** What happens when a new key finds every slot busy. */
  readonly whenFull: KeyedRateLimiterWhenFull;
  /** Key to entry, least recently moved first (see `#moveSlack`). */
  readonly #states = new Map<string, KeyEntry<State>>();
  /** Decisions made so far: the clock of the approximate LRU order. */
  #useCount = 0;
  /**
   * How many decisions a used key may go without being moved to the recent end of the
   * map. Moving (a delete and a set) costs more than the decision itself, so a hot key is
   * moved once per `keyCountMax / 8` decisions instead of on every one; with fewer than 8
   * keys the order is exact. The order only chooses which keys eviction looks at first,
   * and eviction drops idle keys only (unless `whenFull` says otherwise), so the
   * approximation changes no decision.
   */
  readonly #moveSlack: number;

  constructor(options: KeyedRateLimiterOptions<State, Decision>) {
    const checked = requireOptionsObject('KeyedRateLimiter', options);
    this.algorithm = requireAlgorithm('KeyedRateLimiter options.algorithm', checked.algorithm);
    this.clock = requireClock('KeyedRateLimiter options.clock', checked.clock);
    this.keyCountMax = requireInteger('KeyedRateLimiter options.keyCountMax', checked.keyCountMax, {
      min: 1,
      max: 2 ** 24,
    });
    this.keyLengthMax = requireInteger(
      'KeyedRateLimiter options.keyLengthMax',
      checked.keyLengthMax ?? 1_024,
      { min: 1, max: 2 ** 20 },
    );
    this.whenFull = requireOneOf('KeyedRateLimiter options.whenFull', checked.whenFull ?? 'throw', [
      'throw',
      'evict-least-recent',
    ]);
    this.#moveSlack = Math.floor(this.keyCountMax / 8);
  }

  /** Keys held now (idle ones included until they are evicted). */
  get keyCount(): number {
    return this.#states.size;
  }

  /**
   * Decides a request of `cost` (an integer >= 0, default 1) for `key` now, and takes its
   * cost when allowed.
   *
   * @throws LimitExceededError when `key` is new, its request must be stored, every one
   *   of `keyCountMax` slots is busy and `whenFull` is `'throw'`.
   */
  tryAcquire(key: string, cost = 1): Decision {
    if (typeof key !== 'string' || key.length > this.keyLengthMax) {
      this.#rejectKey(key);
    }
    const nowMs = this.clock.nowMs();
    const states = this.#states;
    const useCount = this.#useCount + 1;
    this.#useCount = useCount;
    const entry = states.get(key);
    if (entry !== undefined) {
      if (useCount - entry.movedAt > this.#moveSlack) {
        // Re-inserting moves the key to the most recently used end.
        entry.movedAt = useCount;
        states.delete(key);
        states.set(key, entry);
      }
      return this.algorithm.acquire(entry.state, nowMs, cost);
    }
    const fresh = this.algorithm.createState();
    const decision = this.algorithm.acquire(fresh, nowMs, cost);
    if (nowMs < this.algorithm.idleAtMs(fresh)) {
      this.#insert(key, fresh, nowMs);
    }
    return decision;
  }

  /**
   * The {@link AsyncKeyedRateLimiter} port: the same decision as
   * {@link KeyedRateLimiter.tryAcquire}, as a promise. Errors reject the promise.
   */
  acquire(key: string, cost = 1): Promise<Decision> {
    try {
      return Promise.resolve(this.tryAcquire(key, cost));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A copy of `key`'s state, or `undefined` when the key is not held (it is fresh). */
  snapshot(key: string): State | undefined {
    const entry = this.#states.get(key);
    return entry === undefined ? undefined : this.algorithm.copyState(entry.state);
  }

  /**
   * Drops every idle key (one that behaves exactly like a fresh one); returns how many.
   * Changes no decision. Walks all keys, so call it from maintenance, not per request.
   */
  evictIdle(): number {
    const nowMs = this.clock.nowMs();
    let evictedCount = 0;
    for (const [key, entry] of this.#states) {
      if (nowMs >= this.algorithm.idleAtMs(entry.state)) {
        this.#states.delete(key);
        evictedCount += 1;
      }
    }
    return evictedCount;
  }

  /** Forgets `key`'s history, so its next request starts afresh; false if it was not held. */
  delete(key: string): boolean {
    return this.#states.delete(key);
  }

  /** Forgets every key. */
  clear(): void {
    this.#states.clear();
  }

  #insert(key: string, state: State, nowMs: number): void {
    const states = this.#states;
    if (states.size >= this.keyCountMax) {
      let scannedCount = 0;
      let evictedCount = 0;
      for (const [candidateKey, candidate] of states) {
        if (nowMs >= this.algorithm.idleAtMs(candidate.state)) {
          states.delete(candidateKey);
          evictedCount += 1;
        }
        scannedCount += 1;
        if (scannedCount >= idleScanCountMax) {
          break;
        }
      }
      if (evictedCount === 0) {
        if (this.whenFull === 'throw') {
          throw new LimitExceededError(
            this.keyCountMax,
            `The rate limiter holds ${this.keyCountMax} keys and none of the least recently ` +
              `used is idle; raise keyCountMax, shed the request, or set ` +
              `whenFull: 'evict-least-recent'.`,
          );
        }
        const leastRecent = states.keys().next();
        if (leastRecent.done !== true) {
          states.delete(leastRecent.value);
        }
      }
    }
    states.set(key, { state, movedAt: this.#useCount });
  }

  #rejectKey(key: unknown): never {
    if (typeof key !== 'string') {
      throw new InvalidArgumentError(
        'key',
        `KeyedRateLimiter key must be a string; got ${describeValue(key)}.`,
      );
    }
    throw new InvalidArgumentError(
      'key',
      `KeyedRateLimiter key must be at most keyLengthMax (${this.keyLengthMax}) characters; ` +
        `got ${key.length}.`,
    );
  }
}
