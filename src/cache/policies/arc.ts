/**
 * Adaptive Replacement Cache (Megiddo and Modha, FAST 2003). Entries used once live in
 * T1, entries used more than once in T2; the keys recently evicted from each are
 * remembered, without values, in the ghost lists B1 and B2. A miss on a key in B1 means
 * T1 was too small, so the target size `p` of T1 grows; a miss on a key in B2 shrinks
 * it. The victim is T1's least recently used entry when T1 is over its target (or at it,
 * for a B2 miss), else T2's, and the victim's key moves to the matching ghost list.
 *
 * The cache evicts only when over its bound; the paper's REPLACE runs at that moment,
 * with the entry just inserted left out of the sizes, which gives the paper's decisions
 * when the cache is full. Under a weight bound every size (T1, T2, B1, B2, `p`) is
 * measured in weight and `p` moves by the weight of the missed entry; eviction repeats
 * until the total fits. Deleted and expired entries leave without a ghost.
 *
 * @module
 */

import { grownFloat64, grownInt32, pushMru, resetList, unlink } from './links.js';
import { type CachePolicy, EvictionPolicy } from './policy.js';

const t1 = 0;
const t2 = 1;
const b1 = 0;
const b2 = 1;

// The eviction decision set up by the last insertion: run REPLACE; run REPLACE preferring
// T1 when it is at its target (the missed key was in B2); or evict T1's least recently
// used entry without a ghost (T1 alone fills the cache).
type Pending = 0 | 1 | 2;
const replace: Pending = 0;
const replaceAfterB2: Pending = 1;
const evictT1: Pending = 2;

/** Adaptive Replacement Cache eviction. */
export class ArcPolicy extends EvictionPolicy {
  /** The policy's name. */
  readonly name: CachePolicy = 'arc';
  #list: Int32Array;
  #keys: unknown[];
  #p = 0;
  #t1Weight = 0;
  #t2Weight = 0;
  #pending: Pending = replace;
  #pendingSlot = -1;

  // Ghost lists: their own nodes, found by key.
  readonly #ghostIndex = new Map<unknown, number>();
  #ghostKeys: unknown[] = [];
  #ghostPrev: Int32Array = new Int32Array(64);
  #ghostNext: Int32Array = new Int32Array(64);
  #ghostWeights: Float64Array = new Float64Array(64);
  #ghostList: Int32Array = new Int32Array(64);
  #ghostFree: number[] = [];
  #ghostNextNode = 2;
  #b1Weight = 0;
  #b2Weight = 0;

  constructor(capacity: number, slotCount: number) {
    super(capacity, slotCount);
    this.#list = new Int32Array(slotCount);
    this.#keys = new Array(slotCount).fill(undefined);
    resetList(this.prev, this.next, t1);
    resetList(this.prev, this.next, t2);
    resetList(this.#ghostPrev, this.#ghostNext, b1);
    resetList(this.#ghostPrev, this.#ghostNext, b2);
  }

  /** The current target weight of T1. */
  get target(): number {
    return this.#p;
  }

  override grow(slotCount: number): void {
    super.grow(slotCount);
    this.#list = grownInt32(this.#list, slotCount);
    this.#keys.length = slotCount;
  }

  insert(slot: number, key: unknown, weight: number): void {
    this.weights[slot] = weight;
    this.#keys[slot] = key;
    this.#pendingSlot = slot;
    const capacity = this.capacity;
    const ghost = this.#ghostIndex.get(key);
    if (ghost !== undefined) {
      if (this.#ghostList[ghost] === b1) {
        const delta = this.#b1Weight >= this.#b2Weight ? 1 : this.#b2Weight / this.#b1Weight;
        this.#p = Math.min(capacity, this.#p + delta * weight);
        this.#pending = replace;
      } else {
        const delta = this.#b2Weight >= this.#b1Weight ? 1 : this.#b1Weight / this.#b2Weight;
        this.#p = Math.max(0, this.#p - delta * weight);
        this.#pending = replaceAfterB2;
      }
      this.#dropGhost(ghost);
      this.#link(slot, t2);
      return;
    }
    this.#pending = replace;
    if (this.#t1Weight + this.#b1Weight >= capacity) {
      if (this.#t1Weight < capacity) {
        while (this.#t1Weight + this.#b1Weight >= capacity && this.#ghostNext[b1] !== b1) {
          this.#dropGhost(this.#ghostNext[b1] as number);
        }
      } else {
        this.#pending = evictT1;
      }
    } else if (this.#t1Weight + this.#t2Weight + this.#b1Weight + this.#b2Weight >= capacity) {
      while (
        this.#t1Weight + this.#t2Weight + this.#b1Weight + this.#b2Weight >= 2 * capacity &&
        this.#ghostNext[b2] !== b2
      ) {
        this.#dropGhost(this.#ghostNext[b2] as number);
      }
    }
    this.#link(slot, t1);
  }

  access(slot: number): void {
    this.#unlink(slot);
    this.#link(slot, t2);
  }

  reweigh(slot: number, weight: number): void {
    // An eviction after a new value's weight grew is a plain REPLACE: nothing is pending.
    this.#pendingSlot = -1;
    this.#pending = replace;
    this.#unlink(slot);
    this.weights[slot] = weight;
    this.#link(slot, t2);
  }

  remove(slot: number): void {
    this.#unlink(slot);
    this.#keys[slot] = undefined;
    if (slot === this.#pendingSlot) {
      this.#pendingSlot = -1;
    }
  }

  victim(): number {
    const pendingSlot = this.#pendingSlot;
    const pending = this.#pending;
    this.#pending = replace;
    const next = this.next;
    if (pending === evictT1) {
      const slot = next[t1] as number;
      this.remove(slot);
      return slot;
    }
    const pendingWeight = pendingSlot >= 0 ? (this.weights[pendingSlot] as number) : 0;
    const pendingList = pendingSlot >= 0 ? this.#list[pendingSlot] : -1;
    const t1Weight = this.#t1Weight - (pendingList === t1 ? pendingWeight : 0);
    const t2Others = next[t2] !== t2 && next[t2] !== pendingSlot;
    const t1Others = next[t1] !== t1 && next[t1] !== pendingSlot;
    let fromT1 =
      t1Weight > 0 && ((pending === replaceAfterB2 && t1Weight === this.#p) || t1Weight > this.#p);
    if (fromT1 ? !t1Others : !t2Others) {
      fromT1 = t1Others || next[t2] === t2;
    }
    const slot = next[fromT1 ? t1 : t2] as number;
    const key = this.#keys[slot];
    const weight = this.weights[slot] as number;
    this.remove(slot);
    this.#addGhost(key, weight, fromT1 ? b1 : b2);
    return slot;
  }

  clear(): void {
    resetList(this.prev, this.next, t1);
    resetList(this.prev, this.next, t2);
    resetList(this.#ghostPrev, this.#ghostNext, b1);
    resetList(this.#ghostPrev, this.#ghostNext, b2);
    this.#keys.fill(undefined);
    this.#ghostIndex.clear();
    this.#ghostKeys = [];
    this.#ghostFree = [];
    this.#ghostNextNode = 2;
    this.#p = 0;
    this.#t1Weight = 0;
    this.#t2Weight = 0;
    this.#b1Weight = 0;
    this.#b2Weight = 0;
    this.#pendingSlot = -1;
    this.#pending = replace;
  }

  #link(slot: number, list: number): void {
    this.#list[slot] = list;
    pushMru(this.prev, this.next, list, slot);
    if (list === t1) {
      this.#t1Weight += this.weights[slot] as number;
    } else {
      this.#t2Weight += this.weights[slot] as number;
    }
  }

  #unlink(slot: number): void {
    unlink(this.prev, this.next, slot);
    if (this.#list[slot] === t1) {
      this.#t1Weight -= this.weights[slot] as number;
    } else {
      this.#t2Weight -= this.weights[slot] as number;
    }
  }

  #addGhost(key: unknown, weight: number, list: number): void {
    let node = this.#ghostFree.pop();
    if (node === undefined) {
      node = this.#ghostNextNode;
      this.#ghostNextNode += 1;
      if (node >= this.#ghostPrev.length) {
        const length = this.#ghostPrev.length * 2;
        this.#ghostPrev = grownInt32(this.#ghostPrev, length);
        this.#ghostNext = grownInt32(this.#ghostNext, length);
        this.#ghostList = grownInt32(this.#ghostList, length);
        this.#ghostWeights = grownFloat64(this.#ghostWeights, length);
      }
    }
    this.#ghostKeys[node] = key;
    this.#ghostWeights[node] = weight;
    this.#ghostList[node] = list;
    this.#ghostIndex.set(key, node);
    pushMru(this.#ghostPrev, this.#ghostNext, list, node);
    if (list === b1) {
      this.#b1Weight += weight;
    } else {
      this.#b2Weight += weight;
    }
  }

  #dropGhost(node: number): void {
    unlink(this.#ghostPrev, this.#ghostNext, node);
    const weight = this.#ghostWeights[node] as number;
    if (this.#ghostList[node] === b1) {
      this.#b1Weight -= weight;
    } else {
      this.#b2Weight -= weight;
    }
    this.#ghostIndex.delete(this.#ghostKeys[node]);
    this.#ghostKeys[node] = undefined;
    this.#ghostFree.push(node);
  }
}
