/**
 * The seeded leaderless scenarios and their measures, shared by `leaderless.test.ts` (a
 * few seeds) and `leaderless.soak.ts` (the wide sweep).
 */

import type { Operation } from '../../src/check/index.js';
import {
  type LeaderlessOptions,
  type LeaderlessReplica,
  leaderless,
} from '../../src/replication/leaderless.js';
import {
  type ReplicationScenarioOptions,
  type ReplicationScenarioResult,
  runReplicationScenario,
} from './sim-harness.js';
import { linearizabilityByKey } from './support.js';

/** The replicas of every scenario here (N=3 of them own each key). */
export const fiveReplicas = ['r1', 'r2', 'r3', 'r4', 'r5'];

/**
 * Stale reads over a recorded history (written values are unique): an ok read is stale
 * when some ok write of its key completed before the read was invoked and the write of
 * the value read (or no write at all, for a null read) completed before that write was
 * invoked, so the value read was overwritten, in real time, before the read began.
 */
export function staleReads(operations: readonly Operation[]): Operation[] {
  const writes = operations.filter((operation) => operation.kind === 'write');
  const writeOf = new Map(writes.map((write) => [`${write.key}\u0000${write.input}`, write]));
  const stale: Operation[] = [];
  for (const read of operations) {
    if (read.kind !== 'read' || read.status !== 'ok') {
      continue;
    }
    const source =
      read.output === null ? undefined : writeOf.get(`${read.key}\u0000${read.output}`);
    const overwritten = writes.some(
      (write) =>
        write.key === read.key &&
        write.status === 'ok' &&
        (write.returnTime as number) < read.invokeTime &&
        (read.output === null ||
          (source?.status === 'ok' && (source.returnTime as number) < write.invokeTime)),
    );
    if (overwritten) {
      stale.push(read);
    }
  }
  return stale;
}

/** The first key whose history is not linearizable, explained in a line; or undefined. */
export function linearizabilityViolation(operations: readonly Operation[]): string | undefined {
  for (const [key, check] of linearizabilityByKey(operations)) {
    if (check.verdict === 'violation') {
      return `key ${key}: ${check.explanation.message.split('\n')[0]}`;
    }
  }
  return undefined;
}

/** One seeded run: its result, history and stale reads. */
export interface Measured {
  readonly seed: number;
  readonly result: ReplicationScenarioResult;
  readonly operations: Operation[];
  readonly stale: Operation[];
}

/** Runs `leaderless(options)` on five replicas (faults healed at 4 s) and measures it. */
export function simulate(
  seed: number,
  options: LeaderlessOptions,
  workload: Partial<ReplicationScenarioOptions>,
): Measured {
  const result = runReplicationScenario({
    seed,
    factory: leaderless(options),
    replicaCount: 5,
    faultPhaseMs: 4_000,
    ...workload,
  });
  const operations = result.workload.history.operations();
  return { seed, result, operations, stale: staleReads(operations) };
}

/**
 * What keeps a run from having converged: each key of the history whose owners hold
 * different versions, and each replica that still holds hints. Empty when converged.
 */
export function diverged(measured: Measured): string[] {
  const cores = new Map(
    [...measured.result.programs].map(([id, program]) => [id, program.core as LeaderlessReplica]),
  );
  const any = cores.get('r1') as LeaderlessReplica;
  const keys = new Set(measured.operations.map((operation) => operation.key ?? ''));
  const problems: string[] = [];
  for (const key of keys) {
    const versions = any
      .preferenceList(key)
      .map((owner) => JSON.stringify((cores.get(owner) as LeaderlessReplica).storedVersion(key)));
    if (new Set(versions).size !== 1) {
      problems.push(`${key}: ${versions.join(' / ')}`);
    }
  }
  for (const [id, core] of cores) {
    if (core.hints().length > 0) {
      problems.push(`${id} still holds ${core.hints().length} hints`);
    }
  }
  return problems;
}
