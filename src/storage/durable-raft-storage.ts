/**
 * The Raft core's storage port on real files, in the design of etcd's `MemoryStorage` plus
 * WAL: the port's reads are answered synchronously from a memory view of the log, and
 * every write is made durable first (WAL, hard-state file, snapshot file) and reaches the
 * memory view only once it is.
 *
 * On disk, under `directory`: `wal/` (one record per entry, via {@link RaftLogStore}),
 * `hard-state`, and `snapshots/` (a {@link SnapshotStore}). A snapshot file holds the
 * snapshot's membership and the log's compaction point besides the application's data,
 * so a reopen rebuilds exactly the view that was closed.
 *
 * @module
 */

import { join } from 'node:path';
import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  isDistkitError,
  LimitExceededError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import {
  type Entry,
  type EntryType,
  type HardState,
  type InitialState,
  logEntriesWithinBytes,
  type Membership,
  type RaftStorage,
  type Snapshot,
} from '../raft/index.js';
import { isSnapshotCorruptionError, SnapshotCorruptionError, WalFailedError } from './errors.js';
import { type RaftEntry, type RaftHardState, RaftLogStore } from './raft-log-store.js';
import { SnapshotStore } from './snapshot.js';
import type { WalOptions } from './wal.js';

/**
 * The log's entries on disk or in memory contradict each other: an entry of an unknown
 * type, a WAL that does not continue the snapshot, a snapshot file whose layout is wrong.
 * Nothing was changed on disk; restore this node from a replica or a backup.
 */
export class RaftStorageCorruptionError extends DistkitError {
  /** The Raft index involved (0 when none applies). */
  readonly index: number;
  /** What was wrong, in a few words. */
  readonly reason: string;

  constructor(index: number, reason: string, options?: DistkitErrorOptions) {
    super(
      'RAFT_STORAGE_CORRUPTION',
      `The durable Raft storage is corrupt at index ${index} (${reason}); ` +
        'restore this node from a replica or a backup.',
      options,
    );
    this.index = index;
    this.reason = reason;
  }
}

/** Brand guard for {@link RaftStorageCorruptionError}. */
export const isRaftStorageCorruptionError =
  errorGuard<RaftStorageCorruptionError>('RAFT_STORAGE_CORRUPTION');

/** The storage was closed; open it again with `DurableRaftStorage.open()`. */
export class RaftStorageClosedError extends DistkitError {
  constructor() {
    super(
      'RAFT_STORAGE_CLOSED',
      'The durable Raft storage is closed; open it again with DurableRaftStorage.open().',
    );
  }
}

/** Brand guard for {@link RaftStorageClosedError}. */
export const isRaftStorageClosedError = errorGuard<RaftStorageClosedError>('RAFT_STORAGE_CLOSED');

/** Options of {@link DurableRaftStorage.open}. */
export interface DurableRaftStorageOptions {
  /** Folder of the storage: `wal/`, `hard-state` and `snapshots/` go under it. */
  readonly directory: string;
  /** The initial membership of a new cluster, used while there is no snapshot. */
  readonly membership?: Membership;
  /**
   * Options of the underlying WAL, except its folder. `firstIndex` must be left out (the
   * WAL's index is the Raft index).
   */
  readonly wal?: Omit<WalOptions, 'directory'>;
  /** Snapshot files kept, newest first. Default 2; from 1 to 100. */
  readonly snapshotsKept?: number;
  /**
   * Calls of `save` and `createSnapshot` accepted and not yet finished; one past it
   * rejects with `LimitExceededError`. Default 1024; from 1 to 1,000,000.
   */
  readonly pendingOperationCountMax?: number;
}

/** The durable parts of a ready that {@link DurableRaftStorage.save} persists. */
export interface DurableReady {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/** Options of {@link DurableRaftStorage.createSnapshot}. */
export interface CreateSnapshotOptions {
  /** Entries kept before the snapshot's index, for followers slightly behind. Default 0. */
  readonly trailingEntries?: number;
}

const emptyMembership: Membership = { voters: [], votersOutgoing: [], learners: [] };
const entryTypeCodes: Readonly<Record<EntryType, number>> = { normal: 0, config: 1 };
const snapshotFormatVersion = 1;
const twoPower32 = 0x1_0000_0000;
/** Version (1), compacted index (8), compacted term (8), membership length (4). */
const snapshotHeaderBytes = 21;
const membershipBytesMax = 1024 * 1024;
/** The hard-state file's limit (see `RaftLogStore.saveHardState`). */
const voteLengthMax = 1024;

/** A value about to be validated: the fields of `T`, each of unknown type. */
type Unchecked<T> = { readonly [K in keyof T]?: unknown };

function requireMembership(name: string, value: unknown): Membership {
  if (value === undefined) {
    throw new InvalidArgumentError(name, `${name} must be a membership object.`);
  }
  const checked = requireOptions<Unchecked<Membership>>(name, value as Unchecked<Membership>);
  const idList = (key: keyof Membership): string[] => {
    const list = checked[key];
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(`${name}.${key}`, `${name}.${key} must be an array of ids.`);
    }
    return list.map((id: unknown, position) => requireString(`${name}.${key}[${position}]`, id));
  };
  return {
    voters: idList('voters'),
    votersOutgoing: idList('votersOutgoing'),
    learners: idList('learners'),
  };
}

function requireHardState(name: string, value: unknown): HardState {
  const checked = requireOptions<Unchecked<HardState>>(name, value as Unchecked<HardState>);
  const term = requireInteger(`${name}.term`, checked.term, { min: 0 });
  const commitIndex = requireInteger(`${name}.commitIndex`, checked.commitIndex, { min: 0 });
  const vote = checked.vote === null ? null : requireString(`${name}.vote`, checked.vote);
  if (vote !== null && vote.length > voteLengthMax) {
    throw new InvalidArgumentError(
      `${name}.vote`,
      `${name}.vote is longer than ${voteLengthMax} characters.`,
    );
  }
  return { term, vote, commitIndex };
}

function requireEntries(name: string, value: unknown): readonly Entry[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(name, `${name} must be an array of entries.`);
  }
  let previousIndex = -1;
  value.forEach((entry: unknown, position) => {
    const item = `${name}[${position}]`;
    const checked = requireOptions<Unchecked<Entry>>(item, entry as Unchecked<Entry>);
    const index = requireInteger(`${item}.index`, checked.index, { min: 1 });
    if (previousIndex !== -1 && index !== previousIndex + 1) {
      throw new InvalidArgumentError(
        `${item}.index`,
        `${item}.index is ${index}; entries must have consecutive indexes (${previousIndex + 1} expected).`,
      );
    }
    previousIndex = index;
    requireInteger(`${item}.term`, checked.term, { min: 0 });
    if (checked.type !== 'normal' && checked.type !== 'config') {
      throw new InvalidArgumentError(`${item}.type`, `${item}.type must be 'normal' or 'config'.`);
    }
    if (!(checked.data instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${item}.data`, `${item}.data must be a Uint8Array.`);
    }
  });
  return value as readonly Entry[];
}

function requireSnapshot(name: string, value: unknown): Snapshot {
  const checked = requireOptions<Unchecked<Snapshot>>(name, value as Unchecked<Snapshot>);
  const metadata = requireOptions<Unchecked<Snapshot['metadata']>>(
    `${name}.metadata`,
    checked.metadata as Unchecked<Snapshot['metadata']>,
  );
  const index = requireInteger(`${name}.metadata.index`, metadata.index, { min: 1 });
  const term = requireInteger(`${name}.metadata.term`, metadata.term, { min: 0 });
  const membership = requireMembership(`${name}.metadata.membership`, metadata.membership);
  if (!(checked.data instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${name}.data`, `${name}.data must be a Uint8Array.`);
  }
  return { metadata: { index, term, membership }, data: checked.data };
}

function writeUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % twoPower32, true);
  view.setUint32(offset + 4, Math.floor(value / twoPower32), true);
}

function readUint64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * twoPower32 + view.getUint32(offset, true);
}

/** A snapshot with the log's compaction point at the time it was written. */
interface StoredSnapshot {
  readonly snapshot: Snapshot;
  /** Entries up to this index are compacted (at most the snapshot's index). */
  readonly compactedIndex: number;
  readonly compactedTerm: number;
}

function encodeSnapshotFile(stored: StoredSnapshot): Uint8Array {
  const membership = new TextEncoder().encode(JSON.stringify(stored.snapshot.metadata.membership));
  const data = stored.snapshot.data;
  const bytes = new Uint8Array(snapshotHeaderBytes + membership.length + data.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = snapshotFormatVersion;
  writeUint64(view, 1, stored.compactedIndex);
  writeUint64(view, 9, stored.compactedTerm);
  view.setUint32(17, membership.length, true);
  bytes.set(membership, snapshotHeaderBytes);
  bytes.set(data, snapshotHeaderBytes + membership.length);
  return bytes;
}

function snapshotFilePath(directory: string, index: number, term: number): string {
  return join(
    directory,
    `snapshot-${String(index).padStart(20, '0')}-${String(term).padStart(20, '0')}.snap`,
  );
}

function decodeSnapshotFile(
  bytes: Uint8Array,
  index: number,
  term: number,
  path: string,
): StoredSnapshot {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < snapshotHeaderBytes || bytes[0] !== snapshotFormatVersion) {
    throw new SnapshotCorruptionError(path, 'not a Raft snapshot of a known format version');
  }
  const compactedIndex = readUint64(view, 1);
  const compactedTerm = readUint64(view, 9);
  const membershipBytes = view.getUint32(17, true);
  if (
    membershipBytes > membershipBytesMax ||
    snapshotHeaderBytes + membershipBytes > bytes.length ||
    compactedIndex > index ||
    compactedTerm > term
  ) {
    throw new SnapshotCorruptionError(path, 'Raft snapshot header out of range');
  }
  let membership: Membership;
  try {
    membership = requireMembership(
      'membership',
      JSON.parse(
        new TextDecoder().decode(
          bytes.subarray(snapshotHeaderBytes, snapshotHeaderBytes + membershipBytes),
        ),
      ),
    );
  } catch (error) {
    throw new SnapshotCorruptionError(path, 'Raft snapshot membership unreadable', {
      cause: error,
    });
  }
  return {
    snapshot: {
      metadata: { index, term, membership },
      data: bytes.subarray(snapshotHeaderBytes + membershipBytes),
    },
    compactedIndex,
    compactedTerm,
  };
}

function encodeEntry(entry: Entry): RaftEntry {
  const data = new Uint8Array(1 + entry.data.length);
  data[0] = entryTypeCodes[entry.type];
  data.set(entry.data, 1);
  return { index: entry.index, term: entry.term, data };
}

function decodeEntry(stored: RaftEntry): Entry {
  const code = stored.data[0];
  const type: EntryType | undefined = code === 0 ? 'normal' : code === 1 ? 'config' : undefined;
  if (type === undefined) {
    throw new RaftStorageCorruptionError(
      stored.index,
      code === undefined ? 'entry without a type byte' : `entry of unknown type byte ${code}`,
    );
  }
  return { index: stored.index, term: stored.term, type, data: stored.data.subarray(1) };
}

function toLogHardState(state: HardState): RaftHardState {
  return { term: state.term, votedFor: state.vote, commitIndex: state.commitIndex };
}

/**
 * The memory view: the same log arithmetic as `MemoryRaftStorage`, changed only with
 * what is already durable.
 */
class LogView {
  hardState: HardState;
  stored: StoredSnapshot;
  /** `entries[0]` has index `compactedIndex + 1`. */
  entries: Entry[];

  constructor(hardState: HardState, stored: StoredSnapshot, entries: Entry[]) {
    this.hardState = hardState;
    this.stored = stored;
    this.entries = entries;
  }

  get compactedIndex(): number {
    return this.stored.compactedIndex;
  }

  get firstIndex(): number {
    return this.stored.compactedIndex + 1;
  }

  get lastIndex(): number {
    return this.stored.compactedIndex + this.entries.length;
  }

  term(index: number): number | undefined {
    const offset = this.stored.compactedIndex;
    if (index === offset) {
      return this.stored.compactedTerm;
    }
    if (index < offset || index > this.lastIndex) {
      return undefined;
    }
    return (this.entries[index - offset - 1] as Entry).term;
  }
}

/** What one `save` will do, decided against the view before any I/O. */
interface SavePlan {
  /** A newer snapshot to install, and whether the log's suffix after it stays. */
  readonly snapshot?: { readonly stored: StoredSnapshot; readonly keepSuffix: boolean };
  /** Entries to append (none the snapshot covers); the first may replace a suffix. */
  readonly entries: readonly Entry[];
  /** The hard state after the save. */
  readonly hardState: HardState;
  /** Whether the hard-state file must be written. */
  readonly writeHardState: boolean;
}

/**
 * Raft's log, hard state and snapshots on disk, implementing the core's synchronous
 * {@link RaftStorage} port. Reads are served from memory; {@link save} and
 * {@link createSnapshot} persist first (fsync) and change the memory view only once
 * everything they wrote is durable, so the core never sees a state a crash could take
 * back. Writes run one at a time, in call order.
 *
 * Memory: the view holds every entry after the compaction point, plus the latest
 * snapshot's data. Nothing bounds the log but compaction: the driver must call
 * {@link createSnapshot} regularly (for example every N applied entries), or the log
 * grows with every write.
 *
 * @example
 * ```ts
 * const storage = await DurableRaftStorage.open({ directory, membership });
 * const node = new RaftNode({ id: 'n1', voters: ['n1'], storage, random });
 * const ready = node.ready();
 * await storage.save(ready); // then send, apply, and advance
 * ```
 */
export class DurableRaftStorage implements RaftStorage {
  readonly #log: RaftLogStore;
  readonly #snapshots: SnapshotStore;
  readonly #view: LogView;
  readonly #pendingOperationCountMax: number;
  #pendingOperationCount = 0;
  #tail: Promise<void> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The error that left the disk in an unknown state; every later write rejects with it. */
  #failure: Error | undefined;

  private constructor(
    log: RaftLogStore,
    snapshots: SnapshotStore,
    view: LogView,
    pendingOperationCountMax: number,
  ) {
    this.#log = log;
    this.#snapshots = snapshots;
    this.#view = view;
    this.#pendingOperationCountMax = pendingOperationCountMax;
  }

  /**
   * Opens (creating when missing) the storage in `options.directory` and recovers: the
   * latest valid snapshot, the WAL's entries after it (a torn WAL tail is cut, see
   * {@link WriteAheadLog.open}), and the hard state. A snapshot file written before a
   * crash that stopped the log's reset is finished here: WAL entries at or below the
   * snapshot's index are ignored, and a suffix that does not continue the snapshot is
   * dropped.
   *
   * An older snapshot is used in place of a corrupt newer one only when the WAL still
   * holds every entry from the older one up to the newer one's index; otherwise the
   * corruption is thrown.
   *
   * @throws {@link WalCorruptionError} when the WAL is damaged other than by a torn tail.
   * @throws {@link SnapshotCorruptionError} when the newest snapshot is damaged and no
   * older one can replace it.
   * @throws {@link RaftStorageCorruptionError} when entries or files contradict each other.
   * @throws InvalidArgumentError when an option is out of range.
   */
  static async open(options: DurableRaftStorageOptions): Promise<DurableRaftStorage> {
    const checked = requireOptions<DurableRaftStorageOptions>(
      'DurableRaftStorage options',
      options,
    );
    const directory = requireString('options.directory', checked.directory);
    const membership =
      checked.membership === undefined
        ? emptyMembership
        : requireMembership('options.membership', checked.membership);
    const walOptions = requireOptions<Omit<WalOptions, 'directory'>>('options.wal', checked.wal);
    if (walOptions.firstIndex !== undefined) {
      throw new InvalidArgumentError(
        'options.wal.firstIndex',
        'options.wal.firstIndex must be left out: the storage numbers the WAL by Raft index itself.',
      );
    }
    const snapshotsKept = requireInteger('options.snapshotsKept', checked.snapshotsKept ?? 2, {
      min: 1,
      max: 100,
    });
    const pendingOperationCountMax = requireInteger(
      'options.pendingOperationCountMax',
      checked.pendingOperationCountMax ?? 1024,
      { min: 1, max: 1_000_000 },
    );
    const snapshots = await SnapshotStore.open({
      directory: join(directory, 'snapshots'),
      retainCount: snapshotsKept,
    });
    const log = await RaftLogStore.open({ directory, wal: walOptions });
    try {
      const view = await recover(log, snapshots, membership);
      return new DurableRaftStorage(log, snapshots, view, pendingOperationCountMax);
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  initialState(): InitialState {
    this.#requireOpen();
    return {
      hardState: this.#view.hardState,
      membership: this.#view.stored.snapshot.metadata.membership,
    };
  }

  /** The hard state last made durable (its commit index raised to the snapshot's index). */
  hardState(): HardState {
    this.#requireOpen();
    return this.#view.hardState;
  }

  firstIndex(): number {
    this.#requireOpen();
    return this.#view.firstIndex;
  }

  lastIndex(): number {
    this.#requireOpen();
    return this.#view.lastIndex;
  }

  term(index: number): number | undefined {
    this.#requireOpen();
    return this.#view.term(index);
  }

  entries(lowIndex: number, highIndex: number, bytesMax: number): Entry[] {
    this.#requireOpen();
    const view = this.#view;
    // Out of range is a bug of the caller (the core never asks for it), as in MemoryRaftStorage.
    return logEntriesWithinBytes(view, lowIndex, highIndex, bytesMax);
  }

  snapshot(): Snapshot {
    this.#requireOpen();
    return this.#view.stored.snapshot;
  }

  /**
   * Persists a ready's durable parts: a newer snapshot (its file first, then the log
   * dropped, keeping the suffix only when the log holds the snapshot's index with the
   * snapshot's term), then the entries (those the snapshot covers skipped, a conflicting
   * suffix replaced), then the hard state (its commit index raised to the snapshot's
   * index). Resolves when all of it is fsynced; the memory view changes only then.
   * Calls run one at a time, in call order.
   *
   * Rejects with InvalidArgumentError for a malformed ready or entries that leave a gap
   * after the log (nothing written), `LimitExceededError` past
   * `pendingOperationCountMax`, {@link RaftStorageClosedError} after {@link close}, and
   * the disk's error (`WalFailedError`, ...) when a write failed, after which every
   * write rejects with it: reopen the storage to recover from what is on disk.
   */
  save(ready: DurableReady): Promise<void> {
    let entries: readonly Entry[];
    let hardState: HardState | undefined;
    let snapshot: Snapshot | undefined;
    try {
      const checked = requireOptions<DurableReady>('ready', ready);
      entries = requireEntries('ready.entries', checked.entries);
      hardState =
        checked.hardState === undefined
          ? undefined
          : requireHardState('ready.hardState', checked.hardState);
      snapshot =
        checked.snapshot === undefined
          ? undefined
          : requireSnapshot('ready.snapshot', checked.snapshot);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      const plan = this.#planSave(entries, hardState, snapshot);
      await this.#runFailing(async () => {
        if (plan.snapshot !== undefined) {
          const { stored, keepSuffix } = plan.snapshot;
          await this.#writeSnapshot(stored);
          if (keepSuffix) {
            await this.#log.compact(stored.compactedIndex + 1);
          } else {
            await this.#log.resetToSnapshot(stored.snapshot.metadata.index);
          }
        }
        if (plan.entries.length > 0) {
          await this.#log.append(plan.entries.map(encodeEntry));
        }
        if (plan.writeHardState) {
          await this.#log.saveHardState(toLogHardState(plan.hardState));
        }
      });
      this.#applySave(plan);
    });
  }

  /**
   * Records the application's snapshot at `index`, which must be applied (so committed),
   * in the log, and at or after the current snapshot: writes the snapshot file
   * atomically, then compacts the log before it, keeping `trailingEntries` entries before
   * `index` for followers slightly behind. The hard state's commit index is raised to
   * `index` if lower (a driver may save the commit index lazily). Resolves with the
   * snapshot once it is durable. Runs in call order with {@link save}.
   *
   * Rejects with InvalidArgumentError for a bad argument or an index outside those
   * bounds (nothing written), and otherwise as {@link save}.
   */
  createSnapshot(
    index: number,
    membership: Membership,
    data: Uint8Array,
    options?: CreateSnapshotOptions,
  ): Promise<Snapshot> {
    let trailingEntries: number;
    let checkedMembership: Membership;
    try {
      requireInteger('index', index, { min: 1 });
      checkedMembership = requireMembership('membership', membership);
      if (!(data instanceof Uint8Array)) {
        throw new InvalidArgumentError('data', 'data must be a Uint8Array.');
      }
      trailingEntries = requireInteger(
        'options.trailingEntries',
        requireOptions<CreateSnapshotOptions>('options', options).trailingEntries ?? 0,
        { min: 0 },
      );
    } catch (error) {
      return Promise.reject(error);
    }
    let created: Snapshot | undefined;
    return this.#enqueue(async () => {
      const view = this.#view;
      const term = view.term(index);
      const snapshotIndex = view.stored.snapshot.metadata.index;
      if (term === undefined || index < snapshotIndex) {
        throw new InvalidArgumentError(
          'index',
          `Cannot snapshot at ${index}: it must be in the log (${view.firstIndex - 1} to ${view.lastIndex}) ` +
            `and at or after the snapshot (${snapshotIndex}).`,
        );
      }
      const compactedIndex = Math.max(view.compactedIndex, index - trailingEntries);
      const stored: StoredSnapshot = {
        snapshot: { metadata: { index, term, membership: checkedMembership }, data },
        compactedIndex,
        compactedTerm: view.term(compactedIndex) as number,
      };
      await this.#runFailing(async () => {
        await this.#writeSnapshot(stored);
        await this.#log.compact(compactedIndex + 1);
      });
      view.entries = view.entries.slice(compactedIndex - view.compactedIndex);
      view.stored = stored;
      if (view.hardState.commitIndex < index) {
        // Applied means committed; a driver may save the commit index lazily.
        view.hardState = { ...view.hardState, commitIndex: index };
      }
      created = stored.snapshot;
    }).then(() => created as Snapshot);
  }

  /**
   * Waits for the writes already called, then closes the files. Every later call, the
   * port's reads included, throws {@link RaftStorageClosedError}.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#tail.then(() => this.#log.close());
    }
    return this.#closing;
  }

  #requireOpen(): void {
    if (this.#closed) {
      throw new RaftStorageClosedError();
    }
  }

  #enqueue(run: () => Promise<void>): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new RaftStorageClosedError());
    }
    if (this.#pendingOperationCount >= this.#pendingOperationCountMax) {
      return Promise.reject(
        new LimitExceededError(
          this.#pendingOperationCountMax,
          `The durable Raft storage already has ${this.#pendingOperationCountMax} writes waiting ` +
            '(pendingOperationCountMax); wait for earlier saves to finish before calling more.',
        ),
      );
    }
    this.#pendingOperationCount += 1;
    const result = this.#tail.then(() => {
      if (this.#failure !== undefined) {
        throw this.#failure;
      }
      return run();
    });
    const settle = (): void => {
      this.#pendingOperationCount -= 1;
    };
    this.#tail = result.then(settle, settle);
    return result;
  }

  /** Runs disk writes; a failure leaves the disk in an unknown state, so it sticks. */
  async #runFailing(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.#failure = isDistkitError(error) ? error : new WalFailedError({ cause: error });
      throw this.#failure;
    }
  }

  #writeSnapshot(stored: StoredSnapshot): Promise<void> {
    const { index, term } = stored.snapshot.metadata;
    return this.#snapshots.save({ index, term }, encodeSnapshotFile(stored));
  }

  #planSave(
    entries: readonly Entry[],
    hardState: HardState | undefined,
    snapshot: Snapshot | undefined,
  ): SavePlan {
    const view = this.#view;
    let compactedIndex = view.compactedIndex;
    let lastIndex = view.lastIndex;
    let installed: SavePlan['snapshot'];
    if (snapshot !== undefined && snapshot.metadata.index > view.stored.snapshot.metadata.index) {
      const { index, term } = snapshot.metadata;
      const keepSuffix = view.term(index) === term;
      installed = {
        stored: { snapshot, compactedIndex: index, compactedTerm: term },
        keepSuffix,
      };
      compactedIndex = index;
      lastIndex = keepSuffix ? lastIndex : index;
    }
    let start = 0;
    while (start < entries.length && (entries[start] as Entry).index <= compactedIndex) {
      start += 1;
    }
    const kept = entries.slice(start);
    const first = kept[0];
    if (first !== undefined && first.index > lastIndex + 1) {
      throw new InvalidArgumentError(
        'ready.entries',
        `Entries start at index ${first.index} but the log ends at ${lastIndex}; append in order.`,
      );
    }
    let next = hardState ?? view.hardState;
    if (installed !== undefined && next.commitIndex < compactedIndex) {
      next = { ...next, commitIndex: compactedIndex };
    }
    const plan: SavePlan = {
      entries: kept.map((entry) => ({
        index: entry.index,
        term: entry.term,
        type: entry.type,
        data: entry.data,
      })),
      hardState: next,
      writeHardState: hardState !== undefined,
    };
    return installed === undefined ? plan : { ...plan, snapshot: installed };
  }

  #applySave(plan: SavePlan): void {
    const view = this.#view;
    if (plan.snapshot !== undefined) {
      const { stored, keepSuffix } = plan.snapshot;
      view.entries = keepSuffix
        ? view.entries.slice(stored.compactedIndex - view.compactedIndex)
        : [];
      view.stored = stored;
    }
    const first = plan.entries[0];
    if (first !== undefined) {
      view.entries.length = first.index - view.firstIndex;
      for (const entry of plan.entries) {
        view.entries.push(entry);
      }
    }
    view.hardState = plan.hardState;
  }
}

/** Loads the newest snapshot that passes its checks, newest first; `undefined` with none. */
async function loadSnapshots(
  snapshots: SnapshotStore,
): Promise<{ stored: StoredSnapshot | undefined; newerIndex: number; corruption?: unknown }> {
  const listed = await snapshots.list();
  let corruption: unknown;
  let newerIndex = 0;
  for (const metadata of listed) {
    try {
      const bytes = await snapshots.load(metadata);
      const stored = decodeSnapshotFile(
        bytes,
        metadata.index,
        metadata.term,
        snapshotFilePath(snapshots.directory, metadata.index, metadata.term),
      );
      return { stored, newerIndex, corruption };
    } catch (error) {
      if (!isSnapshotCorruptionError(error)) {
        throw error;
      }
      corruption ??= error;
      newerIndex = Math.max(newerIndex, metadata.index);
    }
  }
  return { stored: undefined, newerIndex, corruption };
}

async function recover(
  log: RaftLogStore,
  snapshots: SnapshotStore,
  membership: Membership,
): Promise<LogView> {
  const loaded = await loadSnapshots(snapshots);
  const emptyStored: StoredSnapshot = {
    snapshot: { metadata: { index: 0, term: 0, membership }, data: new Uint8Array(0) },
    compactedIndex: 0,
    compactedTerm: 0,
  };
  let stored = loaded.stored ?? emptyStored;
  const { index: snapshotIndex, term: snapshotTerm } = stored.snapshot.metadata;
  const walFirstIndex = log.firstIndex;
  const walLastIndex = log.lastIndex;
  const walTermAtSnapshot = snapshotIndex === 0 ? 0 : log.term(snapshotIndex);
  if (loaded.corruption !== undefined) {
    // An older snapshot stands in for a corrupt newer one only if nothing is lost.
    const needed = Math.max(loaded.newerIndex, log.hardState.commitIndex);
    if (
      walFirstIndex > stored.compactedIndex + 1 ||
      walLastIndex < needed ||
      (walTermAtSnapshot !== undefined && walTermAtSnapshot !== snapshotTerm)
    ) {
      throw loaded.corruption;
    }
  }
  let reset = false;
  if (snapshotIndex > 0) {
    if (walTermAtSnapshot !== undefined) {
      // The WAL holds the snapshot's index: its suffix continues the snapshot only if the
      // terms agree (otherwise a crash stopped the reset of a received snapshot).
      reset = walTermAtSnapshot !== snapshotTerm;
    } else if (walLastIndex < snapshotIndex) {
      reset = true; // the WAL ends before the snapshot: nothing after it to keep
    }
  }
  if (!reset && walFirstIndex > snapshotIndex + 1) {
    // Entries between the snapshot and the WAL are missing (a snapshot file was lost).
    throw new RaftStorageCorruptionError(
      snapshotIndex + 1,
      `the WAL starts at ${walFirstIndex} but the snapshot ends at ${snapshotIndex}`,
    );
  }
  const entries: Entry[] = [];
  if (reset) {
    await log.resetToSnapshot(snapshotIndex);
    stored = { ...stored, compactedIndex: snapshotIndex, compactedTerm: snapshotTerm };
  } else {
    if (walFirstIndex > stored.compactedIndex + 1) {
      // The trailing entries before the snapshot are gone; the snapshot covers them.
      stored = { ...stored, compactedIndex: snapshotIndex, compactedTerm: snapshotTerm };
    }
    let index = stored.compactedIndex + 1;
    while (index <= walLastIndex) {
      const batch = await log.entries(index, walLastIndex + 1);
      for (const item of batch) {
        entries.push(decodeEntry(item));
      }
      index += batch.length;
    }
    await log.compact(stored.compactedIndex + 1);
  }
  const persisted = log.hardState;
  const hardState: HardState = {
    term: persisted.term,
    vote: persisted.votedFor,
    commitIndex: Math.max(persisted.commitIndex, snapshotIndex),
  };
  return new LogView(hardState, stored, entries);
}
