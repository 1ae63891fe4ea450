/**
 * Counters: the grow-only G-Counter and the PN-Counter that also decrements. Each replica
 * counts its own increments; the value is the sum; merging takes each replica's maximum.
 * Every mutator returns a delta (only the replica's changed entry) that merges into any
 * replica like a whole state, so replicas ship deltas instead of whole counters.
 *
 * @module
 */

import { InvalidArgumentError, LimitExceededError, requireNumber } from '../core/index.js';
import { CrdtEncodingError, requireReplica } from './causal.js';

/**
 * A grow-only counter.
 *
 * @example
 * ```ts
 * const a = new GCounter();
 * const b = new GCounter();
 * const delta = a.increment('a', 2);
 * b.increment('b');
 * b.merge(delta);
 * b.value(); // 3
 * ```
 */
export class GCounter {
  readonly #counts = new Map<string, number>();

  /** The sum of every replica's count. */
  value(): number {
    let sum = 0;
    for (const count of this.#counts.values()) {
      sum += count;
    }
    return sum;
  }

  /** `replica`'s own count. */
  countOf(replica: string): number {
    return this.#counts.get(replica) ?? 0;
  }

  /** Adds `amount` (a positive safe integer, default 1) for `replica`; returns the delta. */
  increment(replica: string, amount = 1): GCounter {
    requireReplica('GCounter.increment replica', replica);
    requirePositiveAmount('GCounter.increment amount', amount);
    const next = this.countOf(replica) + amount;
    if (!Number.isSafeInteger(next)) {
      throw new LimitExceededError(
        Number.MAX_SAFE_INTEGER,
        `GCounter: the count of ${JSON.stringify(replica)} would pass 2^53 - 1.`,
      );
    }
    this.#counts.set(replica, next);
    const delta = new GCounter();
    delta.#counts.set(replica, next);
    return delta;
  }

  /** Joins `other` (a whole counter or a delta) into this one; returns this. */
  merge(other: GCounter): this {
    requireInstance('GCounter.merge other', other, GCounter);
    for (const [replica, count] of other.#counts) {
      if (count > (this.#counts.get(replica) ?? 0)) {
        this.#counts.set(replica, count);
      }
    }
    return this;
  }

  /** An independent copy. */
  clone(): GCounter {
    return new GCounter().merge(this);
  }

  /** Whether both hold the same per-replica counts. */
  equals(other: GCounter): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** JSON form: `[[replica, count], ...]` sorted by replica. */
  toJSON(): [string, number][] {
    return [...this.#counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON(value: unknown): GCounter {
    if (!Array.isArray(value)) {
      throw new CrdtEncodingError('GCounter JSON: expected an array of [replica, count].');
    }
    const counter = new GCounter();
    for (const entry of value as unknown[]) {
      if (
        !Array.isArray(entry) ||
        entry.length !== 2 ||
        typeof entry[0] !== 'string' ||
        entry[0] === '' ||
        !Number.isSafeInteger(entry[1]) ||
        (entry[1] as number) < 0 ||
        counter.#counts.has(entry[0])
      ) {
        throw new CrdtEncodingError(
          `GCounter JSON: bad or repeated entry ${JSON.stringify(entry)}; expected [replica, count >= 0].`,
        );
      }
      counter.#counts.set(entry[0], entry[1] as number);
    }
    return counter;
  }
}

/**
 * A counter that goes up and down: two G-Counters, one of increments and one of
 * decrements.
 *
 * @example
 * ```ts
 * const cart = new PNCounter();
 * cart.increment('phone', 3);
 * cart.decrement('laptop', 1);
 * cart.value(); // 2
 * ```
 */
export class PNCounter {
  readonly #up: GCounter;
  readonly #down: GCounter;

  constructor(up = new GCounter(), down = new GCounter()) {
    this.#up = up;
    this.#down = down;
  }

  /** Increments minus decrements. */
  value(): number {
    return this.#up.value() - this.#down.value();
  }

  /** Adds `amount` for `replica`; returns the delta. */
  increment(replica: string, amount = 1): PNCounter {
    return new PNCounter(this.#up.increment(replica, amount), new GCounter());
  }

  /** Subtracts `amount` for `replica`; returns the delta. */
  decrement(replica: string, amount = 1): PNCounter {
    return new PNCounter(new GCounter(), this.#down.increment(replica, amount));
  }

  /** Joins `other` (a whole counter or a delta) into this one; returns this. */
  merge(other: PNCounter): this {
    requireInstance('PNCounter.merge other', other, PNCounter);
    this.#up.merge(other.#up);
    this.#down.merge(other.#down);
    return this;
  }

  /** An independent copy. */
  clone(): PNCounter {
    return new PNCounter(this.#up.clone(), this.#down.clone());
  }

  /** Whether both hold the same counts. */
  equals(other: PNCounter): boolean {
    return this.#up.equals(other.#up) && this.#down.equals(other.#down);
  }

  /** JSON form: `{ up, down }`, each a G-Counter's JSON. */
  toJSON(): { up: [string, number][]; down: [string, number][] } {
    return { up: this.#up.toJSON(), down: this.#down.toJSON() };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON(value: unknown): PNCounter {
    const record = value as { up?: unknown; down?: unknown } | null;
    if (typeof record !== 'object' || record === null) {
      throw new CrdtEncodingError('PNCounter JSON: expected { up, down }.');
    }
    return new PNCounter(GCounter.fromJSON(record.up), GCounter.fromJSON(record.down));
  }
}

/** Checks an increment amount. */
export function requirePositiveAmount(name: string, amount: number): void {
  requireNumber(name, amount, { min: 1 });
  if (!Number.isSafeInteger(amount)) {
    throw new InvalidArgumentError(name, `${name} must be a positive safe integer; got ${amount}.`);
  }
}

/** Checks that `value` is an instance of `type` (merging a wrong type would corrupt state). */
export function requireInstance(
  name: string,
  value: unknown,
  type: abstract new (...args: never[]) => unknown,
): void {
  if (!(value instanceof type)) {
    throw new InvalidArgumentError(name, `${name} must be a ${type.name}.`);
  }
}
