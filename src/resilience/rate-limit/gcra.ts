/**
 * GCRA, the generic cell rate algorithm: a token bucket kept as a single timestamp.
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
  requireRate,
} from './arithmetic.js';
import type { RateLimitAlgorithm, RateLimitDecision } from './decision.js';

/** Options for {@link Gcra}. */
export interface GcraOptions {
  /** Requests allowed per `periodMs` in the long run (an integer from 1 to 2^32). */
  readonly limit: number;
  /** The period `limit` is measured over, in milliseconds (> 0). */
  readonly periodMs: number;
  /**
   * Most requests allowed at one instant after a quiet spell (an integer from 1 to 2^32).
   * Default 1: requests are spaced `periodMs / limit` apart, with no bursts.
   */
  readonly burst?: number;
}

/**
 * GCRA's state: the theoretical arrival time. Fresh is `{ arrivalMs: -Infinity }`.
 */
export interface GcraState {
  /**
   * The theoretical arrival time: when the next request would arrive if every allowed
   * request so far had arrived exactly on schedule. Once the clock passes it, the limiter
   * has fully recovered.
   */
  arrivalMs: number;
}

/**
 * The generic cell rate algorithm (GCRA), as used in ATM networks and in Redis rate
 * limiters such as redis-cell. Requests are due one emission interval
 * `T = periodMs / limit` apart; the state is the theoretical arrival time `TAT` of the
 * next one. A request of cost `c` at `now` is allowed when it would be early by at most
 * the burst tolerance, that is when `max(TAT, now) + c·T - now <= burst·T`; it then
 * moves `TAT` to `max(TAT, now) + c·T`.
 *
 * GCRA admits exactly what a token bucket with `capacity = burst` and a refill of `limit`
 * per `periodMs` admits, but keeps one number instead of two and needs no refill
 * arithmetic, which makes it the cheapest algorithm to keep in a shared store. Guarantee:
 * over any interval of length `X` ms, the allowed cost is at most `burst + X·limit / periodMs`.
 *
 * @example
 * ```ts
 * // 100 requests a minute, evenly spaced, with bursts of up to 10.
 * const limiter = new RateLimiter({
 *   algorithm: new Gcra({ limit: 100, periodMs: 60_000, burst: 10 }),
 * });
 * ```
 */
export class Gcra implements RateLimitAlgorithm<GcraState>, CostPredicate<GcraState> {
  /** Always `'gcra'`. */
  readonly kind = 'gcra';
  /** Requests per `periodMs`. */
  readonly limit: number;
  /** The period in milliseconds. */
  readonly periodMs: number;
  /** Most requests at one instant. */
  readonly burst: number;
  /** The emission interval `periodMs / limit`: the spacing of requests in milliseconds. */
  readonly emissionIntervalMs: number;
  /** The largest cost ever allowed: `burst`. */
  readonly costMax: number;

  constructor(options: GcraOptions) {
    const checked = requireOptionsObject('Gcra', options);
    this.limit = requireCount('Gcra options.limit', checked.limit, countLimitMax);
    this.periodMs = requirePositive('Gcra options.periodMs', checked.periodMs);
    this.burst = requireCount('Gcra options.burst', checked.burst ?? 1, countLimitMax);
    [, this.emissionIntervalMs] = requireRate(
      'Gcra',
      'limit',
      this.limit,
      'periodMs',
      this.periodMs,
    );
    this.costMax = this.burst;
  }

  createState(): GcraState {
    return { arrivalMs: Number.NEGATIVE_INFINITY };
  }

  copyState(state: GcraState): GcraState {
    return { arrivalMs: state.arrivalMs };
  }

  /** When the limiter has fully recovered: the theoretical arrival time. */
  idleAtMs(state: GcraState): number {
    return state.arrivalMs;
  }

  /**
   * The instant from which a request of `cost` (at most `burst`) is allowed, given no
   * other request: `TAT - (burst - cost)·T`.
   */
  allowedAtMs(state: GcraState, cost: number): number {
    return state.arrivalMs - (this.burst - cost) * this.emissionIntervalMs;
  }

  /** Whether a request of `cost` at `nowMs` would be allowed; changes nothing. */
  allows(state: GcraState, nowMs: number, cost: number): boolean {
    return cost === 0 || (cost <= this.burst && nowMs >= this.allowedAtMs(state, cost));
  }

  acquire(state: GcraState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('Gcra', cost);
    }
    if (cost === 0 || cost > this.burst || nowMs < this.allowedAtMs(state, cost)) {
      const allowed = cost === 0;
      return {
        allowed,
        remaining: largestAllowedCost(this, state, nowMs, this.#estimate(state, nowMs), this.burst),
        retryAfterMs: allowed
          ? 0
          : cost > this.burst
            ? Number.POSITIVE_INFINITY
            : delayUntilMs(nowMs, this.allowedAtMs(state, cost)),
      };
    }
    const baseMs = Math.max(state.arrivalMs, nowMs);
    state.arrivalMs = baseMs + cost * this.emissionIntervalMs;
    return {
      allowed: true,
      remaining: largestAllowedCost(this, state, nowMs, this.#estimate(state, nowMs), this.burst),
      retryAfterMs: 0,
    };
  }

  /** Roughly the largest cost allowed now: `burst - (TAT - now) / T`. */
  #estimate(state: GcraState, nowMs: number): number {
    return state.arrivalMs > nowMs
      ? this.burst - (state.arrivalMs - nowMs) / this.emissionIntervalMs
      : this.burst;
  }
}
