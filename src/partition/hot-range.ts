/**
 * Hot-range detection: counts of requests per range over a window the caller closes, and
 * split proposals at the observed median key of every range whose load passed a
 * threshold. No timers: the caller decides when a window ends (every second, every 10,000
 * requests) and calls {@link HotRangeDetector.closeWindow}.
 *
 * Splitting at the median of the observed keys, weighted by their counts, halves a hot
 * range's load rather than its key span. A range whose load is one key cannot be split
 * (a key lives in one range); the detector reports it as a hot key, to be salted
 * (see {@link saltedKeys}).
 *
 * Memory is bounded: the detector keeps per-key counts for at most `distinctKeyCountMax`
 * distinct keys per window; keys beyond that still count towards their range's load but
 * not towards the median, and the report says how many were left out.
 *
 * @module
 */

import { InvalidArgumentError, requireInteger, requireOptions } from '../core/index.js';
import { hashKeyNamed } from './hash.js';
import type { RangeLayout } from './range.js';

/** Options for {@link HotRangeDetector}. */
export interface HotRangeDetectorOptions {
  /** The layout whose ranges are measured. */
  readonly layout: RangeLayout;
  /**
   * A range is hot when its load in a window is at least this many requests (an integer
   * of at least 1).
   */
  readonly loadThreshold: number;
  /** The most distinct keys counted per window, from 1 to 1,000,000 (default 10,000). */
  readonly distinctKeyCountMax?: number;
}

/** A proposal from {@link HotRangeDetector.closeWindow}. */
export type HotRangeProposal =
  | {
      /** Split the range at `splitKey`. */
      readonly kind: 'split';
      /** The index of the hot range in the layout. */
      readonly rangeIndex: number;
      /** The start of the hot range. */
      readonly startKey: string;
      /** The weighted median of the keys observed in it: where to split. */
      readonly splitKey: string;
      /** Requests to the range in the window. */
      readonly load: number;
    }
  | {
      /** One key carries the range's load; splitting cannot help, salting can. */
      readonly kind: 'hot-key';
      /** The index of the hot range in the layout. */
      readonly rangeIndex: number;
      /** The hot key. */
      readonly key: string;
      /** Requests to the range in the window. */
      readonly load: number;
    };

/** What one window saw. */
export interface HotRangeReport {
  /** Requests per range, in layout order. */
  readonly loads: readonly number[];
  /** Proposals for the ranges at or above the threshold, hottest first. */
  readonly proposals: readonly HotRangeProposal[];
  /** Requests whose keys were not kept for the median (over `distinctKeyCountMax`). */
  readonly unsampledCount: number;
}

/**
 * Counts requests per range and proposes splits of hot ranges.
 *
 * @example
 * ```ts
 * const layout = RangeLayout.single('node-a');
 * const detector = new HotRangeDetector({ layout, loadThreshold: 100 });
 * for (let index = 0; index < 200; index += 1) detector.record(`user:${index % 50}`);
 * detector.closeWindow().proposals; // one split proposal at the median key, load 200
 * ```
 */
export class HotRangeDetector {
  /** The layout being measured. */
  readonly layout: RangeLayout;
  /** Load at or above which a range is hot. */
  readonly loadThreshold: number;
  /** The most distinct keys counted per window. */
  readonly distinctKeyCountMax: number;
  #loads: Float64Array;
  #keyCounts = new Map<string, number>();
  #unsampledCount = 0;

  constructor(options: HotRangeDetectorOptions) {
    const checked = requireOptions('HotRangeDetector options', options);
    if (
      typeof checked.layout !== 'object' ||
      checked.layout === null ||
      typeof checked.layout.rangeIndexOf !== 'function'
    ) {
      throw new InvalidArgumentError('options.layout', 'options.layout must be a RangeLayout.');
    }
    this.layout = checked.layout;
    this.loadThreshold = requireInteger('options.loadThreshold', checked.loadThreshold, { min: 1 });
    this.distinctKeyCountMax =
      checked.distinctKeyCountMax === undefined
        ? 10_000
        : requireInteger('options.distinctKeyCountMax', checked.distinctKeyCountMax, {
            min: 1,
            max: 1_000_000,
          });
    this.#loads = new Float64Array(this.layout.rangeCount);
  }

  /** Records `count` requests (default 1, an integer from 1 to 2^31) to `key`. */
  record(key: string, count = 1): void {
    hashKeyNamed(key, 'key');
    if (!(Number.isInteger(count) && count >= 1 && count <= 0x8000_0000)) {
      requireInteger('count', count, { min: 1, max: 0x8000_0000 });
    }
    const index = this.layout.rangeIndexOf(key);
    this.#loads[index] = (this.#loads[index] as number) + count;
    const known = this.#keyCounts.get(key);
    if (known !== undefined) {
      this.#keyCounts.set(key, known + count);
    } else if (this.#keyCounts.size < this.distinctKeyCountMax) {
      this.#keyCounts.set(key, count);
    } else {
      this.#unsampledCount += count;
    }
  }

  /** Ends the window: reports loads and proposals, then starts a new, empty window. */
  closeWindow(): HotRangeReport {
    const loads = Array.from(this.#loads);
    const byRange = new Map<number, [string, number][]>();
    for (const [key, count] of this.#keyCounts) {
      const index = this.layout.rangeIndexOf(key);
      if ((loads[index] as number) >= this.loadThreshold) {
        let list = byRange.get(index);
        if (list === undefined) {
          list = [];
          byRange.set(index, list);
        }
        list.push([key, count]);
      }
    }
    const proposals: HotRangeProposal[] = [];
    loads.forEach((load, rangeIndex) => {
      if (load < this.loadThreshold) {
        return;
      }
      const range = this.layout.range(rangeIndex);
      const observed = (byRange.get(rangeIndex) ?? []).sort(([left], [right]) =>
        left < right ? -1 : left > right ? 1 : 0,
      );
      const proposal = proposeSplit(rangeIndex, range.startKey, load, observed);
      if (proposal !== undefined) {
        proposals.push(proposal);
      }
    });
    proposals.sort((left, right) => right.load - left.load);
    const report: HotRangeReport = { loads, proposals, unsampledCount: this.#unsampledCount };
    this.#loads = new Float64Array(this.layout.rangeCount);
    this.#keyCounts = new Map();
    this.#unsampledCount = 0;
    return report;
  }
}

/** The split at the weighted median of `observed` (sorted by key), or a hot key. */
function proposeSplit(
  rangeIndex: number,
  startKey: string,
  load: number,
  observed: readonly [string, number][],
): HotRangeProposal | undefined {
  if (observed.length === 0) {
    return undefined;
  }
  const total = observed.reduce((sum, [, count]) => sum + count, 0);
  let cumulative = 0;
  let medianIndex = 0;
  for (let index = 0; index < observed.length; index += 1) {
    cumulative += (observed[index] as [string, number])[1];
    if (cumulative * 2 >= total) {
      medianIndex = index;
      break;
    }
  }
  // Split just above the median key: keys below the split carry about half the load.
  // The split key is above the range start because at least one key sorts before it.
  const splitIndex = medianIndex + 1;
  const hottest = observed.reduce((best, entry) => (entry[1] > best[1] ? entry : best));
  if (splitIndex >= observed.length || hottest[1] * 2 > total) {
    // One key carries more than half the load: any split leaves it hot.
    return { kind: 'hot-key', rangeIndex, key: hottest[0], load };
  }
  return {
    kind: 'split',
    rangeIndex,
    startKey,
    splitKey: (observed[splitIndex] as [string, number])[0],
    load,
  };
}
