/**
 * The leaky bucket, in its two classic roles: a meter that rejects what would overflow,
 * and a shaper that delays requests so they leave at a steady rate.
 *
 * @module
 */

import { requireNumber } from '../../core/index.js';
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
import type { RateLimitAlgorithm, RateLimitDecision, ShapeDecision } from './decision.js';

/** Options for {@link LeakyBucketMeter}. */
export interface LeakyBucketMeterOptions {
  /** Most units the bucket holds (an integer from 1 to 2^32). */
  readonly capacity: number;
  /** Units that leak out every `leakIntervalMs`, continuously (> 0). */
  readonly leakCount: number;
  /** The interval `leakCount` is measured over, in milliseconds (> 0). Default 1,000. */
  readonly leakIntervalMs?: number;
}

/**
 * A leaky bucket meter's state: the `level` at `updatedMs`. Fresh is
 * `{ level: 0, updatedMs: -Infinity }` (empty).
 */
export interface LeakyBucketMeterState {
  /** Units in the bucket at `updatedMs` (may be fractional). */
  level: number;
  /** When `level` was last written, on the limiter's clock. */
  updatedMs: number;
}

/**
 * The leaky bucket as a meter. Each request pours its cost into a bucket of `capacity`
 * that leaks `leakCount` units per `leakIntervalMs`; a request that would make it
 * overflow is rejected and pours nothing.
 *
 * It admits exactly what a {@link TokenBucket} of the same capacity and rate admits (the
 * level is the capacity minus the tokens); it exists under this name because that is how
 * many systems and texts describe it. Guarantee: over any interval of length `T` ms, the
 * allowed cost is at most `capacity + T * leakCount / leakIntervalMs`.
 *
 * @example
 * ```ts
 * const meter = new RateLimiter({
 *   algorithm: new LeakyBucketMeter({ capacity: 20, leakCount: 10, leakIntervalMs: 1_000 }),
 * });
 * if (!meter.tryAcquire().allowed) reply(429);
 * ```
 */
export class LeakyBucketMeter
  implements RateLimitAlgorithm<LeakyBucketMeterState>, CostPredicate<LeakyBucketMeterState>
{
  /** Always `'leaky-bucket-meter'`. */
  readonly kind = 'leaky-bucket-meter';
  /** Most units the bucket holds. */
  readonly capacity: number;
  /** Units leaked per `leakIntervalMs`. */
  readonly leakCount: number;
  /** The leak interval in milliseconds. */
  readonly leakIntervalMs: number;
  /** The largest cost ever allowed: `capacity`. */
  readonly costMax: number;
  readonly #unitsPerMs: number;
  readonly #msPerUnit: number;

  constructor(options: LeakyBucketMeterOptions) {
    const checked = requireOptionsObject('LeakyBucketMeter', options);
    this.capacity = requireCount(
      'LeakyBucketMeter options.capacity',
      checked.capacity,
      countLimitMax,
    );
    this.leakCount = requirePositive('LeakyBucketMeter options.leakCount', checked.leakCount);
    this.leakIntervalMs = requirePositive(
      'LeakyBucketMeter options.leakIntervalMs',
      checked.leakIntervalMs ?? 1_000,
    );
    [this.#unitsPerMs, this.#msPerUnit] = requireRate(
      'LeakyBucketMeter',
      'leakCount',
      this.leakCount,
      'leakIntervalMs',
      this.leakIntervalMs,
    );
    this.costMax = this.capacity;
  }

  createState(): LeakyBucketMeterState {
    return { level: 0, updatedMs: Number.NEGATIVE_INFINITY };
  }

  copyState(state: LeakyBucketMeterState): LeakyBucketMeterState {
    return { level: state.level, updatedMs: state.updatedMs };
  }

  /** When the bucket has drained empty: {@link LeakyBucketMeter.allowedAtMs} of the capacity. */
  idleAtMs(state: LeakyBucketMeterState): number {
    return this.allowedAtMs(state, this.capacity);
  }

  /**
   * The instant from which a request of `cost` (at most `capacity`) fits, given no other
   * request: when the level has leaked down to `capacity - cost`.
   */
  allowedAtMs(state: LeakyBucketMeterState, cost: number): number {
    return state.updatedMs + (state.level - (this.capacity - cost)) * this.#msPerUnit;
  }

  /** Whether a request of `cost` at `nowMs` would be allowed; changes nothing. */
  allows(state: LeakyBucketMeterState, nowMs: number, cost: number): boolean {
    return cost === 0 || (cost <= this.capacity && nowMs >= this.allowedAtMs(state, cost));
  }

  acquire(state: LeakyBucketMeterState, nowMs: number, cost: number): RateLimitDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('LeakyBucketMeter', cost);
    }
    if (cost === 0 || cost > this.capacity || nowMs < this.allowedAtMs(state, cost)) {
      const allowed = cost === 0;
      return {
        allowed,
        remaining: largestAllowedCost(
          this,
          state,
          nowMs,
          this.capacity - this.#levelAt(state, nowMs),
          this.capacity,
        ),
        retryAfterMs: allowed
          ? 0
          : cost > this.capacity
            ? Number.POSITIVE_INFINITY
            : delayUntilMs(nowMs, this.allowedAtMs(state, cost)),
      };
    }
    const level = this.#levelAt(state, nowMs) + cost;
    state.level = Math.min(level, this.capacity);
    if (nowMs > state.updatedMs) {
      state.updatedMs = nowMs;
    }
    return {
      allowed: true,
      remaining: largestAllowedCost(this, state, nowMs, this.capacity - state.level, this.capacity),
      retryAfterMs: 0,
    };
  }

  /** The level at `nowMs`: exactly 0 once drained, so an empty bucket equals a fresh one. */
  #levelAt(state: LeakyBucketMeterState, nowMs: number): number {
    if (nowMs >= this.idleAtMs(state)) {
      return 0;
    }
    const elapsedMs = nowMs > state.updatedMs ? nowMs - state.updatedMs : 0;
    const level = state.level - elapsedMs * this.#unitsPerMs;
    return Math.max(level, 0);
  }
}

/** Options for {@link LeakyBucketShaper}. */
export interface LeakyBucketShaperOptions {
  /** Units that leave every `leakIntervalMs`: the steady output rate (> 0). */
  readonly leakCount: number;
  /** The interval `leakCount` is measured over, in milliseconds (> 0). Default 1,000. */
  readonly leakIntervalMs?: number;
  /**
   * The longest a request may be told to wait, in milliseconds (>= 0): the bound on the
   * queue. A request that would wait longer is rejected.
   */
  readonly delayMsMax: number;
}

/**
 * A leaky bucket shaper's state: when the queue is free for the next request. Fresh is
 * `{ nextFreeMs: -Infinity }` (empty queue).
 */
export interface LeakyBucketShaperState {
  /** The instant the next request may start; the queue is empty once the clock passes it. */
  nextFreeMs: number;
}

/**
 * The leaky bucket as a shaper (a queue that drains at a steady rate). Requests never
 * start closer together than their cost allows: a request of cost `c` starts when the
 * queue ahead of it has drained, and holds the queue for `c * leakIntervalMs / leakCount`
 * milliseconds after that.
 *
 * `acquire` reserves the start and reports it as `delayMs` in a {@link ShapeDecision}: the
 * caller waits that long, then proceeds. A request that would have to wait more than
 * `delayMsMax` is rejected instead (the queue is bounded), with `retryAfterMs` saying when
 * the wait would be short enough. `remaining` is how many unit-cost requests the queue can
 * still take now. A cost-0 call reserves nothing and reports the current wait.
 *
 * Nothing is queued in memory: the reservation is one number, so the shaper holds no
 * timers and no waiters. The caller does the waiting (for example with `RateLimitWaiter`).
 * A caller that gives up after reserving leaves its slot unused; the output rate then
 * dips, it never rises.
 *
 * @example
 * ```ts
 * const shaper = new RateLimiter({
 *   algorithm: new LeakyBucketShaper({ leakCount: 10, leakIntervalMs: 1_000, delayMsMax: 2_000 }),
 * });
 * const { allowed, delayMs } = shaper.tryAcquire(); // start delayMs from now
 * ```
 */
export class LeakyBucketShaper
  implements RateLimitAlgorithm<LeakyBucketShaperState, ShapeDecision>
{
  /** Always `'leaky-bucket-shaper'`. */
  readonly kind = 'leaky-bucket-shaper';
  /** Units that leave per `leakIntervalMs`. */
  readonly leakCount: number;
  /** The leak interval in milliseconds. */
  readonly leakIntervalMs: number;
  /** The longest wait a request may be given, in milliseconds. */
  readonly delayMsMax: number;
  /** Any cost fits an empty queue: `Number.MAX_SAFE_INTEGER`. */
  readonly costMax = Number.MAX_SAFE_INTEGER;
  readonly #msPerUnit: number;

  constructor(options: LeakyBucketShaperOptions) {
    const checked = requireOptionsObject('LeakyBucketShaper', options);
    this.leakCount = requirePositive('LeakyBucketShaper options.leakCount', checked.leakCount);
    this.leakIntervalMs = requirePositive(
      'LeakyBucketShaper options.leakIntervalMs',
      checked.leakIntervalMs ?? 1_000,
    );
    [, this.#msPerUnit] = requireRate(
      'LeakyBucketShaper',
      'leakCount',
      this.leakCount,
      'leakIntervalMs',
      this.leakIntervalMs,
    );
    this.delayMsMax = requireNumber('LeakyBucketShaper options.delayMsMax', checked.delayMsMax, {
      min: 0,
    });
  }

  createState(): LeakyBucketShaperState {
    return { nextFreeMs: Number.NEGATIVE_INFINITY };
  }

  copyState(state: LeakyBucketShaperState): LeakyBucketShaperState {
    return { nextFreeMs: state.nextFreeMs };
  }

  /** When the queue is empty: `nextFreeMs`. */
  idleAtMs(state: LeakyBucketShaperState): number {
    return state.nextFreeMs;
  }

  /** The instant from which a request would wait at most `delayMsMax`. */
  allowedAtMs(state: LeakyBucketShaperState): number {
    return state.nextFreeMs - this.delayMsMax;
  }

  acquire(state: LeakyBucketShaperState, nowMs: number, cost: number): ShapeDecision {
    if (!(Number.isSafeInteger(cost) && cost >= 0)) {
      requireCost('LeakyBucketShaper', cost);
    }
    const allowedAtMs = this.allowedAtMs(state);
    if (nowMs < allowedAtMs) {
      return {
        allowed: false,
        remaining: 0,
        retryAfterMs: delayUntilMs(nowMs, allowedAtMs),
        delayMs: 0,
      };
    }
    const startMs = Math.max(state.nextFreeMs, nowMs);
    if (cost > 0) {
      state.nextFreeMs = startMs + cost * this.#msPerUnit;
    }
    return {
      allowed: true,
      remaining: this.#remaining(state, nowMs),
      retryAfterMs: 0,
      delayMs: delayUntilMs(nowMs, startMs),
    };
  }

  /** Unit-cost requests the queue can still take at `nowMs`. */
  #remaining(state: LeakyBucketShaperState, nowMs: number): number {
    const waitMs = state.nextFreeMs > nowMs ? state.nextFreeMs - nowMs : 0;
    if (waitMs > this.delayMsMax) {
      return 0;
    }
    return Math.floor((this.delayMsMax - waitMs) / this.#msPerUnit) + 1;
  }
}
