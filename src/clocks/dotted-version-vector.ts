/**
 * Dotted version vectors for the siblings of one key in a replicated key-value store.
 *
 * Each stored value carries a *dot*, the one event that wrote it (`replica`, `counter`),
 * and the key carries one causal context: a vector clock covering every write the replica
 * has seen. A client reads the values and the context, and writes back with that context;
 * the replica then discards exactly the siblings the client had seen and keeps the ones
 * written concurrently.
 *
 * Why not a vector clock per value: when clients write through a replica with
 * replica-side ids, a per-value vector clock cannot tell a write made without knowledge
 * of a sibling from one that replaces it, so it either loses concurrent writes or keeps
 * values the client had already replaced (false conflicts that pile up). A dot per value
 * identifies each write exactly, so neither happens.
 *
 * @module
 */

import {
  ByteWriter,
  InvalidArgumentError,
  LimitExceededError,
  requireString,
} from '../core/index.js';
import { ClockByteReader, ClockEncodingError } from './encoding.js';
import { VectorClock } from './vector-clock.js';

/** One write event: the replica that accepted it and its counter there. */
export interface Dot {
  /** The replica that accepted the write. */
  readonly replica: string;
  /** The replica's counter for the write. */
  readonly counter: number;
}

/** A value with the dot of the write that produced it. */
export interface Sibling<V> {
  /** Which write produced the value. */
  readonly dot: Dot;
  /** The value. */
  readonly value: V;
}

/** What a read returns: every concurrent value, and the context to write back with. */
export interface SiblingsRead<V> {
  /** The values written concurrently (one, unless writes raced). */
  readonly values: V[];
  /** The causal context: pass it to the next write so it replaces these values. */
  readonly context: VectorClock;
}

/**
 * The causal state of one key at one replica: its siblings and its context. Immutable;
 * every operation returns a new value.
 *
 * @example
 * ```ts
 * let key = DottedVersionVector.empty<string>();
 * key = key.write('r1', 'v1', VectorClock.empty); // client A, blind write
 * key = key.write('r1', 'v2', VectorClock.empty); // client B, blind write: a sibling
 * const read = key.read(); // values ['v1', 'v2']
 * key = key.write('r1', 'v3', read.context); // replaces both
 * key.read().values; // ['v3']
 * ```
 */
export class DottedVersionVector<V> {
  readonly #siblings: readonly Sibling<V>[];
  readonly #context: VectorClock;

  private constructor(siblings: readonly Sibling<V>[], context: VectorClock) {
    this.#siblings = siblings;
    this.#context = context;
  }

  /** A key never written. */
  static empty<V>(): DottedVersionVector<V> {
    return new DottedVersionVector<V>([], VectorClock.empty);
  }

  /** The current siblings, ordered by dot (replica, then counter). */
  get siblings(): readonly Sibling<V>[] {
    return this.#siblings;
  }

  /** Every write this replica has seen for the key. */
  get context(): VectorClock {
    return this.#context;
  }

  /** The values and the context a client needs for its next write. */
  read(): SiblingsRead<V> {
    return { values: this.#siblings.map((sibling) => sibling.value), context: this.#context };
  }

  /**
   * A client's write of `value`, accepted by `replica`, made after reading `context`.
   * Siblings whose dot the context covers are replaced; the others stay as concurrent
   * siblings. The new value gets the next dot of `replica`.
   */
  write(replica: string, value: V, context: VectorClock): DottedVersionVector<V> {
    requireString('DottedVersionVector.write replica', replica);
    if (!(context instanceof VectorClock)) {
      throw new InvalidArgumentError(
        'DottedVersionVector.write context',
        'DottedVersionVector.write context must be the VectorClock a read returned (VectorClock.empty for a blind write).',
      );
    }
    // The replica's own context normally holds its highest dot; a context from elsewhere
    // can only be ahead if this replica lost state, and reusing a dot would then be wrong.
    const counter = Math.max(this.#context.get(replica), context.get(replica)) + 1;
    if (counter > Number.MAX_SAFE_INTEGER) {
      throw new LimitExceededError(
        Number.MAX_SAFE_INTEGER,
        'DottedVersionVector: counter overflow.',
      );
    }
    const kept = this.#siblings.filter(
      (sibling) => !context.covers(sibling.dot.replica, sibling.dot.counter),
    );
    const dot: Dot = { replica, counter };
    return new DottedVersionVector(
      sortSiblings([...kept, { dot, value }]),
      this.#context.merge(context).increment(replica),
    );
  }

  /**
   * Merges the state of the same key from another replica (anti-entropy, read repair).
   * A sibling survives when both sides have it, or when the other side has never seen
   * its write; a sibling one side has seen and dropped is gone. Commutative, associative
   * and idempotent.
   */
  merge(other: DottedVersionVector<V>): DottedVersionVector<V> {
    if (!(other instanceof DottedVersionVector)) {
      throw new InvalidArgumentError(
        'DottedVersionVector.merge other',
        'DottedVersionVector.merge other must be a DottedVersionVector.',
      );
    }
    const ours = new Set(this.#siblings.map((sibling) => dotKey(sibling.dot)));
    const theirs = new Set(other.#siblings.map((sibling) => dotKey(sibling.dot)));
    const merged: Sibling<V>[] = [];
    for (const sibling of this.#siblings) {
      const key = dotKey(sibling.dot);
      if (theirs.has(key) || !other.#context.covers(sibling.dot.replica, sibling.dot.counter)) {
        merged.push(sibling);
      }
    }
    for (const sibling of other.#siblings) {
      if (
        !ours.has(dotKey(sibling.dot)) &&
        !this.#context.covers(sibling.dot.replica, sibling.dot.counter)
      ) {
        merged.push(sibling);
      }
    }
    return new DottedVersionVector(sortSiblings(merged), this.#context.merge(other.#context));
  }

  /**
   * JSON form: the context as {@link VectorClock.toJSON} gives it, and the siblings as
   * `[replica, counter, value]`, ordered by dot. Values must be JSON values themselves.
   */
  toJSON(): { context: [string, number, number][]; siblings: [string, number, V][] } {
    return {
      context: this.#context.toJSON(),
      siblings: this.#siblings.map((sibling) => [
        sibling.dot.replica,
        sibling.dot.counter,
        sibling.value,
      ]),
    };
  }

  /** Reads the JSON form of {@link DottedVersionVector.toJSON}; throws {@link ClockEncodingError}. */
  static fromJSON<V>(value: unknown): DottedVersionVector<V> {
    const record = value as { context?: unknown; siblings?: unknown } | null;
    if (typeof record !== 'object' || record === null || !Array.isArray(record.siblings)) {
      throw new ClockEncodingError('DottedVersionVector JSON: expected { context, siblings }.');
    }
    const context = VectorClock.fromJSON(record.context);
    const seen = new Set<string>();
    const siblings: Sibling<V>[] = record.siblings.map((item: unknown, index) => {
      if (
        !Array.isArray(item) ||
        item.length !== 3 ||
        typeof item[0] !== 'string' ||
        item[0] === '' ||
        !Number.isSafeInteger(item[1]) ||
        (item[1] as number) < 1
      ) {
        throw new ClockEncodingError(
          `DottedVersionVector JSON: sibling ${index} must be [replica, counter >= 1, value].`,
        );
      }
      const dot = { replica: item[0], counter: item[1] as number };
      if (!context.covers(dot.replica, dot.counter) || seen.has(dotKey(dot))) {
        throw new ClockEncodingError(
          `DottedVersionVector JSON: sibling ${index} has a dot the context does not cover, or a repeated one.`,
        );
      }
      seen.add(dotKey(dot));
      return { dot, value: item[2] as V };
    });
    return new DottedVersionVector(sortSiblings(siblings), context);
  }

  /**
   * Binary form: the context, then the siblings as (replica, counter, value bytes).
   * `encodeValue` turns a value into bytes.
   */
  encode(encodeValue: (value: V) => Uint8Array): Uint8Array {
    const writer = new ByteWriter();
    this.#context.writeTo(writer);
    writer.varint(this.#siblings.length);
    for (const sibling of this.#siblings) {
      writer.string(sibling.dot.replica);
      writer.varint(sibling.dot.counter);
      writer.byteString(encodeValue(sibling.value));
    }
    return writer.finish();
  }

  /** Reads the binary form of {@link DottedVersionVector.encode}; throws {@link ClockEncodingError}. */
  static decode<V>(
    bytes: Uint8Array,
    decodeValue: (bytes: Uint8Array) => V,
  ): DottedVersionVector<V> {
    const reader = new ClockByteReader(bytes, 'DottedVersionVector bytes');
    const context = VectorClock.readFrom(reader);
    const count = reader.varint();
    if (count > reader.remaining) {
      throw new ClockEncodingError(
        `DottedVersionVector bytes: sibling count ${count} exceeds the input size.`,
      );
    }
    const siblings: Sibling<V>[] = [];
    const seen = new Set<string>();
    for (let index = 0; index < count; index += 1) {
      const replica = reader.string();
      const counter = reader.varint();
      const value = reader.byteString();
      const dot = { replica, counter };
      if (
        replica === '' ||
        counter < 1 ||
        !context.covers(replica, counter) ||
        seen.has(dotKey(dot))
      ) {
        throw new ClockEncodingError(
          `DottedVersionVector bytes: sibling ${index} has a dot the context does not cover, or a repeated one.`,
        );
      }
      seen.add(dotKey(dot));
      siblings.push({ dot, value: decodeValue(value) });
    }
    reader.end();
    return new DottedVersionVector(sortSiblings(siblings), context);
  }
}

function dotKey(dot: Dot): string {
  return `${dot.counter}@${dot.replica}`;
}

function sortSiblings<V>(siblings: Sibling<V>[]): Sibling<V>[] {
  return siblings.sort((a, b) =>
    a.dot.replica < b.dot.replica
      ? -1
      : a.dot.replica > b.dot.replica
        ? 1
        : a.dot.counter - b.dot.counter,
  );
}
