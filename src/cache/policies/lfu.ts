/**
 * Least frequently used, in constant time per operation. Every entry counts its uses
 * since it was stored (1 at insertion). All entries sit in one list ordered by (count,
 * last use): the least frequently used entry, and among equals the least recently used
 * one, is at the front; a map from each count to the last entry with that count lets a
 * use move an entry to the end of the next count's group in O(1).
 *
 * Tie-break: least recently used within the lowest count. The entry being stored is
 * never its own victim (unless it is alone), as if the victim were chosen before it
 * came in. Under a weight bound the victim
 * is the same entry whatever its weight, and eviction repeats until the total fits.
 * Counts are forgotten when an entry leaves.
 *
 * @module
 */

import { grownInt32, linkAfter, resetList, unlink } from './links.js';
import { type CachePolicy, EvictionPolicy } from './policy.js';

const list = 0;

/** Least frequently used eviction (ties: least recently used). */
export class LfuPolicy extends EvictionPolicy {
  /** The policy's name. */
  readonly name: CachePolicy = 'lfu';
  #counts: Int32Array;
  /** For each use count, the most recently used entry with that count. */
  readonly #lastOfCount = new Map<number, number>();
  /** The slot inserted last, spared by `victim()`. */
  #newest = -1;

  constructor(capacity: number, slotCount: number) {
    super(capacity, slotCount);
    this.#counts = new Int32Array(slotCount);
    resetList(this.prev, this.next, list);
  }

  override grow(slotCount: number): void {
    super.grow(slotCount);
    this.#counts = grownInt32(this.#counts, slotCount);
  }

  /** How many times the entry in `slot` was used. */
  countOf(slot: number): number {
    return this.#counts[slot] as number;
  }

  insert(slot: number, _key: unknown, weight: number): void {
    this.#newest = slot;
    this.weights[slot] = weight;
    this.#counts[slot] = 1;
    const last = this.#lastOfCount.get(1);
    linkAfter(this.prev, this.next, last === undefined ? list : last, slot);
    this.#lastOfCount.set(1, slot);
  }

  access(slot: number): void {
    const count = this.#counts[slot] as number;
    const nextCount = count + 1;
    const lastOfCount = this.#lastOfCount.get(count);
    const lastOfNext = this.#lastOfCount.get(nextCount);
    const anchor = lastOfNext !== undefined ? lastOfNext : lastOfCount === slot ? -1 : lastOfCount;
    if (lastOfCount === slot) {
      this.#retreat(slot, count);
    }
    if (anchor !== undefined && anchor !== -1) {
      unlink(this.prev, this.next, slot);
      linkAfter(this.prev, this.next, anchor, slot);
    }
    this.#counts[slot] = nextCount;
    this.#lastOfCount.set(nextCount, slot);
  }

  reweigh(slot: number, weight: number): void {
    this.weights[slot] = weight;
    this.access(slot);
  }

  remove(slot: number): void {
    const count = this.#counts[slot] as number;
    if (this.#lastOfCount.get(count) === slot) {
      this.#retreat(slot, count);
    }
    unlink(this.prev, this.next, slot);
  }

  victim(): number {
    // The entry just inserted is spared while there is another: the cache evicts after
    // storing, and a newcomer (count 1) would otherwise be the victim whenever every
    // other entry had been used twice, freezing the cache.
    let slot = this.next[list] as number;
    if (slot === this.#newest && this.next[slot] !== list) {
      slot = this.next[slot] as number;
    }
    this.remove(slot);
    return slot;
  }

  clear(): void {
    resetList(this.prev, this.next, list);
    this.#lastOfCount.clear();
  }

  /** `slot`, the last of its count's group, is leaving the group. */
  #retreat(slot: number, count: number): void {
    const before = this.prev[slot] as number;
    if (before !== list && this.#counts[before] === count) {
      this.#lastOfCount.set(count, before);
    } else {
      this.#lastOfCount.delete(count);
    }
  }
}
