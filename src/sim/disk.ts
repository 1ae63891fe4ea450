/**
 * A node's disk in simulation, with the semantics that make real storage code hard: a
 * write is only in the page cache until `sync`, and a crash loses or tears whatever was
 * not synced; writes can fail; reads can come back corrupted, which checksums must catch.
 * The disk outlives the node's crashes, so a restarted node recovers from it.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  type Random,
  requireNumber,
  requireOneOf,
  requireString,
} from '../core/index.js';

/**
 * What a crash does to bytes written since the last `sync` of their file:
 * - `'lose'`: they are gone;
 * - `'tear'`: a random-length prefix of them survives, so a record may be cut in half;
 * - `'keep'`: they all survive (a disk with a battery-backed cache);
 * - `'lose-or-tear'`: each file, at each crash, loses or tears them with equal odds.
 */
export type UnsyncedWritesOnCrash = 'lose' | 'tear' | 'keep' | 'lose-or-tear';

/** Options for {@link SimDisk}. */
export interface SimDiskOptions {
  /** What a crash does to unsynced writes. Default `'lose-or-tear'`. */
  readonly unsyncedOnCrash?: UnsyncedWritesOnCrash;
  /**
   * Probability that a write (`append`, `replace`, `truncate`) fails with
   * {@link DiskWriteError} and changes nothing. Default 0.
   */
  readonly writeErrorProbability?: number;
  /**
   * Probability that a `read` returns the file with one bit flipped. The stored bytes are
   * not harmed, so a second read may come back clean, as with a flaky cable or a
   * transient media error. Default 0.
   */
  readonly readCorruptionProbability?: number;
  /** Most bytes the disk holds across all files; writes beyond it fail. Default 1 GiB. */
  readonly capacityBytes?: number;
}

/** A simulated write failed (an injected fault or a full disk); nothing was written. */
export class DiskWriteError extends DistkitError {
  /** The file the write was for. */
  readonly file: string;

  constructor(file: string, message: string, options?: DistkitErrorOptions) {
    super('DISK_WRITE', message, options);
    this.file = file;
  }
}

/** Brand guard for {@link DiskWriteError}. */
export const isDiskWriteError = errorGuard<DiskWriteError>('DISK_WRITE');

/** Counters of what a disk did, for assertions and reports. */
export interface SimDiskStatistics {
  /** Bytes written by `append` and `replace`. */
  readonly bytesWritten: number;
  /** Calls to `sync` that had something to make durable. */
  readonly syncCount: number;
  /** Writes failed by injected faults or a full disk. */
  readonly writeErrorCount: number;
  /** Reads that returned a flipped bit. */
  readonly readCorruptionCount: number;
  /** Crashes that cut an unsynced tail short (torn) or dropped it (lost). */
  readonly tornFileCount: number;
  /** Crashes that dropped an unsynced tail entirely. */
  readonly lostFileCount: number;
}

const initialCapacityBytes = 256;

/** One file: its bytes, and how much of them a crash cannot touch. */
class SimFile {
  bytes = new Uint8Array(initialCapacityBytes);
  length = 0;
  /** Bytes below this offset are durable; a crash may lose or tear what lies beyond it. */
  durableLength = 0;
  /**
   * The file's durable content before an unsynced `replace`: a crash before the next sync
   * brings it back (a replace is atomic, like write-to-temporary-then-rename).
   */
  beforeReplace: Uint8Array | undefined = undefined;

  ensureCapacity(lengthNeeded: number): void {
    if (lengthNeeded <= this.bytes.length) {
      return;
    }
    let capacity = this.bytes.length;
    while (capacity < lengthNeeded) {
      capacity *= 2;
    }
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  setContent(content: Uint8Array): void {
    this.length = 0;
    this.ensureCapacity(content.length);
    this.bytes.set(content);
    this.length = content.length;
  }
}

/**
 * A simulated disk of named files. Writes go to a page cache at once and become durable
 * on {@link SimDisk.sync}; {@link SimDisk.crash} (the simulator calls it when the node
 * crashes) applies the configured fate to what was not synced.
 *
 * Semantics, per file:
 * - `append` adds bytes at the end; `truncate` cuts the file; both are durable after `sync`.
 *   A crash keeps the durable prefix; what lies beyond it is lost, torn or kept as
 *   configured. (A truncation below the durable length moves that boundary down: after a
 *   crash the cut bytes do not come back.)
 * - `replace` swaps the whole content atomically: a crash before the next `sync` leaves
 *   the old content (or the new one under `'keep'`), never a mix.
 * - `delete` and file creation are durable at once (directory entries are not modelled).
 *
 * @example
 * ```ts
 * const disk = new SimDisk(new SeededRandom({ seed: 1 }), { unsyncedOnCrash: 'lose' });
 * disk.append('log', new Uint8Array([1, 2]));
 * disk.sync('log');
 * disk.append('log', new Uint8Array([3]));
 * disk.crash();
 * disk.read('log'); // Uint8Array [1, 2]
 * ```
 */
export class SimDisk {
  readonly #files = new Map<string, SimFile>();
  readonly #random: Random;
  readonly #unsyncedOnCrash: UnsyncedWritesOnCrash;
  readonly #writeErrorProbability: number;
  readonly #readCorruptionProbability: number;
  readonly #capacityBytes: number;
  #usedBytes = 0;
  #bytesWritten = 0;
  #syncCount = 0;
  #writeErrorCount = 0;
  #readCorruptionCount = 0;
  #tornFileCount = 0;
  #lostFileCount = 0;

  /**
   * @param random - where fault decisions are drawn from (a fork of the simulation's).
   * @param options - fault settings; see {@link SimDiskOptions}.
   */
  constructor(random: Random, options: SimDiskOptions = {}) {
    this.#random = random;
    this.#unsyncedOnCrash = requireOneOf(
      'SimDisk options.unsyncedOnCrash',
      options.unsyncedOnCrash ?? 'lose-or-tear',
      ['lose', 'tear', 'keep', 'lose-or-tear'],
    );
    this.#writeErrorProbability = requireNumber(
      'SimDisk options.writeErrorProbability',
      options.writeErrorProbability ?? 0,
      { min: 0, max: 1 },
    );
    this.#readCorruptionProbability = requireNumber(
      'SimDisk options.readCorruptionProbability',
      options.readCorruptionProbability ?? 0,
      { min: 0, max: 1 },
    );
    this.#capacityBytes = requireNumber(
      'SimDisk options.capacityBytes',
      options.capacityBytes ?? 2 ** 30,
      { min: 0 },
    );
  }

  /** The names of the files that exist, sorted. */
  files(): string[] {
    return [...this.#files.keys()].sort();
  }

  /** Whether `file` exists. */
  exists(file: string): boolean {
    return this.#files.has(requireFileName(file));
  }

  /** The size of `file` in bytes as the node sees it now (0 when it does not exist). */
  size(file: string): number {
    return this.#files.get(requireFileName(file))?.length ?? 0;
  }

  /** The size of `file` that a crash now would certainly keep. */
  durableSize(file: string): number {
    return this.#files.get(requireFileName(file))?.durableLength ?? 0;
  }

  /** Appends `data` to `file`, creating it. Durable after {@link SimDisk.sync}. */
  append(file: string, data: Uint8Array): void {
    requireFileName(file);
    requireBytes('SimDisk.append data', data);
    this.#checkWrite(file, data.length);
    const target = this.#fileForWrite(file);
    target.ensureCapacity(target.length + data.length);
    target.bytes.set(data, target.length);
    target.length += data.length;
    this.#usedBytes += data.length;
    this.#bytesWritten += data.length;
  }

  /** Cuts `file` to `length` bytes (no longer than it is). Durable after {@link SimDisk.sync}. */
  truncate(file: string, length: number): void {
    requireFileName(file);
    const target = this.#files.get(file);
    requireNumber('SimDisk.truncate length', length, { min: 0, max: target?.length ?? 0 });
    if (!Number.isInteger(length)) {
      throw new InvalidArgumentError(
        'SimDisk.truncate length',
        `SimDisk.truncate length must be a whole number of bytes; got ${length}.`,
      );
    }
    this.#checkWrite(file, 0);
    if (target === undefined) {
      return;
    }
    this.#usedBytes -= target.length - length;
    target.length = length;
    if (target.durableLength > length) {
      target.durableLength = length;
    }
  }

  /** Replaces the whole content of `file` atomically. Durable after {@link SimDisk.sync}. */
  replace(file: string, data: Uint8Array): void {
    requireFileName(file);
    requireBytes('SimDisk.replace data', data);
    const existing = this.#files.get(file);
    this.#checkWrite(file, data.length - (existing?.length ?? 0));
    const target = this.#fileForWrite(file);
    if (target.beforeReplace === undefined) {
      target.beforeReplace = target.bytes.slice(0, target.durableLength);
    }
    this.#usedBytes += data.length - target.length;
    target.setContent(data);
    target.durableLength = 0;
    this.#bytesWritten += data.length;
  }

  /** Makes everything written to `file` so far durable (fsync). */
  sync(file: string): void {
    const target = this.#files.get(requireFileName(file));
    if (target === undefined) {
      return;
    }
    if (target.durableLength !== target.length || target.beforeReplace !== undefined) {
      this.#syncCount += 1;
    }
    target.durableLength = target.length;
    target.beforeReplace = undefined;
  }

  /** Deletes `file`, durably. */
  delete(file: string): void {
    const target = this.#files.get(requireFileName(file));
    if (target !== undefined) {
      this.#usedBytes -= target.length;
      this.#files.delete(file);
    }
  }

  /**
   * Reads the whole of `file` as the node sees it now (a copy; empty when it does not
   * exist). With `readCorruptionProbability` set, one bit of the copy may be flipped.
   */
  read(file: string): Uint8Array {
    const target = this.#files.get(requireFileName(file));
    if (target === undefined) {
      return new Uint8Array(0);
    }
    const copy = target.bytes.slice(0, target.length);
    if (
      copy.length > 0 &&
      this.#readCorruptionProbability > 0 &&
      this.#random.float() < this.#readCorruptionProbability
    ) {
      const bit = this.#random.integer(0, copy.length * 8 - 1);
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      this.#readCorruptionCount += 1;
    }
    return copy;
  }

  /**
   * What a power loss does: applies `unsyncedOnCrash` to every file's unsynced writes.
   * The simulator calls it when the node that owns the disk crashes.
   */
  crash(): void {
    for (const file of this.#files.values()) {
      if (file.beforeReplace !== undefined) {
        const keepNew =
          this.#unsyncedOnCrash === 'keep' ||
          (this.#unsyncedOnCrash !== 'lose' && this.#random.boolean());
        if (!keepNew) {
          this.#usedBytes += file.beforeReplace.length - file.length;
          file.setContent(file.beforeReplace);
          this.#lostFileCount += 1;
        }
        file.beforeReplace = undefined;
        file.durableLength = file.length;
        continue;
      }
      const unsynced = file.length - file.durableLength;
      if (unsynced > 0) {
        const fate = this.#fateOfUnsynced();
        const kept =
          fate === 'keep' ? unsynced : fate === 'lose' ? 0 : this.#random.integer(0, unsynced - 1);
        if (fate === 'lose') {
          this.#lostFileCount += 1;
        } else if (fate === 'tear') {
          this.#tornFileCount += 1;
        }
        this.#usedBytes -= unsynced - kept;
        file.length = file.durableLength + kept;
      }
      file.durableLength = file.length;
    }
  }

  /** What the disk has done so far. */
  get statistics(): SimDiskStatistics {
    return {
      bytesWritten: this.#bytesWritten,
      syncCount: this.#syncCount,
      writeErrorCount: this.#writeErrorCount,
      readCorruptionCount: this.#readCorruptionCount,
      tornFileCount: this.#tornFileCount,
      lostFileCount: this.#lostFileCount,
    };
  }

  #fateOfUnsynced(): 'lose' | 'tear' | 'keep' {
    if (this.#unsyncedOnCrash === 'lose-or-tear') {
      return this.#random.boolean() ? 'lose' : 'tear';
    }
    return this.#unsyncedOnCrash;
  }

  #fileForWrite(file: string): SimFile {
    let target = this.#files.get(file);
    if (target === undefined) {
      target = new SimFile();
      this.#files.set(file, target);
    }
    return target;
  }

  #checkWrite(file: string, growthBytes: number): void {
    if (this.#usedBytes + growthBytes > this.#capacityBytes) {
      this.#writeErrorCount += 1;
      throw new DiskWriteError(
        file,
        `disk full: writing ${growthBytes} more bytes to ${JSON.stringify(file)} would exceed capacityBytes ${this.#capacityBytes}.`,
      );
    }
    if (this.#writeErrorProbability > 0 && this.#random.float() < this.#writeErrorProbability) {
      this.#writeErrorCount += 1;
      throw new DiskWriteError(
        file,
        `injected write error on ${JSON.stringify(file)} (writeErrorProbability ${this.#writeErrorProbability}); nothing was written.`,
      );
    }
  }
}

function requireFileName(file: string): string {
  return requireString('SimDisk file name', file);
}

function requireBytes(name: string, data: unknown): void {
  if (!(data instanceof Uint8Array)) {
    throw new InvalidArgumentError(name, `${name} must be a Uint8Array; got ${typeof data}.`);
  }
}
