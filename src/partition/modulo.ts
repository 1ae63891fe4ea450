/**
 * Hash partitioning: a key goes to partition `hashKey(key) mod partitionCount`.
 *
 * The cheapest scheme and perfectly even in expectation, but changing the partition
 * count moves almost every key (from N to N + 1 partitions, a fraction N/(N + 1) of them),
 * so use it only where the count is fixed for the data's lifetime (a fixed number of
 * Kafka-style partitions, with nodes owning partitions through a directory), and reach for
 * the ring, rendezvous, jump or Maglev schemes when nodes come and go.
 *
 * @module
 */

import { requireInteger } from '../core/index.js';
import { hashKeyNamed } from './hash.js';

/** The largest partition count {@link hashPartition} accepts: 2^31. */
export const partitionCountMax = 0x8000_0000;

/**
 * The partition of `key` among `partitionCount` partitions: `hashKey(key) mod
 * partitionCount`, an integer in [0, partitionCount).
 *
 * @example
 * ```ts
 * hashPartition('order:1001', 12); // an integer from 0 to 11, the same on every run
 * ```
 */
export function hashPartition(key: string, partitionCount: number): number {
  if (
    !(
      Number.isInteger(partitionCount) &&
      partitionCount >= 1 &&
      partitionCount <= partitionCountMax
    )
  ) {
    requireInteger('partitionCount', partitionCount, { min: 1, max: partitionCountMax });
  }
  return hashKeyNamed(key, 'key') % partitionCount;
}
