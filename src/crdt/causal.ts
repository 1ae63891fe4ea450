/**
 * The causal machinery of the dot-based CRDTs (OR-Set, MV-Register, OR-Map): dots, a
 * causal context that remembers every dot a replica has seen, and the join of dot stores.
 *
 * A *dot* `(replica, counter)` names one update. A *causal context* is the set of dots
 * seen, kept compact as a version vector plus the few dots above a gap (a "dot cloud",
 * which deltas create). Joining two dot stores keeps a dot when both sides have it or
 * when the other side has never seen it; a dot one side has seen and dropped was removed.
 * That rule is what lets removals work without tombstones: a removed element leaves
 * nothing behind but its dots in the context, and those compact into the version vector.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  LimitExceededError,
  requireString,
} from '../core/index.js';

/** One update: the replica that made it and that replica's counter. */
export interface Dot {
  /** The replica that made the update. */
  readonly replica: string;
  /** The replica's counter for it, from 1. */
  readonly counter: number;
}

/** A CRDT's encoded form is malformed; nothing was changed. */
export class CrdtEncodingError extends DistkitError {
  constructor(message: string, options?: DistkitErrorOptions) {
    super('CRDT_ENCODING', message, options);
  }
}

/** Brand guard for {@link CrdtEncodingError}. */
export const isCrdtEncodingError = errorGuard<CrdtEncodingError>('CRDT_ENCODING');

/** The map key of a dot. */
export function dotKey(dot: Dot): string {
  return `${dot.counter}@${dot.replica}`;
}

/** Checks a replica id (a non-empty string) and returns it. */
export function requireReplica(name: string, replica: unknown): string {
  return requireString(name, replica);
}

/** JSON form of a causal context: the version vector and the dots above its gaps. */
export interface CausalContextJSON {
  /** `[replica, counter]`: every dot of `replica` up to `counter` was seen. */
  readonly vector: [string, number][];
  /** `[replica, counter]` dots seen beyond the vector. */
  readonly cloud: [string, number][];
}

/**
 * The set of dots a replica has seen: a version vector plus a cloud of dots beyond it.
 * Adding a dot right after a replica's vector entry compacts the cloud into the vector.
 */
export class CausalContext {
  readonly #vector = new Map<string, number>();
  readonly #cloud = new Map<string, Set<number>>();

  /** Whether `dot` has been seen. */
  covers(dot: Dot): boolean {
    return (
      dot.counter <= (this.#vector.get(dot.replica) ?? 0) ||
      (this.#cloud.get(dot.replica)?.has(dot.counter) ?? false)
    );
  }

  /** The next dot `replica` should use: one past everything seen from it. */
  nextDot(replica: string): Dot {
    let counter = this.#vector.get(replica) ?? 0;
    const cloud = this.#cloud.get(replica);
    if (cloud !== undefined) {
      for (const seen of cloud) {
        if (seen > counter) {
          counter = seen;
        }
      }
    }
    if (counter >= Number.MAX_SAFE_INTEGER) {
      throw new LimitExceededError(
        Number.MAX_SAFE_INTEGER,
        `the dot counter of replica ${JSON.stringify(replica)} reached 2^53 - 1.`,
      );
    }
    return { replica, counter: counter + 1 };
  }

  /** Records `dot` as seen. */
  add(dot: Dot): void {
    const top = this.#vector.get(dot.replica) ?? 0;
    if (dot.counter <= top) {
      return;
    }
    if (dot.counter === top + 1) {
      this.#vector.set(dot.replica, dot.counter);
      this.#compact(dot.replica);
      return;
    }
    let cloud = this.#cloud.get(dot.replica);
    if (cloud === undefined) {
      cloud = new Set();
      this.#cloud.set(dot.replica, cloud);
    }
    cloud.add(dot.counter);
  }

  /** Adds every dot `other` has seen. */
  merge(other: CausalContext): void {
    for (const [replica, counter] of other.#vector) {
      if (counter > (this.#vector.get(replica) ?? 0)) {
        this.#vector.set(replica, counter);
        this.#compact(replica);
      }
    }
    for (const [replica, cloud] of other.#cloud) {
      for (const counter of cloud) {
        this.add({ replica, counter });
      }
    }
  }

  /** An independent copy. */
  clone(): CausalContext {
    const copy = new CausalContext();
    copy.merge(this);
    return copy;
  }

  /** Whether both contexts have seen exactly the same dots. */
  equals(other: CausalContext): boolean {
    return JSON.stringify(this.toJSON()) === JSON.stringify(other.toJSON());
  }

  /** How many dots sit in the cloud (0 once every gap has been filled). */
  get cloudSize(): number {
    let size = 0;
    for (const cloud of this.#cloud.values()) {
      size += cloud.size;
    }
    return size;
  }

  /** The JSON form, sorted, so equal contexts serialise identically. */
  toJSON(): CausalContextJSON {
    const vector = [...this.#vector.entries()].sort(byReplica);
    const cloud: [string, number][] = [];
    for (const [replica, counters] of [...this.#cloud.entries()].sort(byReplica)) {
      for (const counter of [...counters].sort((a, b) => a - b)) {
        cloud.push([replica, counter]);
      }
    }
    return { vector, cloud };
  }

  /** Reads the JSON form; throws {@link CrdtEncodingError}. */
  static fromJSON(value: unknown, what = 'causal context'): CausalContext {
    const record = value as Partial<CausalContextJSON> | null;
    if (
      typeof record !== 'object' ||
      record === null ||
      !Array.isArray(record.vector) ||
      !Array.isArray(record.cloud)
    ) {
      throw new CrdtEncodingError(`${what}: expected { vector: [...], cloud: [...] }.`);
    }
    const context = new CausalContext();
    for (const entry of record.vector) {
      const dot = readDotTuple(entry, what);
      if (context.#vector.has(dot.replica)) {
        throw new CrdtEncodingError(
          `${what}: replica ${JSON.stringify(dot.replica)} appears twice in the vector.`,
        );
      }
      context.#vector.set(dot.replica, dot.counter);
    }
    for (const entry of record.cloud) {
      context.add(readDotTuple(entry, what));
    }
    return context;
  }

  #compact(replica: string): void {
    const cloud = this.#cloud.get(replica);
    if (cloud === undefined) {
      return;
    }
    let top = this.#vector.get(replica) ?? 0;
    for (const counter of cloud) {
      if (counter <= top) {
        cloud.delete(counter);
      }
    }
    while (cloud.delete(top + 1)) {
      top += 1;
    }
    this.#vector.set(replica, top);
    if (cloud.size === 0) {
      this.#cloud.delete(replica);
    }
  }
}

/** Reads a `[replica, counter]` pair; throws {@link CrdtEncodingError}. */
export function readDotTuple(entry: unknown, what: string): Dot {
  if (
    !Array.isArray(entry) ||
    entry.length !== 2 ||
    typeof entry[0] !== 'string' ||
    entry[0] === '' ||
    !Number.isSafeInteger(entry[1]) ||
    (entry[1] as number) < 1
  ) {
    throw new CrdtEncodingError(
      `${what}: expected a [replica, counter >= 1] pair; got ${JSON.stringify(entry)}.`,
    );
  }
  return { replica: entry[0], counter: entry[1] as number };
}

function byReplica<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Joins two dot stores (dot key → entry) under their contexts: an entry survives when
 * both sides hold its dot, or when the other side has never seen the dot.
 */
export function joinDotStores<T>(
  ours: ReadonlyMap<string, T>,
  ourContext: CausalContext,
  theirs: ReadonlyMap<string, T>,
  theirContext: CausalContext,
  dotOf: (entry: T) => Dot,
): Map<string, T> {
  const joined = new Map<string, T>();
  for (const [key, entry] of ours) {
    if (theirs.has(key) || !theirContext.covers(dotOf(entry))) {
      joined.set(key, entry);
    }
  }
  for (const [key, entry] of theirs) {
    if (!ours.has(key) && !ourContext.covers(dotOf(entry))) {
      joined.set(key, entry);
    }
  }
  return joined;
}
