/**
 * The observed-remove map of CRDTs. Every key holds an embedded value of one *kind*
 * (a multi-value register, a counter, an OR-Set or an enable-wins flag), and every
 * embedded value is a set of dots with payloads sharing the map's one causal context.
 * That sharing is what makes removal right: removing a key drops the dots it observed,
 * so the value is reset, not hidden, and an update made concurrently with the removal
 * (dots the remover never saw) survives.
 *
 * Embedded counters keep one dot per replica carrying that replica's running total. A
 * removal resets the totals it observed; an increment concurrent with the removal keeps
 * its replica's whole running total (it cannot know about the removal), the same
 * trade-off as Riak's embedded counters, and the price of a counter whose size does not
 * grow with the number of increments.
 *
 * Embedded values are one level deep: a map of maps is not offered (a key can be a path
 * instead).
 *
 * @module
 */

import { InvalidArgumentError, requireInteger } from '../core/index.js';
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
import { type ElementKeyOf, type ElementOptions, keyFunction, primitiveKey } from './elements.js';

/** One live update of an embedded value: its dot and what it carries. */
export interface EmbeddedEntry {
  /** The update. */
  readonly dot: Dot;
  /** What the update carries (a register value, a counter total, a set element, `true`). */
  readonly payload: unknown;
}

/** What an operation on an embedded value does to its entries. */
export interface EmbeddedPlan {
  /** The entries it replaces (their dots are removed). */
  readonly replaced: readonly EmbeddedEntry[];
  /** Whether it adds a new entry, and with what payload. */
  readonly adds: boolean;
  /** The new entry's payload when `adds`. */
  readonly payload?: unknown;
}

/**
 * A kind of embedded value: how its entries read as a value of type `R`, and how an
 * operation of type `O` changes them. Use {@link registerKind}, {@link counterKind},
 * {@link setKind} or {@link flagKind}.
 */
export interface EmbeddedKind<R, O> {
  /** The kind's name, for messages and JSON. */
  readonly name: string;
  /** The value of a key from its live entries (never empty). */
  read(entries: readonly EmbeddedEntry[]): R;
  /** What `operation` by `replica` does to the key's live entries (possibly empty). */
  plan(entries: readonly EmbeddedEntry[], operation: O, replica: string): EmbeddedPlan;
}

function sortEntries(entries: readonly EmbeddedEntry[]): EmbeddedEntry[] {
  return [...entries].sort((a, b) =>
    a.dot.replica < b.dot.replica
      ? -1
      : a.dot.replica > b.dot.replica
        ? 1
        : a.dot.counter - b.dot.counter,
  );
}

/** Multi-value registers: an update assigns a value; concurrent assignments are all kept. */
export function registerKind<V>(): EmbeddedKind<V[], V> {
  return {
    name: 'register',
    read: (entries) => sortEntries(entries).map((entry) => entry.payload as V),
    plan: (entries, value) => ({ replaced: entries, adds: true, payload: value }),
  };
}

/** Counters: an update adds a (non-zero, possibly negative) safe integer. */
export const counterKind: EmbeddedKind<number, number> = {
  name: 'counter',
  read: (entries) => entries.reduce((sum, entry) => sum + (entry.payload as number), 0),
  plan: (entries, amount, replica) => {
    requireInteger('counter update amount', amount);
    if (amount === 0) {
      throw new InvalidArgumentError(
        'counter update amount',
        'counter update amount must not be 0.',
      );
    }
    const own = entries.filter((entry) => entry.dot.replica === replica);
    const total = own.reduce((sum, entry) => sum + (entry.payload as number), 0) + amount;
    if (!Number.isSafeInteger(total)) {
      throw new InvalidArgumentError(
        'counter update amount',
        'the counter would leave the safe integer range.',
      );
    }
    return { replaced: own, adds: true, payload: total };
  },
};

/** An operation on an embedded set. */
export type SetOperation<E> = { readonly add: E } | { readonly remove: E };

/** OR-Sets (add-wins): an update adds or removes an element. */
export function setKind<E>(options?: ElementOptions<E>): EmbeddedKind<E[], SetOperation<E>> {
  const keyOf = keyFunction('setKind', options);
  return {
    name: 'set',
    read: (entries) => {
      const elements = new Map<string, E>();
      for (const entry of entries) {
        elements.set(keyOf(entry.payload as E), entry.payload as E);
      }
      return [...elements.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((pair) => pair[1]);
    },
    plan: (entries, operation) => {
      const adding = typeof operation === 'object' && operation !== null && 'add' in operation;
      if (
        !adding &&
        !(typeof operation === 'object' && operation !== null && 'remove' in operation)
      ) {
        throw new InvalidArgumentError(
          'set update',
          'a set update must be { add: element } or { remove: element }.',
        );
      }
      const element = adding ? (operation as { add: E }).add : (operation as { remove: E }).remove;
      const key = keyOf(element);
      const replaced = entries.filter((entry) => keyOf(entry.payload as E) === key);
      return adding ? { replaced, adds: true, payload: element } : { replaced, adds: false };
    },
  };
}

/** Enable-wins flags: `true` enables, `false` disables; a concurrent enable wins. */
export const flagKind: EmbeddedKind<boolean, boolean> = {
  name: 'flag',
  read: (entries) => entries.length > 0,
  plan: (entries, enable) => {
    if (typeof enable !== 'boolean') {
      throw new InvalidArgumentError(
        'flag update',
        'a flag update must be true (enable) or false (disable).',
      );
    }
    return enable
      ? { replaced: entries, adds: true, payload: true }
      : { replaced: entries, adds: false };
  },
};

interface KeyEntry<K> {
  readonly key: K;
  readonly entries: Map<string, EmbeddedEntry>;
}

/** JSON form of an {@link ORMap}. */
export interface ORMapJSON<K> {
  /** The kind of the embedded values. */
  readonly kind: string;
  /** Each key with its live entries as `[[replica, counter], payload]`. */
  readonly keys: [K, [[string, number], unknown][]][];
  /** Every dot seen. */
  readonly context: CausalContextJSON;
}

const dotOf = (entry: EmbeddedEntry): Dot => entry.dot;

/**
 * An observed-remove map whose values are CRDTs of one kind, with delta mutators.
 *
 * @example
 * ```ts
 * const cart = new ORMap<string, number, number>(counterKind);
 * const phone = new ORMap<string, number, number>(counterKind);
 * phone.merge(cart.update('phone', 'web', 2));
 * phone.merge(cart.update('case', 'web', 1));
 * phone.get('phone'); // 2
 * ```
 */
export class ORMap<K, R, O> {
  /** The kind of every value. */
  readonly kind: EmbeddedKind<R, O>;
  readonly #keyOf: ElementKeyOf<K>;
  readonly #keys = new Map<string, KeyEntry<K>>();
  readonly #context = new CausalContext();

  constructor(kind: EmbeddedKind<R, O>, options?: ElementOptions<K>) {
    if (
      typeof kind !== 'object' ||
      kind === null ||
      typeof kind.read !== 'function' ||
      typeof kind.plan !== 'function'
    ) {
      throw new InvalidArgumentError(
        'ORMap kind',
        'ORMap kind must be an EmbeddedKind such as counterKind, flagKind, registerKind() or setKind().',
      );
    }
    this.kind = kind;
    this.#keyOf = options?.keyOf === undefined ? primitiveKey : keyFunction('ORMap', options);
  }

  /** The value of `key`, or `undefined` when it is absent. */
  get(key: K): R | undefined {
    const entry = this.#keys.get(this.#keyOf(key));
    return entry === undefined ? undefined : this.kind.read([...entry.entries.values()]);
  }

  /** Whether `key` is present. */
  has(key: K): boolean {
    return this.#keys.has(this.#keyOf(key));
  }

  /** The present keys, ordered by their identity. */
  keys(): K[] {
    return this.#sorted().map((entry) => entry.key);
  }

  /** The present keys with their values. */
  entries(): [K, R][] {
    return this.#sorted().map((entry) => [entry.key, this.kind.read([...entry.entries.values()])]);
  }

  /** How many keys are present. */
  get size(): number {
    return this.#keys.size;
  }

  /** Applies `operation` to the value of `key` at `replica` (creating it); returns the delta. */
  update(key: K, replica: string, operation: O): ORMap<K, R, O> {
    requireReplica('ORMap.update replica', replica);
    const identity = this.#keyOf(key);
    const current = this.#keys.get(identity);
    const plan = this.kind.plan(
      current === undefined ? [] : [...current.entries.values()],
      operation,
      replica,
    );
    const delta = this.#empty();
    const kept = new Map(current?.entries ?? []);
    for (const replaced of plan.replaced) {
      kept.delete(dotKey(replaced.dot));
      delta.#context.add(replaced.dot);
    }
    if (plan.adds) {
      const dot = this.#context.nextDot(replica);
      const entry: EmbeddedEntry = { dot, payload: plan.payload };
      kept.set(dotKey(dot), entry);
      this.#context.add(dot);
      delta.#context.add(dot);
      delta.#keys.set(identity, { key, entries: new Map([[dotKey(dot), entry]]) });
    }
    this.#store(identity, key, kept);
    return delta;
  }

  /** Removes `key` and resets its value as observed here; returns the delta. */
  remove(key: K): ORMap<K, R, O> {
    const identity = this.#keyOf(key);
    const delta = this.#empty();
    const current = this.#keys.get(identity);
    if (current !== undefined) {
      for (const entry of current.entries.values()) {
        delta.#context.add(entry.dot);
      }
      this.#keys.delete(identity);
    }
    return delta;
  }

  /** Joins `other` (a whole map or a delta of the same kind) into this one; returns this. */
  merge(other: ORMap<K, R, O>): this {
    requireInstance('ORMap.merge other', other, ORMap);
    if (other.kind.name !== this.kind.name) {
      throw new InvalidArgumentError(
        'ORMap.merge other',
        `ORMap.merge: cannot merge a map of ${other.kind.name} values into a map of ${this.kind.name} values.`,
      );
    }
    const empty = new Map<string, EmbeddedEntry>();
    for (const identity of new Set([...this.#keys.keys(), ...other.#keys.keys()])) {
      const ours = this.#keys.get(identity);
      const theirs = other.#keys.get(identity);
      const joined = joinDotStores(
        ours?.entries ?? empty,
        this.#context,
        theirs?.entries ?? empty,
        other.#context,
        dotOf,
      );
      this.#store(identity, (ours ?? theirs)?.key as K, joined);
    }
    this.#context.merge(other.#context);
    return this;
  }

  /** An independent copy. */
  clone(): ORMap<K, R, O> {
    return this.#empty().merge(this);
  }

  /** Whether both hold the same keys, entries and context. */
  equals(other: ORMap<K, R, O>): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** JSON form, sorted: equal maps serialise identically. */
  toJSON(): ORMapJSON<K> {
    return {
      kind: this.kind.name,
      keys: this.#sorted().map((entry) => [
        entry.key,
        sortEntries([...entry.entries.values()]).map((item): [[string, number], unknown] => [
          [item.dot.replica, item.dot.counter],
          item.payload,
        ]),
      ]),
      context: this.#context.toJSON(),
    };
  }

  /** Reads the JSON form for values of `kind`; throws {@link CrdtEncodingError}. */
  static fromJSON<K, R, O>(
    value: unknown,
    kind: EmbeddedKind<R, O>,
    options?: ElementOptions<K>,
  ): ORMap<K, R, O> {
    const map = new ORMap<K, R, O>(kind, options);
    const record = value as Partial<ORMapJSON<K>> | null;
    if (typeof record !== 'object' || record === null || !Array.isArray(record.keys)) {
      throw new CrdtEncodingError('ORMap JSON: expected { kind, keys, context }.');
    }
    if (record.kind !== kind.name) {
      throw new CrdtEncodingError(
        `ORMap JSON: holds ${JSON.stringify(record.kind)} values, not ${kind.name} values.`,
      );
    }
    map.#context.merge(CausalContext.fromJSON(record.context, 'ORMap JSON context'));
    for (const item of record.keys) {
      if (
        !Array.isArray(item) ||
        item.length !== 2 ||
        !Array.isArray(item[1]) ||
        item[1].length === 0
      ) {
        throw new CrdtEncodingError('ORMap JSON: each key must be [key, non-empty entries].');
      }
      const identity = map.#keyOf(item[0] as K);
      const entries = new Map<string, EmbeddedEntry>();
      for (const pair of item[1] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new CrdtEncodingError(
            'ORMap JSON: each entry must be [[replica, counter], payload].',
          );
        }
        const dot = readDotTuple(pair[0], 'ORMap JSON');
        if (!map.#context.covers(dot) || entries.has(dotKey(dot))) {
          throw new CrdtEncodingError(
            `ORMap JSON: dot ${dotKey(dot)} is repeated or not in the context.`,
          );
        }
        entries.set(dotKey(dot), { dot, payload: pair[1] });
      }
      if (map.#keys.has(identity)) {
        throw new CrdtEncodingError('ORMap JSON: a key appears twice.');
      }
      map.#keys.set(identity, { key: item[0] as K, entries });
    }
    return map;
  }

  #store(identity: string, key: K, entries: Map<string, EmbeddedEntry>): void {
    if (entries.size === 0) {
      this.#keys.delete(identity);
    } else {
      this.#keys.set(identity, { key, entries });
    }
  }

  #sorted(): KeyEntry<K>[] {
    return [...this.#keys.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map((pair) => pair[1]);
  }

  #empty(): ORMap<K, R, O> {
    return new ORMap<K, R, O>(this.kind, { keyOf: this.#keyOf });
  }
}
