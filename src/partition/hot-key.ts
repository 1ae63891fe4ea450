/**
 * Hot-key mitigation: spread one key's writes over several salted keys, and cut
 * time-series keys into buckets.
 *
 * A key that is hot on its own (a celebrity's follower count, today's counter) stays hot
 * however the key space is partitioned: it lives on one node. Salting writes it as
 * `key#0 … key#(count - 1)`, which hash to different partitions; each writer picks one
 * salt, and a reader gathers all of them and merges ({@link scatterGather}). Writes scale
 * by `count`, reads cost `count` lookups: salt only keys that are hot for writes.
 *
 * Time bucketing appends the start of a time bucket to a key (`key@1700000000000`), so a
 * stream of events for one key spreads over partitions as time passes and old buckets can
 * be dropped whole. Timestamps come from the caller; nothing here reads a clock.
 *
 * Salted and bucketed keys share the key space with plain keys: keep `#` and `@` suffixes
 * out of plain keys, or give salted keys a prefix of their own.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
} from '../core/index.js';
import { hashKeyNamed } from './hash.js';

/** The most salts per key: 1,024. */
export const saltCountMax = 1_024;

/** The most buckets {@link timeBucketKeys} lists at once: 10,000. */
export const timeBucketCountMax = 10_000;

function checkSaltCount(count: number): void {
  requireInteger('count', count, { min: 1, max: saltCountMax });
}

/**
 * The salted variants of `key`: `key#0`, …, `key#(count - 1)`.
 *
 * @example
 * ```ts
 * saltedKeys('likes:post-9', 4); // ['likes:post-9#0', 'likes:post-9#1', 'likes:post-9#2', 'likes:post-9#3']
 * ```
 */
export function saltedKeys(key: string, count: number): string[] {
  hashKeyNamed(key, 'key');
  checkSaltCount(count);
  return Array.from({ length: count }, (_, salt) => `${key}#${salt}`);
}

/**
 * The salted key a writer writes to: `key#salt`, with `salt` an integer in [0, count), or
 * drawn uniformly from `random` when a {@link Random} is passed.
 *
 * @example
 * ```ts
 * saltedKey('likes:post-9', 4, 2); // 'likes:post-9#2'
 * saltedKey('likes:post-9', 4, new SeededRandom({ seed: 1 })); // one of the four
 * ```
 */
export function saltedKey(key: string, count: number, salt: number | Random): string {
  hashKeyNamed(key, 'key');
  checkSaltCount(count);
  let chosen: number;
  if (typeof salt === 'number') {
    chosen = requireInteger('salt', salt, { min: 0, max: count - 1 });
  } else if (typeof salt === 'object' && salt !== null && typeof salt.integer === 'function') {
    chosen = salt.integer(0, count - 1);
  } else {
    throw new InvalidArgumentError(
      'salt',
      `salt must be an integer or a Random; got ${describeValue(salt)}.`,
    );
  }
  return `${key}#${chosen}`;
}

/**
 * Reads every salted variant of `key` (all at once) and merges the parts with `merge`.
 * `read` receives each salted key; the parts reach `merge` in salt order.
 *
 * @example
 * ```ts
 * const counts = new Map([['likes#0', 3], ['likes#1', 4]]);
 * await scatterGather('likes', 2, (part) => counts.get(part) ?? 0, (parts) => parts.reduce((a, b) => a + b, 0)); // 7
 * ```
 */
export async function scatterGather<Part, Result>(
  key: string,
  count: number,
  read: (saltedKey: string) => Part | Promise<Part>,
  merge: (parts: Part[]) => Result,
): Promise<Result> {
  const keys = saltedKeys(key, count);
  requireFunction('read', read);
  requireFunction('merge', merge);
  const parts = await Promise.all(keys.map((part) => read(part)));
  return merge(parts);
}

function bucketStart(name: string, timestampMs: number, bucketMs: number): number {
  requireNumber(name, timestampMs);
  return Math.floor(timestampMs / bucketMs) * bucketMs;
}

function checkBucketMs(bucketMs: number): void {
  requireNumber('bucketMs', bucketMs, { min: 1 });
}

/**
 * `key` with the start of the time bucket holding `timestampMs`: `key@<bucket start ms>`.
 *
 * @param timestampMs - the event time in milliseconds, from the caller's clock.
 * @param bucketMs - the bucket width in milliseconds (at least 1).
 *
 * @example
 * ```ts
 * timeBucketKey('sensor:7', 1_700_000_123_456, 3_600_000); // 'sensor:7@1699999200000'
 * ```
 */
export function timeBucketKey(key: string, timestampMs: number, bucketMs: number): string {
  hashKeyNamed(key, 'key');
  checkBucketMs(bucketMs);
  return `${key}@${bucketStart('timestampMs', timestampMs, bucketMs)}`;
}

/**
 * The bucketed keys covering `[fromMs, toMs)`, oldest first: what a reader of a time range
 * gathers. Throws InvalidArgumentError past {@link timeBucketCountMax} buckets.
 */
export function timeBucketKeys(
  key: string,
  fromMs: number,
  toMs: number,
  bucketMs: number,
): string[] {
  hashKeyNamed(key, 'key');
  checkBucketMs(bucketMs);
  const first = bucketStart('fromMs', fromMs, bucketMs);
  requireNumber('toMs', toMs, { min: fromMs });
  const count = toMs === fromMs ? 0 : Math.ceil((toMs - first) / bucketMs);
  if (count > timeBucketCountMax) {
    throw new InvalidArgumentError(
      'toMs',
      `[fromMs, toMs) spans ${count} buckets, more than ${timeBucketCountMax}; read a shorter range or use wider buckets.`,
    );
  }
  return Array.from({ length: count }, (_, index) => `${key}@${first + index * bucketMs}`);
}
