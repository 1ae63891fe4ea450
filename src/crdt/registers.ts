/**
 * Registers: the last-writer-wins register on hybrid logical clock timestamps, and the
 * multi-value register that keeps every concurrent write for the application to resolve.
 *
 * @module
 */

import { compareHybridTimestamps, type HybridTimestamp } from '../clocks/index.js';
import { InvalidArgumentError } from '../core/index.js';
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

/** JSON form of a {@link LWWRegister}. */
export interface LWWRegisterJSON<V> {
  /** The winning write, or `null` for a register never written. */
  readonly write: { value: V; wallMs: number; logical: number; replica: string } | null;
}

/**
 * A last-writer-wins register. Each write carries a hybrid logical clock timestamp (from
 * `HybridLogicalClock.now()` in `distkit/clocks`) and the writing replica; the greatest
 * (timestamp, replica) wins, so every replica picks the same winner. Concurrent writes
 * other than the winner are lost by design: use an {@link MVRegister} to keep them.
 *
 * @example
 * ```ts
 * const a = new LWWRegister<string>();
 * a.assign('draft', { wallMs: 1000, logical: 0 }, 'a');
 * const b = new LWWRegister<string>();
 * b.assign('final', { wallMs: 1000, logical: 1 }, 'b');
 * a.merge(b).value(); // 'final'
 * ```
 */
export class LWWRegister<V> {
  #write: { value: V; timestamp: HybridTimestamp; replica: string } | undefined;

  /** The winning value, or `undefined` when never written. */
  value(): V | undefined {
    return this.#write?.value;
  }

  /** The winning write's timestamp, or `undefined`. */
  get timestamp(): HybridTimestamp | undefined {
    return this.#write?.timestamp;
  }

  /**
   * Writes `value` with `timestamp` from `replica`; returns the delta. A write older than
   * the current winner is kept out, as it would be on any replica.
   */
  assign(value: V, timestamp: HybridTimestamp, replica: string): LWWRegister<V> {
    requireReplica('LWWRegister.assign replica', replica);
    if (
      typeof timestamp !== 'object' ||
      timestamp === null ||
      !Number.isSafeInteger(timestamp.wallMs) ||
      !Number.isSafeInteger(timestamp.logical) ||
      timestamp.wallMs < 0 ||
      timestamp.logical < 0
    ) {
      throw new InvalidArgumentError(
        'LWWRegister.assign timestamp',
        'LWWRegister.assign timestamp must be a hybrid timestamp { wallMs, logical } (see HybridLogicalClock.now()).',
      );
    }
    const delta = new LWWRegister<V>();
    delta.#write = { value, timestamp: { ...timestamp }, replica };
    this.merge(delta);
    return delta;
  }

  /** Joins `other` into this register: the greater write wins; returns this. */
  merge(other: LWWRegister<V>): this {
    requireInstance('LWWRegister.merge other', other, LWWRegister);
    const theirs = other.#write;
    const ours = this.#write;
    if (theirs !== undefined && (ours === undefined || compareWrites(theirs, ours) > 0)) {
      this.#write = theirs;
    }
    return this;
  }

  /** An independent copy. */
  clone(): LWWRegister<V> {
    return new LWWRegister<V>().merge(this);
  }

  /** Whether both hold the same winning write. */
  equals(other: LWWRegister<V>): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** JSON form. */
  toJSON(): LWWRegisterJSON<V> {
    const write = this.#write;
    return {
      write:
        write === undefined
          ? null
          : {
              value: write.value,
              wallMs: write.timestamp.wallMs,
              logical: write.timestamp.logical,
              replica: write.replica,
            },
    };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON<V>(value: unknown): LWWRegister<V> {
    const record = value as Partial<LWWRegisterJSON<V>> | null;
    if (typeof record !== 'object' || record === null || !('write' in record)) {
      throw new CrdtEncodingError('LWWRegister JSON: expected { write }.');
    }
    const register = new LWWRegister<V>();
    if (record.write !== null && record.write !== undefined) {
      const { value: written, wallMs, logical, replica } = record.write;
      try {
        register.assign(written, { wallMs, logical }, replica);
      } catch (error) {
        throw new CrdtEncodingError('LWWRegister JSON: the write is malformed.', { cause: error });
      }
    }
    return register;
  }
}

function compareWrites<V>(
  a: { value: V; timestamp: HybridTimestamp; replica: string },
  b: { value: V; timestamp: HybridTimestamp; replica: string },
): number {
  const byTime = compareHybridTimestamps(a.timestamp, b.timestamp);
  if (byTime !== 0) {
    return byTime;
  }
  if (a.replica !== b.replica) {
    return a.replica < b.replica ? -1 : 1;
  }
  // One replica, one timestamp, two values only happens when a clock is misused; still
  // pick the same winner everywhere.
  const x = JSON.stringify(a.value) ?? '';
  const y = JSON.stringify(b.value) ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

interface ValueEntry<V> {
  readonly dot: Dot;
  readonly value: V;
}

/** JSON form of an {@link MVRegister}. */
export interface MVRegisterJSON<V> {
  /** The concurrent values with their dots. */
  readonly values: [[string, number], V][];
  /** Every dot seen. */
  readonly context: CausalContextJSON;
}

const dotOfEntry = <V>(entry: ValueEntry<V>): Dot => entry.dot;

/**
 * A multi-value register: a write replaces the values its replica has seen; writes made
 * concurrently are all kept, and a read returns them all for the application to resolve
 * (the next write, made after reading them, replaces them).
 *
 * @example
 * ```ts
 * const a = new MVRegister<string>();
 * const b = new MVRegister<string>();
 * const x = a.assign('a', 'blue');
 * const y = b.assign('b', 'green');
 * a.merge(y);
 * b.merge(x);
 * a.values(); // ['blue', 'green'] on both replicas
 * ```
 */
export class MVRegister<V> {
  readonly #entries = new Map<string, ValueEntry<V>>();
  readonly #context = new CausalContext();

  /** The concurrent values, ordered by the dot that wrote them. */
  values(): V[] {
    return [...this.#entries.values()].sort(byDot).map((entry) => entry.value);
  }

  /** Writes `value` at `replica`, replacing every value seen; returns the delta. */
  assign(replica: string, value: V): MVRegister<V> {
    requireReplica('MVRegister.assign replica', replica);
    const dot = this.#context.nextDot(replica);
    const delta = new MVRegister<V>();
    for (const entry of this.#entries.values()) {
      delta.#context.add(entry.dot);
    }
    this.#entries.clear();
    const entry = { dot, value };
    this.#entries.set(dotKey(dot), entry);
    this.#context.add(dot);
    delta.#entries.set(dotKey(dot), entry);
    delta.#context.add(dot);
    return delta;
  }

  /** Joins `other` (a whole register or a delta) into this one; returns this. */
  merge(other: MVRegister<V>): this {
    requireInstance('MVRegister.merge other', other, MVRegister);
    const joined = joinDotStores(
      this.#entries,
      this.#context,
      other.#entries,
      other.#context,
      dotOfEntry,
    );
    this.#entries.clear();
    for (const [key, entry] of joined) {
      this.#entries.set(key, entry);
    }
    this.#context.merge(other.#context);
    return this;
  }

  /** An independent copy. */
  clone(): MVRegister<V> {
    return new MVRegister<V>().merge(this);
  }

  /** Whether both hold the same values, dots and context. */
  equals(other: MVRegister<V>): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** JSON form, sorted. */
  toJSON(): MVRegisterJSON<V> {
    return {
      values: [...this.#entries.values()]
        .sort(byDot)
        .map((entry) => [[entry.dot.replica, entry.dot.counter], entry.value]),
      context: this.#context.toJSON(),
    };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON<V>(value: unknown): MVRegister<V> {
    const record = value as Partial<MVRegisterJSON<V>> | null;
    if (typeof record !== 'object' || record === null || !Array.isArray(record.values)) {
      throw new CrdtEncodingError('MVRegister JSON: expected { values, context }.');
    }
    const register = new MVRegister<V>();
    register.#context.merge(CausalContext.fromJSON(record.context, 'MVRegister JSON context'));
    for (const item of record.values) {
      if (!Array.isArray(item) || item.length !== 2) {
        throw new CrdtEncodingError(
          'MVRegister JSON: each value must be [[replica, counter], value].',
        );
      }
      const dot = readDotTuple(item[0], 'MVRegister JSON');
      if (!register.#context.covers(dot) || register.#entries.has(dotKey(dot))) {
        throw new CrdtEncodingError(
          `MVRegister JSON: dot ${dotKey(dot)} is repeated or not in the context.`,
        );
      }
      register.#entries.set(dotKey(dot), { dot, value: item[1] as V });
    }
    return register;
  }
}

function byDot<V>(a: ValueEntry<V>, b: ValueEntry<V>): number {
  return a.dot.replica < b.dot.replica
    ? -1
    : a.dot.replica > b.dot.replica
      ? 1
      : a.dot.counter - b.dot.counter;
}
