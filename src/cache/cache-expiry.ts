/**
 * The expiry order of a cache: a binary min-heap of slot indices keyed by each slot's
 * expiry time, with each slot's position kept so that an entry can leave the heap in
 * O(log n) when it is deleted or evicted. Purging pops only what has expired, so the work
 * is proportional to the expired entries, and no timer is needed per entry.
 *
 * @module
 */

import { grownInt32 } from './policies/links.js';

/** A min-heap of slots ordered by `expiresAtMs[slot]`. */
export class ExpiryHeap {
  /** Slots in heap order. */
  #heap: Int32Array;
  /** Each slot's position in `#heap`, or -1. */
  #position: Int32Array;
  /** Each slot's expiry time (shared with nobody; the cache reads it through `expiresAtMs`). */
  expiresAtMs: Float64Array;
  #size = 0;

  constructor(slotCount: number) {
    this.#heap = new Int32Array(slotCount);
    this.#position = new Int32Array(slotCount).fill(-1);
    this.expiresAtMs = new Float64Array(slotCount).fill(Number.POSITIVE_INFINITY);
  }

  /** How many slots have an expiry time. */
  get size(): number {
    return this.#size;
  }

  /** Makes room for slots up to `slotCount - 1`. */
  grow(slotCount: number): void {
    this.#heap = grownInt32(this.#heap, slotCount);
    this.#position = grownInt32(this.#position, slotCount, -1);
    this.#position.fill(-1, this.expiresAtMs.length);
    const expiresAtMs = new Float64Array(slotCount).fill(Number.POSITIVE_INFINITY);
    expiresAtMs.set(this.expiresAtMs);
    this.expiresAtMs = expiresAtMs;
  }

  /** Sets (or, with Infinity, clears) the expiry time of `slot`. */
  set(slot: number, expiresAtMs: number): void {
    const position = this.#position[slot] as number;
    this.expiresAtMs[slot] = expiresAtMs;
    if (expiresAtMs === Number.POSITIVE_INFINITY) {
      if (position >= 0) {
        this.#removeAt(position);
      }
      return;
    }
    if (position < 0) {
      const at = this.#size;
      this.#size += 1;
      this.#heap[at] = slot;
      this.#position[slot] = at;
      this.#up(at);
    } else {
      this.#up(position);
      this.#down(this.#position[slot] as number);
    }
  }

  /** Removes `slot` from the order, if it is there. */
  delete(slot: number): void {
    const position = this.#position[slot] as number;
    this.expiresAtMs[slot] = Number.POSITIVE_INFINITY;
    if (position >= 0) {
      this.#removeAt(position);
    }
  }

  /** The slot that expires first if it has expired at `nowMs`, else -1. */
  expired(nowMs: number): number {
    if (this.#size === 0) {
      return -1;
    }
    const slot = this.#heap[0] as number;
    return (this.expiresAtMs[slot] as number) <= nowMs ? slot : -1;
  }

  /** Empties the order. */
  clear(): void {
    for (let index = 0; index < this.#size; index += 1) {
      const slot = this.#heap[index] as number;
      this.#position[slot] = -1;
      this.expiresAtMs[slot] = Number.POSITIVE_INFINITY;
    }
    this.#size = 0;
  }

  #removeAt(position: number): void {
    const heap = this.#heap;
    const slot = heap[position] as number;
    this.#position[slot] = -1;
    this.#size -= 1;
    if (position === this.#size) {
      return;
    }
    const moved = heap[this.#size] as number;
    heap[position] = moved;
    this.#position[moved] = position;
    this.#up(position);
    this.#down(this.#position[moved] as number);
  }

  #up(start: number): void {
    const heap = this.#heap;
    const expires = this.expiresAtMs;
    let at = start;
    const slot = heap[at] as number;
    const key = expires[slot] as number;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = heap[parentAt] as number;
      if ((expires[parent] as number) <= key) {
        break;
      }
      heap[at] = parent;
      this.#position[parent] = at;
      at = parentAt;
    }
    heap[at] = slot;
    this.#position[slot] = at;
  }

  #down(start: number): void {
    const heap = this.#heap;
    const expires = this.expiresAtMs;
    const size = this.#size;
    let at = start;
    const slot = heap[at] as number;
    const key = expires[slot] as number;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) {
        break;
      }
      const right = child + 1;
      if (
        right < size &&
        (expires[heap[right] as number] as number) < (expires[heap[child] as number] as number)
      ) {
        child = right;
      }
      const childSlot = heap[child] as number;
      if ((expires[childSlot] as number) >= key) {
        break;
      }
      heap[at] = childSlot;
      this.#position[childSlot] = at;
      at = child;
    }
    heap[at] = slot;
    this.#position[slot] = at;
  }
}
