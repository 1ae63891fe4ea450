/**
 * A binary min-heap whose entries remember their slot, so removing any entry (a cancelled
 * timer, a dropped event) is O(log n) and leaves nothing behind. Subclasses say what
 * "earlier" means; the schedulers order by (due time, scheduling sequence), and so does
 * the simulator's event queue.
 *
 * @module
 */

import { assert } from './errors.js';

/** An entry of an {@link IndexedHeap}: the heap keeps `slot` up to date. */
export interface HeapEntry {
  /** Position in the heap's array; -1 while the entry is not in a heap. */
  slot: number;
}

/**
 * A min-heap of entries that track their own position. Extend it and implement
 * {@link IndexedHeap.before}.
 *
 * @example
 * ```ts
 * class Job implements HeapEntry {
 *   slot = -1;
 *   constructor(readonly priority: number) {}
 * }
 * class JobHeap extends IndexedHeap<Job> {
 *   before(a: Job, b: Job): boolean {
 *     return a.priority < b.priority;
 *   }
 * }
 * const heap = new JobHeap();
 * const urgent = new Job(1);
 * heap.push(new Job(5));
 * heap.push(urgent);
 * heap.peek() === urgent; // true
 * ```
 */
export abstract class IndexedHeap<T extends HeapEntry> {
  readonly #entries: T[] = [];

  /** Whether `a` comes out before `b`. Must be a strict weak order. */
  abstract before(a: T, b: T): boolean;

  /** How many entries the heap holds. */
  get size(): number {
    return this.#entries.length;
  }

  /** The earliest entry, left in place; `undefined` when empty. */
  peek(): T | undefined {
    return this.#entries[0];
  }

  /** Adds `entry`, which must not be in a heap already. */
  push(entry: T): void {
    assert(entry.slot === -1, 'an entry is in at most one heap, once');
    const slot = this.#entries.length;
    this.#entries.push(entry);
    entry.slot = slot;
    this.#placeUp(entry, slot);
  }

  /** Removes and returns the earliest entry. */
  pop(): T | undefined {
    const entries = this.#entries;
    const first = entries[0];
    if (first === undefined) {
      return undefined;
    }
    const last = entries.pop() as T;
    first.slot = -1;
    if (last !== first) {
      this.#placeDown(last, 0);
    }
    return first;
  }

  /** Removes `entry` if it is in this heap; returns whether it was. */
  remove(entry: T): boolean {
    const slot = entry.slot;
    if (slot < 0) {
      return false;
    }
    const entries = this.#entries;
    assert(entries[slot] === entry, 'an entry belongs to the heap it was pushed on');
    const last = entries.pop() as T;
    entry.slot = -1;
    if (last !== entry) {
      const parent = slot > 0 ? (entries[(slot - 1) >>> 1] as T) : undefined;
      if (parent !== undefined && this.before(last, parent)) {
        this.#placeUp(last, slot);
      } else {
        this.#placeDown(last, slot);
      }
    }
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    for (const entry of this.#entries) {
      entry.slot = -1;
    }
    this.#entries.length = 0;
  }

  /** Puts `entry` at `start` and moves it up to where it belongs. */
  #placeUp(entry: T, start: number): void {
    const entries = this.#entries;
    let slot = start;
    while (slot > 0) {
      const parentSlot = (slot - 1) >>> 1;
      const parent = entries[parentSlot] as T;
      if (!this.before(entry, parent)) {
        break;
      }
      entries[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    entries[slot] = entry;
    entry.slot = slot;
  }

  /** Puts `entry` at `start` and moves it down to where it belongs. */
  #placeDown(entry: T, start: number): void {
    const entries = this.#entries;
    const count = entries.length;
    let slot = start;
    for (;;) {
      const leftSlot = 2 * slot + 1;
      if (leftSlot >= count) {
        break;
      }
      const rightSlot = leftSlot + 1;
      let childSlot = leftSlot;
      let child = entries[leftSlot] as T;
      if (rightSlot < count) {
        const right = entries[rightSlot] as T;
        if (this.before(right, child)) {
          childSlot = rightSlot;
          child = right;
        }
      }
      if (!this.before(child, entry)) {
        break;
      }
      entries[slot] = child;
      child.slot = slot;
      slot = childSlot;
    }
    entries[slot] = entry;
    entry.slot = slot;
  }
}
