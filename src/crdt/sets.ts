/**
 * The simple sets: the grow-only G-Set and the two-phase set, whose removals are final.
 * For a set where elements come and go, use the OR-Set.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';
import { CrdtEncodingError } from './causal.js';
import { requireInstance } from './counters.js';
import { type ElementKeyOf, type ElementOptions, keyFunction } from './elements.js';

/**
 * A grow-only set: elements are added, never removed; merge is union.
 *
 * @example
 * ```ts
 * const a = new GSet<string>();
 * const delta = a.add('x');
 * const b = new GSet<string>().merge(delta);
 * b.has('x'); // true
 * ```
 */
export class GSet<E> {
  readonly #keyOf: ElementKeyOf<E>;
  readonly #elements = new Map<string, E>();

  constructor(options?: ElementOptions<E>) {
    this.#keyOf = keyFunction('GSet', options);
  }

  /** Adds `element`; returns the delta. */
  add(element: E): GSet<E> {
    const key = this.#keyOf(element);
    this.#elements.set(key, element);
    const delta = this.#empty();
    delta.#elements.set(key, element);
    return delta;
  }

  /** Whether `element` is in the set. */
  has(element: E): boolean {
    return this.#elements.has(this.#keyOf(element));
  }

  /** The elements, ordered by key. */
  values(): E[] {
    return [...this.#elements.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map((entry) => entry[1]);
  }

  /** How many elements. */
  get size(): number {
    return this.#elements.size;
  }

  /** Joins `other` into this set; returns this. */
  merge(other: GSet<E>): this {
    requireInstance('GSet.merge other', other, GSet);
    for (const [key, element] of other.#elements) {
      this.#elements.set(key, element);
    }
    return this;
  }

  /** An independent copy. */
  clone(): GSet<E> {
    return this.#empty().merge(this);
  }

  /** Whether both hold the same elements. */
  equals(other: GSet<E>): boolean {
    return (
      this.#elements.size === other.#elements.size &&
      [...this.#elements.keys()].every((key) => other.#elements.has(key))
    );
  }

  /** JSON form: the elements, ordered by key. */
  toJSON(): E[] {
    return this.values();
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON<E>(value: unknown, options?: ElementOptions<E>): GSet<E> {
    if (!Array.isArray(value)) {
      throw new CrdtEncodingError('GSet JSON: expected an array of elements.');
    }
    const set = new GSet<E>(options);
    for (const element of value as E[]) {
      set.add(element);
    }
    return set;
  }

  #empty(): GSet<E> {
    return new GSet<E>({ keyOf: this.#keyOf });
  }
}

/** Why a two-phase set refused an operation. */
export type TwoPhaseSetProblem = 'already-removed' | 'not-present';

/** A two-phase set refused an operation: re-adding a removed element, or removing an absent one. */
export class TwoPhaseSetError extends DistkitError {
  /** What was wrong. */
  readonly problem: TwoPhaseSetProblem;

  constructor(problem: TwoPhaseSetProblem, message: string, options?: DistkitErrorOptions) {
    super('TWO_PHASE_SET', message, options);
    this.problem = problem;
  }
}

/** Brand guard for {@link TwoPhaseSetError}. */
export const isTwoPhaseSetError = errorGuard<TwoPhaseSetError>('TWO_PHASE_SET');

/**
 * A two-phase set: a G-Set of additions and a G-Set of removals. A removal is final: a
 * removed element can never come back, on any replica.
 *
 * @example
 * ```ts
 * const set = new TwoPhaseSet<string>();
 * set.add('ticket-1');
 * set.remove('ticket-1');
 * set.has('ticket-1'); // false, for good
 * ```
 */
export class TwoPhaseSet<E> {
  readonly #options: ElementOptions<E> | undefined;
  readonly #added: GSet<E>;
  readonly #removed: GSet<E>;

  constructor(options?: ElementOptions<E>) {
    this.#options = options;
    this.#added = new GSet<E>(options);
    this.#removed = new GSet<E>(options);
  }

  /**
   * Adds `element`; returns the delta. Throws {@link TwoPhaseSetError} when it was
   * removed before (removals are final).
   */
  add(element: E): TwoPhaseSet<E> {
    if (this.#removed.has(element)) {
      throw new TwoPhaseSetError(
        'already-removed',
        `TwoPhaseSet.add: ${JSON.stringify(element)} was removed, and removals are final; use an ORSet when elements come back.`,
      );
    }
    const delta = this.#emptyLike();
    delta.#added.merge(this.#added.add(element));
    return delta;
  }

  /** Removes `element`; returns the delta. Throws {@link TwoPhaseSetError} when it is not present. */
  remove(element: E): TwoPhaseSet<E> {
    if (!this.has(element)) {
      throw new TwoPhaseSetError(
        'not-present',
        `TwoPhaseSet.remove: ${JSON.stringify(element)} is not in the set; only present elements can be removed.`,
      );
    }
    const delta = this.#emptyLike();
    delta.#removed.merge(this.#removed.add(element));
    return delta;
  }

  /** Whether `element` was added and never removed. */
  has(element: E): boolean {
    return this.#added.has(element) && !this.#removed.has(element);
  }

  /** The present elements, ordered by key. */
  values(): E[] {
    return this.#added.values().filter((element) => !this.#removed.has(element));
  }

  /** Joins `other` into this set; returns this. */
  merge(other: TwoPhaseSet<E>): this {
    requireInstance('TwoPhaseSet.merge other', other, TwoPhaseSet);
    this.#added.merge(other.#added);
    this.#removed.merge(other.#removed);
    return this;
  }

  /** An independent copy. */
  clone(): TwoPhaseSet<E> {
    return this.#emptyLike().merge(this);
  }

  /** Whether both hold the same additions and removals. */
  equals(other: TwoPhaseSet<E>): boolean {
    return this.#added.equals(other.#added) && this.#removed.equals(other.#removed);
  }

  /** JSON form: `{ added, removed }`. */
  toJSON(): { added: E[]; removed: E[] } {
    return { added: this.#added.toJSON(), removed: this.#removed.toJSON() };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON<E>(value: unknown, options?: ElementOptions<E>): TwoPhaseSet<E> {
    const record = value as { added?: unknown; removed?: unknown } | null;
    if (typeof record !== 'object' || record === null) {
      throw new CrdtEncodingError('TwoPhaseSet JSON: expected { added, removed }.');
    }
    const set = new TwoPhaseSet<E>(options);
    set.#added.merge(GSet.fromJSON(record.added, options));
    set.#removed.merge(GSet.fromJSON(record.removed, options));
    return set;
  }

  #emptyLike(): TwoPhaseSet<E> {
    return new TwoPhaseSet<E>(this.#options);
  }
}
