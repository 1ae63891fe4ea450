/**
 * A single rate limit in memory: an algorithm, its state and a clock.
 *
 * @module
 */

import { type Clock, InvalidArgumentError, systemClock } from '../../core/index.js';
import { requireOptionsObject } from './arithmetic.js';
import type { RateLimitAlgorithm, RateLimitDecision, SyncRateLimiter } from './decision.js';

/** Options for {@link RateLimiter}. */
export interface RateLimiterOptions<State, Decision extends RateLimitDecision> {
  /** The algorithm and its limits, for example `new TokenBucket({ ... })`. */
  readonly algorithm: RateLimitAlgorithm<State, Decision>;
  /** The clock the limits are measured on. Default: the `systemClock` of `distkit/core`. */
  readonly clock?: Clock;
}

/** Checks that `value` looks like a {@link RateLimitAlgorithm}; shared with the keyed limiter. */
export function requireAlgorithm<State, Decision extends RateLimitDecision>(
  name: string,
  value: unknown,
): RateLimitAlgorithm<State, Decision> {
  const candidate = value as Partial<RateLimitAlgorithm<State, Decision>> | null | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.acquire !== 'function' ||
    typeof candidate.createState !== 'function' ||
    typeof candidate.idleAtMs !== 'function' ||
    typeof candidate.copyState !== 'function'
  ) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a rate-limit algorithm such as new TokenBucket({ ... }).`,
    );
  }
  return candidate as RateLimitAlgorithm<State, Decision>;
}

/** Checks that `value` is a {@link Clock} or undefined; returns the clock to use. */
export function requireClock(name: string, value: unknown): Clock {
  if (value === undefined) {
    return systemClock;
  }
  if (typeof value !== 'object' || value === null || typeof (value as Clock).nowMs !== 'function') {
    throw new InvalidArgumentError(name, `${name} must be a Clock (with nowMs()) or undefined.`);
  }
  return value as Clock;
}

/**
 * One rate limit, decided in memory: every call reads the clock once and runs the
 * algorithm's arithmetic on one small state. Synchronous, no timers, no promises; the
 * state is brought up to date from the clock on each call.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({
 *   algorithm: new TokenBucket({ capacity: 10, refillCount: 10, refillIntervalMs: 1_000 }),
 * });
 * const decision = limiter.tryAcquire();
 * if (!decision.allowed) reply(429, { retryAfterMs: decision.retryAfterMs });
 * ```
 */
export class RateLimiter<State, Decision extends RateLimitDecision = RateLimitDecision>
  implements SyncRateLimiter<Decision>
{
  /** The algorithm and its limits. */
  readonly algorithm: RateLimitAlgorithm<State, Decision>;
  /** The clock the limits are measured on. */
  readonly clock: Clock;
  #state: State;

  constructor(options: RateLimiterOptions<State, Decision>) {
    const checked = requireOptionsObject('RateLimiter', options);
    this.algorithm = requireAlgorithm('RateLimiter options.algorithm', checked.algorithm);
    this.clock = requireClock('RateLimiter options.clock', checked.clock);
    this.#state = this.algorithm.createState();
  }

  /**
   * Decides a request of `cost` (an integer >= 0, default 1) now, and takes its cost when
   * allowed. Cost 0 only reports `remaining`.
   */
  tryAcquire(cost = 1): Decision {
    return this.algorithm.acquire(this.#state, this.clock.nowMs(), cost);
  }

  /**
   * True when the limiter behaves exactly like a fresh one: {@link RateLimiter.reset} would
   * change nothing.
   */
  get idle(): boolean {
    return this.clock.nowMs() >= this.algorithm.idleAtMs(this.#state);
  }

  /** A copy of the state, for inspection or to persist. */
  snapshot(): State {
    return this.algorithm.copyState(this.#state);
  }

  /** Forgets all history: the limiter behaves as if just created. */
  reset(): void {
    this.#state = this.algorithm.createState();
  }
}
