/**
 * An interval clock: the current time as an interval `[earliestMs, latestMs]` that is
 * guaranteed to contain true time, given a bound on the error at the last
 * synchronisation and on the drift since. This is the idea behind commit-wait: a
 * transaction stamped `t` waits until `t` is certainly in the past everywhere before it
 * reports success, so timestamp order matches real-time order.
 *
 * @module
 */

import { type Clock, InvalidArgumentError, requireNumber, requireOptions } from '../core/index.js';

/** Now, as an interval that contains true time. */
export interface TimeInterval {
  /** True time is at least this. */
  readonly earliestMs: number;
  /** True time is at most this. */
  readonly latestMs: number;
}

/** Options for {@link IntervalClock}. */
export interface IntervalClockOptions {
  /** The local clock; its `wallMs()` is the midpoint estimate, `nowMs()` measures drift. */
  readonly clock: Clock;
  /** The error bound right after a synchronisation (half the round trip plus the source's error). */
  readonly uncertaintyMs: number;
  /**
   * How fast the error grows between synchronisations, in parts per million of elapsed
   * time. Default 200 (quartz oscillators stay well within it).
   */
  readonly driftPpm?: number;
}

/**
 * @example
 * ```ts
 * const clock = new ManualClock({ wallMs: 1_700_000_000_000 });
 * const interval = new IntervalClock({ clock, uncertaintyMs: 4 });
 * const commitMs = interval.now().latestMs;
 * interval.commitWaitMs(commitMs); // just over 8: wait this long before acknowledging
 * ```
 */
export class IntervalClock {
  readonly #clock: Clock;
  readonly #uncertaintyMs: number;
  readonly #driftRate: number;
  #syncedAtMs: number;

  constructor(options: IntervalClockOptions) {
    requireOptions('IntervalClock options', options);
    if (options.clock === undefined || typeof options.clock.nowMs !== 'function') {
      throw new InvalidArgumentError(
        'IntervalClock options.clock',
        'IntervalClock options.clock must be a Clock.',
      );
    }
    this.#clock = options.clock;
    this.#uncertaintyMs = requireNumber(
      'IntervalClock options.uncertaintyMs',
      options.uncertaintyMs,
      {
        min: 0,
      },
    );
    this.#driftRate =
      requireNumber('IntervalClock options.driftPpm', options.driftPpm ?? 200, {
        min: 0,
        max: 1e6,
      }) / 1e6;
    this.#syncedAtMs = this.#clock.nowMs();
  }

  /** Records a synchronisation with the time source now: the error is back to `uncertaintyMs`. */
  synchronized(): void {
    this.#syncedAtMs = this.#clock.nowMs();
  }

  /** The current error bound: `uncertaintyMs` plus drift since the last synchronisation. */
  errorBoundMs(): number {
    return this.#uncertaintyMs + (this.#clock.nowMs() - this.#syncedAtMs) * this.#driftRate;
  }

  /** Now, as an interval guaranteed to contain true time. */
  now(): TimeInterval {
    const estimateMs = this.#clock.wallMs();
    const errorMs = this.errorBoundMs();
    return { earliestMs: estimateMs - errorMs, latestMs: estimateMs + errorMs };
  }

  /** Whether `timeMs` has certainly passed. */
  hasPassed(timeMs: number): boolean {
    requireNumber('IntervalClock.hasPassed timeMs', timeMs);
    return this.now().earliestMs > timeMs;
  }

  /** Whether `timeMs` is certainly still to come. */
  isFuture(timeMs: number): boolean {
    requireNumber('IntervalClock.isFuture timeMs', timeMs);
    return this.now().latestMs < timeMs;
  }

  /**
   * How long to wait, on the local clock, until `timeMs` has certainly passed (0 when it
   * has): the commit wait for a transaction stamped `timeMs`.
   */
  commitWaitMs(timeMs: number): number {
    requireNumber('IntervalClock.commitWaitMs timeMs', timeMs);
    const { earliestMs } = this.now();
    if (earliestMs > timeMs) {
      return 0;
    }
    // While waiting, the error keeps growing at the drift rate, so the earliest bound
    // moves at (1 - drift) per millisecond.
    return (timeMs - earliestMs) / (1 - this.#driftRate) + Number.EPSILON * timeMs;
  }
}
