/**
 * A rate limiter as a policy: calls over the limit are rejected with
 * {@link RateLimitedError} before any work starts, so a pipeline can put a limit in front
 * of a dependency the way it puts a bulkhead or a breaker.
 *
 * @module
 */

import {
  Emitter,
  type Event,
  InvalidArgumentError,
  requireInteger,
  requireOptions,
} from '../core/index.js';
import { contextFrom, type Policy, type PolicyContext, type PolicyWork } from './policy.js';
import {
  type RateLimitDecision,
  RateLimitedError,
  type SyncRateLimiter,
} from './rate-limit/index.js';

/** Options for {@link RateLimitPolicy}. */
export interface RateLimitPolicyOptions {
  /**
   * Decides each call. For one key of a keyed limiter pass
   * `{ tryAcquire: (cost) => keyed.tryAcquire(key, cost) }`.
   */
  readonly limiter: SyncRateLimiter;
  /** What one call costs (an integer >= 0). Default 1. */
  readonly cost?: number;
}

/** Payload of {@link RateLimitPolicy.onReject}. */
export interface RateLimitRejectEvent {
  /** The limiter's decision for the rejected call. */
  readonly decision: RateLimitDecision;
}

/**
 * Admits a call when its limiter allows it and rejects it with {@link RateLimitedError}
 * (carrying `retryAfterMs`, which a retry policy reads as a Retry-After hint) when not.
 * The decision is synchronous; an admitted call runs at once on the caller's context.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ capacity: 100, refillCount: 50 }); // bursts of 100, 50 per second
 * const limit = new RateLimitPolicy({ limiter: new RateLimiter({ algorithm: bucket }) });
 * await limit.execute(() => callDependency());
 * ```
 */
export class RateLimitPolicy implements Policy {
  readonly #limiter: SyncRateLimiter;
  readonly #cost: number;
  readonly #rejected = new Emitter<RateLimitRejectEvent>();

  /** Emitted for every call the limiter turns away. */
  readonly onReject: Event<RateLimitRejectEvent> = this.#rejected.event;

  constructor(options: RateLimitPolicyOptions) {
    const checked = requireOptions('RateLimitPolicy options', options);
    const limiter = checked.limiter;
    if (
      typeof limiter !== 'object' ||
      limiter === null ||
      typeof (limiter as SyncRateLimiter).tryAcquire !== 'function'
    ) {
      throw new InvalidArgumentError(
        'RateLimitPolicy options.limiter',
        'RateLimitPolicy options.limiter must have a tryAcquire(cost) method, such as a RateLimiter.',
      );
    }
    this.#limiter = limiter;
    this.#cost = requireInteger('RateLimitPolicy options.cost', checked.cost ?? 1, { min: 0 });
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    const context = contextFrom(parent);
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    const decision = this.#limiter.tryAcquire(this.#cost);
    if (!decision.allowed) {
      this.#rejected.emit({ decision });
      return Promise.reject(new RateLimitedError(decision.retryAfterMs));
    }
    try {
      return Promise.resolve(work(context));
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
