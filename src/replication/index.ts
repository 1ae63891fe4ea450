/**
 * `distkit/replication`: replication modes as sans-I/O state machines behind one port,
 * {@link ReplicaCore}, so the simulator, the lab and real processes run any of them.
 *
 * @packageDocumentation
 */

export { type ConsensusMetrics, type ConsensusOptions, consensus } from './consensus.js';
export {
  formatSessionToken,
  type LeaderFollowerMetrics,
  type LeaderFollowerOptions,
  type LogPosition,
  leaderFollower,
  parseSessionToken,
  type ReplicationMode,
} from './leader-follower.js';
export {
  compareLeaderlessVersions,
  type LeaderlessDurableState,
  type LeaderlessMetrics,
  type LeaderlessOptions,
  LeaderlessReplica,
  type LeaderlessVersion,
  leaderless,
  mergeLeaderlessVersions,
} from './leaderless.js';
export {
  differingLeaves,
  MerkleTree,
  merkleDifference,
  merkleLeafCount,
  merkleLeafOf,
} from './merkle-tree.js';
export {
  type MultiLeaderConflictMode,
  type MultiLeaderOptions,
  multiLeader,
  multiLeaderDefaults,
} from './multi-leader.js';
export type {
  ClientEnvelope,
  DurableChanges,
  KeyedDurableState,
  ParseReplicaRequestResult,
  PeerEnvelope,
  ReplicaCore,
  ReplicaCoreFactory,
  ReplicaCoreOptions,
  ReplicaId,
  ReplicaOperation,
  ReplicaOutput,
  ReplicaReply,
  ReplicaRequest,
  ReplicaRequestLimits,
  RequestSettings,
} from './protocol.js';
export { applyDurableChanges, parseReplicaRequest } from './protocol.js';
