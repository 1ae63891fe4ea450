/**
 * A Raft log and hard state on top of the generic {@link WriteAheadLog}: WAL index =
 * Raft index, one record per entry, and the hard state in a small checksummed file
 * replaced atomically. It knows nothing of the Raft core; a driver adapts it to the
 * core's storage port.
 *
 * @module
 */

import { join } from 'node:path';
import {
  InvalidArgumentError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import { SnapshotCorruptionError } from './errors.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot.js';
import { type WalOptions, type WalReadOptions, WriteAheadLog } from './wal.js';

/** The record type of a Raft entry in the WAL. */
export const raftEntryRecordType = 1;
const termBytes = 8;
const twoPower32 = 0x1_0000_0000;
const hardStateFileName = 'hard-state';
const voteBytesMax = 1024;

/** One Raft log entry. */
export interface RaftEntry {
  /** Its log index, from 1. */
  readonly index: number;
  /** The term of the leader that created it. */
  readonly term: number;
  /** The command, opaque to storage. */
  readonly data: Uint8Array;
}

/** What Raft must persist before it answers a message: current term, vote and commit index. */
export interface RaftHardState {
  /** The latest term the node has seen. */
  readonly term: number;
  /** The candidate voted for in `term`, or `null`. */
  readonly votedFor: string | null;
  /** The highest index known committed. */
  readonly commitIndex: number;
}

/** Options of {@link RaftLogStore.open}. */
export interface RaftLogStoreOptions {
  /** Folder of the store: the WAL goes to `wal/`, the hard state to `hard-state`. */
  readonly directory: string;
  /** Options of the underlying WAL, except its folder. */
  readonly wal?: Omit<WalOptions, 'directory'>;
}

function encodeHardState(state: RaftHardState): Uint8Array {
  const vote = state.votedFor === null ? undefined : new TextEncoder().encode(state.votedFor);
  const bytes = new Uint8Array(8 + 8 + 1 + 4 + (vote?.length ?? 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, state.term % twoPower32, true);
  view.setUint32(4, Math.floor(state.term / twoPower32), true);
  view.setUint32(8, state.commitIndex % twoPower32, true);
  view.setUint32(12, Math.floor(state.commitIndex / twoPower32), true);
  bytes[16] = vote === undefined ? 0 : 1;
  view.setUint32(17, vote?.length ?? 0, true);
  if (vote !== undefined) {
    bytes.set(vote, 21);
  }
  return bytes;
}

function decodeHardState(bytes: Uint8Array, path: string): RaftHardState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 21 || bytes.length !== 21 + view.getUint32(17, true)) {
    throw new SnapshotCorruptionError(path, 'hard state of an impossible size');
  }
  const term = view.getUint32(4, true) * twoPower32 + view.getUint32(0, true);
  const commitIndex = view.getUint32(12, true) * twoPower32 + view.getUint32(8, true);
  const votedFor = bytes[16] === 0 ? null : new TextDecoder().decode(bytes.subarray(21));
  return { term, votedFor, commitIndex };
}

function readTerm(payload: Uint8Array): number {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return view.getUint32(4, true) * twoPower32 + view.getUint32(0, true);
}

/**
 * Durable Raft log and hard state. `append` replaces a conflicting suffix before it
 * writes, as Raft's AppendEntries requires; `term(index)` answers from memory.
 */
export class RaftLogStore {
  private readonly wal: WriteAheadLog;
  private readonly hardStatePath: string;
  private currentHardState: RaftHardState;
  /** Terms of entries `[wal.firstIndex, wal.nextIndex)`, pending appends included. */
  private terms: number[];
  private termsFirstIndex: number;

  private constructor(
    wal: WriteAheadLog,
    hardStatePath: string,
    hardState: RaftHardState,
    terms: number[],
  ) {
    this.wal = wal;
    this.hardStatePath = hardStatePath;
    this.currentHardState = hardState;
    this.terms = terms;
    this.termsFirstIndex = wal.firstIndex;
  }

  /**
   * Opens the store, recovering the WAL (see {@link WriteAheadLog.open}) and reading the
   * hard state (all zero and no vote when there is none yet).
   */
  static async open(options: RaftLogStoreOptions): Promise<RaftLogStore> {
    const checked = requireOptions<RaftLogStoreOptions>('RaftLogStore options', options);
    const directory = requireString('options.directory', checked.directory);
    const wal = await WriteAheadLog.open({
      ...(checked.wal ?? {}),
      directory: join(directory, 'wal'),
    });
    const hardStatePath = join(directory, hardStateFileName);
    let hardState: RaftHardState = { term: 0, votedFor: null, commitIndex: 0 };
    try {
      hardState = decodeHardState(
        await readSnapshotFile(hardStatePath, { bytesMax: 64 * 1024 }),
        hardStatePath,
      );
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') {
        await wal.close();
        throw error;
      }
    }
    const terms: number[] = [];
    let index = wal.firstIndex;
    while (index <= wal.lastIndex) {
      const records = await wal.read(index, wal.lastIndex + 1);
      for (const record of records) {
        terms.push(readTerm(record.payload));
      }
      index += records.length;
    }
    return new RaftLogStore(wal, hardStatePath, hardState, terms);
  }

  /** The last hard state saved. */
  get hardState(): RaftHardState {
    return this.currentHardState;
  }

  /** Index of the first entry kept; `lastIndex + 1` when the log is empty. */
  get firstIndex(): number {
    // The store's own record, not the WAL's: a reset not yet run has already moved it.
    return this.termsFirstIndex;
  }

  /** Index of the last entry appended, durable or pending. */
  get lastIndex(): number {
    return this.wal.nextIndex - 1;
  }

  /** The WAL underneath, for its statistics. */
  get log(): WriteAheadLog {
    return this.wal;
  }

  /** The term of the entry at `index`, or `undefined` when it is compacted or beyond the log. */
  term(index: number): number | undefined {
    requireInteger('index', index, { min: 0 });
    return this.terms[index - this.termsFirstIndex];
  }

  /** Replaces the hard state atomically (temporary file, fsync, rename, fsync folder). */
  async saveHardState(state: RaftHardState): Promise<void> {
    const checked = requireOptions<RaftHardState>('state', state);
    requireInteger('state.term', checked.term, { min: 0 });
    requireInteger('state.commitIndex', checked.commitIndex, { min: 0 });
    if (checked.votedFor !== null) {
      requireString('state.votedFor', checked.votedFor);
      if (checked.votedFor.length > voteBytesMax) {
        throw new InvalidArgumentError(
          'state.votedFor',
          `state.votedFor is longer than ${voteBytesMax} characters.`,
        );
      }
    }
    const copy = {
      term: checked.term,
      votedFor: checked.votedFor,
      commitIndex: checked.commitIndex,
    };
    await writeSnapshotFile(this.hardStatePath, encodeHardState(copy));
    this.currentHardState = copy;
  }

  /**
   * Appends consecutive entries; resolves when they are durable. When the first entry's
   * index is at or below `lastIndex`, the entries from there on are dropped first (a
   * conflicting suffix). The first index must be from `firstIndex` to `lastIndex + 1`.
   */
  async append(entries: readonly RaftEntry[]): Promise<void> {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new InvalidArgumentError('entries', 'entries must be a non-empty array.');
    }
    const first = entries[0] as RaftEntry;
    requireInteger('entries[0].index', first?.index, {
      min: this.firstIndex,
      max: this.lastIndex + 1,
    });
    const records = entries.map((entry, position) => {
      requireInteger(`entries[${position}].index`, entry.index, {
        min: first.index + position,
        max: first.index + position,
      });
      requireInteger(`entries[${position}].term`, entry.term, { min: 0 });
      if (!(entry.data instanceof Uint8Array)) {
        throw new InvalidArgumentError(
          `entries[${position}].data`,
          `entries[${position}].data must be a Uint8Array.`,
        );
      }
      const payload = new Uint8Array(termBytes + entry.data.length);
      const view = new DataView(payload.buffer);
      view.setUint32(0, entry.term % twoPower32, true);
      view.setUint32(4, Math.floor(entry.term / twoPower32), true);
      payload.set(entry.data, termBytes);
      return { type: raftEntryRecordType, payload };
    });
    const pending: Promise<unknown>[] = [];
    if (first.index <= this.lastIndex) {
      pending.push(this.wal.truncateAfter(first.index - 1));
      this.terms.length = first.index - this.termsFirstIndex;
    }
    pending.push(this.wal.append(records));
    for (const entry of entries) {
      this.terms.push(entry.term);
    }
    await Promise.all(pending);
  }

  /** Durable entries `[fromIndex, toIndexExclusive)`, at most `bytesMax` of payload (at least one). */
  async entries(
    fromIndex: number,
    toIndexExclusive: number,
    options?: WalReadOptions,
  ): Promise<RaftEntry[]> {
    const records = await this.wal.read(fromIndex, toIndexExclusive, options);
    return records.map((record) => ({
      index: record.index,
      term: readTerm(record.payload),
      data: record.payload.subarray(termBytes),
    }));
  }

  /** Deletes whole WAL segments below `index` (covered by a snapshot); resolves with the new first index. */
  async compact(index: number): Promise<number> {
    const firstIndex = await this.wal.compactBefore(index);
    if (firstIndex > this.termsFirstIndex) {
      this.terms = this.terms.slice(firstIndex - this.termsFirstIndex);
      this.termsFirstIndex = firstIndex;
    }
    return firstIndex;
  }

  /** Empties the log after installing a snapshot that covers up to `snapshotIndex`. */
  async resetToSnapshot(snapshotIndex: number): Promise<void> {
    requireInteger('snapshotIndex', snapshotIndex, { min: 0 });
    const done = this.wal.reset(snapshotIndex + 1);
    this.terms = [];
    this.termsFirstIndex = snapshotIndex + 1;
    await done;
  }

  /** Closes the WAL after the operations already started. */
  close(): Promise<void> {
    return this.wal.close();
  }
}
