/**
 * Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
 * Algorithm", 2014): a key's bucket among `bucketCount` buckets, computed from the key
 * alone with no table at all.
 *
 * Perfectly balanced in expectation and minimally disruptive: growing from N to N + 1
 * buckets moves exactly the keys that land in the new bucket, about 1/(N + 1). The price
 * is that buckets are numbered: only the last one can be removed without reshuffling, so
 * it suits shards that grow (storage shards with replicas behind each number), not a pool
 * of servers that fail at random.
 *
 * The 64-bit linear congruential step of the paper runs on 32-bit halves in double
 * arithmetic (no BigInt), so the buckets equal the reference implementation's for the
 * same 64-bit key.
 *
 * @module
 */

import { requireInteger } from '../core/index.js';
import { hashKeyNamed, mix32 } from './hash.js';

/** The largest bucket count jump hashing accepts: 2^31 - 1. */
export const jumpBucketCountMax = 0x7fff_ffff;

const multiplierHigh = 0x27bb_2ee6;
const multiplierLow = 0x87b0_b0fd;
const twoPow16 = 0x1_0000;
const twoPow32 = 0x1_0000_0000;
const twoPow31 = 0x8000_0000;

function checkBucketCount(bucketCount: number): void {
  if (!(Number.isInteger(bucketCount) && bucketCount >= 1 && bucketCount <= jumpBucketCountMax)) {
    requireInteger('bucketCount', bucketCount, { min: 1, max: jumpBucketCountMax });
  }
}

/** The loop of the paper on a 64-bit key given as two unsigned 32-bit halves. */
function jump(keyHigh: number, keyLow: number, bucketCount: number): number {
  let high = keyHigh;
  let low = keyLow;
  let bucket = -1;
  let next = 0;
  while (next < bucketCount) {
    bucket = next;
    // key = key × 2862933555777941757 + 1 (mod 2^64), on 16-bit limbs of the low word so
    // every partial product stays exact in a double.
    const low0 = low & 0xffff;
    const low1 = low >>> 16;
    const multiplier0 = multiplierLow & 0xffff;
    const multiplier1 = multiplierLow >>> 16;
    const middle = low0 * multiplier1 + low1 * multiplier0;
    const bottom = low0 * multiplier0 + (middle % twoPow16) * twoPow16 + 1;
    const bottomWord = bottom % twoPow32;
    const carry = (bottom - bottomWord) / twoPow32;
    const top = low1 * multiplier1 + Math.floor(middle / twoPow16) + carry;
    high =
      (Math.imul(high, multiplierLow) + Math.imul(low, multiplierHigh) + (top % twoPow32)) >>> 0;
    low = bottomWord;
    // The same order of floating-point operations as the reference, so rounding agrees.
    next = Math.floor((bucket + 1) * (twoPow31 / ((high >>> 1) + 1)));
  }
  return bucket;
}

/**
 * The bucket, in [0, bucketCount), of the 64-bit key `keyHigh × 2^32 + keyLow`, exactly
 * as the paper's reference `JumpConsistentHash(key, num_buckets)` computes it.
 *
 * @param keyHigh - the key's upper 32 bits, an unsigned 32-bit integer.
 * @param keyLow - the key's lower 32 bits, an unsigned 32-bit integer.
 * @param bucketCount - from 1 to 2^31 - 1.
 *
 * @example
 * ```ts
 * jumpBucketOfUint64(0, 42, 10); // the bucket of key 42 among 10
 * ```
 */
export function jumpBucketOfUint64(keyHigh: number, keyLow: number, bucketCount: number): number {
  requireInteger('keyHigh', keyHigh, { min: 0, max: twoPow32 - 1 });
  requireInteger('keyLow', keyLow, { min: 0, max: twoPow32 - 1 });
  checkBucketCount(bucketCount);
  return jump(keyHigh, keyLow, bucketCount);
}

/**
 * The bucket, in [0, bucketCount), of a string key: jump consistent hash of a 64-bit key
 * made from {@link hashKey} (the low half) and a mix of it (the high half).
 *
 * @example
 * ```ts
 * const shards = ['shard-0', 'shard-1', 'shard-2'];
 * shards[jumpBucket('user:42', shards.length)]; // adding 'shard-3' moves only a quarter of keys
 * ```
 */
export function jumpBucket(key: string, bucketCount: number): number {
  checkBucketCount(bucketCount);
  const low = hashKeyNamed(key, 'key');
  // The upper half is derived from the lower one: the bucket depends on hashKey(key) only,
  // like every other scheme of this module.
  const high = mix32(low ^ 0x9e37_79b9);
  return jump(high, low, bucketCount);
}
