/**
 * The Raft log as the core sees it: stable entries in {@link RaftStorage} followed by
 * unstable ones (appended in memory, handed to the driver by `ready()`, stable once it
 * calls `advance()`), and possibly a received snapshot not yet persisted.
 *
 * @module
 */

import { assert } from '../core/index.js';
import type { RaftStorage } from './storage.js';
import { type Entry, entryBytes, type Snapshot } from './types.js';

/** The log: storage, then unstable entries. */
export class RaftLog {
  /** Unstable entries start at `#offset`. */
  #offset: number;
  #unstable: Entry[] = [];
  #unstableSnapshot: Snapshot | null = null;
  committedIndex: number;
  /** The highest index handed to the application to apply. */
  appliedIndex: number;

  constructor(readonly storage: RaftStorage) {
    this.#offset = storage.lastIndex() + 1;
    this.committedIndex = storage.firstIndex() - 1;
    this.appliedIndex = storage.firstIndex() - 1;
  }

  firstIndex(): number {
    if (this.#unstableSnapshot !== null) {
      return this.#unstableSnapshot.metadata.index + 1;
    }
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.#unstable.length > 0) {
      return this.#offset + this.#unstable.length - 1;
    }
    if (this.#unstableSnapshot !== null) {
      return this.#unstableSnapshot.metadata.index;
    }
    return this.storage.lastIndex();
  }

  /**
   * The last index the driver has persisted: entries below the unstable ones, and not
   * the index of a received snapshot that is not persisted yet.
   */
  lastStableIndex(): number {
    if (this.#unstableSnapshot !== null) {
      return Math.min(this.#offset, this.#unstableSnapshot.metadata.index) - 1;
    }
    return this.#offset - 1;
  }

  /** The term at `index`, or `undefined` when compacted away or past the end. */
  term(index: number): number | undefined {
    if (this.#unstableSnapshot !== null) {
      const metadata = this.#unstableSnapshot.metadata;
      if (index === metadata.index) {
        return metadata.term;
      }
      if (index < metadata.index) {
        return undefined;
      }
    }
    if (index >= this.#offset) {
      const entry = this.#unstable[index - this.#offset];
      return entry?.term;
    }
    if (index < this.storage.firstIndex() - 1) {
      return undefined;
    }
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, 'the last entry has a term');
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** True when a candidate's log (last index and term) is at least as up to date. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    return lastTerm > ownTerm || (lastTerm === ownTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `lowIndex` to `highIndex` (exclusive), at most `bytesMax` (at least one),
   * or `undefined` when some are compacted away.
   */
  entries(lowIndex: number, highIndex: number, bytesMax: number): Entry[] | undefined {
    if (lowIndex < this.firstIndex()) {
      return undefined;
    }
    const high = Math.min(highIndex, this.lastIndex() + 1);
    if (lowIndex >= high) {
      return [];
    }
    let result: Entry[] = [];
    let bytes = 0;
    if (lowIndex < this.#offset) {
      result = this.storage.entries(lowIndex, Math.min(high, this.#offset), bytesMax);
      for (const entry of result) {
        bytes += entryBytes(entry);
      }
      if (result.length < Math.min(high, this.#offset) - lowIndex) {
        return result;
      }
    }
    for (let index = Math.max(lowIndex, this.#offset); index < high; index += 1) {
      const entry = this.#unstable[index - this.#offset] as Entry;
      bytes += entryBytes(entry);
      if (result.length > 0 && bytes > bytesMax) {
        break;
      }
      result.push(entry);
    }
    return result;
  }

  /**
   * The index of the last entry at or before `index` whose term is at most `term`: where
   * a log that has `term` at `index` can still match this one.
   */
  findConflictByTerm(index: number, term: number): number {
    let candidate = Math.min(index, this.lastIndex());
    for (; candidate > 0; candidate -= 1) {
      const own = this.term(candidate);
      if (own === undefined || own <= term) {
        break;
      }
    }
    return candidate;
  }

  /** Appends entries (a leader's own proposals), returning the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) {
      return this.lastIndex();
    }
    const first = (entries[0] as Entry).index;
    assert(
      first > this.committedIndex,
      () => `appending at ${first} over committed ${this.committedIndex}`,
    );
    this.#truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * A follower's append after (`previousIndex`, `previousTerm`): the new last index, or
   * `undefined` when the logs do not match there. Entries already present are kept;
   * the first conflicting one and everything after it are replaced.
   */
  maybeAppend(
    previousIndex: number,
    previousTerm: number,
    commitIndex: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(previousIndex, previousTerm)) {
      return undefined;
    }
    const lastNew = previousIndex + entries.length;
    let conflict = 0;
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) {
        conflict = entry.index;
        break;
      }
    }
    if (conflict !== 0) {
      assert(
        conflict > this.committedIndex,
        () => `entry ${conflict} conflicts with the committed log (commit ${this.committedIndex})`,
      );
      this.#truncateAndAppend(entries.slice(conflict - previousIndex - 1));
    }
    this.commitTo(Math.min(commitIndex, lastNew));
    return lastNew;
  }

  #truncateAndAppend(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    if (first === this.#offset + this.#unstable.length) {
      this.#unstable.push(...entries);
    } else if (first <= this.#offset) {
      this.#offset = first;
      this.#unstable = [...entries];
    } else {
      this.#unstable = this.#unstable.slice(0, first - this.#offset);
      this.#unstable.push(...entries);
    }
  }

  commitTo(index: number): void {
    if (index > this.committedIndex) {
      assert(
        index <= this.lastIndex(),
        () => `commit ${index} past the last index ${this.lastIndex()}`,
      );
      this.committedIndex = index;
    }
  }

  /** Commits `index` if it has the leader's `term` (the leader only counts its own term). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committedIndex && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Unstable entries: to persist before the messages of the same ready are sent. */
  unstableEntries(): Entry[] {
    return [...this.#unstable];
  }

  hasUnstableEntries(): boolean {
    return this.#unstable.length > 0;
  }

  unstableSnapshot(): Snapshot | null {
    return this.#unstableSnapshot;
  }

  /** Committed entries not yet handed out, up to `bytesMax`. */
  nextCommittedEntries(bytesMax: number): Entry[] {
    const low = Math.max(this.appliedIndex + 1, this.firstIndex());
    if (this.committedIndex + 1 <= low) {
      return [];
    }
    return this.entries(low, this.committedIndex + 1, bytesMax) ?? [];
  }

  hasNextCommittedEntries(): boolean {
    return this.committedIndex > Math.max(this.appliedIndex, this.firstIndex() - 1);
  }

  /** The driver persisted entries up to (`index`, `term`). */
  stableTo(index: number, term: number): void {
    if (index < this.#offset || this.term(index) !== term) {
      return;
    }
    const position = index - this.#offset + 1;
    if (position > this.#unstable.length) {
      return;
    }
    this.#unstable = this.#unstable.slice(position);
    this.#offset = index + 1;
  }

  /** The driver persisted the received snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.#unstableSnapshot?.metadata.index === index) {
      this.#unstableSnapshot = null;
    }
  }

  appliedTo(index: number): void {
    if (index > this.appliedIndex) {
      assert(
        index <= this.committedIndex,
        () => `applied ${index} past commit ${this.committedIndex}`,
      );
      this.appliedIndex = index;
    }
  }

  /** Replaces the whole log with a received snapshot. */
  restore(snapshot: Snapshot): void {
    this.committedIndex = snapshot.metadata.index;
    this.appliedIndex = snapshot.metadata.index;
    this.#unstableSnapshot = snapshot;
    this.#unstable = [];
    this.#offset = snapshot.metadata.index + 1;
  }
}
