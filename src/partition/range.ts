/**
 * Range partitioning: the key space cut into contiguous ranges, each owned by one node,
 * as in Bigtable, HBase, CockroachDB and TiKV.
 *
 * Keys keep their order, so a range scan (all orders of one customer, a time window) reads
 * one or a few ranges instead of every partition, and ranges can be split where the load
 * is and merged where it is not. The price is hot spots: sequential keys (timestamps,
 * auto-increment ids) all land in the last range. Detect them with
 * {@link HotRangeDetector}, split, and salt keys that are hot on their own.
 *
 * Keys are compared as JavaScript compares strings (`<`, by UTF-16 code unit). A layout
 * is an immutable value: {@link RangeLayout.split}, {@link RangeLayout.merge} and
 * {@link RangeLayout.withOwner} return the next one, so the old and the new layout can be
 * diffed with {@link diffRangeOwnership}.
 *
 * @module
 */

import { describeValue, InvalidArgumentError, requireOptions } from '../core/index.js';
import { hashKeyNamed } from './hash.js';
import { nodeIdLengthMax } from './nodes.js';

/** The most ranges a layout may hold: 100,000. */
export const rangeCountMax = 100_000;

/** One range of keys, `[startKey, endKey)`, and its owner. */
export interface KeyRange {
  /** The first key of the range (inclusive); '' for the first range. */
  readonly startKey: string;
  /** The first key after the range (exclusive); undefined for the last range (unbounded). */
  readonly endKey: string | undefined;
  /** The node id that owns it. */
  readonly owner: string;
}

/** A range as given to {@link RangeLayout}: where it starts and who owns it. */
export interface RangeStart {
  /** The first key of the range; the first range must start at ''. */
  readonly startKey: string;
  /** The node id that owns the range. */
  readonly owner: string;
}

/** Options for {@link RangeLayout}. */
export interface RangeLayoutOptions {
  /**
   * The ranges in ascending order of `startKey`, strictly increasing, the first starting
   * at ''; each runs up to the next one's start, the last to the end of the key space.
   * At most {@link rangeCountMax}.
   */
  readonly ranges: readonly RangeStart[];
}

/** Options for {@link RangeLayout.split}. */
export interface RangeSplitOptions {
  /** The owner of the new upper range; default the owner of the range being split. */
  readonly owner?: string;
}

function checkKey(name: string, key: unknown): string {
  hashKeyNamed(key as string, name);
  return key as string;
}

function checkOwner(name: string, owner: unknown): string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > nodeIdLengthMax) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a non-empty node id of at most ${nodeIdLengthMax} characters; got ${describeValue(owner)}.`,
    );
  }
  return checkKey(name, owner);
}

/**
 * A range-partitioned key space.
 *
 * @example
 * ```ts
 * let layout = RangeLayout.single('node-a');
 * layout = layout.split('m', { owner: 'node-b' }); // ['', 'm') on a, ['m', ∞) on b
 * layout.ownerFor('apple'); // 'node-a'
 * layout.rangesBetween('k', 'p').map((range) => range.owner); // ['node-a', 'node-b']
 * ```
 */
export class RangeLayout {
  readonly #starts: readonly string[];
  readonly #owners: readonly string[];

  constructor(options: RangeLayoutOptions) {
    const checked = requireOptions('RangeLayout options', options);
    const ranges: unknown = checked.ranges;
    if (!Array.isArray(ranges) || ranges.length === 0 || ranges.length > rangeCountMax) {
      throw new InvalidArgumentError(
        'options.ranges',
        `options.ranges must be a non-empty array of at most ${rangeCountMax} { startKey, owner } objects; got ${describeValue(ranges)}.`,
      );
    }
    const starts: string[] = [];
    const owners: string[] = [];
    ranges.forEach((range: unknown, index) => {
      const name = `options.ranges[${index}]`;
      if (typeof range !== 'object' || range === null) {
        throw new InvalidArgumentError(
          name,
          `${name} must be a { startKey, owner } object; got ${describeValue(range)}.`,
        );
      }
      const { startKey, owner } = range as { startKey?: unknown; owner?: unknown };
      const start = checkKey(`${name}.startKey`, startKey);
      if (index === 0 && start !== '') {
        throw new InvalidArgumentError(
          `${name}.startKey`,
          `The first range must start at '' so that every key has an owner; got ${describeValue(start)}.`,
        );
      }
      if (index > 0 && !(start > (starts[index - 1] as string))) {
        throw new InvalidArgumentError(
          `${name}.startKey`,
          `Range starts must be strictly increasing; ${describeValue(start)} does not follow ${describeValue(starts[index - 1])}.`,
        );
      }
      starts.push(start);
      owners.push(checkOwner(`${name}.owner`, owner));
    });
    this.#starts = starts;
    this.#owners = owners;
  }

  /** A layout with one range, the whole key space, owned by `owner`. */
  static single(owner: string): RangeLayout {
    return new RangeLayout({ ranges: [{ startKey: '', owner }] });
  }

  /** How many ranges the layout holds. */
  get rangeCount(): number {
    return this.#starts.length;
  }

  /** The range at `index` (0 is the first). */
  range(index: number): KeyRange {
    if (!(Number.isInteger(index) && index >= 0 && index < this.#starts.length)) {
      throw new InvalidArgumentError(
        'index',
        `index must be an integer from 0 to ${this.#starts.length - 1}; got ${describeValue(index)}.`,
      );
    }
    return {
      startKey: this.#starts[index] as string,
      endKey: this.#starts[index + 1],
      owner: this.#owners[index] as string,
    };
  }

  /** Every range in key order. */
  ranges(): KeyRange[] {
    return this.#starts.map((startKey, index) => ({
      startKey,
      endKey: this.#starts[index + 1],
      owner: this.#owners[index] as string,
    }));
  }

  /** The index of the range holding `key` (binary search, no allocation). */
  rangeIndexOf(key: string): number {
    if (typeof key !== 'string') {
      checkKey('key', key);
    }
    const starts = this.#starts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((starts[middle] as string) <= key) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    return low;
  }

  /** The owner of `key`. */
  ownerFor(key: string): string {
    return this.#owners[this.rangeIndexOf(key)] as string;
  }

  /**
   * The ranges a scan of `[startKey, endKey)` touches, in key order (`endKey` undefined:
   * to the end). This is what range partitioning buys: a scan reads only these.
   */
  rangesBetween(startKey: string, endKey?: string): KeyRange[] {
    checkKey('startKey', startKey);
    if (endKey !== undefined) {
      checkKey('endKey', endKey);
      if (!(endKey > startKey)) {
        return [];
      }
    }
    const first = this.rangeIndexOf(startKey);
    const last = endKey === undefined ? this.#starts.length - 1 : this.#lastIndexBefore(endKey);
    const found: KeyRange[] = [];
    for (let index = first; index <= last; index += 1) {
      found.push(this.range(index));
    }
    return found;
  }

  /** Index of the last range that starts before `endKey`. */
  #lastIndexBefore(endKey: string): number {
    const index = this.rangeIndexOf(endKey);
    return this.#starts[index] === endKey ? index - 1 : index;
  }

  /**
   * A new layout with the range holding `atKey` split at `atKey`: the lower part keeps its
   * owner, the upper part `[atKey, end)` goes to `options.owner` (default the same).
   * Throws InvalidArgumentError when `atKey` already starts a range (nothing to split) or
   * the layout is at {@link rangeCountMax}.
   */
  split(atKey: string, options?: RangeSplitOptions): RangeLayout {
    checkKey('atKey', atKey);
    const checked = requireOptions('options', options);
    const index = this.rangeIndexOf(atKey);
    if (this.#starts[index] === atKey) {
      throw new InvalidArgumentError(
        'atKey',
        `A range already starts at ${describeValue(atKey)}; split inside a range, not at its start.`,
      );
    }
    if (this.#starts.length >= rangeCountMax) {
      throw new InvalidArgumentError(
        'atKey',
        `The layout holds the maximum of ${rangeCountMax} ranges; merge some before splitting.`,
      );
    }
    const owner =
      checked.owner === undefined
        ? (this.#owners[index] as string)
        : checkOwner('options.owner', checked.owner);
    return this.#rebuild(
      [...this.#starts.slice(0, index + 1), atKey, ...this.#starts.slice(index + 1)],
      [...this.#owners.slice(0, index + 1), owner, ...this.#owners.slice(index + 1)],
    );
  }

  /**
   * A new layout with the range starting at `startKey` merged into the range before it;
   * the merged range keeps the lower range's owner unless `owner` is given. Throws
   * InvalidArgumentError unless a range other than the first starts at `startKey`.
   */
  merge(startKey: string, owner?: string): RangeLayout {
    checkKey('startKey', startKey);
    const index = this.rangeIndexOf(startKey);
    if (index === 0 || this.#starts[index] !== startKey) {
      throw new InvalidArgumentError(
        'startKey',
        `No range other than the first starts at ${describeValue(startKey)}; pass the start of the upper of two adjacent ranges.`,
      );
    }
    const owners = [...this.#owners];
    if (owner !== undefined) {
      owners[index - 1] = checkOwner('owner', owner);
    }
    owners.splice(index, 1);
    const starts = [...this.#starts];
    starts.splice(index, 1);
    return this.#rebuild(starts, owners);
  }

  /** A new layout with the range starting at `startKey` owned by `owner`. */
  withOwner(startKey: string, owner: string): RangeLayout {
    checkKey('startKey', startKey);
    const index = this.rangeIndexOf(startKey);
    if (this.#starts[index] !== startKey) {
      throw new InvalidArgumentError(
        'startKey',
        `No range starts at ${describeValue(startKey)}; pass a range's startKey.`,
      );
    }
    const owners = [...this.#owners];
    owners[index] = checkOwner('owner', owner);
    return this.#rebuild([...this.#starts], owners);
  }

  #rebuild(starts: string[], owners: string[]): RangeLayout {
    return new RangeLayout({
      ranges: starts.map((startKey, index) => ({ startKey, owner: owners[index] as string })),
    });
  }
}
