/**
 * The token bucket: bursts up to a capacity, a steady refill rate after that.
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

/** Options for {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds: the largest burst (an integer from 1 to 2^32). */
  readonly capacity: number;
  /** Tokens added every `refillIntervalMs`, continuously rather than in steps (> 0). */
  readonly refillCount: number;
  /** The interval `refillCount` is measured over, in milliseconds (> 0). Default 1,000. */
  readonly refillIntervalMs?: number;
}

/**
 * A token bucket's state: `tokens` held at `updatedMs`. Fresh is
 * `{ tokens: capacity, updatedMs: -Infinity }` (full).
 */
export interface TokenBucketState {
  /** Tokens in the bucket at `updatedMs` (may be fractional). */
  tokens: number;
  /** When `tokens` was last written, on the limiter's clock. */
  updatedMs: number;
}

/**
 * The token bucket algorithm. The bucket starts full with `capacity` tokens and refills
 * continuously at `refillCount` per `refillIntervalMs`, never above `capacity`; a request
 * of cost `c` is allowed when the bucket holds `c` tokens, and takes them.
 *
 * Guarantee: over any interval of length `T` ms, the allowed cost is at most
 * `capacity + T * refillCount / refillIntervalMs`.
 *
 * The state is two numbers, refilled lazily from the time of each call: no timers. Use it
 * through `RateLimiter` (one limit) or `KeyedRateLimiter` (one per key).
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({
 *   algorithm: new TokenBucket({ capacity: 10, refillCount: 5, refillIntervalMs: 1_000 }),
 * });
 * const { allowed, retryAfterMs } = limiter.tryAcquire();
 * ```
 */
export class TokenBucket
  implements RateLimitAlgorithm<TokenBucketState>, CostPredicate<TokenBucketState>
{
  /** Always `'token-bucket'`. */
  readonly kind = 'token-bucket';
  /** Most tokens the bucket holds. */
  readonly capacity: number;
  /** Tokens added per `refillIntervalMs`. */
  readonly refillCount: number;
  /** The refill interval in milliseconds. */
  readonly refillIntervalMs: number;
  /** The largest cost ever allowed: `capacity`. */
  readonly costMax: number;
  readonly #tokensPerMs: number;
  readonly #msPerToken: number;

  constructor(options: TokenBucketOptions) {
    const checked = requireOptionsObject('TokenBucket', options);
    this.capacity = requireCount('TokenBucket options.capacity', checked.capacity, countLimitMax);
    this.refillCount = requirePositive('TokenBucket options.refillCount', checked.refillCount);
    this.refillIntervalMs = requirePositive(
      'TokenBucket options.refillIntervalMs',
      checked.refillIntervalMs ?? 1_000,
    );
    [this.#tokensPerMs, this.#msPerToken] = requireRate(
      'TokenBucket',
      'refillCount',
      this.refillCount,
      'refillIntervalMs',
      this.refillIntervalMs,
    );
    this.costMax = this.capacity;
  }

  createState(): TokenBucketState {
    return { tokens: this.capacity, updatedMs: Number.NEGATIVE_INFINITY };
  }

  copyState(state: TokenBucketState): TokenBucketState {
    return { tokens: state.tokens, updatedMs: state.updatedMs };
  }

  /** When the bucket is full again: {@link TokenBucket.allowedAtMs} of the capacity. */
  idleAtMs(state: TokenBucketState): number {
    return this.allowedAtMs(state, this.capacity);
  }

  /**
   * The instant from which a request of `cost` (at most `capacity`) is allowed, given no
   * other request: when the refill brings the bucket to `cost` tokens.
   */
  allowedAtMs(state: TokenBucketState, cost: number): number {
    return state.updatedMs + (cost - state.tokens) * this.#msPerToken;
  }

  /** Whether a request of `cost` at `nowMs` would be allowed; changes nothing. */
  allows(state: TokenBucketState, nowMs: number, cost: number): boolean {
    return cost === 0 || (cost <= this.capacity && nowMs >= this.allowedAtMs(state, cost));
  }

  acquire(state: TokenBucketState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('TokenBucket', cost);
    }
    if (cost === 0 || cost > this.capacity || nowMs < this.allowedAtMs(state, cost)) {
      const allowed = cost === 0;
      return {
        allowed,
        remaining: largestAllowedCost(
          this,
          state,
          nowMs,
          this.#tokensAt(state, nowMs),
          this.capacity,
        ),
        retryAfterMs: allowed
          ? 0
          : cost > this.capacity
            ? Number.POSITIVE_INFINITY
            : delayUntilMs(nowMs, this.allowedAtMs(state, cost)),
      };
    }
    const tokens = this.#tokensAt(state, nowMs) - cost;
    // Rounding can leave a hair below zero at the exact instant a request becomes allowed.
    state.tokens = Math.max(tokens, 0);
    if (nowMs > state.updatedMs) {
      state.updatedMs = nowMs;
    }
    return {
      allowed: true,
      remaining: largestAllowedCost(this, state, nowMs, state.tokens, this.capacity),
      retryAfterMs: 0,
    };
  }

  /** Tokens at `nowMs`: exactly `capacity` once full, so a full bucket equals a fresh one. */
  #tokensAt(state: TokenBucketState, nowMs: number): number {
    if (nowMs >= this.idleAtMs(state)) {
      return this.capacity;
    }
    const elapsedMs = nowMs > state.updatedMs ? nowMs - state.updatedMs : 0;
    const tokens = state.tokens + elapsedMs * this.#tokensPerMs;
    return Math.min(tokens, this.capacity);
  }
}
