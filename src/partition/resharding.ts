/**
 * Resharding plans: given an old and a new layout, exactly which ranges move from which
 * owner to which.
 *
 * For hash-space layouts (anything with an `ownership()` list of {@link HashRange}s, such
 * as {@link ConsistentHashRing}) the moves are ranges of key hashes; for
 * {@link RangeLayout}s they are ranges of keys. Both are computed by one sweep over the
 * union of the two layouts' boundaries, so a key moves exactly when its owner differs
 * between the layouts, and it moves from its old owner to its new one. Adjacent moves with
 * the same source and destination are merged.
 *
 * @module
 */

import { assert, InvalidArgumentError } from '../core/index.js';
import type { RangeLayout } from './range.js';
import type { HashRange } from './ring.js';

/** A layout over the 32-bit hash space that can list its arcs. */
export interface HashSpaceLayout {
  /** Arcs in ascending order covering [0, 2^32) exactly once. */
  ownership(): readonly HashRange[];
}

/** Hashes `[firstHash, lastHash]` move from `from` to `to`. */
export interface HashRangeMove {
  /** The first hash that moves. */
  readonly firstHash: number;
  /** The last hash that moves (inclusive). */
  readonly lastHash: number;
  /** The old owner. */
  readonly from: string;
  /** The new owner. */
  readonly to: string;
}

/** Keys in `[startKey, endKey)` move from `from` to `to` (`endKey` undefined: to the end). */
export interface KeyRangeMove {
  /** The first key that moves. */
  readonly startKey: string;
  /** The first key after the moving range; undefined for the end of the key space. */
  readonly endKey: string | undefined;
  /** The old owner. */
  readonly from: string;
  /** The new owner. */
  readonly to: string;
}

const hashSpaceEnd = 0xffff_ffff;

function checkedOwnership(name: string, layout: HashSpaceLayout): readonly HashRange[] {
  if (typeof layout !== 'object' || layout === null || typeof layout.ownership !== 'function') {
    throw new InvalidArgumentError(name, `${name} must be a layout with an ownership() method.`);
  }
  const ranges = layout.ownership();
  let next = 0;
  for (const range of ranges) {
    if (range.firstHash !== next || range.lastHash < range.firstHash) {
      throw new InvalidArgumentError(
        name,
        `${name}.ownership() must list ascending arcs covering [0, 2^32) exactly once; an arc starts at ${range.firstHash} where ${next} was expected.`,
      );
    }
    next = range.lastHash + 1;
  }
  if (next !== hashSpaceEnd + 1) {
    throw new InvalidArgumentError(
      name,
      `${name}.ownership() does not reach the end of the hash space.`,
    );
  }
  return ranges;
}

/**
 * The hash ranges whose owner differs between `before` and `after`, in ascending order,
 * each with its old and new owner.
 *
 * @example
 * ```ts
 * const before = new ConsistentHashRing({ nodes: ['a', 'b', 'c'] });
 * const after = before.withNode('d');
 * const moves = diffHashOwnership(before, after); // every move has to === 'd'
 * ```
 */
export function diffHashOwnership(
  before: HashSpaceLayout,
  after: HashSpaceLayout,
): HashRangeMove[] {
  const old = checkedOwnership('before', before);
  const next = checkedOwnership('after', after);
  const moves: HashRangeMove[] = [];
  let oldIndex = 0;
  let newIndex = 0;
  let position = 0;
  while (position <= hashSpaceEnd) {
    const oldRange = old[oldIndex] as HashRange;
    const newRange = next[newIndex] as HashRange;
    const last = Math.min(oldRange.lastHash, newRange.lastHash);
    if (oldRange.owner !== newRange.owner) {
      const previous = moves[moves.length - 1];
      if (
        previous !== undefined &&
        previous.lastHash + 1 === position &&
        previous.from === oldRange.owner &&
        previous.to === newRange.owner
      ) {
        moves[moves.length - 1] = { ...previous, lastHash: last };
      } else {
        moves.push({
          firstHash: position,
          lastHash: last,
          from: oldRange.owner,
          to: newRange.owner,
        });
      }
    }
    if (oldRange.lastHash === last) {
      oldIndex += 1;
    }
    if (newRange.lastHash === last) {
      newIndex += 1;
    }
    position = last + 1;
  }
  assert(
    oldIndex === old.length && newIndex === next.length,
    'diffHashOwnership: sweep ended early',
  );
  return moves;
}

/**
 * The key ranges whose owner differs between `before` and `after`, in key order, each
 * with its old and new owner.
 *
 * @example
 * ```ts
 * const before = RangeLayout.single('a');
 * const after = before.split('m', { owner: 'b' });
 * diffRangeOwnership(before, after); // [{ startKey: 'm', endKey: undefined, from: 'a', to: 'b' }]
 * ```
 */
export function diffRangeOwnership(before: RangeLayout, after: RangeLayout): KeyRangeMove[] {
  for (const [name, layout] of [
    ['before', before],
    ['after', after],
  ] as const) {
    if (typeof layout !== 'object' || layout === null || typeof layout.ranges !== 'function') {
      throw new InvalidArgumentError(name, `${name} must be a RangeLayout.`);
    }
  }
  const old = before.ranges();
  const next = after.ranges();
  const moves: KeyRangeMove[] = [];
  let oldIndex = 0;
  let newIndex = 0;
  let start = '';
  for (;;) {
    const oldRange = old[oldIndex] as (typeof old)[number];
    const newRange = next[newIndex] as (typeof next)[number];
    const oldEnd = oldRange.endKey;
    const newEnd = newRange.endKey;
    // The piece ends at the nearer of the two range ends (undefined is +∞).
    const end =
      oldEnd === undefined
        ? newEnd
        : newEnd === undefined
          ? oldEnd
          : oldEnd < newEnd
            ? oldEnd
            : newEnd;
    if (oldRange.owner !== newRange.owner) {
      const previous = moves[moves.length - 1];
      if (
        previous !== undefined &&
        previous.endKey === start &&
        previous.from === oldRange.owner &&
        previous.to === newRange.owner
      ) {
        moves[moves.length - 1] = { ...previous, endKey: end };
      } else {
        moves.push({ startKey: start, endKey: end, from: oldRange.owner, to: newRange.owner });
      }
    }
    if (end === undefined) {
      break;
    }
    if (oldEnd === end) {
      oldIndex += 1;
    }
    if (newEnd === end) {
      newIndex += 1;
    }
    start = end;
  }
  return moves;
}
