/**
 * Waiting for a rate limit instead of failing at once: bounded in time, in waiters and in
 * attempts, and cancellable.
 *
 * @module
 */

import {
  abortError,
  InvalidArgumentError,
  LimitExceededError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptionalSignal,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../../core/index.js';
import { requireOptionsObject } from './arithmetic.js';
import { type RateLimitDecision, RateLimitedError, type ShapeDecision } from './decision.js';

/** Most decisions one {@link RateLimitWaiter.wait} call asks for before giving up. */
const attemptCountMax = 1_000;

/** Options for {@link RateLimitWaiter}. */
export interface RateLimitWaiterOptions {
  /**
   * Longest a call waits for its request to be allowed, in milliseconds (>= 0, required).
   * A call told to retry later than that fails at once with `RateLimitedError`.
   */
  readonly waitMsMax: number;
  /**
   * Most calls waiting at once (an integer >= 0); a call that finds this many waiting is
   * rejected with `LimitExceededError` before it asks the limiter. Default 10,000.
   */
  readonly waiterCountMax?: number;
  /**
   * Runs the waits. Default: the shared `systemScheduler` of `distkit/core`. Its clock must
   * keep the same time as the limiter's.
   */
  readonly scheduler?: Scheduler;
}

/** Options for one {@link RateLimitWaiter.wait} call. */
export interface RateLimitWaitOptions {
  /** Stops waiting when aborted; the call rejects with the signal's error. */
  readonly signal?: AbortSignal | undefined;
}

/** The delay a decision asks for before proceeding: a shaper's `delayMs`, else 0. */
function delayOf(decision: RateLimitDecision): number {
  const delayMs = (decision as Partial<ShapeDecision>).delayMs;
  return typeof delayMs === 'number' && delayMs > 0 ? delayMs : 0;
}

/**
 * Turns a limiter's decisions into waiting: `wait(attempt)` asks `attempt()` for a
 * decision and, while it is denied, waits `retryAfterMs` on the scheduler and asks again,
 * until it is allowed (resolving with that decision) or the next retry would come after
 * `waitMsMax` (rejecting with {@link RateLimitedError}). A shaper's allowed decision with
 * a `delayMs` is waited out once, then resolved.
 *
 * `attempt` is any synchronous decision, so one waiter serves a `RateLimiter`, a
 * `KeyedRateLimiter` key, or a shaper: `() => limiter.tryAcquire(key, cost)`.
 *
 * Bounds: at most `waiterCountMax` calls wait at once, each at most `waitMsMax` (and at
 * most 1,000 attempts). One scheduler task per waiting call, no polling: a call wakes only
 * when its request would be allowed if nothing else happened. It is not a queue: when
 * several calls wait for the same limit, whichever asks first after capacity returns
 * wins, so a large request can lose to a stream of small ones until its time runs out.
 * For strict first-come order, use a `LeakyBucketShaper`, whose reservations are ordered.
 *
 * Aborting the signal stops the wait at once: the scheduled task is cancelled and the
 * abort listener removed; the listener is also removed when the wait ends any other way.
 *
 * @example
 * ```ts
 * const waiter = new RateLimitWaiter({ waitMsMax: 5_000 });
 * await waiter.wait(() => perTenant.tryAcquire(tenantId), { signal });
 * await callTheApi();
 * ```
 */
export class RateLimitWaiter {
  /** Longest a call waits, in milliseconds. */
  readonly waitMsMax: number;
  /** Most calls waiting at once. */
  readonly waiterCountMax: number;
  /** The scheduler the waits run on. */
  readonly scheduler: Scheduler;
  #waiterCount = 0;

  constructor(options: RateLimitWaiterOptions) {
    const checked = requireOptionsObject('RateLimitWaiter', options);
    this.waitMsMax = requireNumber('RateLimitWaiter options.waitMsMax', checked.waitMsMax, {
      min: 0,
    });
    this.waiterCountMax = requireInteger(
      'RateLimitWaiter options.waiterCountMax',
      checked.waiterCountMax ?? 10_000,
      { min: 0 },
    );
    const scheduler = checked.scheduler ?? systemScheduler;
    if (typeof scheduler?.schedule !== 'function' || typeof scheduler.clock?.nowMs !== 'function') {
      throw new InvalidArgumentError(
        'RateLimitWaiter options.scheduler',
        'RateLimitWaiter options.scheduler must be a Scheduler (with schedule() and clock) or undefined.',
      );
    }
    this.scheduler = scheduler;
  }

  /** Calls waiting now. */
  get waiterCount(): number {
    return this.#waiterCount;
  }

  /**
   * Resolves with the first allowed decision of `attempt`, after waiting as the
   * decisions say; see {@link RateLimitWaiter}.
   *
   * Rejects with {@link RateLimitedError} when the request would be allowed only after
   * `waitMsMax` (or never), with `LimitExceededError` when `waiterCountMax` calls already
   * wait, with the signal's error when aborted, and with whatever `attempt` throws.
   */
  wait<Decision extends RateLimitDecision>(
    attempt: () => Decision,
    options: RateLimitWaitOptions = {},
  ): Promise<Decision> {
    try {
      requireFunction('RateLimitWaiter.wait attempt', attempt);
      const signal = requireOptionalSignal(
        'RateLimitWaiter.wait options.signal',
        requireOptionsObject('RateLimitWaiter.wait', options).signal,
      );
      if (signal?.aborted) {
        throw abortError(signal);
      }
      if (this.#waiterCount >= this.waiterCountMax) {
        throw new LimitExceededError(
          this.waiterCountMax,
          `${this.waiterCountMax} calls already wait for this rate limit; shed the request ` +
            'or raise waiterCountMax.',
        );
      }
      const first = attempt();
      if (first.allowed && delayOf(first) === 0) {
        return Promise.resolve(first);
      }
      const deadlineMs = this.scheduler.clock.nowMs() + this.waitMsMax;
      if (!first.allowed && !(this.scheduler.clock.nowMs() + first.retryAfterMs <= deadlineMs)) {
        throw new RateLimitedError(first.retryAfterMs);
      }
      return new Promise<Decision>((resolve, reject) => {
        this.#start(attempt, first, deadlineMs, signal, resolve, reject);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #start<Decision extends RateLimitDecision>(
    attempt: () => Decision,
    first: Decision,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    resolve: (decision: Decision) => void,
    reject: (error: unknown) => void,
  ): void {
    const scheduler = this.scheduler;
    let task: ScheduledTask | undefined;
    let settled = false;
    let attemptCount = 1;
    this.#waiterCount += 1;

    const settle = (): boolean => {
      if (settled) {
        return false;
      }
      settled = true;
      this.#waiterCount -= 1;
      task?.cancel();
      task = undefined;
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (settle()) {
        reject(abortError(signal as AbortSignal));
      }
    };
    const proceedAfter = (decision: Decision): void => {
      const delayMs = delayOf(decision);
      if (delayMs === 0) {
        settle();
        resolve(decision);
        return;
      }
      task = scheduler.schedule(delayMs, () => {
        task = undefined;
        if (settle()) {
          resolve(decision);
        }
      });
    };
    const retryAfter = (decision: Decision): void => {
      if (
        attemptCount >= attemptCountMax ||
        !(scheduler.clock.nowMs() + decision.retryAfterMs <= deadlineMs)
      ) {
        settle();
        reject(new RateLimitedError(decision.retryAfterMs));
        return;
      }
      task = scheduler.schedule(decision.retryAfterMs, onWake);
    };
    const onWake = (): void => {
      task = undefined;
      if (settled) {
        return;
      }
      let decision: Decision;
      try {
        decision = attempt();
      } catch (error) {
        settle();
        reject(error);
        return;
      }
      attemptCount += 1;
      if (decision.allowed) {
        proceedAfter(decision);
      } else {
        retryAfter(decision);
      }
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    if (first.allowed) {
      proceedAfter(first);
    } else {
      retryAfter(first);
    }
  }
}
