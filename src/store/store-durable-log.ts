/**
 * A store node's durable state on disk: a checkpoint (the whole keyed state, written
 * atomically with the index of the last write-ahead-log record it covers) plus a
 * write-ahead log of the changes since, one record per batch. Internal to
 * `distkit/store`; {@link StoreProcess} drives it.
 *
 * Folder layout: `store-node.checkpoint` (a `distkit/storage` snapshot file) and the
 * `store-node.wal/` segment folder of a {@link WriteAheadLog}.
 *
 * @module
 */

import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { InvalidArgumentError, requireInteger } from '../core/index.js';
import {
  applyDurableChanges,
  type DurableChanges,
  type KeyedDurableState,
} from '../replication/index.js';
import {
  readSnapshotFile,
  WalCorruptionError,
  WriteAheadLog,
  writeSnapshotFile,
} from '../storage/index.js';
import type { StoreNodeDurableState } from './shard-node.js';
import type { ShardModeKind } from './sharded-store.js';

/** The name of the checkpoint file in a store node's folder. */
export const storeCheckpointFileName = 'store-node.checkpoint';
/** The name of the write-ahead log's folder in a store node's folder. */
export const storeWalDirectoryName = 'store-node.wal';
/** The file a store node of an older version kept its whole state in (read once, then removed). */
export const storeLegacyStateFileName = 'store-node.state';

const checkpointFormat = 'distkit-store-node-checkpoint/1';
const legacyFormat = 'distkit-store-node/1';
const batchRecordType = 1;
const mebibyte = 1024 * 1024;

/** What identifies a store node's folder: the node and the cluster's shape. */
export interface StoreStateHeader {
  readonly id: string;
  readonly mode: ShardModeKind;
  readonly nodes: readonly string[];
  readonly shardCount: number;
  readonly replicaCount: number;
}

/** One batch of changes: each shard's changes, in the order they were taken. */
export type StoreDurableBatch = readonly (readonly [shard: string, changes: DurableChanges])[];

/** Options of {@link StoreDurableLog.open}. */
export interface StoreDurableLogOptions {
  /** The node's folder (it must exist). */
  readonly directory: string;
  readonly header: StoreStateHeader;
  /**
   * A checkpoint is written when the log since the last one would grow past the larger
   * of this and `checkpointWalRatio` times the last checkpoint's size. Default 8 MiB.
   */
  readonly checkpointWalBytesMin?: number;
  /** See `checkpointWalBytesMin`. Default 4. */
  readonly checkpointWalRatio?: number;
  /** Segment size of the log (whole segments are deleted after a checkpoint). Default 16 MiB. */
  readonly segmentBytesMax?: number;
}

/** What {@link StoreDurableLog.open} found and rebuilt. */
export interface StoreDurableRecovery {
  /** The node's state (checkpoint with the log's records folded in); `undefined` for a new folder. */
  readonly state: StoreNodeDurableState | undefined;
  /** Log records folded onto the checkpoint. */
  readonly recordCount: number;
  /** Bytes cut off a torn tail of the log, 0 when none. */
  readonly tornBytes: number;
  /** True when the state came from an older version's whole-state file. */
  readonly legacy: boolean;
}

/** Figures of a {@link StoreDurableLog} since it was opened. */
export interface StoreDurableLogStatistics {
  /** Log records appended (each one batch, each made durable by one fsync of the segment). */
  readonly walRecordCount: number;
  /** Bytes of log records appended since the last checkpoint (payloads and record headers). */
  readonly walBytesSinceCheckpoint: number;
  /** Checkpoints written. */
  readonly checkpointCount: number;
  /** Size of the last checkpoint written or read, in bytes. */
  readonly checkpointBytes: number;
  /** The log index the last checkpoint covers. */
  readonly checkpointIndex: number;
}

interface CheckpointFile extends StoreStateHeader {
  readonly format: string;
  readonly walIndex: number;
  readonly state: StoreNodeDurableState;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readSnapshotFile(path);
  } catch (error) {
    if (isObject(error) && error['code'] === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

function checkHeader(path: string, found: unknown, header: StoreStateHeader, format: string): void {
  if (!isObject(found) || found['format'] !== format) {
    throw new InvalidArgumentError(
      'options.directory',
      `${path} is not a distkit store node's state (format ${format}); point --data at this node's own folder.`,
    );
  }
  const previous = found as unknown as StoreStateHeader;
  const mismatch = (['id', 'mode', 'shardCount', 'replicaCount'] as const).find(
    (field) => previous[field] !== header[field],
  );
  if (
    mismatch !== undefined ||
    !Array.isArray(previous.nodes) ||
    previous.nodes.join(',') !== header.nodes.join(',')
  ) {
    throw new InvalidArgumentError(
      'options',
      `${path} was written by node ${previous.id} of a store with mode ${previous.mode}, ${previous.shardCount} shards, ${previous.replicaCount} replicas and nodes ${String(previous.nodes)}; this node is ${header.id} with mode ${header.mode}, ${header.shardCount} shards, ${header.replicaCount} replicas and nodes ${header.nodes.join(',')}. Start it as it was, or give it an empty folder.`,
    );
  }
}

/**
 * Checkpoint plus write-ahead log of one store node. Not safe for concurrent calls:
 * the caller runs one `append` or `checkpoint` at a time (its group commit gathers the
 * batches made meanwhile into the next record).
 */
export class StoreDurableLog {
  readonly #wal: WriteAheadLog;
  readonly #header: StoreStateHeader;
  readonly #checkpointPath: string;
  readonly #legacyPath: string;
  readonly #walBytesMin: number;
  readonly #walRatio: number;
  readonly #recordBytesMax: number;
  #legacyPresent: boolean;
  #walRecordCount = 0;
  #walBytesSinceCheckpoint = 0;
  #checkpointCount = 0;
  #checkpointBytes = 0;
  #checkpointIndex = 0;

  private constructor(
    wal: WriteAheadLog,
    options: Required<StoreDurableLogOptions>,
    recordBytesMax: number,
    legacyPresent: boolean,
  ) {
    this.#wal = wal;
    this.#header = options.header;
    this.#checkpointPath = join(options.directory, storeCheckpointFileName);
    this.#legacyPath = join(options.directory, storeLegacyStateFileName);
    this.#walBytesMin = options.checkpointWalBytesMin;
    this.#walRatio = options.checkpointWalRatio;
    this.#recordBytesMax = recordBytesMax;
    this.#legacyPresent = legacyPresent;
  }

  /**
   * Opens the folder's log and reads its state: the checkpoint, then every log record
   * after the index it covers, folded per shard with {@link applyDurableChanges}. A torn
   * tail of the log (a crash during an append) is cut; records the checkpoint covers (a
   * crash between a checkpoint and the log's truncation) are skipped.
   *
   * @throws InvalidArgumentError when the folder belongs to another node or cluster shape.
   * @throws WalCorruptionError when a log record other than the torn tail is damaged, or
   *   the log has records but no checkpoint, or a gap after the checkpoint.
   * @throws SnapshotCorruptionError when the checkpoint file is damaged.
   */
  static async open(
    options: StoreDurableLogOptions,
  ): Promise<{ log: StoreDurableLog; recovery: StoreDurableRecovery }> {
    const resolved: Required<StoreDurableLogOptions> = {
      directory: options.directory,
      header: options.header,
      checkpointWalBytesMin: requireInteger(
        'options.checkpointWalBytesMin',
        options.checkpointWalBytesMin ?? 8 * mebibyte,
        { min: 1 },
      ),
      checkpointWalRatio: requireInteger(
        'options.checkpointWalRatio',
        options.checkpointWalRatio ?? 4,
        { min: 1, max: 1_000 },
      ),
      segmentBytesMax: requireInteger(
        'options.segmentBytesMax',
        options.segmentBytesMax ?? 16 * mebibyte,
        { min: 64 * 1024, max: 1024 * mebibyte },
      ),
    };
    const checkpointPath = join(resolved.directory, storeCheckpointFileName);
    const legacyPath = join(resolved.directory, storeLegacyStateFileName);
    const walDirectory = join(resolved.directory, storeWalDirectoryName);
    let checkpoint: CheckpointFile | undefined;
    const checkpointData = await readOptional(checkpointPath);
    if (checkpointData !== undefined) {
      const file = deserialize(checkpointData) as CheckpointFile;
      checkHeader(checkpointPath, file, resolved.header, checkpointFormat);
      checkpoint = file;
    }
    let legacyState: StoreNodeDurableState | undefined;
    const legacyData = await readOptional(legacyPath);
    if (legacyData !== undefined && checkpoint === undefined) {
      const file = deserialize(legacyData) as { state: StoreNodeDurableState };
      checkHeader(legacyPath, file, resolved.header, legacyFormat);
      legacyState = file.state;
    }
    // Records up to 4 MiB; a bigger batch is written as a checkpoint instead.
    const recordBytesMax = Math.min(4 * mebibyte, resolved.segmentBytesMax - 64);
    const wal = await WriteAheadLog.open({
      directory: walDirectory,
      segmentBytesMax: resolved.segmentBytesMax,
      recordBytesMax,
      pendingBytesMax: Math.max(64 * mebibyte, recordBytesMax + 64),
    });
    try {
      const covered = checkpoint?.walIndex ?? 0;
      const from = covered + 1;
      if (wal.lastIndex >= wal.firstIndex && wal.lastIndex >= from) {
        if (checkpoint === undefined) {
          throw new WalCorruptionError(
            walDirectory,
            0,
            `the log holds records ${wal.firstIndex} to ${wal.lastIndex} but ${checkpointPath} is missing`,
          );
        }
        if (wal.firstIndex > from) {
          throw new WalCorruptionError(
            walDirectory,
            0,
            `the checkpoint covers records up to ${covered} but the log starts at ${wal.firstIndex}`,
          );
        }
      }
      const perShard = new Map<string, DurableChanges[]>();
      let recordCount = 0;
      for (let next = from; next <= wal.lastIndex; ) {
        const records = await wal.read(next, wal.lastIndex + 1);
        for (const record of records) {
          const batch = deserialize(record.payload) as StoreDurableBatch;
          for (const [shard, changes] of batch) {
            let list = perShard.get(shard);
            if (list === undefined) {
              list = [];
              perShard.set(shard, list);
            }
            list.push(changes);
          }
          recordCount += 1;
          next = record.index + 1;
        }
      }
      if (wal.lastIndex < covered) {
        // The log lost records the checkpoint covers (say, its folder was removed): go on
        // after them, so that new records are never taken for covered ones.
        await wal.reset(covered + 1);
      }
      let state: StoreNodeDurableState | undefined = legacyState;
      if (checkpoint !== undefined) {
        const shards: Record<string, unknown> = { ...checkpoint.state.shards };
        for (const [shard, changes] of perShard) {
          shards[shard] = applyDurableChanges(shards[shard] as KeyedDurableState, changes);
        }
        state = { shards };
      }
      const log = new StoreDurableLog(wal, resolved, recordBytesMax, legacyData !== undefined);
      log.#checkpointIndex = covered;
      log.#checkpointBytes = checkpointData?.length ?? 0;
      return {
        log,
        recovery: {
          state,
          recordCount,
          tornBytes: wal.recovery.tornTail?.droppedBytes ?? 0,
          legacy: legacyState !== undefined,
        },
      };
    } catch (error) {
      await wal.close().catch(() => {});
      throw error;
    }
  }

  /** Encodes a batch as the payload of one log record. */
  encode(batch: StoreDurableBatch): Uint8Array {
    return serialize(batch);
  }

  /**
   * Whether the next record, of `bytes`, should be a checkpoint instead: it is larger
   * than a record may be, or the log since the last checkpoint would pass the larger of
   * `checkpointWalBytesMin` and `checkpointWalRatio` times the last checkpoint's size.
   */
  checkpointDue(bytes: number): boolean {
    return (
      bytes > this.#recordBytesMax ||
      this.#walBytesSinceCheckpoint + bytes >
        Math.max(this.#walBytesMin, this.#walRatio * this.#checkpointBytes)
    );
  }

  /** Appends one encoded batch and resolves when it is durable (one fsync). */
  async append(payload: Uint8Array): Promise<void> {
    await this.#wal.append([{ type: batchRecordType, payload }]);
    this.#walRecordCount += 1;
    this.#walBytesSinceCheckpoint += payload.length + 17;
  }

  /**
   * Writes `state` (the node's whole keyed state, which covers every record appended so
   * far) as the checkpoint, atomically, then deletes the log segments it covers. A crash
   * in between leaves covered records that the next open skips.
   */
  async checkpoint(state: StoreNodeDurableState): Promise<void> {
    const walIndex = await this.writeCheckpoint(state);
    await this.truncate(walIndex);
  }

  /** The first half of {@link StoreDurableLog.checkpoint}; resolves with the index covered. */
  async writeCheckpoint(state: StoreNodeDurableState): Promise<number> {
    const walIndex = this.#wal.lastIndex;
    const file: CheckpointFile = {
      ...this.#header,
      format: checkpointFormat,
      walIndex,
      state,
    };
    const data = serialize(file);
    await writeSnapshotFile(this.#checkpointPath, data);
    this.#checkpointCount += 1;
    this.#checkpointBytes = data.length;
    this.#checkpointIndex = walIndex;
    this.#walBytesSinceCheckpoint = 0;
    if (this.#legacyPresent) {
      await unlink(this.#legacyPath).catch(() => {});
      this.#legacyPresent = false;
    }
    return walIndex;
  }

  /** The second half of {@link StoreDurableLog.checkpoint}: drops the segments before `walIndex + 1`. */
  async truncate(walIndex: number): Promise<void> {
    await this.#wal.compactBefore(walIndex + 1);
  }

  /** The log's and checkpoints' figures. */
  statistics(): StoreDurableLogStatistics {
    return {
      walRecordCount: this.#walRecordCount,
      walBytesSinceCheckpoint: this.#walBytesSinceCheckpoint,
      checkpointCount: this.#checkpointCount,
      checkpointBytes: this.#checkpointBytes,
      checkpointIndex: this.#checkpointIndex,
    };
  }

  /** The log's segment files now. */
  walSegmentCount(): number {
    return this.#wal.statistics().segmentCount;
  }

  /** Closes the log (after the operations in progress). */
  close(): Promise<void> {
    return this.#wal.close();
  }
}
