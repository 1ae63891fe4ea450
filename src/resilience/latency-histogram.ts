/**
 * A bounded latency tracker: records durations in O(1) and answers quantiles (p50, p95,
 * p99) in O(buckets) with a guaranteed relative error, in memory fixed at construction.
 *
 * Buckets grow geometrically, so each covers the same *relative* width: a bucket's
 * representative value is within `relativeErrorMax` of every value that falls into it,
 * whether that value is 2 ms or 20 s. Exact quantiles would need every sample kept and
 * sorted; a ring of the last N samples would bound memory but cost a sort or a selection
 * per quantile.
 *
 * Latencies drift, so old samples should stop counting. The histogram keeps two
 * generations of counts: when the current one has `windowSampleCount` samples it becomes
 * the previous one and the older one is dropped. Quantiles cover both, that is the latest
 * `windowSampleCount` to `2 * windowSampleCount` samples.
 *
 * @module
 */

import {
  InvalidArgumentError,
  requireInteger,
  requireNumber,
  requireOptions,
} from '../core/index.js';

/** Options for {@link LatencyHistogram}. */
export interface LatencyHistogramOptions {
  /**
   * Largest relative error of a quantile for values from `valueMsMin` to `valueMsMax`,
   * from 0.0001 to 0.5; default 0.01 (1%). Smaller means more buckets.
   */
  readonly relativeErrorMax?: number;
  /**
   * Values up to this many milliseconds share the lowest bucket and are read back with an
   * absolute error of at most `valueMsMin`; > 0, default 0.1.
   */
  readonly valueMsMin?: number;
  /**
   * Values above this many milliseconds share the highest bucket, where the relative
   * error bound no longer holds (the estimate stays within the observed range);
   * > `valueMsMin`, default 600,000 (ten minutes).
   */
  readonly valueMsMax?: number;
  /**
   * Samples per generation, from 1 to 2^31; default 1,024. Quantiles cover the latest
   * `windowSampleCount` to `2 * windowSampleCount` samples.
   */
  readonly windowSampleCount?: number;
}

/** The most buckets one histogram may have, so a tiny error bound cannot exhaust memory. */
const bucketCountMax = 100_000;

/** Slack for `q * count` landing a rounding error above an integer rank. */
const rankEpsilon = 1e-9;

/**
 * One generation of counts. Tracking the occupied index range and the exact extremes lets
 * quantile scans skip empty buckets and clamp estimates to values actually seen.
 */
class Generation {
  readonly counts: Uint32Array;
  count = 0;
  indexLow = Number.POSITIVE_INFINITY;
  indexHigh = Number.NEGATIVE_INFINITY;
  valueMsLow = Number.POSITIVE_INFINITY;
  valueMsHigh = Number.NEGATIVE_INFINITY;

  constructor(bucketCount: number) {
    this.counts = new Uint32Array(bucketCount);
  }

  clear(): void {
    if (this.count > 0) {
      this.counts.fill(0, this.indexLow, this.indexHigh + 1);
    }
    this.count = 0;
    this.indexLow = Number.POSITIVE_INFINITY;
    this.indexHigh = Number.NEGATIVE_INFINITY;
    this.valueMsLow = Number.POSITIVE_INFINITY;
    this.valueMsHigh = Number.NEGATIVE_INFINITY;
  }
}

/**
 * A log-bucketed histogram of durations in milliseconds over a sliding window of recent
 * samples. Memory is two arrays of {@link LatencyHistogram.bucketCount} counters, fixed at
 * construction; `record` is O(1) and `quantile` O(buckets).
 *
 * Quantiles use the nearest-rank definition: `quantile(q)` estimates the smallest sample
 * `v` such that at least `ceil(q * count)` samples are `<= v` (the minimum for `q = 0`).
 * For a sample from `valueMsMin` to `valueMsMax` the estimate is within
 * `relativeErrorMax * v` of it; for a smaller sample within `valueMsMin`. Estimates never
 * leave the range of the samples the window holds, and the minimum and the maximum (the
 * first and the last rank) are exact.
 *
 * @example
 * ```ts
 * const latencies = new LatencyHistogram({ relativeErrorMax: 0.01 });
 * for (const durationMs of [12, 15, 11, 240, 14]) latencies.record(durationMs);
 * latencies.quantile(0.5); // about 14
 * ```
 */
export class LatencyHistogram {
  /** The relative error bound of quantiles within the tracked range. */
  readonly relativeErrorMax: number;
  /** Values up to this share the lowest bucket. */
  readonly valueMsMin: number;
  /** Values above this share the highest bucket. */
  readonly valueMsMax: number;
  /** Samples per generation. */
  readonly windowSampleCount: number;
  /** Counters per generation; memory is two arrays of this many 32-bit counters. */
  readonly bucketCount: number;
  readonly #inverseLogGamma: number;
  /** `2 * gamma / (gamma + 1)`: a bucket's representative over its lower bound. */
  readonly #representativeFactor: number;
  readonly #gamma: number;
  #current: Generation;
  #previous: Generation;

  constructor(options?: LatencyHistogramOptions) {
    const checked = requireOptions('LatencyHistogram options', options);
    this.relativeErrorMax = requireNumber(
      'LatencyHistogram options.relativeErrorMax',
      checked.relativeErrorMax ?? 0.01,
      { min: 0.0001, max: 0.5 },
    );
    this.valueMsMin = requireNumber(
      'LatencyHistogram options.valueMsMin',
      checked.valueMsMin ?? 0.1,
      { min: Number.MIN_VALUE },
    );
    this.valueMsMax = requireNumber(
      'LatencyHistogram options.valueMsMax',
      checked.valueMsMax ?? 600_000,
      { min: this.valueMsMin * (1 + Number.EPSILON) },
    );
    this.windowSampleCount = requireInteger(
      'LatencyHistogram options.windowSampleCount',
      checked.windowSampleCount ?? 1_024,
      { min: 1, max: 2 ** 31 },
    );
    const alpha = this.relativeErrorMax;
    // Buckets (min * gamma^(i-1), min * gamma^i] read back as 2 * min * gamma^i / (gamma + 1),
    // which is within alpha of both ends, and so of everything between.
    this.#gamma = (1 + alpha) / (1 - alpha);
    this.#inverseLogGamma = 1 / Math.log(this.#gamma);
    this.#representativeFactor = (2 * this.#gamma) / (this.#gamma + 1);
    const bucketCount =
      Math.ceil(Math.log(this.valueMsMax / this.valueMsMin) * this.#inverseLogGamma) + 1;
    if (bucketCount > bucketCountMax) {
      throw new InvalidArgumentError(
        'options.relativeErrorMax',
        `LatencyHistogram would need ${bucketCount} buckets (at most ${bucketCountMax}) for ` +
          `relativeErrorMax ${alpha} over ${this.valueMsMin} to ${this.valueMsMax} ms; allow a ` +
          'larger error or narrow the range.',
      );
    }
    this.bucketCount = bucketCount;
    this.#current = new Generation(bucketCount);
    this.#previous = new Generation(bucketCount);
  }

  /** How many samples the quantiles cover: at most `2 * windowSampleCount`. */
  get count(): number {
    return this.#current.count + this.#previous.count;
  }

  /** Records one duration in milliseconds (finite, >= 0). */
  record(valueMs: number): void {
    if (!(valueMs >= 0 && valueMs < Number.POSITIVE_INFINITY)) {
      requireNumber('LatencyHistogram.record valueMs', valueMs, { min: 0 });
    }
    let generation = this.#current;
    if (generation.count >= this.windowSampleCount) {
      // Reuse the dropped generation's array: rotation allocates nothing.
      const dropped = this.#previous;
      dropped.clear();
      this.#previous = generation;
      this.#current = dropped;
      generation = dropped;
    }
    const index = this.#indexOf(valueMs);
    generation.counts[index] = (generation.counts[index] as number) + 1;
    generation.count += 1;
    if (index < generation.indexLow) {
      generation.indexLow = index;
    }
    if (index > generation.indexHigh) {
      generation.indexHigh = index;
    }
    if (valueMs < generation.valueMsLow) {
      generation.valueMsLow = valueMs;
    }
    if (valueMs > generation.valueMsHigh) {
      generation.valueMsHigh = valueMs;
    }
  }

  /**
   * The `q`-quantile (0 to 1; 0.95 for p95) of the samples in the window, by nearest
   * rank; `undefined` while there are none.
   */
  quantile(q: number): number | undefined {
    if (!(q >= 0 && q <= 1)) {
      requireNumber('LatencyHistogram.quantile q', q, { min: 0, max: 1 });
    }
    const current = this.#current;
    const previous = this.#previous;
    const count = current.count + previous.count;
    if (count === 0) {
      return undefined;
    }
    const rank = Math.min(count, Math.max(1, Math.ceil(q * count - rankEpsilon)));
    // The extremes are tracked exactly; no bucket estimate can beat that.
    if (rank === 1) {
      return Math.min(current.valueMsLow, previous.valueMsLow);
    }
    if (rank === count) {
      return Math.max(current.valueMsHigh, previous.valueMsHigh);
    }
    const low = Math.min(current.indexLow, previous.indexLow);
    const high = Math.max(current.indexHigh, previous.indexHigh);
    const currentCounts = current.counts;
    const previousCounts = previous.counts;
    let index = low;
    // High quantiles (the usual question) are found faster from the top.
    if (rank * 2 > count) {
      const fromTop = count - rank + 1;
      let seen = 0;
      for (index = high; index > low; index -= 1) {
        seen += (currentCounts[index] as number) + (previousCounts[index] as number);
        if (seen >= fromTop) {
          break;
        }
      }
    } else {
      let seen = 0;
      for (index = low; index < high; index += 1) {
        seen += (currentCounts[index] as number) + (previousCounts[index] as number);
        if (seen >= rank) {
          break;
        }
      }
    }
    const estimate = this.#representativeOf(index);
    const valueMsLow = Math.min(current.valueMsLow, previous.valueMsLow);
    const valueMsHigh = Math.max(current.valueMsHigh, previous.valueMsHigh);
    return Math.min(Math.max(estimate, valueMsLow), valueMsHigh);
  }

  /** Forgets every sample. */
  reset(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  #indexOf(valueMs: number): number {
    if (valueMs <= this.valueMsMin) {
      return 0;
    }
    const index = Math.ceil(Math.log(valueMs / this.valueMsMin) * this.#inverseLogGamma);
    // Rounding can put a value just above valueMsMin at index 0; it belongs to bucket 1.
    return index < 1 ? 1 : index < this.bucketCount ? index : this.bucketCount - 1;
  }

  #representativeOf(index: number): number {
    return index === 0
      ? this.valueMsMin
      : this.valueMsMin * this.#gamma ** (index - 1) * this.#representativeFactor;
  }
}
