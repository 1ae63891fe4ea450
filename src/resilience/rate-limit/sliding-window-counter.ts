/**
 * The sliding window counter: two counters and a weighted estimate of the last
 * `windowMs`.
 *
 * @module
 */

import {
  type CostPredicate,
  countLimitMax,
  delayUntilMs,
  largestAllowedCost,
  requireCost,
  requireCount,
  requireOptionsObject,
  requirePositive,
} from './arithmetic.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './decision.js';

/** Options for {@link SlidingWindowCounter}. */
export interface SlidingWindowCounterOptions {
  /** Most cost in the estimated last `windowMs` (an integer from 1 to 2^32). */
  readonly limit: number;
  /** The window length in milliseconds (> 0). */
  readonly windowMs: number;
}

/**
 * A sliding window counter's state: the current window's start and count, and the
 * previous window's count. Fresh is `{ windowStartMs: -Infinity, previousCount: 0,
 * currentCount: 0 }`.
 */
export interface SlidingWindowCounterState {
  /** When the current window opened. */
  windowStartMs: number;
  /** Cost allowed in the window before the current one. */
  previousCount: number;
  /** Cost allowed so far in the current window. */
  currentCount: number;
}

/**
 * The sliding window counter. Time is cut into windows of `windowMs`; the cost of the last
 * `windowMs` is estimated as the current window's count plus the previous window's count
 * weighted by how much of the previous window the last `windowMs` still covers:
 * `current + previous × (1 - elapsed / windowMs)`. A request is allowed when that
 * estimate plus its cost is at most `limit`.
 *
 * Windows follow each other without gaps from the first allowed request after a quiet
 * spell (when both counts are 0, the next allowed request opens a new window at its own
 * time), so keys do not all roll over at the same instant.
 *
 * Guarantee: at most `limit` in each window, and at most `2 × limit` in any interval of
 * length `windowMs` (reached only when the previous window's requests all came at its very
 * end, which the estimate assumes they did not). Memory is constant, three numbers a key,
 * which is why it is the usual choice at scale; use {@link SlidingWindowLog} when the
 * bound must be exact.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({
 *   algorithm: new SlidingWindowCounter({ limit: 100, windowMs: 60_000 }),
 * });
 * ```
 */
export class SlidingWindowCounter
  implements RateLimitAlgorithm<SlidingWindowCounterState>, CostPredicate<SlidingWindowCounterState>
{
  /** Always `'sliding-window-counter'`. */
  readonly kind = 'sliding-window-counter';
  /** Most cost in the estimated window. */
  readonly limit: number;
  /** The window length in milliseconds. */
  readonly windowMs: number;
  /** The largest cost ever allowed: `limit`. */
  readonly costMax: number;

  constructor(options: SlidingWindowCounterOptions) {
    const checked = requireOptionsObject('SlidingWindowCounter', options);
    this.limit = requireCount('SlidingWindowCounter options.limit', checked.limit, countLimitMax);
    this.windowMs = requirePositive('SlidingWindowCounter options.windowMs', checked.windowMs);
    this.costMax = this.limit;
  }

  createState(): SlidingWindowCounterState {
    return { windowStartMs: Number.NEGATIVE_INFINITY, previousCount: 0, currentCount: 0 };
  }

  copyState(state: SlidingWindowCounterState): SlidingWindowCounterState {
    return {
      windowStartMs: state.windowStartMs,
      previousCount: state.previousCount,
      currentCount: state.currentCount,
    };
  }

  /** When both counts have rolled out (`-Infinity` when both are already 0). */
  idleAtMs(state: SlidingWindowCounterState): number {
    if (state.currentCount > 0) {
      return state.windowStartMs + this.windowMs + this.windowMs;
    }
    return state.previousCount > 0 ? state.windowStartMs + this.windowMs : Number.NEGATIVE_INFINITY;
  }

  /** Whether a request of `cost` at `nowMs` would be allowed; changes nothing. */
  allows(state: SlidingWindowCounterState, nowMs: number, cost: number): boolean {
    if (cost === 0) {
      return true;
    }
    if (cost > this.limit) {
      return false;
    }
    // Roll a copy of the three numbers forward to nowMs, as acquire does.
    let windowStartMs = state.windowStartMs;
    let previousCount = state.previousCount;
    let currentCount = state.currentCount;
    const nextStartMs = windowStartMs + this.windowMs;
    if (nowMs >= nextStartMs) {
      previousCount = nowMs >= nextStartMs + this.windowMs ? 0 : currentCount;
      currentCount = 0;
      windowStartMs = nextStartMs;
    }
    return nowMs >= this.#allowedAtMs(windowStartMs, previousCount, currentCount, cost);
  }

  acquire(state: SlidingWindowCounterState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('SlidingWindowCounter', cost);
    }
    this.#roll(state, nowMs);
    if (cost > this.limit) {
      return {
        allowed: false,
        remaining: this.#remaining(state, nowMs),
        retryAfterMs: Number.POSITIVE_INFINITY,
      };
    }
    const allowedAtMs = this.#allowedAtMs(
      state.windowStartMs,
      state.previousCount,
      state.currentCount,
      cost,
    );
    if (cost === 0 || nowMs >= allowedAtMs) {
      if (cost > 0) {
        if (state.previousCount === 0 && state.currentCount === 0) {
          state.windowStartMs = nowMs;
        }
        state.currentCount += cost;
      }
      return { allowed: true, remaining: this.#remaining(state, nowMs), retryAfterMs: 0 };
    }
    return {
      allowed: false,
      remaining: this.#remaining(state, nowMs),
      retryAfterMs: delayUntilMs(nowMs, allowedAtMs),
    };
  }

  /**
   * Moves the state to the window that holds `nowMs`. Rolling changes no decision: the
   * estimate is a function of the time.
   */
  #roll(state: SlidingWindowCounterState, nowMs: number): void {
    const nextStartMs = state.windowStartMs + this.windowMs;
    if (nowMs >= nextStartMs) {
      state.previousCount = nowMs >= nextStartMs + this.windowMs ? 0 : state.currentCount;
      state.currentCount = 0;
      state.windowStartMs = nextStartMs;
    }
  }

  /**
   * The instant from which a request of `cost` (at most `limit`) is allowed, given a state
   * rolled to the current window and no other request.
   *
   * Within the window the estimate falls linearly as the previous window slides out, so
   * the answer is where `current + previous × (1 - elapsed / windowMs) + cost` reaches
   * `limit`: `elapsed = windowMs × (previous - spare) / previous` with
   * `spare = limit - current - cost`. When even an empty previous window would not make
   * room, the answer lies in the next window, where the current count becomes the
   * previous one; it is computed by the same expression there, so that the decision at
   * that instant agrees with it exactly.
   */
  #allowedAtMs(
    windowStartMs: number,
    previousCount: number,
    currentCount: number,
    cost: number,
  ): number {
    let startMs = windowStartMs;
    let previous = previousCount;
    let spare = this.limit - currentCount - cost;
    if (spare < 0) {
      // The same arithmetic as after the roll into the next window.
      startMs = windowStartMs + this.windowMs;
      previous = currentCount;
      spare = this.limit - 0 - cost;
    }
    if (spare >= previous) {
      return Number.NEGATIVE_INFINITY;
    }
    // One rounding only, so that an instant that is exactly representable comes out exact.
    return startMs + (this.windowMs * (previous - spare)) / previous;
  }

  #remaining(state: SlidingWindowCounterState, nowMs: number): number {
    const { previousCount, currentCount } = state;
    if (previousCount === 0) {
      return this.limit - currentCount;
    }
    const elapsedMs = nowMs - state.windowStartMs;
    const estimate =
      this.limit - currentCount - (previousCount * (this.windowMs - elapsedMs)) / this.windowMs;
    return largestAllowedCost(this, state, nowMs, estimate, this.limit);
  }
}
