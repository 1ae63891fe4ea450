/**
 * The observed-remove set (OR-Set), add-wins, in its optimised dot-based form: each
 * element holds the dots of the additions not yet removed, and one causal context
 * remembers every dot seen. A removal drops the element's dots; the context keeps them as
 * seen, so a merge does not bring them back, and a concurrent addition (a dot the
 * remover never saw) survives: add wins. No tombstones: removed elements leave only their
 * dots in the context, which compacts into a version vector.
 *
 * @module
 */

import {
  CausalContext,
  type CausalContextJSON,
  CrdtEncodingError,
  type Dot,
  dotKey,
  joinDotStores,
  readDotTuple,
  requireReplica,
} from './causal.js';
import { requireInstance } from './counters.js';
import { type ElementKeyOf, type ElementOptions, keyFunction } from './elements.js';

interface ElementEntry<E> {
  readonly element: E;
  readonly dots: Map<string, Dot>;
}

/** JSON form of an {@link ORSet}. */
export interface ORSetJSON<E> {
  /** Each present element with the dots of its live additions. */
  readonly entries: [E, [string, number][]][];
  /** Every dot seen. */
  readonly context: CausalContextJSON;
}

const identity = (dot: Dot): Dot => dot;

/**
 * An add-wins observed-remove set with delta mutators.
 *
 * @example
 * ```ts
 * const a = new ORSet<string>();
 * const b = new ORSet<string>();
 * b.merge(a.add('a', 'milk'));
 * const removal = b.remove('milk'); // b saw the addition and removes it
 * const readd = a.add('a', 'milk'); // concurrently, a adds it again
 * a.merge(removal);
 * b.merge(readd);
 * a.has('milk') && b.has('milk'); // true: the concurrent addition wins
 * ```
 */
export class ORSet<E> {
  readonly #keyOf: ElementKeyOf<E>;
  readonly #entries = new Map<string, ElementEntry<E>>();
  readonly #context: CausalContext;

  constructor(options?: ElementOptions<E>) {
    this.#keyOf = keyFunction('ORSet', options);
    this.#context = new CausalContext();
  }

  /** Adds `element` at `replica`; returns the delta. */
  add(replica: string, element: E): ORSet<E> {
    requireReplica('ORSet.add replica', replica);
    const key = this.#keyOf(element);
    const dot = this.#context.nextDot(replica);
    const delta = this.#empty();
    const previous = this.#entries.get(key);
    if (previous !== undefined) {
      for (const old of previous.dots.values()) {
        delta.#context.add(old);
      }
    }
    const dots = new Map([[dotKey(dot), dot]]);
    this.#entries.set(key, { element, dots });
    this.#context.add(dot);
    delta.#entries.set(key, { element, dots: new Map(dots) });
    delta.#context.add(dot);
    return delta;
  }

  /** Removes `element` (the additions this replica has seen); returns the delta. */
  remove(element: E): ORSet<E> {
    const key = this.#keyOf(element);
    const delta = this.#empty();
    const previous = this.#entries.get(key);
    if (previous !== undefined) {
      for (const old of previous.dots.values()) {
        delta.#context.add(old);
      }
      this.#entries.delete(key);
    }
    return delta;
  }

  /** Whether `element` is present. */
  has(element: E): boolean {
    return this.#entries.has(this.#keyOf(element));
  }

  /** The present elements, ordered by key. */
  values(): E[] {
    return [...this.#entries.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map((entry) => entry[1].element);
  }

  /** How many elements are present. */
  get size(): number {
    return this.#entries.size;
  }

  /** Joins `other` (a whole set or a delta) into this one; returns this. */
  merge(other: ORSet<E>): this {
    requireInstance('ORSet.merge other', other, ORSet);
    const keys = new Set([...this.#entries.keys(), ...other.#entries.keys()]);
    const empty = new Map<string, Dot>();
    for (const key of keys) {
      const ours = this.#entries.get(key);
      const theirs = other.#entries.get(key);
      const dots = joinDotStores(
        ours?.dots ?? empty,
        this.#context,
        theirs?.dots ?? empty,
        other.#context,
        identity,
      );
      if (dots.size === 0) {
        this.#entries.delete(key);
      } else {
        this.#entries.set(key, { element: (ours ?? theirs)?.element as E, dots });
      }
    }
    this.#context.merge(other.#context);
    return this;
  }

  /** An independent copy. */
  clone(): ORSet<E> {
    return this.#empty().merge(this);
  }

  /** Whether both hold the same elements, dots and context. */
  equals(other: ORSet<E>): boolean {
    return JSON.stringify(this.#canonical()) === JSON.stringify(other.#canonical());
  }

  /** The causal context's cloud size: dots seen beyond gaps (0 after full sync). */
  get contextCloudSize(): number {
    return this.#context.cloudSize;
  }

  /** JSON form, sorted: equal sets serialise identically. */
  toJSON(): ORSetJSON<E> {
    return {
      entries: [...this.#entries.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([, entry]) => [entry.element, sortedDots(entry.dots.values())]),
      context: this.#context.toJSON(),
    };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON<E>(value: unknown, options?: ElementOptions<E>): ORSet<E> {
    const record = value as Partial<ORSetJSON<E>> | null;
    if (typeof record !== 'object' || record === null || !Array.isArray(record.entries)) {
      throw new CrdtEncodingError('ORSet JSON: expected { entries, context }.');
    }
    const set = new ORSet<E>(options);
    set.#context.merge(CausalContext.fromJSON(record.context, 'ORSet JSON context'));
    for (const entry of record.entries) {
      if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) {
        throw new CrdtEncodingError('ORSet JSON: each entry must be [element, dots].');
      }
      const key = set.#keyOf(entry[0] as E);
      const dots = new Map<string, Dot>();
      for (const pair of entry[1]) {
        const dot = readDotTuple(pair, 'ORSet JSON');
        if (!set.#context.covers(dot)) {
          throw new CrdtEncodingError(`ORSet JSON: dot ${dotKey(dot)} is not in the context.`);
        }
        dots.set(dotKey(dot), dot);
      }
      if (dots.size === 0 || set.#entries.has(key)) {
        throw new CrdtEncodingError('ORSet JSON: an element has no dots or appears twice.');
      }
      set.#entries.set(key, { element: entry[0] as E, dots });
    }
    return set;
  }

  #canonical(): unknown {
    return this.toJSON();
  }

  #empty(): ORSet<E> {
    return new ORSet<E>({ keyOf: this.#keyOf });
  }
}

/** Dots as sorted `[replica, counter]` pairs. */
export function sortedDots(dots: Iterable<Dot>): [string, number][] {
  return [...dots]
    .map((dot): [string, number] => [dot.replica, dot.counter])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
}
