/**
 * `distkit/raft`: the Raft consensus core as a sans-I/O state machine in the style of
 * etcd's raft library. A {@link RaftNode} takes ticks, messages and proposals and returns
 * a {@link Ready}: what to persist, what to send and what to apply; the driver does the
 * I/O and calls `advance`. Pre-vote, check-quorum, per-follower flow control, ReadIndex
 * and lease reads, chunked snapshots, joint-consensus membership and leadership transfer.
 * {@link MemoryRaftStorage} is the in-memory log store; {@link KeyValueStateMachine} a
 * replicated key-value map.
 *
 * @packageDocumentation
 */

export {
  type DecodedKeyValueCommand,
  decodeKeyValueCommand,
  encodeKeyValueCommand,
  type KeyValueCommand,
  type KeyValueResult,
  KeyValueStateMachine,
  type StateMachine,
} from './kv.js';
export {
  defaultRaftMessageLimits,
  isRaftMessageInvalidError,
  type ParseRaftMessageResult,
  parseRaftMessage,
  RaftMessageInvalidError,
  type RaftMessageLimits,
  requireRaftMessage,
} from './message-validation.js';
export type { ProgressState } from './progress.js';
export { committedIndex, type VoteOutcome, voteOutcome } from './quorum.js';
export {
  type DropReason,
  type ProposeResult,
  RaftNode,
  type RaftNodeOptions,
  type RaftStatus,
  type ReadIndexResult,
  type ReadOnlyMode,
  type Ready,
  type TransferResult,
} from './raft-node.js';
export {
  type InitialState,
  logEntriesWithinBytes,
  MemoryRaftStorage,
  type MemoryRaftStorageOptions,
  type RaftStorage,
} from './storage.js';
export type {
  AppendRequest,
  AppendResponse,
  Entry,
  EntryType,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  Membership,
  NodeId,
  ProposalForward,
  RaftMessage,
  RaftMessageType,
  RaftRole,
  ReadIndexRequest,
  ReadIndexResponse,
  ReadState,
  Snapshot,
  SnapshotChunk,
  SnapshotMetadata,
  SnapshotResponse,
  SoftState,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './types.js';
export { entryBytes } from './types.js';
