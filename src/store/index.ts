/**
 * `distkit/store`: the replicated key-value store, in two forms.
 *
 * - One Raft group as real processes: {@link RaftReplica} drives the `distkit/raft` core
 *   over the TCP transport of `distkit/net` with its log on disk through
 *   `distkit/storage`, and {@link RaftHttpApi} serves it over HTTP (`distkit raft start`
 *   and `distkit raft cluster`).
 * - The partitioned store: keyspaces cut into shards, each shard a replica group of any
 *   `distkit/replication` mode, and a {@link StoreClient} that serves seven per-request
 *   consistency levels; in the simulator ({@link StoreNodeProgram}) and as real processes
 *   ({@link StoreProcess}, `distkit store start` and `distkit store cluster`).
 *
 * @packageDocumentation
 */

export {
  isReplicaClosedError,
  isReplicaUnavailableError,
  isRequestTimeoutError,
  ReplicaClosedError,
  ReplicaUnavailableError,
  RequestTimeoutError,
  type UnavailableReason,
} from './errors.js';
export { RaftHttpApi, type RaftHttpApiOptions } from './http-api.js';
export {
  type CompareAndSetResult,
  RaftReplica,
  type RaftReplicaOptions,
  type ReadConsistency,
  type ReadResult,
  type ReplicaEvent,
  type ReplicaStatus,
  type RequestOptions,
  readConsistencies,
  reservedKeyPrefix,
  type WriteResult,
} from './raft-replica.js';
export {
  type StoreEnvelope,
  type StoreMessage,
  StoreNodeCore,
  type StoreNodeCoreOptions,
  type StoreNodeDurableState,
  StoreNodeProgram,
} from './shard-node.js';
export {
  type ConsistencyLevelCheckOptions,
  type ConsistencyLevelCheckResult,
  checkConsistencyLevel,
} from './sharded-check.js';
export {
  StoreClient,
  type StoreClientOptions,
  type StoreClientTransport,
  type StoreRequestOptions,
  type StoreResult,
} from './sharded-client.js';
export {
  type ConsistencyLevelScenarioOptions,
  type ConsistencyLevelScenarioResult,
  runConsistencyLevelScenario,
  runShardedStoreWorkload,
  type ShardedStoreWorkloadOptions,
  type ShardedStoreWorkloadResult,
  StoreWorkloadClient,
} from './sharded-sim.js';
export {
  type ConsistencyLevel,
  ConsistencyLevelUnsupportedError,
  consistencyLevels,
  isConsistencyLevelUnsupportedError,
  type KeyspaceOptions,
  type KeyspacePartitioning,
  levelsOffered,
  type ReadPlan,
  readPlanFor,
  type ShardDescriptor,
  ShardedStoreLayout,
  type ShardedStoreLayoutOptions,
  type ShardModeKind,
  shardedStoreShardCountMax,
  shardModeKinds,
} from './sharded-store.js';
export { storeCheckpointFileName, storeWalDirectoryName } from './store-durable-log.js';
export {
  StoreProcess,
  type StoreProcessEvent,
  type StoreProcessLayoutOptions,
  type StoreProcessOptions,
  type StoreProcessStatus,
  storeModeFactory,
  storeProcessLayout,
} from './store-process.js';
export {
  StoreHttpApi,
  type StoreHttpApiOptions,
  storeSessionHeader,
} from './store-process-http.js';
export {
  StoreSession,
  type StoreSessionOptions,
  storeSessionTextLengthMax,
} from './store-session.js';
