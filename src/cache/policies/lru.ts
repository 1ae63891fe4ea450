/**
 * Least recently used: one list in access order; the victim is its least recently used
 * end. Under a weight bound the victim is still the least recently used entry, whatever
 * its weight, and eviction repeats until the total fits.
 *
 * @module
 */

import { pushMru, resetList, unlink } from './links.js';
import { type CachePolicy, EvictionPolicy } from './policy.js';

const list = 0;

/** Least recently used eviction. */
export class LruPolicy extends EvictionPolicy {
  /** The policy's name. */
  readonly name: CachePolicy = 'lru';

  constructor(capacity: number, slotCount: number) {
    super(capacity, slotCount);
    resetList(this.prev, this.next, list);
  }

  insert(slot: number, _key: unknown, weight: number): void {
    this.weights[slot] = weight;
    pushMru(this.prev, this.next, list, slot);
  }

  access(slot: number): void {
    const prev = this.prev;
    if (prev[list] !== slot) {
      const next = this.next;
      const before = prev[slot] as number;
      const after = next[slot] as number;
      next[before] = after;
      prev[after] = before;
      const last = prev[list] as number;
      prev[slot] = last;
      next[slot] = list;
      next[last] = slot;
      prev[list] = slot;
    }
  }

  reweigh(slot: number, weight: number): void {
    this.weights[slot] = weight;
    this.access(slot);
  }

  remove(slot: number): void {
    unlink(this.prev, this.next, slot);
  }

  victim(): number {
    const slot = this.next[list] as number;
    unlink(this.prev, this.next, slot);
    return slot;
  }

  clear(): void {
    resetList(this.prev, this.next, list);
  }
}
