/**
 * Window TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017), with the window sized by hill climbing as Caffeine does.
 *
 * A new entry enters a small LRU admission window (initially `windowFraction` of the
 * capacity, 1%). When the window is over its budget, its least recently used entry is
 * the candidate for the main region, a segmented LRU (probation, and a protected segment
 * of `protectedFraction` of the main region, 80%). While the main region has room the
 * candidate simply moves in; once it is full the candidate competes with the main
 * region's victim (probation's least recently used entry): the one the
 * {@link FrequencySketch} estimates was seen more often stays, the other is evicted (the
 * candidate losing is a `rejected` eviction; ties reject the candidate). The sketch's
 * hashes are seeded from the cache's `Random`, so an attacker cannot compute keys that
 * collide with a victim's counters to keep it pinned (Caffeine instead admits a frequent
 * candidate at random; that coin cost 2 points of hit ratio on the loop trace).
 *
 * Adaptive window: every 10 × capacity accesses the policy compares the hit ratio of the
 * last period with the one before. If it improved it moves the window size again in the
 * same direction, otherwise in the other; the step starts at 6.25% of the capacity,
 * decays by 2% each period, and restarts at full size when the hit ratio changes by 5
 * points or more. A recency-biased workload grows the window towards LRU, a
 * frequency-biased one shrinks it.
 *
 * Under a weight bound the window and segments are budgeted in weight, the victim is
 * chosen the same way, and eviction repeats until the total fits.
 *
 * @module
 */

import type { Random } from '../../core/index.js';
import { FrequencySketch, hashKey } from '../frequency-sketch.js';
import { grownInt32, pushMru, resetList, slotBase, unlink } from './links.js';
import { type CachePolicy, EvictionPolicy } from './policy.js';

const windowList = 0;
const probation = 1;
const protectedList = 2;

/** Options of {@link WindowTinyLfuPolicy}. */
export interface WindowTinyLfuOptions {
  /** The window's initial share of the capacity. */
  readonly windowFraction: number;
  /** The protected segment's share of the main region. */
  readonly protectedFraction: number;
  /** Whether the window size adapts. */
  readonly adaptive: boolean;
  /** For the hash seed and the admission coin. */
  readonly random: Random;
  /** How many entries the cache holds when full (sizes the sketch and the climbing period). */
  readonly entryCountEstimate: number;
}

const stepFraction = 0.0625;
const stepDecay = 0.98;
const restartThreshold = 0.05;
/** The sample countdown before the cache first fills up: never reached in practice. */
const notFull = 2 ** 30;

/** W-TinyLFU eviction with an adaptive window. */
export class WindowTinyLfuPolicy extends EvictionPolicy {
  /** The policy's name. */
  readonly name: CachePolicy = 'w-tinylfu';
  /** The frequency filter. */
  readonly sketch: FrequencySketch;
  readonly #random: Random;
  readonly #seed: number;
  readonly #protectedFraction: number;
  readonly #adaptive: boolean;
  #segment: Int32Array;
  #hashes: Int32Array;
  /** Sightings of each slot's key not yet added to the sketch. */
  #pending: Int32Array;
  /** Sightings until the sketch's next aging (pending ones included). */
  #untilAging: number;
  #windowMax: number;
  #protectedMax: number;
  #windowWeight = 0;
  #probationWeight = 0;
  #protectedWeight = 0;

  // Hill climbing, once every `#samplePeriod` accesses (hits and insertions) after the
  // cache first filled up.
  readonly #samplePeriod: number;
  #sampleHits = 0;
  /** Accesses until the next climb; `notFull` until the cache first fills up. */
  #sampleLeft = notFull;
  #previousHitRatio = 0;
  #step: number;
  #full = false;

  constructor(capacity: number, slotCount: number, options: WindowTinyLfuOptions) {
    super(capacity, slotCount);
    this.#random = options.random;
    this.#seed = options.random.uint32() | 0;
    this.#protectedFraction = options.protectedFraction;
    this.#adaptive = options.adaptive;
    this.#segment = new Int32Array(slotCount);
    this.#hashes = new Int32Array(slotCount);
    this.#pending = new Int32Array(slotCount);
    this.#windowMax = capacity * options.windowFraction;
    this.#protectedMax = (capacity - this.#windowMax) * this.#protectedFraction;
    const entries = Math.max(1, Math.round(options.entryCountEstimate));
    this.sketch = new FrequencySketch({ entryCount: entries });
    this.#untilAging = this.sketch.sampleSize;
    this.#samplePeriod = 10 * entries;
    this.#step = stepFraction * capacity;
    resetList(this.prev, this.next, windowList);
    resetList(this.prev, this.next, probation);
    resetList(this.prev, this.next, protectedList);
  }

  /** The window's current budget (weight). */
  get windowMax(): number {
    return this.#windowMax;
  }

  /** The estimated recent frequency of the entry in `slot`. */
  frequencyOf(slot: number): number {
    this.#flush(slot);
    return this.sketch.frequency(this.#hashes[slot] as number);
  }

  override grow(slotCount: number): void {
    super.grow(slotCount);
    this.#segment = grownInt32(this.#segment, slotCount);
    this.#hashes = grownInt32(this.#hashes, slotCount);
    this.#pending = grownInt32(this.#pending, slotCount);
  }

  insert(slot: number, key: unknown, weight: number): void {
    const hash = hashKey(key, this.#seed);
    this.#hashes[slot] = hash;
    this.weights[slot] = weight;
    this.#sight(slot);
    this.#segment[slot] = windowList;
    pushMru(this.prev, this.next, windowList, slot);
    this.#windowWeight += weight;
    this.#sampleLeft -= 1;
    if (this.#sampleLeft === 0) {
      this.#sampleEnds();
    }
  }

  access(slot: number): void {
    this.#sampleHits += 1;
    this.#sampleLeft -= 1;
    if (this.#sampleLeft === 0) {
      this.#sampleEnds();
    }
    this.#sight(slot);
    const prev = this.prev;
    const next = this.next;
    const segment = this.#segment[slot];
    if (segment === windowList) {
      if (prev[windowList] !== slot) {
        unlink(prev, next, slot);
        pushMru(prev, next, windowList, slot);
      }
    } else if (segment === protectedList) {
      if (prev[protectedList] !== slot) {
        unlink(prev, next, slot);
        pushMru(prev, next, protectedList, slot);
      }
    } else {
      const weight = this.weights[slot] as number;
      unlink(prev, next, slot);
      pushMru(prev, next, protectedList, slot);
      this.#segment[slot] = protectedList;
      this.#probationWeight -= weight;
      this.#protectedWeight += weight;
      this.#demote();
    }
  }

  reweigh(slot: number, weight: number): void {
    const delta = weight - (this.weights[slot] as number);
    const segment = this.#segment[slot];
    if (segment === windowList) {
      this.#windowWeight += delta;
    } else if (segment === protectedList) {
      this.#protectedWeight += delta;
    } else {
      this.#probationWeight += delta;
    }
    this.weights[slot] = weight;
    this.access(slot);
  }

  remove(slot: number): void {
    this.#flush(slot);
    const weight = this.weights[slot] as number;
    const segment = this.#segment[slot];
    if (segment === windowList) {
      this.#windowWeight -= weight;
    } else if (segment === protectedList) {
      this.#protectedWeight -= weight;
    } else {
      this.#probationWeight -= weight;
    }
    unlink(this.prev, this.next, slot);
  }

  victim(): number {
    if (!this.#full) {
      this.#full = true;
      this.#sampleHits = 0;
      this.#sampleLeft = this.#samplePeriod;
    }
    this.rejected = false;
    const next = this.next;
    const mainMax = this.capacity - this.#windowMax;
    while (this.#windowWeight > this.#windowMax && next[windowList] !== windowList) {
      const candidate = next[windowList] as number;
      const candidateWeight = this.weights[candidate] as number;
      const mainWeight = this.#probationWeight + this.#protectedWeight;
      if (mainWeight === 0 || mainWeight + candidateWeight <= mainMax) {
        this.#toProbation(candidate);
        continue;
      }
      const probationHead = next[probation] as number;
      const victim = probationHead !== probation ? probationHead : (next[protectedList] as number);
      if (this.#admit(candidate, victim)) {
        this.#toProbation(candidate);
        this.remove(victim);
        return victim;
      }
      this.remove(candidate);
      this.rejected = true;
      return candidate;
    }
    const probationHead = next[probation] as number;
    let slot: number;
    if (probationHead !== probation) {
      slot = probationHead;
    } else if (next[protectedList] !== protectedList) {
      slot = next[protectedList] as number;
    } else {
      slot = next[windowList] as number;
    }
    this.remove(slot);
    return slot;
  }

  clear(): void {
    resetList(this.prev, this.next, windowList);
    resetList(this.prev, this.next, probation);
    resetList(this.prev, this.next, protectedList);
    this.#windowWeight = 0;
    this.#probationWeight = 0;
    this.#protectedWeight = 0;
    this.#pending.fill(0);
    this.sketch.clear();
    this.#untilAging = this.sketch.sampleSize;
    this.#sampleHits = 0;
    this.#sampleLeft = this.#full ? this.#samplePeriod : notFull;
  }

  /**
   * Records a sighting of the key in `slot`. Sightings wait in a count per slot and reach
   * the sketch only when the policy reads that entry's estimate, when the entry leaves,
   * and, for every entry, when the sketch's aging is due; a hit thus costs one array
   * increment instead of a sketch update in a cache-cold block.
   */
  #sight(slot: number): void {
    this.#pending[slot] = (this.#pending[slot] as number) + 1;
    this.#untilAging -= 1;
    if (this.#untilAging === 0) {
      this.#agingDue();
    }
  }

  /** Adds the pending sightings of the key in `slot` to the sketch. */
  #flush(slot: number): void {
    const count = this.#pending[slot] as number;
    if (count !== 0) {
      this.#pending[slot] = 0;
      this.sketch.add(this.#hashes[slot] as number, count);
    }
  }

  /**
   * The sketch has seen its sample size of sightings: every pending sighting goes in as
   * one batch that ends in the sketch's aging (so their order does not matter).
   */
  #agingDue(): void {
    const pending = this.#pending;
    const hashes = this.#hashes;
    const sketch = this.sketch;
    for (let slot = slotBase; slot < pending.length; slot += 1) {
      const count = pending[slot] as number;
      if (count !== 0) {
        pending[slot] = 0;
        sketch.addBeforeAging(hashes[slot] as number, count);
      }
    }
    this.#untilAging = sketch.sampleSize;
  }

  /** A sample period ends: its hit ratio moves the window (when adaptive). */
  #sampleEnds(): void {
    if (!this.#full) {
      this.#sampleLeft = notFull;
      return;
    }
    if (this.#adaptive) {
      this.#climb(this.#sampleHits / this.#samplePeriod);
    }
    this.#sampleHits = 0;
    this.#sampleLeft = this.#samplePeriod;
  }

  #admit(candidate: number, victim: number): boolean {
    return this.frequencyOf(candidate) > this.frequencyOf(victim);
  }

  #toProbation(slot: number): void {
    const weight = this.weights[slot] as number;
    unlink(this.prev, this.next, slot);
    pushMru(this.prev, this.next, probation, slot);
    this.#segment[slot] = probation;
    this.#windowWeight -= weight;
    this.#probationWeight += weight;
  }

  #demote(): void {
    const prev = this.prev;
    const next = this.next;
    while (this.#protectedWeight > this.#protectedMax && next[protectedList] !== protectedList) {
      const demoted = next[protectedList] as number;
      const weight = this.weights[demoted] as number;
      unlink(prev, next, demoted);
      pushMru(prev, next, probation, demoted);
      this.#segment[demoted] = probation;
      this.#protectedWeight -= weight;
      this.#probationWeight += weight;
    }
  }

  #climb(hitRatio: number): void {
    const change = hitRatio - this.#previousHitRatio;
    const amount = change >= 0 ? this.#step : -this.#step;
    this.#step =
      Math.abs(change) >= restartThreshold
        ? stepFraction * this.capacity * (amount >= 0 ? 1 : -1)
        : amount * stepDecay;
    this.#windowMax = Math.min(this.capacity, Math.max(0, this.#windowMax + amount));
    this.#protectedMax = (this.capacity - this.#windowMax) * this.#protectedFraction;
    this.#previousHitRatio = hitRatio;
  }
}
