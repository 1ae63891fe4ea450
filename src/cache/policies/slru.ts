/**
 * Segmented LRU: a probation segment for entries used once and a protected segment for
 * entries used again. A new entry enters probation; a hit there promotes it to protected,
 * whose least recently used entries are demoted back to probation while protected holds
 * more than `protectedFraction` of the capacity (default 80%). The victim is probation's
 * least recently used entry, or protected's when probation is empty (the entry being
 * stored does not count: it is never its own victim unless it is alone). Under a weight
 * bound the segments are budgeted in weight, and eviction repeats until the total fits.
 *
 * @module
 */

import { grownInt32, pushMru, resetList, unlink } from './links.js';
import { type CachePolicy, EvictionPolicy } from './policy.js';

const probation = 0;
const protectedList = 1;

/** Segmented LRU eviction. */
export class SlruPolicy extends EvictionPolicy {
  /** The policy's name. */
  readonly name: CachePolicy = 'slru';
  /** Most weight the protected segment holds. */
  readonly protectedMax: number;
  #segment: Int32Array;
  #protectedWeight = 0;
  #newest = -1;

  constructor(capacity: number, slotCount: number, protectedFraction: number) {
    super(capacity, slotCount);
    this.protectedMax = capacity * protectedFraction;
    this.#segment = new Int32Array(slotCount);
    resetList(this.prev, this.next, probation);
    resetList(this.prev, this.next, protectedList);
  }

  override grow(slotCount: number): void {
    super.grow(slotCount);
    this.#segment = grownInt32(this.#segment, slotCount);
  }

  insert(slot: number, _key: unknown, weight: number): void {
    this.#newest = slot;
    this.weights[slot] = weight;
    this.#segment[slot] = probation;
    pushMru(this.prev, this.next, probation, slot);
  }

  access(slot: number): void {
    const prev = this.prev;
    const next = this.next;
    unlink(prev, next, slot);
    pushMru(prev, next, protectedList, slot);
    if (this.#segment[slot] === probation) {
      this.#segment[slot] = protectedList;
      this.#protectedWeight += this.weights[slot] as number;
      while (this.#protectedWeight > this.protectedMax && next[protectedList] !== protectedList) {
        const demoted = next[protectedList] as number;
        unlink(prev, next, demoted);
        pushMru(prev, next, probation, demoted);
        this.#segment[demoted] = probation;
        this.#protectedWeight -= this.weights[demoted] as number;
      }
    }
  }

  reweigh(slot: number, weight: number): void {
    if (this.#segment[slot] === protectedList) {
      this.#protectedWeight += weight - (this.weights[slot] as number);
    }
    this.weights[slot] = weight;
    this.access(slot);
  }

  remove(slot: number): void {
    if (this.#segment[slot] === protectedList) {
      this.#protectedWeight -= this.weights[slot] as number;
    }
    unlink(this.prev, this.next, slot);
  }

  victim(): number {
    // The entry just inserted is spared while there is another, as if the victim had
    // been chosen before it came in.
    const next = this.next;
    let slot = next[probation] as number;
    if (slot === probation || (slot === this.#newest && next[slot] === probation)) {
      const protectedHead = next[protectedList] as number;
      if (protectedHead !== protectedList || slot === probation) {
        slot = protectedHead;
      }
    }
    this.remove(slot);
    return slot;
  }

  clear(): void {
    resetList(this.prev, this.next, probation);
    resetList(this.prev, this.next, protectedList);
    this.#protectedWeight = 0;
  }
}
