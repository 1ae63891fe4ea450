/**
 * The fixed window counter: at most `limit` per window, the count reset when the window
 * ends.
 *
 * @module
 */

import {
  countLimitMax,
  delayUntilMs,
  requireCost,
  requireCount,
  requireOptionsObject,
  requirePositive,
} from './arithmetic.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './decision.js';

/** Options for {@link FixedWindow}. */
export interface FixedWindowOptions {
  /** Most cost allowed per window (an integer from 1 to 2^32). */
  readonly limit: number;
  /** The window length in milliseconds (> 0). */
  readonly windowMs: number;
}

/**
 * A fixed window's state: `count` spent in the window that opened at `windowStartMs`.
 * Fresh is `{ windowStartMs: -Infinity, count: 0 }`.
 */
export interface FixedWindowState {
  /** When the current window opened. */
  windowStartMs: number;
  /** Cost allowed so far in the current window. */
  count: number;
}

/**
 * The fixed window counter. A window opens at the first allowed request after the
 * previous one closed (so keys do not all reset at the same instant) and lasts
 * `windowMs`; within it, requests are allowed until their costs add up to `limit`.
 *
 * Guarantee: at most `limit` in each window, but up to `2 × limit` in an interval of
 * length `windowMs` that straddles two windows (a burst at the end of one and the start
 * of the next). When that matters, use {@link SlidingWindowLog} (exact) or
 * {@link SlidingWindowCounter} (approximate, constant memory).
 *
 * The state is two numbers: the cheapest algorithm, and the one a store implements with
 * an increment and an expiry.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ algorithm: new FixedWindow({ limit: 100, windowMs: 60_000 }) });
 * ```
 */
export class FixedWindow implements RateLimitAlgorithm<FixedWindowState> {
  /** Always `'fixed-window'`. */
  readonly kind = 'fixed-window';
  /** Most cost per window. */
  readonly limit: number;
  /** The window length in milliseconds. */
  readonly windowMs: number;
  /** The largest cost ever allowed: `limit`. */
  readonly costMax: number;

  constructor(options: FixedWindowOptions) {
    const checked = requireOptionsObject('FixedWindow', options);
    this.limit = requireCount('FixedWindow options.limit', checked.limit, countLimitMax);
    this.windowMs = requirePositive('FixedWindow options.windowMs', checked.windowMs);
    this.costMax = this.limit;
  }

  createState(): FixedWindowState {
    return { windowStartMs: Number.NEGATIVE_INFINITY, count: 0 };
  }

  copyState(state: FixedWindowState): FixedWindowState {
    return { windowStartMs: state.windowStartMs, count: state.count };
  }

  /** When the current window closes (`-Infinity` if nothing was counted). */
  idleAtMs(state: FixedWindowState): number {
    return state.count > 0 ? state.windowStartMs + this.windowMs : Number.NEGATIVE_INFINITY;
  }

  acquire(state: FixedWindowState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('FixedWindow', cost);
    }
    const closeMs = this.idleAtMs(state);
    const count = nowMs >= closeMs ? 0 : state.count;
    if (count + cost <= this.limit) {
      if (cost > 0) {
        if (count === 0) {
          state.windowStartMs = nowMs;
        }
        state.count = count + cost;
        return { allowed: true, remaining: this.limit - state.count, retryAfterMs: 0 };
      }
      return { allowed: true, remaining: this.limit - count, retryAfterMs: 0 };
    }
    return {
      allowed: false,
      remaining: this.limit - count,
      retryAfterMs: cost > this.limit ? Number.POSITIVE_INFINITY : delayUntilMs(nowMs, closeMs),
    };
  }
}
