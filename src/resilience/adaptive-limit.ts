/**
 * Adaptive concurrency limits: algorithms that find how many calls a dependency can take
 * at once from the latency it shows, instead of a number someone guessed. Each is a pure
 * state machine fed one {@link LimitSample} per finished call; `AdaptiveConcurrencyPolicy`
 * (in `adaptive-concurrency.ts`) measures the samples and enforces the limit.
 *
 * - {@link AimdLimit}: additive increase while latency stays under a threshold and the
 *   limit is in use, multiplicative decrease on a slow or dropped call, at most once per
 *   round trip. Needs a latency threshold, and is simple to reason about.
 * - {@link GradientLimit}: compares the recent latency with the latency at no load and
 *   scales the limit by their ratio, plus a small allowance for queueing. Needs no
 *   threshold; finds the knee of the latency curve by itself.
 *
 * @module
 */

import {
  type Clock,
  InvalidArgumentError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
  systemClock,
} from '../core/index.js';

/** What one finished call tells a {@link Limit}. */
export interface LimitSample {
  /** How long the call ran, in milliseconds (>= 0), from admission to settlement. */
  readonly rttMs: number;
  /** Calls in flight when this one was admitted, this one included (integer >= 0). */
  readonly inflightCount: number;
  /** True when the call failed in a way that signals overload: a timeout, a rejection. */
  readonly dropped: boolean;
}

/** An adaptive concurrency limit algorithm. */
export interface Limit {
  /** The current limit: an integer from `limitMin` to `limitMax`. */
  readonly limit: number;
  /** The least the limit can be (integer >= 1). */
  readonly limitMin: number;
  /** The most the limit can be. */
  readonly limitMax: number;
  /** Feeds one finished call to the algorithm; returns the limit after it. */
  addSample(sample: LimitSample): number;
}

/** Bounds every limit shares; the defaults are the same for each algorithm. */
interface LimitBounds {
  readonly limitMin: number;
  readonly limitMax: number;
  readonly limitInitial: number;
}

function checkBounds(
  owner: string,
  options: {
    readonly limitMin?: number | undefined;
    readonly limitMax?: number | undefined;
    readonly limitInitial?: number | undefined;
  },
  limitInitialDefault: number,
): LimitBounds {
  const limitMin = requireInteger(`${owner} options.limitMin`, options.limitMin ?? 1, { min: 1 });
  const limitMax = requireInteger(`${owner} options.limitMax`, options.limitMax ?? 1_000, {
    min: limitMin,
  });
  const limitInitial = requireInteger(
    `${owner} options.limitInitial`,
    options.limitInitial ?? Math.min(limitMax, Math.max(limitMin, limitInitialDefault)),
    { min: limitMin, max: limitMax },
  );
  return { limitMin, limitMax, limitInitial };
}

function checkRatioBelowOne(name: string, value: number): number {
  requireNumber(name, value, { min: 0 });
  if (value <= 0 || value >= 1) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a number above 0 and below 1; got number ${value}.`,
    );
  }
  return value;
}

function checkSample(owner: string, sample: LimitSample): void {
  if (typeof sample !== 'object' || sample === null) {
    throw new InvalidArgumentError('sample', `${owner}.addSample needs a sample object.`);
  }
  requireNumber(`${owner}.addSample sample.rttMs`, sample.rttMs, { min: 0 });
  requireInteger(`${owner}.addSample sample.inflightCount`, sample.inflightCount, { min: 0 });
  if (typeof sample.dropped !== 'boolean') {
    throw new InvalidArgumentError(
      `${owner}.addSample sample.dropped`,
      `${owner}.addSample sample.dropped must be a boolean.`,
    );
  }
}

/** Options for {@link AimdLimit}. */
export interface AimdLimitOptions {
  /** The limit to start from; default 10 (within the bounds). */
  readonly limitInitial?: number;
  /** The least the limit can be (integer >= 1); default 1. */
  readonly limitMin?: number;
  /** The most the limit can be (integer >= limitMin); default 1,000. */
  readonly limitMax?: number;
  /**
   * A call slower than this, in milliseconds (> 0), counts as a drop. Default: none, so
   * only dropped calls make the limit shrink.
   */
  readonly rttMsThreshold?: number;
  /** What a decrease multiplies the limit by (above 0, below 1); default 0.9. */
  readonly backoffRatio?: number;
  /** Tells when a call started, for the once-per-round-trip rule; default `systemClock`. */
  readonly clock?: Clock;
}

/**
 * Additive increase, multiplicative decrease, as TCP does with its window.
 *
 * - A call that was dropped, or slower than `rttMsThreshold`, multiplies the limit by
 *   `backoffRatio`: but only if it started after the previous decrease (a call admitted
 *   before it saw the old limit and says nothing about the new one), so a burst of slow
 *   calls cuts the limit once per round trip, not once per call.
 * - A call that was fine, admitted while at least half the limit was in use, adds
 *   `1 / limit`: about one more slot per round trip at full use. A limit that is not used
 *   does not grow, so a quiet period does not leave a huge limit behind.
 *
 * The limit reported is the integer part of the internal estimate, within
 * `[limitMin, limitMax]`.
 *
 * @example
 * ```ts
 * const limit = new AimdLimit({ limitInitial: 10, rttMsThreshold: 250, clock: scheduler.clock });
 * limit.addSample({ rttMs: 400, inflightCount: 10, dropped: false }); // too slow: 10 -> 9
 * ```
 */
export class AimdLimit implements Limit {
  readonly limitMin: number;
  readonly limitMax: number;
  /** The latency threshold in milliseconds; +Infinity for none. */
  readonly rttMsThreshold: number;
  /** What a decrease multiplies the limit by. */
  readonly backoffRatio: number;
  readonly #clock: Clock;
  #estimate: number;
  #decreasedAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: AimdLimitOptions = {}) {
    const checked = requireOptions('AimdLimit options', options);
    const bounds = checkBounds('AimdLimit', checked, 10);
    this.limitMin = bounds.limitMin;
    this.limitMax = bounds.limitMax;
    this.#estimate = bounds.limitInitial;
    this.rttMsThreshold =
      checked.rttMsThreshold === undefined
        ? Number.POSITIVE_INFINITY
        : requireNumber('AimdLimit options.rttMsThreshold', checked.rttMsThreshold, {
            min: Number.MIN_VALUE,
          });
    this.backoffRatio = checkRatioBelowOne(
      'AimdLimit options.backoffRatio',
      checked.backoffRatio ?? 0.9,
    );
    this.#clock = checked.clock ?? systemClock;
  }

  get limit(): number {
    return Math.floor(this.#estimate);
  }

  addSample(sample: LimitSample): number {
    checkSample('AimdLimit', sample);
    if (sample.dropped || sample.rttMs > this.rttMsThreshold) {
      const nowMs = this.#clock.nowMs();
      if (nowMs - sample.rttMs >= this.#decreasedAtMs) {
        this.#estimate = Math.max(this.limitMin, this.#estimate * this.backoffRatio);
        this.#decreasedAtMs = nowMs;
      }
    } else if (sample.inflightCount * 2 >= this.limit) {
      this.#estimate = Math.min(this.limitMax, this.#estimate + 1 / this.#estimate);
    }
    return this.limit;
  }
}

/** Options for {@link GradientLimit}. */
export interface GradientLimitOptions {
  /** The limit to start from; default 20 (within the bounds). */
  readonly limitInitial?: number;
  /**
   * The least the limit can be (integer >= 1), and the limit during a probe of the
   * no-load latency; default 1. Keep it below what the dependency can take.
   */
  readonly limitMin?: number;
  /** The most the limit can be (integer >= limitMin); default 1,000. */
  readonly limitMax?: number;
  /** Calls per measurement window (integer >= 1); default 20. */
  readonly windowSampleCount?: number;
  /**
   * How much slower than at no load calls may get (a ratio >= 1) before the limit shrinks;
   * default 1.5.
   */
  readonly rttToleranceRatio?: number;
  /**
   * How far each window moves the limit towards its new target (above 0, at most 1);
   * default 0.2. Lower is steadier and slower.
   */
  readonly smoothingRatio?: number;
  /**
   * The calls allowed to queue at the dependency beyond what the latency ratio allows,
   * given the current limit; default `Math.sqrt(limit)`. It lets the limit grow while
   * latency is at its no-load level, and sets how far above the knee it settles.
   */
  readonly queueAllowance?: (limit: number) => number;
  /** What a window with a dropped call multiplies the limit by (above 0, below 1); default 0.9. */
  readonly backoffRatio?: number;
  /**
   * How often, in milliseconds (> 0), to measure the no-load latency afresh: for one
   * window the limit drops to `limitMin`. Default 30,000.
   */
  readonly probeIntervalMs?: number;
  /** Times the probes; default `systemClock`. */
  readonly clock?: Clock;
}

/**
 * A gradient limit: each window of `windowSampleCount` calls, the limit moves towards
 * `limit * gradient + queueAllowance(limit)`, where the gradient is
 * `rttToleranceRatio * noLoadRtt / windowRtt`, kept within [0.5, 1].
 *
 * - `windowRtt` is the average latency of the window's calls.
 * - `noLoadRtt` is the latency at no load: the lowest window average seen since the last
 *   probe. Every `probeIntervalMs` a probe window runs at `limitMin`, counting only calls
 *   admitted at that concurrency; its average replaces `noLoadRtt`. The probe is what lets
 *   the limit come down from a too-high start: latencies measured while the dependency is
 *   overloaded all look alike, and only a quiet moment shows what "fast" is.
 * - While latency stays within the tolerance, the gradient is 1 and the queue allowance
 *   makes the limit grow; past the knee of the latency curve the gradient drops below 1
 *   and the limit settles where the two balance.
 * - A window with a dropped call multiplies the limit by `backoffRatio` instead.
 * - A window whose calls never used half the limit does not grow it.
 *
 * Each window moves the limit by `smoothingRatio` of the way to its target. The limit
 * reported is the integer part, within `[limitMin, limitMax]`.
 *
 * @example
 * ```ts
 * const limit = new GradientLimit({ limitInitial: 20, clock: scheduler.clock });
 * ```
 */
export class GradientLimit implements Limit {
  readonly limitMin: number;
  readonly limitMax: number;
  /** Calls per measurement window. */
  readonly windowSampleCount: number;
  /** How much slower than at no load calls may get before the limit shrinks. */
  readonly rttToleranceRatio: number;
  /** How far each window moves the limit towards its target. */
  readonly smoothingRatio: number;
  /** What a window with a dropped call multiplies the limit by. */
  readonly backoffRatio: number;
  /** How often the no-load latency is measured afresh, in milliseconds. */
  readonly probeIntervalMs: number;
  readonly #queueAllowance: (limit: number) => number;
  readonly #clock: Clock;
  #estimate: number;
  #rttMsNoLoad: number | undefined;
  #probedAtMs: number;
  #probing = false;
  // The window being filled.
  #sampleCount = 0;
  #rttMsSum = 0;
  #dropped = false;
  #inflightCountMax = 0;

  constructor(options: GradientLimitOptions = {}) {
    const checked = requireOptions('GradientLimit options', options);
    const bounds = checkBounds('GradientLimit', checked, 20);
    this.limitMin = bounds.limitMin;
    this.limitMax = bounds.limitMax;
    this.#estimate = bounds.limitInitial;
    this.windowSampleCount = requireInteger(
      'GradientLimit options.windowSampleCount',
      checked.windowSampleCount ?? 20,
      { min: 1 },
    );
    this.rttToleranceRatio = requireNumber(
      'GradientLimit options.rttToleranceRatio',
      checked.rttToleranceRatio ?? 1.5,
      { min: 1 },
    );
    this.smoothingRatio = requireNumber(
      'GradientLimit options.smoothingRatio',
      checked.smoothingRatio ?? 0.2,
      { min: Number.MIN_VALUE, max: 1 },
    );
    this.backoffRatio = checkRatioBelowOne(
      'GradientLimit options.backoffRatio',
      checked.backoffRatio ?? 0.9,
    );
    this.probeIntervalMs = requireNumber(
      'GradientLimit options.probeIntervalMs',
      checked.probeIntervalMs ?? 30_000,
      { min: Number.MIN_VALUE },
    );
    this.#queueAllowance = requireFunction(
      'GradientLimit options.queueAllowance',
      checked.queueAllowance ?? Math.sqrt,
    );
    this.#clock = checked.clock ?? systemClock;
    this.#probedAtMs = this.#clock.nowMs();
  }

  get limit(): number {
    return this.#probing ? this.limitMin : Math.floor(this.#estimate);
  }

  /** The latency at no load in milliseconds, once the first window has measured it. */
  get rttMsNoLoad(): number | undefined {
    return this.#rttMsNoLoad;
  }

  /** True while a probe window measures the no-load latency at `limitMin`. */
  get probing(): boolean {
    return this.#probing;
  }

  addSample(sample: LimitSample): number {
    checkSample('GradientLimit', sample);
    if (this.#probing) {
      // Only calls admitted at the probe's concurrency measure the latency at no load.
      if (!sample.dropped && sample.inflightCount <= this.limitMin) {
        this.#sampleCount += 1;
        this.#rttMsSum += sample.rttMs;
        if (this.#sampleCount >= this.windowSampleCount) {
          this.#rttMsNoLoad = this.#rttMsSum / this.#sampleCount;
          this.#probing = false;
          this.#probedAtMs = this.#clock.nowMs();
          this.#resetWindow();
        }
      }
      return this.limit;
    }
    this.#sampleCount += 1;
    this.#rttMsSum += sample.rttMs;
    this.#dropped ||= sample.dropped;
    if (sample.inflightCount > this.#inflightCountMax) {
      this.#inflightCountMax = sample.inflightCount;
    }
    if (this.#sampleCount >= this.windowSampleCount) {
      this.#closeWindow();
    }
    return this.limit;
  }

  #closeWindow(): void {
    const rttMs = this.#rttMsSum / this.#sampleCount;
    const rttMsNoLoad = Math.min(this.#rttMsNoLoad ?? rttMs, rttMs);
    this.#rttMsNoLoad = rttMsNoLoad;
    const estimate = this.#estimate;
    let next: number;
    if (this.#dropped) {
      next = estimate * this.backoffRatio;
    } else {
      const toleratedMs = this.rttToleranceRatio * rttMsNoLoad;
      const gradient = rttMs <= toleratedMs ? 1 : Math.max(0.5, toleratedMs / rttMs);
      const allowance = this.#queueAllowance(estimate);
      requireNumber('GradientLimit options.queueAllowance result', allowance, { min: 0 });
      let target = estimate * gradient + allowance;
      if (this.#inflightCountMax * 2 < estimate && target > estimate) {
        target = estimate;
      }
      next = estimate + (target - estimate) * this.smoothingRatio;
    }
    this.#estimate = Math.min(this.limitMax, Math.max(this.limitMin, next));
    this.#resetWindow();
    if (this.#clock.nowMs() - this.#probedAtMs >= this.probeIntervalMs) {
      this.#probing = true;
    }
  }

  #resetWindow(): void {
    this.#sampleCount = 0;
    this.#rttMsSum = 0;
    this.#dropped = false;
    this.#inflightCountMax = 0;
  }
}
