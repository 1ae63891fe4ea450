/**
 * Probabilistic early recomputation, "XFetch" (Vattani, Chierichetti and Lowenstein,
 * "Optimal probabilistic cache stampede prevention", VLDB 2015).
 *
 * When a hot entry expires, every request that reads it in the next moment misses and
 * goes to the origin. XFetch lets each read, before the expiry, decide at random to
 * recompute early: it recomputes when
 *
 *     now - delta * beta * ln(u) >= expiry
 *
 * with u drawn uniformly from (0, 1], delta the time the last recomputation took and beta
 * a tuning factor (1 by default). The chance rises smoothly as the expiry nears: it is
 * e^(-(expiry - now) / (delta * beta)), so with a recomputation of delta milliseconds a
 * read one delta before the expiry recomputes with probability 1/e. Expensive values start
 * earlier, cheap ones later; beta above 1 favours earlier recomputation, below 1 later,
 * and 0 switches early recomputation off. The paper shows this exponential rule is the
 * optimal one: for a given number of early recomputations it leaves the least chance of a
 * stampede at the expiry.
 *
 * @module
 */

import {
  type Clock,
  InvalidArgumentError,
  type Random,
  requireNumber,
  requireOptions,
  systemClock,
  systemRandom,
} from '../core/index.js';

/** Options for {@link XFetch}. */
export interface XFetchOptions {
  /**
   * The tuning factor beta (finite, >= 0). Default 1, the paper's recommendation; above 1
   * recomputes earlier, below 1 later, 0 never early.
   */
  readonly beta?: number;
  /** Where u comes from; default a `systemRandom()` of `distkit/core`. */
  readonly random?: Random;
  /** Reads "now" for {@link XFetch.shouldRecompute}; default `systemClock`. */
  readonly clock?: Clock;
}

/**
 * The probability that one read at `nowMs` recomputes early under XFetch: 1 at or after
 * `expiresAtMs`, e^(-(expiresAtMs - nowMs) / (deltaMs * beta)) before it, and 0 before it
 * when `deltaMs * beta` is 0. For tests, dashboards and choosing beta.
 */
export function xfetchProbability(
  nowMs: number,
  expiresAtMs: number,
  deltaMs: number,
  beta = 1,
): number {
  checkInputs('xfetchProbability', nowMs, expiresAtMs, deltaMs, beta);
  const gapMs = expiresAtMs - nowMs;
  if (gapMs <= 0) {
    return 1;
  }
  const scaleMs = deltaMs * beta;
  return scaleMs === 0 ? 0 : Math.exp(-gapMs / scaleMs);
}

function checkInputs(
  method: string,
  nowMs: number,
  expiresAtMs: number,
  deltaMs: number,
  beta: number,
): void {
  // One comparison chain on the hot path; the helpers only run to build the message.
  if (
    !(
      Number.isFinite(nowMs) &&
      Number.isFinite(expiresAtMs) &&
      deltaMs >= 0 &&
      deltaMs < Number.POSITIVE_INFINITY &&
      beta >= 0 &&
      beta < Number.POSITIVE_INFINITY
    )
  ) {
    requireNumber(`${method} nowMs`, nowMs);
    requireNumber(`${method} expiresAtMs`, expiresAtMs);
    requireNumber(`${method} deltaMs`, deltaMs, { min: 0 });
    requireNumber(`${method} beta`, beta, { min: 0 });
    throw new InvalidArgumentError(method, `${method} received a non-number argument.`);
  }
}

/**
 * Decides, read by read, whether to recompute a cached value before it expires.
 *
 * @example
 * ```ts
 * const xfetch = new XFetch({ beta: 1, random: new SeededRandom({ seed: 7 }), clock });
 * // The entry expires at 10,000 ms; recomputing it last took 400 ms.
 * if (xfetch.shouldRecompute(10_000, 400)) {
 *   refreshInBackground();
 * }
 * ```
 */
export class XFetch {
  /** The tuning factor beta. */
  readonly beta: number;
  readonly #random: Random;
  readonly #clock: Clock;

  constructor(options: XFetchOptions = {}) {
    const checked = requireOptions('XFetch options', options);
    this.beta = requireNumber('XFetch options.beta', checked.beta ?? 1, { min: 0 });
    const random = checked.random ?? systemRandom();
    if (typeof random?.float !== 'function') {
      throw new InvalidArgumentError(
        'options.random',
        'XFetch options.random must be a Random from distkit/core.',
      );
    }
    this.#random = random;
    const clock = checked.clock ?? systemClock;
    if (typeof clock?.nowMs !== 'function') {
      throw new InvalidArgumentError(
        'options.clock',
        'XFetch options.clock must be a Clock from distkit/core.',
      );
    }
    this.#clock = clock;
  }

  /**
   * True when a read now should recompute the value that expires at `expiresAtMs` (on the
   * clock) and took `deltaMs` to compute last time. Always true at or after the expiry.
   * Draws one random number per call before the expiry, none at or after it or when beta
   * or `deltaMs` is 0.
   */
  shouldRecompute(expiresAtMs: number, deltaMs: number): boolean {
    return this.shouldRecomputeAt(this.#clock.nowMs(), expiresAtMs, deltaMs);
  }

  /** {@link XFetch.shouldRecompute} at a given `nowMs`, for a caller that already read the clock. */
  shouldRecomputeAt(nowMs: number, expiresAtMs: number, deltaMs: number): boolean {
    checkInputs('XFetch.shouldRecomputeAt', nowMs, expiresAtMs, deltaMs, this.beta);
    if (nowMs >= expiresAtMs) {
      return true;
    }
    const scaleMs = deltaMs * this.beta;
    if (scaleMs === 0) {
      return false;
    }
    // float() is in [0, 1); 1 - float() is in (0, 1], so ln never sees 0.
    const u = 1 - this.#random.float();
    return nowMs - scaleMs * Math.log(u) >= expiresAtMs;
  }
}
