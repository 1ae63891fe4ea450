/**
 * `distkit/store`: the replicated key-value store as running processes. Today one Raft
 * group: {@link RaftReplica} drives the `distkit/raft` core over the TCP transport of
 * `distkit/net` with its log on disk through `distkit/storage`, and {@link RaftHttpApi}
 * serves it over HTTP (`distkit raft start` and `distkit raft cluster` run both).
 * Partitioning across shards and the other replication modes come with the store issue.
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
