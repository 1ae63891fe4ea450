/**
 * The simulator harness of the replication tests lives in the library now
 * (`src/lab/replica-program.ts`, the lab's runner is built on it); this file re-exports it
 * so the tests of every mode import it from where they always did.
 */

export {
  type ClientPolicy,
  ReplicaClient,
  ReplicaProgram,
  type ReplicationScenarioOptions,
  type ReplicationScenarioResult,
  runReplicationScenario,
} from '../../src/lab/replica-program.js';
