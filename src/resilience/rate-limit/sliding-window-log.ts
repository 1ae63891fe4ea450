/**
 * The sliding window log: the exact count over the last `windowMs`, from a log of
 * timestamps.
 *
 * @module
 */

import {
  delayUntilMs,
  requireCost,
  requireCount,
  requireOptionsObject,
  requirePositive,
} from './arithmetic.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './decision.js';

/** Largest limit of {@link SlidingWindowLog}: the log holds up to this many entries per key. */
const logLimitMax = 1_048_576;

/** Capacity of a new log; it doubles as needed, up to the limit. */
const logCapacityInitial = 8;

/** Options for {@link SlidingWindowLog}. */
export interface SlidingWindowLogOptions {
  /**
   * Most cost allowed in any interval of `windowMs` (an integer from 1 to 1,048,576). The
   * log holds at most this many entries, 16 bytes each.
   */
  readonly limit: number;
  /** The window length in milliseconds (> 0). */
  readonly windowMs: number;
}

/**
 * A sliding window log's state: a ring buffer of (time, cost) entries, oldest first, for
 * the requests allowed in the last `windowMs`. Entries at the same instant are merged.
 * Fresh is an empty log.
 */
export interface SlidingWindowLogState {
  /** Entry times, a ring buffer starting at `head`. */
  times: Float64Array;
  /** Entry costs, parallel to `times`. */
  costs: Float64Array;
  /** Index of the oldest entry. */
  head: number;
  /** Number of entries. */
  size: number;
  /** Sum of the entries' costs. */
  total: number;
}

/**
 * The sliding window log. Every allowed request is logged with its time; a request is
 * allowed when the cost logged in the last `windowMs` (the half-open interval
 * `(now - windowMs, now]`) plus its own is at most `limit`.
 *
 * Guarantee: exact. In every interval of length `windowMs`, the allowed cost is at most
 * `limit`. The price is memory: up to `limit` entries per key (requests at the same
 * instant share one), held in a ring buffer that starts small and grows to at most
 * `limit`, so it never grows past its bound.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({
 *   algorithm: new SlidingWindowLog({ limit: 5, windowMs: 1_000 }),
 * });
 * ```
 */
export class SlidingWindowLog implements RateLimitAlgorithm<SlidingWindowLogState> {
  /** Always `'sliding-window-log'`. */
  readonly kind = 'sliding-window-log';
  /** Most cost in any window. */
  readonly limit: number;
  /** The window length in milliseconds. */
  readonly windowMs: number;
  /** The largest cost ever allowed: `limit`. */
  readonly costMax: number;

  constructor(options: SlidingWindowLogOptions) {
    const checked = requireOptionsObject('SlidingWindowLog', options);
    this.limit = requireCount('SlidingWindowLog options.limit', checked.limit, logLimitMax);
    this.windowMs = requirePositive('SlidingWindowLog options.windowMs', checked.windowMs);
    this.costMax = this.limit;
  }

  createState(): SlidingWindowLogState {
    // Allocated on first use, so fresh states cost little.
    return { times: new Float64Array(0), costs: new Float64Array(0), head: 0, size: 0, total: 0 };
  }

  copyState(state: SlidingWindowLogState): SlidingWindowLogState {
    return {
      times: state.times.slice(),
      costs: state.costs.slice(),
      head: state.head,
      size: state.size,
      total: state.total,
    };
  }

  /** When the newest entry leaves the window (`-Infinity` for an empty log). */
  idleAtMs(state: SlidingWindowLogState): number {
    if (state.size === 0) {
      return Number.NEGATIVE_INFINITY;
    }
    const newest = (state.head + state.size - 1) % state.times.length;
    return (state.times[newest] as number) + this.windowMs;
  }

  acquire(state: SlidingWindowLogState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('SlidingWindowLog', cost);
    }
    this.#expire(state, nowMs);
    if (state.total + cost <= this.limit) {
      if (cost > 0) {
        this.#append(state, nowMs, cost);
      }
      return { allowed: true, remaining: this.limit - state.total, retryAfterMs: 0 };
    }
    return {
      allowed: false,
      remaining: this.limit - state.total,
      retryAfterMs:
        cost > this.limit
          ? Number.POSITIVE_INFINITY
          : delayUntilMs(nowMs, this.#allowedAtMs(state, cost)),
    };
  }

  /** Drops the entries that have left the window: those with `time + windowMs <= nowMs`. */
  #expire(state: SlidingWindowLogState, nowMs: number): void {
    const { times, costs } = state;
    while (state.size > 0 && nowMs >= (times[state.head] as number) + this.windowMs) {
      state.total -= costs[state.head] as number;
      state.head = state.head + 1 === times.length ? 0 : state.head + 1;
      state.size -= 1;
    }
    if (state.size === 0) {
      state.head = 0;
      state.total = 0;
    }
  }

  /** When enough of the oldest entries have left the window for `cost` to fit. */
  #allowedAtMs(state: SlidingWindowLogState, cost: number): number {
    const { times, costs } = state;
    const excess = state.total + cost - this.limit;
    let freed = 0;
    let index = state.head;
    for (let seen = 0; seen < state.size; seen += 1) {
      freed += costs[index] as number;
      if (freed >= excess) {
        return (times[index] as number) + this.windowMs;
      }
      index = index + 1 === times.length ? 0 : index + 1;
    }
    // Unreachable: cost <= limit, so dropping every entry frees enough.
    return Number.POSITIVE_INFINITY;
  }

  #append(state: SlidingWindowLogState, nowMs: number, cost: number): void {
    if (state.size > 0) {
      const newest = (state.head + state.size - 1) % state.times.length;
      if (state.times[newest] === nowMs) {
        state.costs[newest] = (state.costs[newest] as number) + cost;
        state.total += cost;
        return;
      }
    }
    if (state.size === state.times.length) {
      this.#grow(state);
    }
    const slot = (state.head + state.size) % state.times.length;
    state.times[slot] = nowMs;
    state.costs[slot] = cost;
    state.size += 1;
    state.total += cost;
  }

  /** Doubles the ring, up to `limit` slots: every entry costs at least 1, so that is enough. */
  #grow(state: SlidingWindowLogState): void {
    const capacity = Math.min(this.limit, Math.max(logCapacityInitial, state.times.length * 2));
    const times = new Float64Array(capacity);
    const costs = new Float64Array(capacity);
    for (let offset = 0; offset < state.size; offset += 1) {
      const index = (state.head + offset) % state.times.length;
      times[offset] = state.times[index] as number;
      costs[offset] = state.costs[index] as number;
    }
    state.times = times;
    state.costs = costs;
    state.head = 0;
  }
}
