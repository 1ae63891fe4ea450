/**
 * The contract between the cache container and an eviction policy. The container owns the
 * keys and values in slots; a policy sees only slot indices (and, at insertion, the key,
 * for policies that remember evicted keys or hash them) and decides the eviction order.
 *
 * @module
 */

import { grownFloat64, grownInt32 } from './links.js';

/** The eviction policies a cache can use. */
export type CachePolicy = 'lru' | 'lfu' | 'arc' | 'slru' | 'w-tinylfu';

/**
 * An eviction policy over slot indices. The cache calls `insert` for a new entry,
 * `access` on a hit, `reweigh` when a stored key gets a new value, `remove` when an entry
 * leaves for any reason other than eviction, and `victim()` while the cache is over its
 * bound: the policy unlinks the slot it chose and returns it, and sets `rejected` when
 * that slot was refused by an admission filter rather than evicted from the main cache.
 *
 * Weights: each entry has a weight (1 under an entry-count bound); a policy that splits
 * the capacity into regions budgets each region in weight.
 */
export abstract class EvictionPolicy {
  /** The policy's name. */
  abstract readonly name: CachePolicy;
  /** Whether the slot returned by the last `victim()` was refused admission. */
  rejected = false;
  /** Previous slot in the slot's list. */
  prev: Int32Array;
  /** Next slot in the slot's list. */
  next: Int32Array;
  /** Each slot's weight. */
  weights: Float64Array;
  /** The cache's bound: entries, or total weight. */
  readonly capacity: number;

  constructor(capacity: number, slotCount: number) {
    this.capacity = capacity;
    this.prev = new Int32Array(slotCount);
    this.next = new Int32Array(slotCount);
    this.weights = new Float64Array(slotCount);
  }

  /** Makes room for slots up to `slotCount - 1`. */
  grow(slotCount: number): void {
    this.prev = grownInt32(this.prev, slotCount);
    this.next = grownInt32(this.next, slotCount);
    this.weights = grownFloat64(this.weights, slotCount);
  }

  /** A new entry of `weight` is stored in `slot`. */
  abstract insert(slot: number, key: unknown, weight: number): void;
  /** The entry in `slot` was read (a hit). */
  abstract access(slot: number): void;
  /** The entry in `slot` got a new value of `weight` (also counts as an access). */
  abstract reweigh(slot: number, weight: number): void;
  /** The entry in `slot` left the cache other than through `victim()`. */
  abstract remove(slot: number): void;
  /** Chooses, unlinks and returns the slot to evict; the cache must not be empty. */
  abstract victim(): number;
  /** Forgets every entry (and any history, such as ghost lists). */
  abstract clear(): void;
}
