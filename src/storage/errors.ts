/**
 * The typed errors of `distkit/storage`. Each has a stable `code` and a brand guard that
 * works across copies of the package.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/**
 * A WAL segment holds damage that recovery must not paper over: a bad record anywhere
 * but the torn tail of the last segment, a bad checksum followed by valid records, a
 * record out of sequence, or segments that do not follow one another. Nothing was
 * changed on disk; restore the folder from a replica or a backup.
 */
export class WalCorruptionError extends DistkitError {
  /** The segment file that holds the damage. */
  readonly segmentPath: string;
  /** Byte offset of the first damaged record (or header) in that file. */
  readonly offsetBytes: number;
  /** What was wrong, in a few words. */
  readonly reason: string;

  constructor(
    segmentPath: string,
    offsetBytes: number,
    reason: string,
    options?: DistkitErrorOptions,
  ) {
    super(
      'WAL_CORRUPTION',
      `The write-ahead log segment ${segmentPath} is corrupt at byte ${offsetBytes} (${reason}); ` +
        'recovery refuses to drop or skip durable records: restore this node from a replica or a backup.',
      options,
    );
    this.segmentPath = segmentPath;
    this.offsetBytes = offsetBytes;
    this.reason = reason;
  }
}

/** Brand guard for {@link WalCorruptionError}. */
export const isWalCorruptionError = errorGuard<WalCorruptionError>('WAL_CORRUPTION');

/**
 * An append would take the WAL past its limit of records or bytes waiting for an fsync.
 * Back off until earlier appends resolve, or raise `pendingBytesMax` / `pendingCountMax`.
 */
export class WalQueueFullError extends DistkitError {
  /** Which limit was reached: `'pendingBytesMax'` or `'pendingCountMax'`. */
  readonly limitName: 'pendingBytesMax' | 'pendingCountMax';
  /** The value of that limit. */
  readonly limit: number;

  constructor(limitName: 'pendingBytesMax' | 'pendingCountMax', limit: number) {
    super(
      'WAL_QUEUE_FULL',
      `The write-ahead log already holds its maximum of pending appends (${limitName} = ${limit}); ` +
        'wait for earlier appends to become durable before appending more.',
    );
    this.limitName = limitName;
    this.limit = limit;
  }
}

/** Brand guard for {@link WalQueueFullError}. */
export const isWalQueueFullError = errorGuard<WalQueueFullError>('WAL_QUEUE_FULL');

/** The WAL was closed; open it again to use it. */
export class WalClosedError extends DistkitError {
  constructor() {
    super('WAL_CLOSED', 'The write-ahead log is closed; open it again with WriteAheadLog.open().');
  }
}

/** Brand guard for {@link WalClosedError}. */
export const isWalClosedError = errorGuard<WalClosedError>('WAL_CLOSED');

/**
 * A write, fsync, truncation or file operation failed. After a failed fsync the kernel
 * may have dropped the dirty pages, so nothing written since the last good fsync can be
 * trusted: the WAL refuses all further work. Close it and open it again, which re-reads
 * what is really on disk. The cause is the operating system's error.
 */
export class WalFailedError extends DistkitError {
  constructor(options?: DistkitErrorOptions) {
    super(
      'WAL_FAILED',
      'A write-ahead log operation failed on disk, so its state since the last fsync is unknown; ' +
        'close the log and open it again to recover from what is on disk.',
      options,
    );
  }
}

/** Brand guard for {@link WalFailedError}. */
export const isWalFailedError = errorGuard<WalFailedError>('WAL_FAILED');

/** A snapshot file fails its checks: wrong magic, size or checksum. */
export class SnapshotCorruptionError extends DistkitError {
  /** The snapshot file. */
  readonly path: string;
  /** What was wrong, in a few words. */
  readonly reason: string;

  constructor(path: string, reason: string, options?: DistkitErrorOptions) {
    super(
      'SNAPSHOT_CORRUPTION',
      `The snapshot file ${path} is corrupt (${reason}); use an older snapshot or fetch one from a replica.`,
      options,
    );
    this.path = path;
    this.reason = reason;
  }
}

/** Brand guard for {@link SnapshotCorruptionError}. */
export const isSnapshotCorruptionError = errorGuard<SnapshotCorruptionError>('SNAPSHOT_CORRUPTION');
