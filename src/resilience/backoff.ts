/**
 * Backoff: how long a retry policy waits before each retry.
 *
 * A {@link Backoff} is a small immutable object whose `delayMs(attempt, previousDelayMs,
 * random)` is a pure function of its arguments: the randomness comes from the `Random`
 * the caller passes (the retry policy's own), so one backoff object can be shared by many
 * policies and a seed reproduces every delay.
 *
 * The schedules are constant, linear and exponential, each capped at `delayMsMax`, and
 * each can be jittered so that clients which failed together do not retry together:
 *
 * | jitter           | delay drawn from                                   |
 * | ---------------- | -------------------------------------------------- |
 * | `'none'`         | exactly the computed delay `d`                     |
 * | `'full'`         | uniform in [0, d]                                  |
 * | `'equal'`        | uniform in [d / 2, d]                              |
 * | `'decorrelated'` | uniform in [base, min(cap, 3 × previous delay)]    |
 *
 * Decorrelated jitter ignores the schedule's shape (it grows from the previous delay, not
 * from the attempt number), so only {@link ExponentialBackoff} offers it.
 *
 * @module
 */

import {
  InvalidArgumentError,
  type Random,
  requireNumber,
  requireOneOf,
  requireOptions,
} from '../core/index.js';

/** How a delay is randomised; see the table in this module's header. */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/** The wait before each retry. Implement it for a schedule of your own. */
export interface Backoff {
  /**
   * The delay in milliseconds (finite, >= 0) before the retry that follows attempt
   * `attempt`.
   *
   * @param attempt - the attempt that just failed: 1 after the first try, 2 after the
   *   first retry, and so on.
   * @param previousDelayMs - the delay waited before attempt `attempt`; 0 after the first
   *   try. Only decorrelated jitter reads it.
   * @param random - where jitter draws from; the retry policy passes its own.
   */
  delayMs(attempt: number, previousDelayMs: number, random: Random): number;
}

/** Jitter kinds that do not need a previous delay. */
const scheduleJitters = ['none', 'full', 'equal'] as const;
const allJitters = ['none', 'full', 'equal', 'decorrelated'] as const;

/** Applies `'none'`, `'full'` or `'equal'` jitter to a computed delay. */
function jittered(jitter: Jitter, computedMs: number, random: Random): number {
  if (jitter === 'full') {
    return random.float() * computedMs;
  }
  if (jitter === 'equal') {
    const halfMs = computedMs / 2;
    // min(): for a subnormal delay, halving rounds up and half + half can pass the delay.
    return Math.min(computedMs, halfMs + random.float() * halfMs);
  }
  return computedMs;
}

/** Options for {@link ConstantBackoff}. */
export interface ConstantBackoffOptions {
  /** The delay before every retry, in milliseconds (>= 0). */
  readonly delayMs: number;
  /** Default `'none'`. Decorrelated jitter is not offered: use {@link ExponentialBackoff}. */
  readonly jitter?: Exclude<Jitter, 'decorrelated'>;
}

/**
 * The same delay before every retry.
 *
 * @example
 * ```ts
 * const backoff = new ConstantBackoff({ delayMs: 200, jitter: 'equal' }); // 100..200 ms
 * ```
 */
export class ConstantBackoff implements Backoff {
  /** The delay before every retry, before jitter. */
  readonly delayMsBase: number;
  /** The largest delay it returns: the same as {@link ConstantBackoff.delayMsBase}. */
  readonly delayMsMax: number;
  /** How the delay is randomised. */
  readonly jitter: Jitter;

  constructor(options: ConstantBackoffOptions) {
    const checked = requireOptions('ConstantBackoff options', options);
    this.delayMsBase = requireNumber('ConstantBackoff options.delayMs', checked.delayMs, {
      min: 0,
    });
    this.delayMsMax = this.delayMsBase;
    this.jitter = requireOneOf(
      'ConstantBackoff options.jitter',
      checked.jitter ?? 'none',
      scheduleJitters,
    );
  }

  delayMs(_attempt: number, _previousDelayMs: number, random: Random): number {
    return jittered(this.jitter, this.delayMsBase, random);
  }
}

/** Options for {@link LinearBackoff}. */
export interface LinearBackoffOptions {
  /** The delay before the first retry, in milliseconds (>= 0). */
  readonly delayMsBase: number;
  /** How much each further retry adds, in milliseconds (>= 0). Default `delayMsBase`. */
  readonly delayMsIncrement?: number;
  /** The cap, in milliseconds (>= delayMsBase). */
  readonly delayMsMax: number;
  /** Default `'none'`. Decorrelated jitter is not offered: use {@link ExponentialBackoff}. */
  readonly jitter?: Exclude<Jitter, 'decorrelated'>;
}

/**
 * A delay that grows by a fixed step: `min(delayMsMax, delayMsBase + delayMsIncrement ×
 * (attempt - 1))`, then jittered.
 *
 * @example
 * ```ts
 * // 100, 200, 300, 400, 400, ... ms
 * const backoff = new LinearBackoff({ delayMsBase: 100, delayMsMax: 400 });
 * ```
 */
export class LinearBackoff implements Backoff {
  /** The delay before the first retry, before jitter. */
  readonly delayMsBase: number;
  /** What each further retry adds. */
  readonly delayMsIncrement: number;
  /** The cap. */
  readonly delayMsMax: number;
  /** How the delay is randomised. */
  readonly jitter: Jitter;

  constructor(options: LinearBackoffOptions) {
    const checked = requireOptions('LinearBackoff options', options);
    this.delayMsBase = requireNumber('LinearBackoff options.delayMsBase', checked.delayMsBase, {
      min: 0,
    });
    this.delayMsIncrement = requireNumber(
      'LinearBackoff options.delayMsIncrement',
      checked.delayMsIncrement ?? this.delayMsBase,
      { min: 0 },
    );
    this.delayMsMax = requireNumber('LinearBackoff options.delayMsMax', checked.delayMsMax, {
      min: this.delayMsBase,
    });
    this.jitter = requireOneOf(
      'LinearBackoff options.jitter',
      checked.jitter ?? 'none',
      scheduleJitters,
    );
  }

  delayMs(attempt: number, _previousDelayMs: number, random: Random): number {
    const grownMs = this.delayMsBase + this.delayMsIncrement * (attempt - 1);
    return jittered(this.jitter, Math.min(grownMs, this.delayMsMax), random);
  }
}

/** Options for {@link ExponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /**
   * The delay before the first retry, in milliseconds (>= 0); with decorrelated jitter,
   * the least delay ever returned, and then it must be > 0.
   */
  readonly delayMsBase: number;
  /** What each retry multiplies the delay by (>= 1). Default 2. */
  readonly factor?: number;
  /** The cap, in milliseconds (>= delayMsBase). */
  readonly delayMsMax: number;
  /** Default `'full'`: a fleet that failed together spreads its retries out. */
  readonly jitter?: Jitter;
}

/**
 * A delay that multiplies by `factor` each retry: `min(delayMsMax, delayMsBase ×
 * factor^(attempt - 1))`, then jittered. With `jitter: 'decorrelated'` the delay is drawn
 * uniformly from `[delayMsBase, min(delayMsMax, 3 × previous delay)]` (a previous delay
 * below the base counts as the base), which grows about as fast on average but
 * decorrelates clients whose failures lined up.
 *
 * @example
 * ```ts
 * // full jitter over 100, 200, 400, 800, 1000, 1000, ... ms
 * const backoff = new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 1_000 });
 * ```
 */
export class ExponentialBackoff implements Backoff {
  /** The delay before the first retry, before jitter. */
  readonly delayMsBase: number;
  /** The growth factor per retry. */
  readonly factor: number;
  /** The cap. */
  readonly delayMsMax: number;
  /** How the delay is randomised. */
  readonly jitter: Jitter;

  constructor(options: ExponentialBackoffOptions) {
    const checked = requireOptions('ExponentialBackoff options', options);
    this.delayMsBase = requireNumber(
      'ExponentialBackoff options.delayMsBase',
      checked.delayMsBase,
      { min: 0 },
    );
    this.factor = requireNumber('ExponentialBackoff options.factor', checked.factor ?? 2, {
      min: 1,
    });
    this.delayMsMax = requireNumber('ExponentialBackoff options.delayMsMax', checked.delayMsMax, {
      min: this.delayMsBase,
    });
    this.jitter = requireOneOf(
      'ExponentialBackoff options.jitter',
      checked.jitter ?? 'full',
      allJitters,
    );
    if (this.jitter === 'decorrelated' && this.delayMsBase === 0) {
      // Decorrelated delays grow from the base; from 0 they would stay 0 for ever.
      throw new InvalidArgumentError(
        'options.delayMsBase',
        "ExponentialBackoff options.delayMsBase must be > 0 with jitter 'decorrelated'; got 0.",
      );
    }
  }

  delayMs(attempt: number, previousDelayMs: number, random: Random): number {
    const baseMs = this.delayMsBase;
    const capMs = this.delayMsMax;
    if (this.jitter === 'decorrelated') {
      const fromMs = Math.max(previousDelayMs, baseMs);
      const upperMs = Math.min(fromMs * 3, capMs);
      return baseMs + random.float() * (upperMs - baseMs);
    }
    if (baseMs === 0) {
      // 0 × Infinity would be NaN for a huge attempt.
      return 0;
    }
    const grownMs = baseMs * this.factor ** (attempt - 1);
    return jittered(this.jitter, Math.min(grownMs, capMs), random);
  }
}
