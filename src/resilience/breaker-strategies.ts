/**
 * The strategies that decide when a closed circuit breaker opens: after a run of
 * consecutive failures, or when the failure rate or slow-call rate over the last N calls
 * (a count window) or the last W milliseconds (a time window of buckets) reaches a
 * threshold.
 *
 * Every strategy records an outcome in O(1) time and fixed memory: the count window is a
 * ring of one byte per call, the time window a ring of bucket counters that rotates on
 * the injected clock. Nothing grows per call.
 *
 * @module
 */

import {
  InvalidArgumentError,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptions,
} from '../core/index.js';

/** Why a breaker opened. */
export type BreakReason =
  | {
      /** A run of failures reached `failureCountThreshold`. */
      readonly kind: 'consecutive-failures';
      /** The length of the run. */
      readonly failureCount: number;
    }
  | {
      /** The failure rate in the window reached `failureRateThreshold`. */
      readonly kind: 'failure-rate';
      /** Failures divided by calls in the window, from 0 to 1. */
      readonly failureRate: number;
      /** Calls in the window. */
      readonly callCount: number;
    }
  | {
      /** The slow-call rate in the window reached `slowCallRateThreshold`. */
      readonly kind: 'slow-call-rate';
      /** Slow calls divided by calls in the window, from 0 to 1. */
      readonly slowCallRate: number;
      /** Calls in the window. */
      readonly callCount: number;
    }
  | {
      /** A half-open probe failed (or was slow, when the strategy watches slow calls). */
      readonly kind: 'probe-failed';
    }
  | {
      /** The probes did not all succeed within `halfOpenWaitMsMax`. */
      readonly kind: 'probe-timeout';
    }
  | {
      /** Someone called `isolate()`. */
      readonly kind: 'isolated';
    };

/** Options of the consecutive-failures strategy. */
export interface ConsecutiveFailuresOptions {
  /** Selects this strategy. */
  readonly kind: 'consecutive-failures';
  /** Failures in a row that open the breaker (an integer >= 1). A success restarts the count. */
  readonly failureCountThreshold: number;
}

/** Options shared by the two window strategies. */
export interface RateThresholdOptions {
  /**
   * The breaker opens when failures / calls in the window reaches this fraction, in
   * (0, 1]. Default 0.5.
   */
  readonly failureRateThreshold?: number;
  /**
   * The breaker opens when slow calls / calls in the window reaches this fraction, in
   * (0, 1]. Default: slow calls do not open the breaker. Needs the breaker's
   * `slowCallDurationMs`.
   */
  readonly slowCallRateThreshold?: number;
}

/** Options of the count-window strategy: rates over the last N calls. */
export interface CountWindowOptions extends RateThresholdOptions {
  /** Selects this strategy. */
  readonly kind: 'count-window';
  /** N: how many of the latest calls the rates are computed over (1 to 1,000,000). */
  readonly windowCallCount: number;
  /**
   * Fewer calls in the window than this never open the breaker (1 to `windowCallCount`).
   * Default `windowCallCount`: the window must fill first.
   */
  readonly minimumCallCount?: number;
}

/** Options of the time-window strategy: rates over the last W milliseconds. */
export interface TimeWindowOptions extends RateThresholdOptions {
  /** Selects this strategy. */
  readonly kind: 'time-window';
  /** W: the window's length in milliseconds (> 0). */
  readonly windowMs: number;
  /**
   * The window is kept as this many buckets of `windowMs / bucketCount` each (1 to
   * 10,000), so it slides in steps of one bucket. Default 10.
   */
  readonly bucketCount?: number;
  /** Fewer calls in the window than this never open the breaker (>= 1). Default 10. */
  readonly minimumCallCount?: number;
}

/** Which strategy a breaker uses, and its thresholds. */
export type BreakerStrategyOptions =
  | ConsecutiveFailuresOptions
  | CountWindowOptions
  | TimeWindowOptions;

/** The saved history of a consecutive-failures strategy. */
export interface ConsecutiveFailuresSnapshot {
  /** The strategy. */
  readonly kind: 'consecutive-failures';
  /** The current run of failures. */
  readonly failureCount: number;
}

/** The saved history of a count-window strategy. */
export interface CountWindowSnapshot {
  /** The strategy. */
  readonly kind: 'count-window';
  /**
   * The outcomes in the window, oldest first: bit 1 set for a failure, bit 2 for a slow
   * call (so 0 success, 1 failure, 2 slow success, 3 slow failure).
   */
  readonly outcomes: readonly number[];
}

/** The counts of one time-window bucket. */
export interface TimeBucketSnapshot {
  /** Calls recorded in the bucket. */
  readonly callCount: number;
  /** Of those, failures. */
  readonly failureCount: number;
  /** Of those, slow calls. */
  readonly slowCallCount: number;
}

/** The saved history of a time-window strategy. */
export interface TimeWindowSnapshot {
  /** The strategy. */
  readonly kind: 'time-window';
  /** The width of one bucket, in milliseconds. */
  readonly bucketMs: number;
  /** The buckets, oldest first; the last one holds the time the snapshot was taken. */
  readonly buckets: readonly TimeBucketSnapshot[];
}

/** The saved history of any strategy. */
export type BreakerStrategySnapshot =
  | ConsecutiveFailuresSnapshot
  | CountWindowSnapshot
  | TimeWindowSnapshot;

/** The running state of one strategy; a breaker owns one. */
export interface BreakerStrategy {
  /** Whether slow calls can open the breaker, so a slow half-open probe counts as failed. */
  readonly watchesSlowCalls: boolean;
  /** Whether {@link BreakerStrategy.record} needs the current time. */
  readonly needsTime: boolean;
  /**
   * Records one call's outcome, at `nowMs` on the breaker's clock (only read when
   * {@link BreakerStrategy.needsTime}), and returns why the breaker must open, or
   * undefined when it stays closed. O(1); allocates only when it returns a reason.
   */
  record(failed: boolean, slow: boolean, nowMs: number): BreakReason | undefined;
  /** Forgets every recorded outcome. */
  clear(): void;
  /** The recorded history as plain data. */
  toJSON(nowMs: number): BreakerStrategySnapshot;
  /**
   * Restores history saved by {@link BreakerStrategy.toJSON} `elapsedMs` ago. Returns
   * false, and keeps an empty history, when the snapshot is of another kind of strategy
   * or a different bucket width; throws `InvalidArgumentError` when it is malformed.
   */
  restore(snapshot: BreakerStrategySnapshot, nowMs: number, elapsedMs: number): boolean;
}

const defaultFailureRateThreshold = 0.5;
const windowCallCountMax = 1_000_000;
const bucketCountMax = 10_000;

function requireRate(name: string, value: unknown): number {
  // requireNumber's bounds are inclusive; a zero threshold would open on any history.
  const rate = requireNumber(name, value, { min: 0, max: 1 });
  if (rate === 0) {
    throw new InvalidArgumentError(name, `${name} must be a fraction in (0, 1]; got 0.`);
  }
  return rate;
}

function requireSnapshotCount(name: string, value: unknown): number {
  return requireInteger(name, value, { min: 0 });
}

/** Opens after `failureCountThreshold` failures in a row. Slow calls do not count. */
class ConsecutiveFailuresStrategy implements BreakerStrategy {
  readonly watchesSlowCalls = false;
  readonly needsTime = false;
  readonly #failureCountThreshold: number;
  #failureCount = 0;

  constructor(options: ConsecutiveFailuresOptions) {
    this.#failureCountThreshold = requireInteger(
      'options.strategy.failureCountThreshold',
      options.failureCountThreshold,
      { min: 1 },
    );
  }

  record(failed: boolean): BreakReason | undefined {
    if (!failed) {
      this.#failureCount = 0;
      return undefined;
    }
    this.#failureCount += 1;
    return this.#failureCount >= this.#failureCountThreshold
      ? { kind: 'consecutive-failures', failureCount: this.#failureCount }
      : undefined;
  }

  clear(): void {
    this.#failureCount = 0;
  }

  toJSON(): ConsecutiveFailuresSnapshot {
    return { kind: 'consecutive-failures', failureCount: this.#failureCount };
  }

  restore(snapshot: BreakerStrategySnapshot): boolean {
    this.clear();
    if (snapshot.kind !== 'consecutive-failures') {
      return false;
    }
    const count = requireSnapshotCount('snapshot.strategy.failureCount', snapshot.failureCount);
    // Below the threshold by construction: a snapshot at the threshold would have opened.
    this.#failureCount = Math.min(count, this.#failureCountThreshold - 1);
    return true;
  }
}

/** The rate verdict shared by both window strategies. */
function rateVerdict(
  callCount: number,
  failureCount: number,
  slowCallCount: number,
  minimumCallCount: number,
  failureRateThreshold: number,
  slowCallRateThreshold: number | undefined,
): BreakReason | undefined {
  if (callCount < minimumCallCount) {
    return undefined;
  }
  // Divide rather than multiply the threshold: 3 / 10 >= 0.3 holds, 3 >= 0.3 * 10 does not.
  const failureRate = failureCount / callCount;
  if (failureRate >= failureRateThreshold) {
    return { kind: 'failure-rate', failureRate, callCount };
  }
  if (slowCallRateThreshold !== undefined) {
    const slowCallRate = slowCallCount / callCount;
    if (slowCallRate >= slowCallRateThreshold) {
      return { kind: 'slow-call-rate', slowCallRate, callCount };
    }
  }
  return undefined;
}

const failureBit = 1;
const slowBit = 2;

/** Rates over the last `windowCallCount` calls, kept as a ring of one byte per call. */
class CountWindowStrategy implements BreakerStrategy {
  readonly watchesSlowCalls: boolean;
  readonly needsTime = false;
  readonly #minimumCallCount: number;
  readonly #failureRateThreshold: number;
  readonly #slowCallRateThreshold: number | undefined;
  readonly #ring: Uint8Array;
  /** Where the next outcome goes; once full, also the oldest outcome. */
  #next = 0;
  #callCount = 0;
  #failureCount = 0;
  #slowCallCount = 0;

  constructor(options: CountWindowOptions) {
    const windowCallCount = requireInteger(
      'options.strategy.windowCallCount',
      options.windowCallCount,
      { min: 1, max: windowCallCountMax },
    );
    this.#minimumCallCount = requireInteger(
      'options.strategy.minimumCallCount',
      options.minimumCallCount ?? windowCallCount,
      { min: 1, max: windowCallCount },
    );
    this.#failureRateThreshold = requireRate(
      'options.strategy.failureRateThreshold',
      options.failureRateThreshold ?? defaultFailureRateThreshold,
    );
    this.#slowCallRateThreshold =
      options.slowCallRateThreshold === undefined
        ? undefined
        : requireRate('options.strategy.slowCallRateThreshold', options.slowCallRateThreshold);
    this.watchesSlowCalls = this.#slowCallRateThreshold !== undefined;
    this.#ring = new Uint8Array(windowCallCount);
  }

  record(failed: boolean, slow: boolean): BreakReason | undefined {
    this.#push((failed ? failureBit : 0) | (slow ? slowBit : 0));
    return rateVerdict(
      this.#callCount,
      this.#failureCount,
      this.#slowCallCount,
      this.#minimumCallCount,
      this.#failureRateThreshold,
      this.#slowCallRateThreshold,
    );
  }

  #push(outcome: number): void {
    const ring = this.#ring;
    const next = this.#next;
    if (this.#callCount === ring.length) {
      const oldest = ring[next] as number;
      this.#failureCount -= oldest & failureBit;
      this.#slowCallCount -= oldest >> 1;
    } else {
      this.#callCount += 1;
    }
    ring[next] = outcome;
    this.#failureCount += outcome & failureBit;
    this.#slowCallCount += outcome >> 1;
    this.#next = next + 1 === ring.length ? 0 : next + 1;
  }

  clear(): void {
    this.#next = 0;
    this.#callCount = 0;
    this.#failureCount = 0;
    this.#slowCallCount = 0;
  }

  toJSON(): CountWindowSnapshot {
    const ring = this.#ring;
    const count = this.#callCount;
    const outcomes: number[] = [];
    let index = (this.#next - count + ring.length) % ring.length;
    for (let taken = 0; taken < count; taken += 1) {
      outcomes.push(ring[index] as number);
      index = index + 1 === ring.length ? 0 : index + 1;
    }
    return { kind: 'count-window', outcomes };
  }

  restore(snapshot: BreakerStrategySnapshot): boolean {
    this.clear();
    if (snapshot.kind !== 'count-window') {
      return false;
    }
    const outcomes: unknown = snapshot.outcomes;
    if (!Array.isArray(outcomes) || outcomes.length > windowCallCountMax) {
      throw new InvalidArgumentError(
        'snapshot.strategy.outcomes',
        `snapshot.strategy.outcomes must be an array of at most ${windowCallCountMax} outcomes.`,
      );
    }
    // A smaller window than the one saved keeps the newest outcomes.
    const start = Math.max(0, outcomes.length - this.#ring.length);
    for (let index = start; index < outcomes.length; index += 1) {
      this.#push(
        requireInteger(`snapshot.strategy.outcomes[${index}]`, outcomes[index], { min: 0, max: 3 }),
      );
    }
    return true;
  }
}

/**
 * Rates over the last `windowMs`, kept as `bucketCount` buckets of counters. Bucket `e`
 * holds the calls recorded at times in `[e * bucketMs, (e + 1) * bucketMs)`; the window
 * is the current bucket and the `bucketCount - 1` before it, so it spans between
 * `windowMs - bucketMs` and `windowMs` of history.
 */
class TimeWindowStrategy implements BreakerStrategy {
  readonly watchesSlowCalls: boolean;
  readonly needsTime = true;
  readonly #bucketMs: number;
  readonly #minimumCallCount: number;
  readonly #failureRateThreshold: number;
  readonly #slowCallRateThreshold: number | undefined;
  readonly #callCounts: Uint32Array;
  readonly #failureCounts: Uint32Array;
  readonly #slowCallCounts: Uint32Array;
  /** The bucket number of the current bucket; -Infinity when the window is empty. */
  #epoch = Number.NEGATIVE_INFINITY;
  #callCount = 0;
  #failureCount = 0;
  #slowCallCount = 0;

  constructor(options: TimeWindowOptions) {
    const windowMs = requireNumber('options.strategy.windowMs', options.windowMs, {
      min: Number.MIN_VALUE,
    });
    const bucketCount = requireInteger('options.strategy.bucketCount', options.bucketCount ?? 10, {
      min: 1,
      max: bucketCountMax,
    });
    this.#bucketMs = windowMs / bucketCount;
    this.#minimumCallCount = requireInteger(
      'options.strategy.minimumCallCount',
      options.minimumCallCount ?? 10,
      { min: 1 },
    );
    this.#failureRateThreshold = requireRate(
      'options.strategy.failureRateThreshold',
      options.failureRateThreshold ?? defaultFailureRateThreshold,
    );
    this.#slowCallRateThreshold =
      options.slowCallRateThreshold === undefined
        ? undefined
        : requireRate('options.strategy.slowCallRateThreshold', options.slowCallRateThreshold);
    this.watchesSlowCalls = this.#slowCallRateThreshold !== undefined;
    this.#callCounts = new Uint32Array(bucketCount);
    this.#failureCounts = new Uint32Array(bucketCount);
    this.#slowCallCounts = new Uint32Array(bucketCount);
  }

  record(failed: boolean, slow: boolean, nowMs: number): BreakReason | undefined {
    const index = this.#rotate(Math.floor(nowMs / this.#bucketMs));
    this.#add(index, 1, failed ? 1 : 0, slow ? 1 : 0);
    return rateVerdict(
      this.#callCount,
      this.#failureCount,
      this.#slowCallCount,
      this.#minimumCallCount,
      this.#failureRateThreshold,
      this.#slowCallRateThreshold,
    );
  }

  #add(index: number, callCount: number, failureCount: number, slowCallCount: number): void {
    (this.#callCounts[index] as number) += callCount;
    (this.#failureCounts[index] as number) += failureCount;
    (this.#slowCallCounts[index] as number) += slowCallCount;
    this.#callCount += callCount;
    this.#failureCount += failureCount;
    this.#slowCallCount += slowCallCount;
  }

  /**
   * Moves the window forwards to bucket `epoch`, emptying the buckets it passes, and
   * returns the ring index of that bucket. At most `bucketCount` buckets are emptied, so
   * the cost is bounded however long the breaker was idle, and O(1) amortised.
   */
  #rotate(epoch: number): number {
    const bucketCount = this.#callCounts.length;
    const gap = epoch - this.#epoch;
    // A clock is monotonic, so gap < 0 does not happen; treat it as the current bucket.
    if (gap > 0) {
      if (gap >= bucketCount) {
        this.#clearCounts();
      } else {
        for (let step = 1; step <= gap; step += 1) {
          this.#emptyBucket(ringIndex(this.#epoch + step, bucketCount));
        }
      }
      this.#epoch = epoch;
    }
    return ringIndex(this.#epoch, bucketCount);
  }

  #emptyBucket(index: number): void {
    this.#callCount -= this.#callCounts[index] as number;
    this.#failureCount -= this.#failureCounts[index] as number;
    this.#slowCallCount -= this.#slowCallCounts[index] as number;
    this.#callCounts[index] = 0;
    this.#failureCounts[index] = 0;
    this.#slowCallCounts[index] = 0;
  }

  #clearCounts(): void {
    this.#callCounts.fill(0);
    this.#failureCounts.fill(0);
    this.#slowCallCounts.fill(0);
    this.#callCount = 0;
    this.#failureCount = 0;
    this.#slowCallCount = 0;
  }

  clear(): void {
    this.#clearCounts();
    this.#epoch = Number.NEGATIVE_INFINITY;
  }

  toJSON(nowMs: number): TimeWindowSnapshot {
    const bucketCount = this.#callCounts.length;
    const epoch = Math.floor(nowMs / this.#bucketMs);
    const buckets: TimeBucketSnapshot[] = [];
    for (let age = bucketCount - 1; age >= 0; age -= 1) {
      const bucketEpoch = epoch - age;
      // Buckets older than the window, or not yet rotated out, read as empty.
      if (bucketEpoch > this.#epoch || bucketEpoch <= this.#epoch - bucketCount) {
        buckets.push({ callCount: 0, failureCount: 0, slowCallCount: 0 });
      } else {
        const index = ringIndex(bucketEpoch, bucketCount);
        buckets.push({
          callCount: this.#callCounts[index] as number,
          failureCount: this.#failureCounts[index] as number,
          slowCallCount: this.#slowCallCounts[index] as number,
        });
      }
    }
    return { kind: 'time-window', bucketMs: this.#bucketMs, buckets };
  }

  restore(snapshot: BreakerStrategySnapshot, nowMs: number, elapsedMs: number): boolean {
    this.clear();
    if (snapshot.kind !== 'time-window' || snapshot.bucketMs !== this.#bucketMs) {
      return false;
    }
    const buckets: unknown = snapshot.buckets;
    if (!Array.isArray(buckets) || buckets.length > bucketCountMax) {
      throw new InvalidArgumentError(
        'snapshot.strategy.buckets',
        `snapshot.strategy.buckets must be an array of at most ${bucketCountMax} buckets.`,
      );
    }
    const bucketCount = this.#callCounts.length;
    const epoch = Math.floor(nowMs / this.#bucketMs);
    // Age the saved buckets by the whole buckets that passed while the state was stored.
    const shift = Math.floor(elapsedMs / this.#bucketMs);
    this.#epoch = epoch;
    buckets.forEach((bucket: unknown, position) => {
      const name = `snapshot.strategy.buckets[${position}]`;
      const counts = requireOptions(name, bucket as TimeBucketSnapshot);
      const callCount = requireSnapshotCount(`${name}.callCount`, counts.callCount);
      const failureCount = requireInteger(`${name}.failureCount`, counts.failureCount, {
        min: 0,
        max: callCount,
      });
      const slowCallCount = requireInteger(`${name}.slowCallCount`, counts.slowCallCount, {
        min: 0,
        max: callCount,
      });
      const age = buckets.length - 1 - position + shift;
      if (age < bucketCount) {
        this.#add(ringIndex(epoch - age, bucketCount), callCount, failureCount, slowCallCount);
      }
    });
    return true;
  }
}

function ringIndex(epoch: number, bucketCount: number): number {
  const index = epoch % bucketCount;
  return index < 0 ? index + bucketCount : index;
}

/**
 * Makes the running state of a strategy from its options; throws `InvalidArgumentError`
 * naming the offending option.
 */
export function createBreakerStrategy(options: BreakerStrategyOptions): BreakerStrategy {
  const checked = requireOptions('options.strategy', options);
  const kind = requireOneOf('options.strategy.kind', checked.kind, [
    'consecutive-failures',
    'count-window',
    'time-window',
  ]);
  switch (kind) {
    case 'consecutive-failures':
      return new ConsecutiveFailuresStrategy(checked as ConsecutiveFailuresOptions);
    case 'count-window':
      return new CountWindowStrategy(checked as CountWindowOptions);
    case 'time-window':
      return new TimeWindowStrategy(checked as TimeWindowOptions);
  }
}
