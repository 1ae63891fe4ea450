/**
 * The storage port of the Raft core and its in-memory implementation.
 *
 * The core only reads storage; the driver writes it, from each `ready()`: entries and
 * hard state before sending the ready's messages, a received snapshot before applying.
 *
 * @module
 */

import { assert, InvalidArgumentError } from '../core/index.js';
import {
  type Entry,
  entryBytes,
  type HardState,
  type Membership,
  type Snapshot,
  type SnapshotMetadata,
} from './types.js';

/**
 * {@link RaftStorage.entries} over a log kept as an array of the entries after
 * `compactedIndex`: those of `[lowIndex, highIndex)`, stopping before the first that
 * would take their total {@link entryBytes} over `bytesMax` (the first one always comes,
 * so a large entry still moves). A range outside the log is the caller's bug.
 */
export function logEntriesWithinBytes(
  log: { readonly compactedIndex: number; readonly entries: readonly Entry[] },
  lowIndex: number,
  highIndex: number,
  bytesMax: number,
): Entry[] {
  const firstIndex = log.compactedIndex + 1;
  const lastIndex = log.compactedIndex + log.entries.length;
  assert(
    lowIndex >= firstIndex && highIndex <= lastIndex + 1 && lowIndex <= highIndex,
    () => `entries(${lowIndex}, ${highIndex}) outside [${firstIndex}, ${lastIndex}]`,
  );
  const result: Entry[] = [];
  let bytes = 0;
  for (let index = lowIndex; index < highIndex; index += 1) {
    const entry = log.entries[index - firstIndex] as Entry;
    bytes += entryBytes(entry);
    if (result.length > 0 && bytes > bytesMax) {
      break;
    }
    result.push(entry);
  }
  return result;
}

/** What a node starts from: its persisted hard state and membership. */
export interface InitialState {
  readonly hardState: HardState;
  /** The membership at the latest snapshot or, with none, the cluster's initial one. */
  readonly membership: Membership;
}

/**
 * The read side of the Raft log on stable storage (the port a durable store implements).
 * Indexes are 1-based; entries up to `firstIndex() - 1` are compacted into the snapshot.
 */
export interface RaftStorage {
  /** The hard state and membership to start from. */
  initialState(): InitialState;
  /**
   * Entries with `low <= index < high`, stopping before the total size passes
   * `bytesMax` (but always at least one entry). Every index must be in
   * `[firstIndex(), lastIndex()]`.
   */
  entries(lowIndex: number, highIndex: number, bytesMax: number): Entry[];
  /**
   * The term of the entry at `index`, for `firstIndex() - 1 <= index <= lastIndex()`
   * (the snapshot's index gives the snapshot's term); `undefined` outside that range.
   */
  term(index: number): number | undefined;
  /** The index of the first entry still in the log (the snapshot's index + 1). */
  firstIndex(): number;
  /** The index of the last entry, or the snapshot's index when the log is empty. */
  lastIndex(): number;
  /** The latest snapshot (index 0, empty data before any). */
  snapshot(): Snapshot;
}

const emptyMembership: Membership = { voters: [], votersOutgoing: [], learners: [] };

/** Options for {@link MemoryRaftStorage}. */
export interface MemoryRaftStorageOptions {
  /** The cluster's initial membership, used until a snapshot carries another. */
  readonly membership?: Membership;
}

/**
 * An in-memory {@link RaftStorage}: what tests and the simulator use, and the model for a
 * durable store. `append` truncates a conflicting suffix, `compact` discards entries a
 * snapshot covers, `applySnapshot` replaces the log with a received snapshot.
 */
export class MemoryRaftStorage implements RaftStorage {
  #hardState: HardState = { term: 0, vote: null, commitIndex: 0 };
  #snapshot: Snapshot;
  /** The last compacted index and its term: `#entries` starts at `#compactedIndex + 1`. */
  #compactedIndex = 0;
  #compactedTerm = 0;
  #entries: Entry[] = [];

  constructor(options: MemoryRaftStorageOptions = {}) {
    this.#snapshot = {
      metadata: { index: 0, term: 0, membership: options.membership ?? emptyMembership },
      data: new Uint8Array(0),
    };
  }

  initialState(): InitialState {
    return { hardState: this.#hardState, membership: this.#snapshot.metadata.membership };
  }

  /** Records the hard state of a ready. */
  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  /** The hard state last recorded. */
  hardState(): HardState {
    return this.#hardState;
  }

  firstIndex(): number {
    return this.#compactedIndex + 1;
  }

  lastIndex(): number {
    return this.#compactedIndex + this.#entries.length;
  }

  term(index: number): number | undefined {
    const offset = this.#compactedIndex;
    if (index === offset) {
      return this.#compactedTerm;
    }
    if (index < offset || index > this.lastIndex()) {
      return undefined;
    }
    return (this.#entries[index - offset - 1] as Entry).term;
  }

  entries(lowIndex: number, highIndex: number, bytesMax: number): Entry[] {
    return logEntriesWithinBytes(
      { compactedIndex: this.#compactedIndex, entries: this.#entries },
      lowIndex,
      highIndex,
      bytesMax,
    );
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /**
   * Appends entries from a ready. An entry whose index is already present replaces it and
   * everything after it (a conflicting suffix from an old leader); entries the snapshot
   * covers are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) {
      return;
    }
    const offset = this.#compactedIndex + 1;
    let start = 0;
    while (start < entries.length && (entries[start] as Entry).index < offset) {
      start += 1;
    }
    if (start === entries.length) {
      return;
    }
    const first = (entries[start] as Entry).index;
    if (first > this.lastIndex() + 1) {
      throw new InvalidArgumentError(
        'entries',
        `Entries start at index ${first} but the log ends at ${this.lastIndex()}; append in order.`,
      );
    }
    this.#entries.length = first - offset;
    for (let position = start; position < entries.length; position += 1) {
      this.#entries.push(entries[position] as Entry);
    }
  }

  /**
   * Records a snapshot the application took at `index` (which must be in the log, at or
   * after the previous snapshot). Compact the log separately, with {@link compact}.
   */
  createSnapshot(index: number, membership: Membership, data: Uint8Array): Snapshot {
    const term = this.term(index);
    if (term === undefined || index < this.#snapshot.metadata.index) {
      throw new InvalidArgumentError(
        'index',
        `Cannot snapshot at ${index}: the log holds ${this.firstIndex() - 1} to ${this.lastIndex()}.`,
      );
    }
    this.#snapshot = { metadata: { index, term, membership }, data };
    return this.#snapshot;
  }

  /**
   * Discards the entries up to and including `index`, which a snapshot must cover (a
   * follower that needs them is then sent the snapshot).
   */
  compact(index: number): void {
    if (index <= this.#compactedIndex) {
      return;
    }
    const term = this.term(index);
    if (term === undefined || index > this.#snapshot.metadata.index) {
      throw new InvalidArgumentError(
        'index',
        `Cannot compact to ${index}: take a snapshot at or after it first (snapshot at ${this.#snapshot.metadata.index}, log ends at ${this.lastIndex()}).`,
      );
    }
    this.#entries = this.#entries.slice(index - this.#compactedIndex);
    this.#compactedIndex = index;
    this.#compactedTerm = term;
  }

  /** Replaces the log with a snapshot received from the leader (a ready's `snapshot`). */
  applySnapshot(snapshot: Snapshot): void {
    const metadata: SnapshotMetadata = snapshot.metadata;
    if (metadata.index <= this.#snapshot.metadata.index) {
      return;
    }
    if (this.term(metadata.index) === metadata.term) {
      this.#entries = this.#entries.slice(metadata.index - this.#compactedIndex);
    } else {
      this.#entries = [];
    }
    this.#compactedIndex = metadata.index;
    this.#compactedTerm = metadata.term;
    this.#snapshot = snapshot;
    if (this.#hardState.commitIndex < metadata.index) {
      this.#hardState = { ...this.#hardState, commitIndex: metadata.index };
    }
  }
}
