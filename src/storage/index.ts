/**
 * `distkit/storage`: durable storage on real files. A segmented write-ahead log with
 * checksummed records, group commit, suffix truncation, prefix compaction and recovery
 * that cuts a torn tail and refuses corrupted middles ({@link WriteAheadLog}); snapshot
 * files written atomically and verified on read ({@link writeSnapshotFile},
 * {@link SnapshotStore}); a Raft log and hard state on top ({@link RaftLogStore}); and
 * the Raft core's storage port on those files ({@link DurableRaftStorage}).
 *
 * @packageDocumentation
 */

export { crc32c, crc32cUpdate } from '../core/index.js';
export {
  type CreateSnapshotOptions,
  DurableRaftStorage,
  type DurableRaftStorageOptions,
  type DurableReady,
  isRaftStorageClosedError,
  isRaftStorageCorruptionError,
  RaftStorageClosedError,
  RaftStorageCorruptionError,
} from './durable-raft-storage.js';
export {
  isSnapshotCorruptionError,
  isWalClosedError,
  isWalCorruptionError,
  isWalFailedError,
  isWalQueueFullError,
  SnapshotCorruptionError,
  WalClosedError,
  WalCorruptionError,
  WalFailedError,
  WalQueueFullError,
} from './errors.js';
export {
  type RaftEntry,
  type RaftHardState,
  RaftLogStore,
  type RaftLogStoreOptions,
  raftEntryRecordType,
} from './raft-log-store.js';
export {
  frameHeaderBytes,
  type ScanSegmentOptions,
  type SegmentScan,
  scanSegment,
  segmentHeaderBytes,
} from './segment-format.js';
export {
  type ReadSnapshotOptions,
  readSnapshotFile,
  type SnapshotMetadata,
  SnapshotStore,
  type SnapshotStoreOptions,
  writeSnapshotFile,
} from './snapshot.js';
export {
  segmentFileName,
  type WalAppendResult,
  type WalOptions,
  type WalReadOptions,
  type WalRecord,
  type WalRecordInput,
  type WalRecoveryReport,
  type WalStatistics,
  WriteAheadLog,
} from './wal.js';
