/**
 * The retry budget: retries shared out as a fraction of recent requests, so that a fleet
 * of clients cannot turn a failing dependency into a retry storm.
 *
 * Without a budget, every client that retries up to `n` times multiplies the load on a
 * dependency that fails everything by `n`, exactly when it can least take it. With a
 * budget, every request deposits `ratio` of a retry, every retry spends one whole retry,
 * and deposits expire after `windowMs`; a floor of `retriesPerSecondMin` keeps a quiet
 * client able to retry at all.
 *
 * @module
 */

import {
  type Clock,
  requireInteger,
  requireNumber,
  requireOptions,
  systemClock,
} from '../core/index.js';

/** What a retry policy needs from a budget; {@link RetryBudget} is the embedded one. */
export interface RetryBudgetLike {
  /** Counts one request (a call's first attempt); it earns a fraction of a retry. */
  recordRequest(): void;
  /** Spends one retry if the budget has one; false when it is spent. */
  tryAcquireRetry(): boolean;
}

/** Options for {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /**
   * The fraction of requests that may be retried, from 0 to 1. Default 0.1: retries add
   * at most 10% to the load (plus the floor).
   */
  readonly ratio?: number;
  /**
   * The floor: retries allowed per second however few requests there are (>= 0), so a
   * client with little traffic can still retry. Default 1.
   */
  readonly retriesPerSecondMin?: number;
  /** How long a deposit stays spendable, in milliseconds (> 0). Default 10,000. */
  readonly windowMs?: number;
  /**
   * How many time buckets the window is divided into, from 1 to 1,000. Memory is fixed at
   * this many numbers; deposits expire a bucket at a time. Default 10.
   */
  readonly bucketCount?: number;
  /** Measures the window; default the `systemClock` of `distkit/core`. */
  readonly clock?: Clock;
}

/** Balances are kept in millionths of a retry so that `ratio × requests` adds up exactly. */
const unitsPerRetry = 1_000_000;

/**
 * A retry budget shared by any number of callers and retry policies: pass the same
 * instance to every `RetryPolicy` that calls one dependency.
 *
 * Every {@link RetryBudget.recordRequest} deposits `ratio` of a retry into the current
 * time bucket; every bucket also receives `retriesPerSecondMin × bucket width` as it
 * begins. {@link RetryBudget.tryAcquireRetry} spends one retry, from the oldest deposits
 * first, or says no. A bucket's unspent deposits expire when it leaves the window, so a
 * quiet hour does not bank a burst of retries.
 *
 * The guarantee, which holds exactly (ratio and floor are counted in millionths of a
 * retry, rounded to the nearest): since the budget was made,
 *
 * `retries granted ≤ ratio × requests recorded + retriesPerSecondMin × (buckets begun ×
 * windowMs / bucketCount) / 1000`,
 *
 * and in any interval the retries granted spend only deposits made in that interval or
 * the window before it. Memory is `bucketCount` numbers whatever the traffic.
 *
 * @example
 * ```ts
 * const budget = new RetryBudget({ ratio: 0.1, retriesPerSecondMin: 1 });
 * const users = new RetryPolicy({ attemptCountMax: 3, budget });
 * const orders = new RetryPolicy({ attemptCountMax: 5, budget }); // shares the allowance
 * ```
 */
export class RetryBudget implements RetryBudgetLike {
  /** The fraction of requests that may be retried. */
  readonly ratio: number;
  /** Retries allowed per second however few requests there are. */
  readonly retriesPerSecondMin: number;
  /** How long a deposit stays spendable, in milliseconds. */
  readonly windowMs: number;
  /** How many buckets the window is divided into. */
  readonly bucketCount: number;
  readonly #clock: Clock;
  readonly #bucketWidthMs: number;
  readonly #unitsPerRequest: number;
  readonly #floorUnitsPerBucket: number;
  /** Unspent units deposited in each bucket; slot = absolute bucket index mod count. */
  readonly #units: number[];
  /** Absolute index of the current bucket: floor(nowMs / bucket width). */
  #bucketIndex: number;
  #availableUnits: number;
  #requestCount = 0;
  #retryCount = 0;
  #deniedCount = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const checked = requireOptions('RetryBudget options', options);
    this.ratio = requireNumber('RetryBudget options.ratio', checked.ratio ?? 0.1, {
      min: 0,
      max: 1,
    });
    this.retriesPerSecondMin = requireNumber(
      'RetryBudget options.retriesPerSecondMin',
      checked.retriesPerSecondMin ?? 1,
      { min: 0, max: 1_000_000 },
    );
    this.windowMs = requireNumber('RetryBudget options.windowMs', checked.windowMs ?? 10_000, {
      min: 1,
      max: 86_400_000,
    });
    this.bucketCount = requireInteger(
      'RetryBudget options.bucketCount',
      checked.bucketCount ?? 10,
      { min: 1, max: 1_000 },
    );
    this.#clock = checked.clock ?? systemClock;
    this.#bucketWidthMs = this.windowMs / this.bucketCount;
    this.#unitsPerRequest = Math.round(this.ratio * unitsPerRetry);
    this.#floorUnitsPerBucket = Math.round(
      ((this.retriesPerSecondMin * this.#bucketWidthMs) / 1000) * unitsPerRetry,
    );
    this.#units = new Array<number>(this.bucketCount).fill(0);
    this.#bucketIndex = Math.floor(this.#clock.nowMs() / this.#bucketWidthMs);
    this.#units[this.#slotOf(this.#bucketIndex)] = this.#floorUnitsPerBucket;
    this.#availableUnits = this.#floorUnitsPerBucket;
  }

  /** Requests recorded since the budget was made. */
  get requestCount(): number {
    return this.#requestCount;
  }

  /** Retries granted since the budget was made. */
  get retryCount(): number {
    return this.#retryCount;
  }

  /** Retries refused since the budget was made. */
  get deniedCount(): number {
    return this.#deniedCount;
  }

  /** Whole retries that could be granted now. */
  get availableRetryCount(): number {
    this.#advance();
    return Math.floor(this.#availableUnits / unitsPerRetry);
  }

  recordRequest(): void {
    this.#advance();
    this.#requestCount += 1;
    const slot = this.#slotOf(this.#bucketIndex);
    this.#units[slot] = (this.#units[slot] as number) + this.#unitsPerRequest;
    this.#availableUnits += this.#unitsPerRequest;
  }

  tryAcquireRetry(): boolean {
    this.#advance();
    if (this.#availableUnits < unitsPerRetry) {
      this.#deniedCount += 1;
      return false;
    }
    this.#retryCount += 1;
    this.#availableUnits -= unitsPerRetry;
    // Spend the oldest deposits first: they are the next to expire.
    let owedUnits = unitsPerRetry;
    const last = this.#bucketIndex;
    for (let index = last - this.bucketCount + 1; owedUnits > 0 && index <= last; index += 1) {
      const slot = this.#slotOf(index);
      const held = this.#units[slot] as number;
      const takenUnits = Math.min(held, owedUnits);
      this.#units[slot] = held - takenUnits;
      owedUnits -= takenUnits;
    }
    return true;
  }

  /** Moves to the current bucket, expiring the buckets that left the window. */
  #advance(): void {
    const bucketIndex = Math.floor(this.#clock.nowMs() / this.#bucketWidthMs);
    if (bucketIndex <= this.#bucketIndex) {
      return;
    }
    const count = this.bucketCount;
    const floorUnits = this.#floorUnitsPerBucket;
    if (bucketIndex - this.#bucketIndex >= count) {
      // Every bucket in the window began while nobody asked; each holds just its floor.
      this.#units.fill(floorUnits);
      this.#availableUnits = floorUnits * count;
    } else {
      for (let index = this.#bucketIndex + 1; index <= bucketIndex; index += 1) {
        const slot = this.#slotOf(index);
        this.#availableUnits += floorUnits - (this.#units[slot] as number);
        this.#units[slot] = floorUnits;
      }
    }
    this.#bucketIndex = bucketIndex;
  }

  /** The ring slot of an absolute bucket index; clocks may start below 0. */
  #slotOf(index: number): number {
    const slot = index % this.bucketCount;
    return slot < 0 ? slot + this.bucketCount : slot;
  }
}
