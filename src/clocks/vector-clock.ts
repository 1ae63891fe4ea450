/**
 * Vector clocks: one counter per node, compared entry by entry, so two events are found
 * ordered (`before`, `after`, `equal`) or `concurrent`. Immutable values; every operation
 * returns a new clock.
 *
 * ## Size and pruning
 *
 * A vector clock grows by one entry per node that ever wrote. {@link VectorClock.prune}
 * bounds it: it removes the entries updated least recently (each entry carries the wall
 * time of its last increment, as the caller passed it) until at most `entryCountMax`
 * remain, optionally only entries older than a cut-off. Pruning discards knowledge, so it
 * has a price: comparing a pruned clock can report `concurrent` where one clock in fact
 * descended from the other (a false conflict, which the application resolves as a
 * sibling), and it can report `before` or `equal` where the pruned clock held an event
 * the other never saw (that event's update may then be overwritten). Prune only entries
 * older than any write still in flight, and only when the bound matters; keep
 * `entryCountMax` above the number of nodes that write concurrently.
 *
 * @module
 */

import {
  ByteWriter,
  InvalidArgumentError,
  LimitExceededError,
  requireInteger,
  requireNumber,
  requireString,
} from '../core/index.js';
import { ClockByteReader, ClockEncodingError } from './encoding.js';

/** How two clocks (or the events they stamp) relate. */
export type CausalOrder = 'before' | 'after' | 'equal' | 'concurrent';

/** One entry of a vector clock. */
export interface VectorClockEntry {
  /** The node. */
  readonly node: string;
  /** How many events of that node the clock has seen. */
  readonly counter: number;
  /** Wall time of the entry's latest increment (0 when never given); used by pruning. */
  readonly updatedAtMs: number;
}

/** Options for {@link VectorClock.prune}. */
export interface VectorClockPruneOptions {
  /** Keep at most this many entries. */
  readonly entryCountMax: number;
  /** Only entries last updated before this wall time may go. Default: any entry may. */
  readonly updatedBeforeMs?: number;
}

/**
 * An immutable vector clock. Entries are kept sorted by node id, so comparing and merging
 * walk two arrays once.
 *
 * @example
 * ```ts
 * const base = VectorClock.empty.increment('a');
 * const left = base.increment('a');
 * const right = base.increment('b');
 * left.compare(right); // 'concurrent'
 * left.merge(right).increment('a').compare(left); // 'after'
 * ```
 */
export class VectorClock {
  /** The clock with no entries: before every other clock. */
  static readonly empty = new VectorClock([], [], []);

  readonly #nodes: readonly string[];
  readonly #counters: readonly number[];
  readonly #stamps: readonly number[];

  private constructor(
    nodes: readonly string[],
    counters: readonly number[],
    stamps: readonly number[],
  ) {
    this.#nodes = nodes;
    this.#counters = counters;
    this.#stamps = stamps;
  }

  /**
   * Builds a clock from `{ node: counter }` or from entries. Counters must be positive
   * integers (an entry of 0 is the same as no entry and is dropped).
   */
  static from(source: Readonly<Record<string, number>> | Iterable<VectorClockEntry>): VectorClock {
    const entries: VectorClockEntry[] = [];
    if (source !== null && typeof source === 'object' && Symbol.iterator in source) {
      for (const entry of source as Iterable<VectorClockEntry>) {
        entries.push(entry);
      }
    } else if (source !== null && typeof source === 'object') {
      for (const [node, counter] of Object.entries(source)) {
        entries.push({ node, counter: counter as number, updatedAtMs: 0 });
      }
    } else {
      throw new InvalidArgumentError(
        'VectorClock.from source',
        'VectorClock.from source must be an object of counters or an iterable of entries.',
      );
    }
    entries.sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
    const nodes: string[] = [];
    const counters: number[] = [];
    const stamps: number[] = [];
    for (const entry of entries) {
      requireString('VectorClock entry node', entry.node);
      requireInteger(`VectorClock entry ${JSON.stringify(entry.node)} counter`, entry.counter, {
        min: 0,
      });
      requireNumber(
        `VectorClock entry ${JSON.stringify(entry.node)} updatedAtMs`,
        entry.updatedAtMs ?? 0,
        { min: 0 },
      );
      if (nodes.length > 0 && nodes[nodes.length - 1] === entry.node) {
        throw new InvalidArgumentError(
          'VectorClock.from source',
          `VectorClock.from: node ${JSON.stringify(entry.node)} appears twice.`,
        );
      }
      if (entry.counter > 0) {
        nodes.push(entry.node);
        counters.push(entry.counter);
        stamps.push(entry.updatedAtMs ?? 0);
      }
    }
    return new VectorClock(nodes, counters, stamps);
  }

  /** How many nodes have an entry. */
  get size(): number {
    return this.#nodes.length;
  }

  /** The counter of `node` (0 when it has no entry). */
  get(node: string): number {
    const slot = this.#slot(node);
    return slot >= 0 ? (this.#counters[slot] as number) : 0;
  }

  /** The entries, sorted by node id. */
  entries(): VectorClockEntry[] {
    return this.#nodes.map((node, slot) => ({
      node,
      counter: this.#counters[slot] as number,
      updatedAtMs: this.#stamps[slot] as number,
    }));
  }

  /**
   * The clock after one more event of `node`. `atMs`, the wall time of the event, is
   * kept for pruning; pass it when you mean to prune.
   */
  increment(node: string, atMs = 0): VectorClock {
    requireString('VectorClock.increment node', node);
    requireNumber('VectorClock.increment atMs', atMs, { min: 0 });
    const slot = this.#slot(node);
    if (slot >= 0) {
      const counter = this.#counters[slot] as number;
      if (counter >= Number.MAX_SAFE_INTEGER) {
        throw new LimitExceededError(
          Number.MAX_SAFE_INTEGER,
          `VectorClock: the counter of ${JSON.stringify(node)} reached 2^53 - 1.`,
        );
      }
      const counters = [...this.#counters];
      const stamps = [...this.#stamps];
      counters[slot] = counter + 1;
      stamps[slot] = atMs;
      return new VectorClock(this.#nodes, counters, stamps);
    }
    const at = -slot - 1;
    return new VectorClock(
      [...this.#nodes.slice(0, at), node, ...this.#nodes.slice(at)],
      [...this.#counters.slice(0, at), 1, ...this.#counters.slice(at)],
      [...this.#stamps.slice(0, at), atMs, ...this.#stamps.slice(at)],
    );
  }

  /** The least clock that descends from both: the entry-wise maximum. */
  merge(other: VectorClock): VectorClock {
    requireClock('VectorClock.merge other', other);
    const nodes: string[] = [];
    const counters: number[] = [];
    const stamps: number[] = [];
    let i = 0;
    let j = 0;
    while (i < this.#nodes.length || j < other.#nodes.length) {
      const x = this.#nodes[i];
      const y = other.#nodes[j];
      if (y === undefined || (x !== undefined && x < y)) {
        nodes.push(x as string);
        counters.push(this.#counters[i] as number);
        stamps.push(this.#stamps[i] as number);
        i += 1;
      } else if (x === undefined || y < x) {
        nodes.push(y);
        counters.push(other.#counters[j] as number);
        stamps.push(other.#stamps[j] as number);
        j += 1;
      } else {
        const cx = this.#counters[i] as number;
        const cy = other.#counters[j] as number;
        const sx = this.#stamps[i] as number;
        const sy = other.#stamps[j] as number;
        nodes.push(x);
        counters.push(cx > cy ? cx : cy);
        stamps.push(cx > cy ? sx : cy > cx ? sy : sx > sy ? sx : sy);
        i += 1;
        j += 1;
      }
    }
    return new VectorClock(nodes, counters, stamps);
  }

  /** How this clock relates to `other`. */
  compare(other: VectorClock): CausalOrder {
    requireClock('VectorClock.compare other', other);
    let less = false;
    let greater = false;
    let i = 0;
    let j = 0;
    while (i < this.#nodes.length || j < other.#nodes.length) {
      const x = this.#nodes[i];
      const y = other.#nodes[j];
      if (y === undefined || (x !== undefined && x < y)) {
        greater = true;
        i += 1;
      } else if (x === undefined || y < x) {
        less = true;
        j += 1;
      } else {
        const cx = this.#counters[i] as number;
        const cy = other.#counters[j] as number;
        if (cx > cy) {
          greater = true;
        } else if (cx < cy) {
          less = true;
        }
        i += 1;
        j += 1;
      }
      if (less && greater) {
        return 'concurrent';
      }
    }
    return less ? 'before' : greater ? 'after' : 'equal';
  }

  /** Whether this clock has seen everything `other` has (`after` or `equal`). */
  descends(other: VectorClock): boolean {
    const order = this.compare(other);
    return order === 'after' || order === 'equal';
  }

  /** Whether the event `(node, counter)` is among those this clock has seen. */
  covers(node: string, counter: number): boolean {
    return counter <= this.get(node);
  }

  /**
   * Drops the least recently updated entries (ties: the smaller node id first) until at
   * most `entryCountMax` remain, touching only entries updated before `updatedBeforeMs`
   * when given. Read the module notes on what pruning costs.
   */
  prune(options: VectorClockPruneOptions): VectorClock {
    const entryCountMax = requireInteger(
      'VectorClock.prune options.entryCountMax',
      options?.entryCountMax,
      { min: 0 },
    );
    const before = requireNumber(
      'VectorClock.prune options.updatedBeforeMs',
      options.updatedBeforeMs ?? Number.MAX_VALUE,
    );
    const excess = this.#nodes.length - entryCountMax;
    if (excess <= 0) {
      return this;
    }
    const candidates = this.#nodes
      .map((_, slot) => slot)
      .filter((slot) => (this.#stamps[slot] as number) < before)
      .sort((x, y) => (this.#stamps[x] as number) - (this.#stamps[y] as number) || x - y)
      .slice(0, excess);
    if (candidates.length === 0) {
      return this;
    }
    const dropped = new Set(candidates);
    const keep = (_: unknown, slot: number): boolean => !dropped.has(slot);
    return new VectorClock(
      this.#nodes.filter(keep),
      this.#counters.filter(keep),
      this.#stamps.filter(keep),
    );
  }

  /** JSON form: `[[node, counter, updatedAtMs], ...]` sorted by node. */
  toJSON(): [string, number, number][] {
    return this.#nodes.map((node, slot) => [
      node,
      this.#counters[slot] as number,
      this.#stamps[slot] as number,
    ]);
  }

  /** Reads the JSON form of {@link VectorClock.toJSON}; throws {@link ClockEncodingError}. */
  static fromJSON(value: unknown): VectorClock {
    if (!Array.isArray(value)) {
      throw new ClockEncodingError(
        'VectorClock JSON: expected an array of [node, counter, updatedAtMs].',
      );
    }
    const entries = value.map((item: unknown, index) => {
      if (
        !Array.isArray(item) ||
        item.length !== 3 ||
        typeof item[0] !== 'string' ||
        item[0] === '' ||
        !Number.isSafeInteger(item[1]) ||
        (item[1] as number) < 1 ||
        typeof item[2] !== 'number' ||
        !Number.isFinite(item[2]) ||
        item[2] < 0
      ) {
        throw new ClockEncodingError(
          `VectorClock JSON: entry ${index} must be [non-empty node, counter >= 1, updatedAtMs >= 0].`,
        );
      }
      return { node: item[0], counter: item[1] as number, updatedAtMs: item[2] };
    });
    return decodeEntries(entries, 'VectorClock JSON');
  }

  /** Binary form: entry count, then per entry node, counter and updatedAtMs as varints. */
  encode(): Uint8Array {
    const writer = new ByteWriter();
    this.writeTo(writer);
    return writer.finish();
  }

  /** Reads the binary form of {@link VectorClock.encode}; throws {@link ClockEncodingError}. */
  static decode(bytes: Uint8Array): VectorClock {
    const reader = new ClockByteReader(bytes, 'VectorClock bytes');
    const clock = VectorClock.readFrom(reader);
    reader.end();
    return clock;
  }

  /** @internal Writes the binary form into a larger encoding. */
  writeTo(writer: ByteWriter): void {
    writer.varint(this.#nodes.length);
    this.#nodes.forEach((node, slot) => {
      writer.string(node);
      writer.varint(this.#counters[slot] as number);
      writer.varint(Math.floor(this.#stamps[slot] as number));
    });
  }

  /** @internal Reads the binary form from a larger encoding. */
  static readFrom(reader: ClockByteReader): VectorClock {
    const count = reader.varint();
    if (count > reader.remaining) {
      throw new ClockEncodingError(`${reader.what}: entry count ${count} exceeds the input size.`);
    }
    const entries: VectorClockEntry[] = [];
    for (let index = 0; index < count; index += 1) {
      const node = reader.string();
      const counter = reader.varint();
      const updatedAtMs = reader.varint();
      if (node === '' || counter < 1) {
        throw new ClockEncodingError(
          `${reader.what}: entry ${index} has an empty node or a zero counter.`,
        );
      }
      entries.push({ node, counter, updatedAtMs });
    }
    return decodeEntries(entries, reader.what);
  }

  /** `{a:2, b:1}`-style text for logs. */
  toString(): string {
    return `{${this.#nodes.map((node, slot) => `${node}:${this.#counters[slot]}`).join(', ')}}`;
  }

  #slot(node: string): number {
    let low = 0;
    let high = this.#nodes.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const current = this.#nodes[middle] as string;
      if (current === node) {
        return middle;
      }
      if (current < node) {
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return -low - 1;
  }
}

function decodeEntries(entries: VectorClockEntry[], what: string): VectorClock {
  for (let index = 1; index < entries.length; index += 1) {
    if (
      (entries[index - 1] as VectorClockEntry).node >= (entries[index] as VectorClockEntry).node
    ) {
      throw new ClockEncodingError(`${what}: entries must be sorted by node with no duplicates.`);
    }
  }
  return VectorClock.from(entries);
}

function requireClock(name: string, value: unknown): void {
  if (!(value instanceof VectorClock)) {
    throw new InvalidArgumentError(name, `${name} must be a VectorClock.`);
  }
}
