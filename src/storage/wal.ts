/**
 * A segmented write-ahead log with group commit, suffix truncation, prefix compaction and
 * crash recovery. The byte layout is in `segment-format.ts` and `docs/storage.md`.
 *
 * I/O is asynchronous (`node:fs/promises`) on purpose: the fsync of one batch runs on
 * libuv's thread pool while the event loop keeps accepting appends, and those appends
 * form the next batch. With synchronous fsync the event loop would stall for every
 * flush and no appends could gather behind it.
 *
 * @module
 */

import { type FileHandle, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assert,
  InvalidArgumentError,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';
import { WalClosedError, WalCorruptionError, WalFailedError, WalQueueFullError } from './errors.js';
import { syncDirectory, writeFully } from './files.js';
import {
  checkFrame,
  decodeFrame,
  encodeFrameInto,
  encodeSegmentHeader,
  frameHeaderBytes,
  scanSegment,
  segmentHeaderBytes,
} from './segment-format.js';

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;
const gibibyte = 1024 * mebibyte;
const segmentNamePattern = /^wal-(\d{20})\.seg$/;

/** Options of {@link WriteAheadLog.open}. Sizes are in bytes. */
export interface WalOptions {
  /** Folder of the segment files; created when missing. One process per folder. */
  readonly directory: string;
  /**
   * A segment is closed and a new one started before it would grow past this size.
   * Default 64 MiB; from 4 KiB to 1 GiB.
   */
  readonly segmentBytesMax?: number;
  /**
   * Largest payload of one record. Default 1 MiB; at most `segmentBytesMax` minus the
   * segment header (24) and the record header (17).
   */
  readonly recordBytesMax?: number;
  /**
   * Most bytes (record headers included) of appends accepted but not yet durable; an
   * append past it fails with {@link WalQueueFullError}. Default 64 MiB; at least
   * `recordBytesMax + 17`.
   */
  readonly pendingBytesMax?: number;
  /** Most records accepted but not yet durable. Default 100,000; from 1 to 10,000,000. */
  readonly pendingCountMax?: number;
  /** Index of the first record of a log created empty. Default 1. */
  readonly firstIndex?: number;
  /** Default `bytesMax` of {@link WriteAheadLog.read}. Default 16 MiB. */
  readonly readBytesMax?: number;
}

/** One record to append: an application-defined type byte and opaque bytes. */
export interface WalRecordInput {
  /** An integer from 0 to 255 that the application uses to tell record kinds apart. */
  readonly type: number;
  /** The record's bytes; copied into the log, so the caller may reuse the array. */
  readonly payload: Uint8Array;
}

/** One record read back. */
export interface WalRecord {
  /** Its position in the log: consecutive integers from {@link WriteAheadLog.firstIndex}. */
  readonly index: number;
  /** The type byte it was appended with. */
  readonly type: number;
  /** Its bytes (a fresh copy). */
  readonly payload: Uint8Array;
}

/** Indexes given to the records of one {@link WriteAheadLog.append} call. */
export interface WalAppendResult {
  readonly firstIndex: number;
  readonly lastIndex: number;
}

/** Options of {@link WriteAheadLog.read}. */
export interface WalReadOptions {
  /**
   * Stop before the record that would take the payload total past this size; the first
   * record is returned whatever its size. Default `readBytesMax` of the log.
   */
  readonly bytesMax?: number;
}

/** What recovery found when the log was opened. */
export interface WalRecoveryReport {
  /** Segment files read. */
  readonly segmentCount: number;
  /** Intact records found. */
  readonly recordCount: number;
  /** Set when the last segment ended in a torn write that was cut off. */
  readonly tornTail?: {
    readonly segmentPath: string;
    readonly offsetBytes: number;
    /** Bytes cut off (for a torn header: the whole file, whose header was rewritten). */
    readonly droppedBytes: number;
    readonly reason: string;
  };
}

/** Counters since the log was opened. */
export interface WalStatistics {
  /** Calls of `append` that succeeded. */
  readonly appendCount: number;
  /** Records made durable. */
  readonly recordCount: number;
  /** Group commits: each wrote the records of one or more appends and synced once. */
  readonly batchCount: number;
  /** fsync and fdatasync calls, on segments and on the folder. */
  readonly fsyncCount: number;
  /** Bytes written to segment files. */
  readonly writtenBytes: number;
  /** Segments started because the previous one was full. */
  readonly rolloverCount: number;
  /** Segment files the log has now. */
  readonly segmentCount: number;
}

interface ResolvedOptions {
  readonly directory: string;
  readonly segmentBytesMax: number;
  readonly recordBytesMax: number;
  readonly pendingBytesMax: number;
  readonly pendingCountMax: number;
  readonly firstIndex: number;
  readonly readBytesMax: number;
}

interface Segment {
  readonly firstIndex: number;
  readonly path: string;
  /** Byte offset of each record written, durable or not. */
  readonly offsets: number[];
  sizeBytes: number;
}

interface AppendOperation {
  readonly kind: 'append';
  readonly records: readonly WalRecordInput[];
  readonly firstIndex: number;
  readonly frameBytes: number;
  readonly resolve: (result: WalAppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface ControlOperation {
  readonly kind: 'control';
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type Operation = AppendOperation | ControlOperation;

const indexMax = Number.MAX_SAFE_INTEGER - 1;

function resolveOptions(options: WalOptions): ResolvedOptions {
  const checked = requireOptions<WalOptions>('WriteAheadLog options', options);
  const directory = requireString('options.directory', checked.directory);
  const segmentBytesMax = requireInteger(
    'options.segmentBytesMax',
    checked.segmentBytesMax ?? 64 * mebibyte,
    { min: 4 * kibibyte, max: gibibyte },
  );
  const recordBytesMax = requireInteger(
    'options.recordBytesMax',
    checked.recordBytesMax ??
      Math.min(mebibyte, segmentBytesMax - segmentHeaderBytes - frameHeaderBytes),
    { min: 1, max: segmentBytesMax - segmentHeaderBytes - frameHeaderBytes },
  );
  const pendingBytesMax = requireInteger(
    'options.pendingBytesMax',
    checked.pendingBytesMax ?? Math.max(64 * mebibyte, recordBytesMax + frameHeaderBytes),
    { min: recordBytesMax + frameHeaderBytes, max: 4 * gibibyte },
  );
  const pendingCountMax = requireInteger(
    'options.pendingCountMax',
    checked.pendingCountMax ?? 100_000,
    {
      min: 1,
      max: 10_000_000,
    },
  );
  const firstIndex = requireInteger('options.firstIndex', checked.firstIndex ?? 1, {
    min: 1,
    max: indexMax,
  });
  const readBytesMax = requireInteger(
    'options.readBytesMax',
    checked.readBytesMax ?? 16 * mebibyte,
    {
      min: 1,
      max: 4 * gibibyte,
    },
  );
  return {
    directory,
    segmentBytesMax,
    recordBytesMax,
    pendingBytesMax,
    pendingCountMax,
    firstIndex,
    readBytesMax,
  };
}

/** The file name of the segment whose first record has index `firstIndex`. */
export function segmentFileName(firstIndex: number): string {
  return `wal-${String(firstIndex).padStart(20, '0')}.seg`;
}

/**
 * A segmented write-ahead log of records with consecutive indexes.
 *
 * - `append` resolves once its records are durable (written and fdatasync'd). Appends
 *   made while a flush is in progress wait together and share the next fsync (group
 *   commit). Indexes are given in call order, when `append` is called.
 * - `truncateAfter(i)` drops every record after `i` (a conflicting suffix), across
 *   segments; `compactBefore(i)` deletes whole segments whose records all precede `i`;
 *   `reset(i)` empties the log and restarts it at index `i`. These run in call order
 *   with appends.
 * - `read` returns durable records with their checksums verified again.
 * - {@link WriteAheadLog.open} recovers: it verifies every segment, cuts a torn tail off
 *   the last one, and refuses any other damage with {@link WalCorruptionError}.
 *
 * One process may use a folder at a time; the log takes no lock.
 */
export class WriteAheadLog {
  /** What recovery found when this log was opened. */
  readonly recovery: WalRecoveryReport;
  private readonly options: ResolvedOptions;
  private readonly segments: Segment[];
  private active: FileHandle | undefined;
  private durableLastIndex: number;
  private logicalNextIndex: number;
  private readonly operations: Operation[] = [];
  private draining = false;
  private pendingBytes = 0;
  private pendingCount = 0;
  private closing = false;
  private failure: WalFailedError | undefined;
  private activeReadCount = 0;
  private readersDrained: (() => void) | undefined;
  private exclusive: Promise<void> | undefined;
  private counters = {
    appendCount: 0,
    recordCount: 0,
    batchCount: 0,
    fsyncCount: 0,
    writtenBytes: 0,
    rolloverCount: 0,
  };

  private constructor(
    options: ResolvedOptions,
    segments: Segment[],
    active: FileHandle,
    recovery: WalRecoveryReport,
    fsyncCount: number,
  ) {
    this.options = options;
    this.segments = segments;
    this.active = active;
    this.recovery = recovery;
    const last = segments[segments.length - 1] as Segment;
    this.durableLastIndex = last.firstIndex + last.offsets.length - 1;
    this.logicalNextIndex = this.durableLastIndex + 1;
    this.counters.fsyncCount = fsyncCount;
  }

  /**
   * Opens the log in `options.directory`, creating the folder and a first segment when
   * there is none, and recovers what is there (see the class description).
   *
   * @throws {@link WalCorruptionError} when a segment is damaged other than by a torn tail.
   * @throws InvalidArgumentError when an option is out of range.
   */
  static async open(options: WalOptions): Promise<WriteAheadLog> {
    const resolved = resolveOptions(options);
    const { directory } = resolved;
    await mkdir(directory, { recursive: true });
    const names = (await readdir(directory)).filter((name) => segmentNamePattern.test(name)).sort();
    const segments: Segment[] = [];
    let fsyncCount = 0;
    let recordCount = 0;
    let tornTail: WalRecoveryReport['tornTail'];
    let expectedFirstIndex = -1;
    for (let position = 0; position < names.length; position += 1) {
      const name = names[position] as string;
      const path = join(directory, name);
      const firstIndex = Number((segmentNamePattern.exec(name) as RegExpExecArray)[1]);
      if (!Number.isSafeInteger(firstIndex) || firstIndex < 1) {
        throw new WalCorruptionError(path, 0, 'segment file name holds an impossible index');
      }
      if (expectedFirstIndex !== -1 && firstIndex !== expectedFirstIndex) {
        throw new WalCorruptionError(
          path,
          0,
          `segment starts at index ${firstIndex} but the previous one ends at ${expectedFirstIndex - 1}`,
        );
      }
      const { size } = await stat(path);
      if (size > gibibyte + segmentHeaderBytes) {
        throw new WalCorruptionError(
          path,
          gibibyte,
          `a segment of ${size} bytes is larger than any the log writes`,
        );
      }
      const bytes = await readFile(path);
      const isLast = position === names.length - 1;
      const scan = scanSegment(bytes, { path, firstIndex, isLast });
      if (scan.tornTail !== undefined) {
        const handle = await open(path, 'r+');
        try {
          if (scan.headerValid) {
            await handle.truncate(scan.endOffset);
          } else {
            await handle.truncate(0);
            await writeFully(handle, encodeSegmentHeader(firstIndex), 0);
          }
          await handle.datasync();
          fsyncCount += 1;
        } finally {
          await handle.close();
        }
        tornTail = {
          segmentPath: path,
          offsetBytes: scan.tornTail.offsetBytes,
          // A torn header is replaced whole, so every byte of the file counts as dropped.
          droppedBytes: bytes.length - scan.endOffset,
          reason: scan.tornTail.reason,
        };
      }
      segments.push({
        firstIndex,
        path,
        offsets: scan.offsets,
        sizeBytes: scan.headerValid ? scan.endOffset : segmentHeaderBytes,
      });
      recordCount += scan.offsets.length;
      expectedFirstIndex = firstIndex + scan.offsets.length;
    }
    let active: FileHandle;
    if (segments.length === 0) {
      const segment = newSegment(directory, resolved.firstIndex);
      active = await createSegmentFile(segment);
      await active.datasync();
      await syncDirectory(directory);
      fsyncCount += 2;
      segments.push(segment);
    } else {
      // What recovery found may have reached only the page cache before a process crash:
      // sync it now, so nothing the log reports can vanish in a later power loss.
      active = await open((segments[segments.length - 1] as Segment).path, 'r+');
      await active.datasync();
      await syncDirectory(directory);
      fsyncCount += 2;
    }
    const recovery: WalRecoveryReport =
      tornTail === undefined
        ? { segmentCount: names.length, recordCount }
        : { segmentCount: names.length, recordCount, tornTail };
    return new WriteAheadLog(resolved, segments, active, recovery, fsyncCount);
  }

  /** Index of the first record kept (after compaction). The log is empty when it exceeds {@link lastIndex}. */
  get firstIndex(): number {
    return (this.segments[0] as Segment).firstIndex;
  }

  /** Index of the last durable record; `firstIndex - 1` when the log is empty. */
  get lastIndex(): number {
    return this.durableLastIndex;
  }

  /** Index the next `append` will give its first record (counts appends not yet durable). */
  get nextIndex(): number {
    return this.logicalNextIndex;
  }

  /** The folder of the segment files. */
  get directory(): string {
    return this.options.directory;
  }

  /** Counters since the log was opened. */
  statistics(): WalStatistics {
    return { ...this.counters, segmentCount: this.segments.length };
  }

  /**
   * Appends `records` after every record appended before; resolves when they are
   * durable. Concurrent appends share fsyncs.
   *
   * Rejects with {@link WalQueueFullError} when the pending limits are reached,
   * InvalidArgumentError for a bad record, {@link WalClosedError} after `close`, and
   * {@link WalFailedError} when the disk failed.
   */
  append(records: readonly WalRecordInput[]): Promise<WalAppendResult> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      return Promise.reject(unavailable);
    }
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(
        new InvalidArgumentError(
          'records',
          'records must be a non-empty array of { type, payload }.',
        ),
      );
    }
    let frameBytes = 0;
    for (let position = 0; position < records.length; position += 1) {
      const record = records[position] as WalRecordInput;
      const name = `records[${position}]`;
      if (typeof record !== 'object' || record === null) {
        return Promise.reject(
          new InvalidArgumentError(name, `${name} must be an object { type, payload }.`),
        );
      }
      const { type, payload } = record;
      if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 255) {
        return Promise.reject(
          new InvalidArgumentError(
            `${name}.type`,
            `${name}.type must be an integer from 0 to 255.`,
          ),
        );
      }
      if (!(payload instanceof Uint8Array)) {
        return Promise.reject(
          new InvalidArgumentError(`${name}.payload`, `${name}.payload must be a Uint8Array.`),
        );
      }
      if (payload.length > this.options.recordBytesMax) {
        return Promise.reject(
          new InvalidArgumentError(
            `${name}.payload`,
            `${name}.payload is ${payload.length} bytes; recordBytesMax is ${this.options.recordBytesMax}.`,
          ),
        );
      }
      frameBytes += frameHeaderBytes + payload.length;
    }
    if (this.pendingCount + records.length > this.options.pendingCountMax) {
      return Promise.reject(new WalQueueFullError('pendingCountMax', this.options.pendingCountMax));
    }
    if (this.pendingBytes + frameBytes > this.options.pendingBytesMax) {
      return Promise.reject(new WalQueueFullError('pendingBytesMax', this.options.pendingBytesMax));
    }
    if (this.logicalNextIndex + records.length - 1 > indexMax) {
      return Promise.reject(
        new InvalidArgumentError('records', 'The log has reached the largest safe index.'),
      );
    }
    // Copy the records: the caller may reuse its arrays before the flush.
    const copied = records.map((record) => ({
      type: record.type,
      payload: record.payload.slice(),
    }));
    const firstIndex = this.logicalNextIndex;
    this.logicalNextIndex += records.length;
    this.pendingCount += records.length;
    this.pendingBytes += frameBytes;
    return new Promise<WalAppendResult>((resolve, reject) => {
      this.operations.push({
        kind: 'append',
        records: copied,
        firstIndex,
        frameBytes,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /**
   * Drops every record after `index`, across segments, after the appends made before
   * this call. `index` may be from `firstIndex - 1` (drop everything) to the last index
   * appended; below what compaction kept it empties the log, which then continues at
   * `index + 1`.
   */
  truncateAfter(index: number): Promise<void> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      return Promise.reject(unavailable);
    }
    try {
      requireInteger('index', index, { min: 0, max: this.logicalNextIndex - 1 });
    } catch (error) {
      return Promise.reject(error);
    }
    this.logicalNextIndex = index + 1;
    return this.control(() => this.runTruncateAfter(index));
  }

  /**
   * Deletes whole segments whose records all precede `index` (records before a snapshot).
   * The segment that holds `index`, and the last segment, stay; so `firstIndex` may stay
   * below `index`. Resolves with the new `firstIndex`.
   */
  compactBefore(index: number): Promise<number> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      return Promise.reject(unavailable);
    }
    try {
      requireInteger('index', index, { min: 0, max: indexMax });
    } catch (error) {
      return Promise.reject(error);
    }
    // Read inside the operation: a later one (a reset) may run before a `then` here would.
    let firstIndex = 0;
    return this.control(async () => {
      await this.runCompactBefore(index);
      firstIndex = this.firstIndex;
    }).then(() => firstIndex);
  }

  /**
   * Empties the log; the next record appended gets `nextIndex`. For a node that installs
   * a snapshot newer than its whole log.
   */
  reset(nextIndex: number): Promise<void> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      return Promise.reject(unavailable);
    }
    try {
      requireInteger('nextIndex', nextIndex, { min: 1, max: indexMax });
    } catch (error) {
      return Promise.reject(error);
    }
    this.logicalNextIndex = nextIndex;
    return this.control(() => this.runReset(nextIndex));
  }

  /**
   * Reads durable records from `fromIndex` up to (not including) `toIndexExclusive`,
   * verifying each checksum again, and stops early at `bytesMax` of payload.
   *
   * Rejects with InvalidArgumentError when the range leaves `[firstIndex, lastIndex + 1]`
   * and with {@link WalCorruptionError} when the disk changed under the log.
   */
  async read(
    fromIndex: number,
    toIndexExclusive: number,
    options?: WalReadOptions,
  ): Promise<WalRecord[]> {
    const unavailable = this.unavailable();
    if (unavailable !== undefined) {
      throw unavailable;
    }
    const bytesMax = requireInteger(
      'options.bytesMax',
      requireOptions<WalReadOptions>('options', options).bytesMax ?? this.options.readBytesMax,
      { min: 1 },
    );
    requireInteger('fromIndex', fromIndex, { min: 0 });
    requireInteger('toIndexExclusive', toIndexExclusive, { min: 0 });
    await this.acquireRead();
    try {
      if (
        fromIndex < this.firstIndex ||
        toIndexExclusive > this.durableLastIndex + 1 ||
        fromIndex > toIndexExclusive
      ) {
        throw new InvalidArgumentError(
          'fromIndex',
          `read(${fromIndex}, ${toIndexExclusive}) must satisfy ${this.firstIndex} <= fromIndex <= toIndexExclusive <= ${this.durableLastIndex + 1} (firstIndex, lastIndex + 1).`,
        );
      }
      return await this.readLocked(fromIndex, toIndexExclusive, bytesMax);
    } finally {
      this.releaseRead();
    }
  }

  /**
   * Waits for every earlier operation, then closes the files. Operations called after
   * `close` reject with {@link WalClosedError}.
   */
  close(): Promise<void> {
    if (this.closing) {
      return Promise.resolve();
    }
    this.closing = true;
    if (this.failure !== undefined) {
      const handle = this.active;
      this.active = undefined;
      return handle === undefined ? Promise.resolve() : handle.close();
    }
    return this.control(async () => {
      const handle = this.active;
      this.active = undefined;
      await handle?.close();
    });
  }

  private unavailable(): Error | undefined {
    if (this.failure !== undefined) {
      return this.failure;
    }
    return this.closing ? new WalClosedError() : undefined;
  }

  private control(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.operations.push({ kind: 'control', run, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (!this.draining) {
      this.draining = true;
      // A microtask, not an immediate start: appends made in the same turn of the event
      // loop join the first batch instead of the first append flushing alone.
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    while (this.operations.length > 0 && this.failure === undefined) {
      const first = this.operations[0] as Operation;
      if (first.kind === 'control') {
        this.operations.shift();
        try {
          await this.runExclusive(first.run);
          first.resolve();
        } catch (error) {
          this.fail(error, [first]);
        }
        continue;
      }
      let count = 1;
      while (
        count < this.operations.length &&
        (this.operations[count] as Operation).kind === 'append'
      ) {
        count += 1;
      }
      const batch = this.operations.splice(0, count) as AppendOperation[];
      try {
        await this.writeBatch(batch);
      } catch (error) {
        this.fail(error, batch);
        continue;
      }
      for (const operation of batch) {
        this.pendingCount -= operation.records.length;
        this.pendingBytes -= operation.frameBytes;
        this.counters.appendCount += 1;
        operation.resolve({
          firstIndex: operation.firstIndex,
          lastIndex: operation.firstIndex + operation.records.length - 1,
        });
      }
    }
    this.draining = false;
  }

  private fail(error: unknown, current: readonly Operation[]): void {
    this.failure = new WalFailedError({ cause: error });
    const rest = this.operations.splice(0, this.operations.length);
    for (const operation of [...current, ...rest]) {
      operation.reject(this.failure);
    }
    this.pendingBytes = 0;
    this.pendingCount = 0;
  }

  private async writeBatch(batch: readonly AppendOperation[]): Promise<void> {
    let segment = this.segments[this.segments.length - 1] as Segment;
    let handle = this.active;
    assert(handle !== undefined, 'the active segment is open while operations run');
    let totalBytes = 0;
    for (const operation of batch) {
      totalBytes += operation.frameBytes;
    }
    let buffer = new Uint8Array(Math.min(totalBytes, this.options.segmentBytesMax));
    let bufferUsed = 0;
    let bufferPosition = segment.sizeBytes;
    let createdSegment = false;
    for (const operation of batch) {
      for (let position = 0; position < operation.records.length; position += 1) {
        const record = operation.records[position] as WalRecordInput;
        const index = operation.firstIndex + position;
        const frameLength = frameHeaderBytes + record.payload.length;
        if (
          segment.sizeBytes + frameLength > this.options.segmentBytesMax &&
          segment.offsets.length > 0
        ) {
          await writeFully(handle, buffer.subarray(0, bufferUsed), bufferPosition);
          this.counters.writtenBytes += bufferUsed;
          await handle.datasync();
          this.counters.fsyncCount += 1;
          await handle.close();
          this.active = undefined;
          segment = newSegment(this.options.directory, index);
          handle = await createSegmentFile(segment);
          this.counters.writtenBytes += segmentHeaderBytes;
          this.active = handle;
          this.segments.push(segment);
          this.counters.rolloverCount += 1;
          createdSegment = true;
          bufferUsed = 0;
          bufferPosition = segment.sizeBytes;
        }
        if (bufferUsed + frameLength > buffer.length) {
          const larger = new Uint8Array(Math.max(buffer.length * 2, bufferUsed + frameLength));
          larger.set(buffer.subarray(0, bufferUsed));
          buffer = larger;
        }
        encodeFrameInto(buffer, bufferUsed, index, record.type, record.payload);
        segment.offsets.push(segment.sizeBytes);
        segment.sizeBytes += frameLength;
        bufferUsed += frameLength;
      }
    }
    await writeFully(handle, buffer.subarray(0, bufferUsed), bufferPosition);
    this.counters.writtenBytes += bufferUsed;
    await handle.datasync();
    this.counters.fsyncCount += 1;
    if (createdSegment) {
      await syncDirectory(this.options.directory);
      this.counters.fsyncCount += 1;
    }
    const last = batch[batch.length - 1] as AppendOperation;
    this.durableLastIndex = last.firstIndex + last.records.length - 1;
    this.counters.batchCount += 1;
    this.counters.recordCount +=
      this.durableLastIndex - (batch[0] as AppendOperation).firstIndex + 1;
  }

  private async runTruncateAfter(index: number): Promise<void> {
    if (index >= this.durableLastIndex) {
      return;
    }
    if (index + 1 < this.firstIndex) {
      await this.runReset(index + 1);
      return;
    }
    let position = this.segments.length - 1;
    while ((this.segments[position] as Segment).firstIndex > index + 1) {
      position -= 1;
    }
    const segment = this.segments[position] as Segment;
    await this.active?.close();
    this.active = undefined;
    // Newest first: a crash part-way leaves a log that is still a prefix of the old one.
    for (let later = this.segments.length - 1; later > position; later -= 1) {
      await unlink((this.segments[later] as Segment).path);
    }
    const keptCount = index + 1 - segment.firstIndex;
    const endOffset =
      keptCount < segment.offsets.length
        ? (segment.offsets[keptCount] as number)
        : segment.sizeBytes;
    const handle = await open(segment.path, 'r+');
    this.active = handle;
    await handle.truncate(endOffset);
    await handle.datasync();
    await syncDirectory(this.options.directory);
    this.counters.fsyncCount += 2;
    this.segments.length = position + 1;
    segment.offsets.length = keptCount;
    segment.sizeBytes = endOffset;
    this.durableLastIndex = index;
  }

  private async runCompactBefore(index: number): Promise<void> {
    let removed = 0;
    // Oldest first: a crash part-way leaves a log that is still a suffix of the old one.
    while (this.segments.length > 1 && (this.segments[1] as Segment).firstIndex <= index) {
      await unlink((this.segments[0] as Segment).path);
      this.segments.shift();
      removed += 1;
    }
    if (removed > 0) {
      await syncDirectory(this.options.directory);
      this.counters.fsyncCount += 1;
    }
  }

  private async runReset(nextIndex: number): Promise<void> {
    await this.active?.close();
    this.active = undefined;
    for (let position = this.segments.length - 1; position >= 0; position -= 1) {
      await unlink((this.segments[position] as Segment).path);
    }
    this.segments.length = 0;
    const segment = newSegment(this.options.directory, nextIndex);
    this.active = await createSegmentFile(segment);
    this.segments.push(segment);
    await this.active.datasync();
    await syncDirectory(this.options.directory);
    this.counters.fsyncCount += 2;
    this.durableLastIndex = nextIndex - 1;
  }

  private async readLocked(
    fromIndex: number,
    toIndexExclusive: number,
    bytesMax: number,
  ): Promise<WalRecord[]> {
    const records: WalRecord[] = [];
    let payloadBytes = 0;
    let index = fromIndex;
    let position = 0;
    while (
      position < this.segments.length - 1 &&
      (this.segments[position + 1] as Segment).firstIndex <= index
    ) {
      position += 1;
    }
    while (index < toIndexExclusive && position < this.segments.length) {
      const segment = this.segments[position] as Segment;
      const segmentEnd = Math.min(toIndexExclusive, segment.firstIndex + segment.offsets.length);
      // Choose the records before reading: their frame sizes are known from the offsets.
      let last = index;
      while (last < segmentEnd) {
        const start = segment.offsets[last - segment.firstIndex] as number;
        const end =
          last + 1 - segment.firstIndex < segment.offsets.length
            ? (segment.offsets[last + 1 - segment.firstIndex] as number)
            : segment.sizeBytes;
        const size = end - start - frameHeaderBytes;
        if (records.length + (last - index) > 0 && payloadBytes + size > bytesMax) {
          break;
        }
        payloadBytes += size;
        last += 1;
      }
      if (last > index) {
        await this.readSegmentRange(segment, index, last, records);
      }
      if (last < segmentEnd) {
        break;
      }
      index = last;
      position += 1;
    }
    return records;
  }

  private async readSegmentRange(
    segment: Segment,
    fromIndex: number,
    toIndexExclusive: number,
    into: WalRecord[],
  ): Promise<void> {
    const startOffset = segment.offsets[fromIndex - segment.firstIndex] as number;
    const endPosition = toIndexExclusive - segment.firstIndex;
    const endOffset =
      endPosition < segment.offsets.length
        ? (segment.offsets[endPosition] as number)
        : segment.sizeBytes;
    const bytes = new Uint8Array(endOffset - startOffset);
    const handle = await open(segment.path, 'r');
    try {
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(
          bytes,
          filled,
          bytes.length - filled,
          startOffset + filled,
        );
        if (bytesRead === 0) {
          throw new WalCorruptionError(
            segment.path,
            startOffset + filled,
            'segment shorter than recorded',
          );
        }
        filled += bytesRead;
      }
    } finally {
      await handle.close();
    }
    let offset = 0;
    for (let index = fromIndex; index < toIndexExclusive; index += 1) {
      const check = checkFrame(bytes, offset, bytes.length, index);
      if (check.kind !== 'valid') {
        throw new WalCorruptionError(
          segment.path,
          startOffset + offset,
          `record ${index} failed verification on read (${check.kind})`,
        );
      }
      into.push(decodeFrame(bytes, offset));
      offset = check.endOffset;
    }
  }

  private async acquireRead(): Promise<void> {
    while (this.exclusive !== undefined) {
      await this.exclusive;
    }
    this.activeReadCount += 1;
  }

  private releaseRead(): void {
    this.activeReadCount -= 1;
    if (this.activeReadCount === 0 && this.readersDrained !== undefined) {
      const wake = this.readersDrained;
      this.readersDrained = undefined;
      wake();
    }
  }

  private async runExclusive(run: () => Promise<void>): Promise<void> {
    let release: () => void = () => {};
    this.exclusive = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      if (this.activeReadCount > 0) {
        await new Promise<void>((resolve) => {
          this.readersDrained = resolve;
        });
      }
      await run();
    } finally {
      this.exclusive = undefined;
      release();
    }
  }
}

function newSegment(directory: string, firstIndex: number): Segment {
  return {
    firstIndex,
    path: join(directory, segmentFileName(firstIndex)),
    offsets: [],
    sizeBytes: segmentHeaderBytes,
  };
}

async function createSegmentFile(segment: Segment): Promise<FileHandle> {
  const handle = await open(segment.path, 'wx');
  try {
    await writeFully(handle, encodeSegmentHeader(segment.firstIndex), 0);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
