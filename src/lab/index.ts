/**
 * `distkit/lab`: the CAP/PACELC lab. Runs replication modes against fault scenarios in the
 * deterministic simulator and measures, per cell, availability, latency, staleness,
 * acknowledged writes lost, conflicts and the consistency models the history satisfies.
 *
 * @packageDocumentation
 */

export {
  type ClientPolicy,
  ReplicaClient,
  ReplicaProgram,
  type ReplicationScenarioOptions,
  type ReplicationScenarioResult,
  runReplicationScenario,
} from './replica-program.js';
