/**
 * The seeded multi-leader scenarios and their measures, shared by
 * `multi-leader.test.ts` (a few seeds) and `multi-leader.soak.ts` (the wide sweep).
 */

import {
  type MultiLeaderConflictMode,
  multiLeader,
  type ReplicaCore,
  type ReplicaCoreFactory,
  type ReplicaReply,
  type ReplicaRequest,
} from '../../src/replication/index.js';
import { type ReplicationScenarioResult, runReplicationScenario } from './sim-harness.js';

/** Every conflict mode of `multiLeader`. */
export const modes: readonly MultiLeaderConflictMode[] = ['lww', 'siblings', 'crdt'];

/** A replica's keys and versions, sorted: equal strings mean equal states. */
export function stateOf(core: ReplicaCore): string {
  const keys = (core.durableState() as { keys: [string, unknown, unknown][] }).keys;
  return JSON.stringify([...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Every replica's {@link stateOf}, in the order of the run's replicas. */
export function statesOf(result: ReplicationScenarioResult): string[] {
  return [...result.programs.values()].map((program) => stateOf(program.core));
}

/** The sum of `metric` over the cores. */
export function sum(cores: Iterable<ReplicaCore>, metric: string): number {
  let total = 0;
  for (const core of cores) {
    total += core.metrics()[metric] ?? 0;
  }
  return total;
}

/** The sum of `metric` over the run's replicas (their latest incarnations). */
export function totals(result: ReplicationScenarioResult, metric: string): number {
  return sum(
    [...result.programs.values()].map((program) => program.core),
    metric,
  );
}

/** `r1:4,r2:7` → map (the format docs/replication.md documents). */
export function parseToken(token: string | undefined): Map<string, number> {
  const vector = new Map<string, number>();
  for (const part of (token ?? '').split(',').filter((item) => item !== '')) {
    const [replica, seq] = part.split(':') as [string, string];
    vector.set(decodeURIComponent(replica), Number(seq));
  }
  return vector;
}

/** A write a replica acknowledged: where, its seq there, and the session it came with. */
export interface AppliedWrite {
  readonly replica: string;
  readonly key: string;
  readonly value: string;
  readonly seq: number;
  readonly session: Map<string, number>;
}

/** Wraps a factory to record every write a replica answered `ok`. */
export function recording(factory: ReplicaCoreFactory, log: AppliedWrite[]): ReplicaCoreFactory {
  return (options) => {
    const core = factory(options);
    const pending = new Map<string, ReplicaRequest>();
    return {
      id: core.id,
      request(request) {
        pending.set(request.id, request);
        core.request(request);
      },
      step: (from, message) => core.step(from, message),
      tick: () => core.tick(),
      drain() {
        const output = core.drain();
        for (const { reply } of output.replies) {
          const request = pending.get(reply.id);
          pending.delete(reply.id);
          if (request?.operation.kind === 'write' && reply.status === 'ok') {
            log.push({
              replica: core.id,
              key: request.operation.key,
              value: request.operation.value,
              seq: parseToken(reply.session).get(core.id) as number,
              session: parseToken(request.session),
            });
          }
        }
        return output;
      },
      durableState: () => core.durableState(),
      metrics: () => core.metrics(),
    };
  };
}

/** The values of the writes that survive: those no later write's session had seen. */
export function survivingValues(log: readonly AppliedWrite[]): string[] {
  return log
    .filter(
      (write) =>
        !log.some(
          (other) =>
            other.key === write.key && (other.session.get(write.replica) ?? 0) >= write.seq,
        ),
    )
    .map((write) => write.value)
    .sort();
}

/** Concurrent writers of one key, any replica, no faults: the lab's conflict scenario. */
export function concurrentWriters(
  factory: ReplicaCoreFactory,
  seed: number,
): ReplicationScenarioResult {
  return runReplicationScenario({
    seed,
    factory,
    keyCount: 1,
    clientCount: 4,
    operationCountMax: 120,
  });
}

/** A read of the one key of {@link concurrentWriters} ('k') at `core`, answered at once. */
export function finalRead(core: ReplicaCore): ReplicaReply | undefined {
  // One key: the workload leaves it unnamed and the harness calls it 'k'.
  core.request({ id: 'final', client: 'checker', operation: { kind: 'read', key: 'k' } });
  return core.drain().replies[0]?.reply;
}

/**
 * Four writers of one key under `'lww'`, without sessions, on `r1`..`r3` split and
 * isolated: the run whose history shows multi-leader is not linearizable. On a healthy
 * network replication outruns the clients and the histories happen to look
 * linearizable; a partition shows what multi-leader promises.
 */
export function partitionedWriters(seed: number): ReplicationScenarioResult {
  return runReplicationScenario({
    seed,
    factory: multiLeader({ conflicts: 'lww' }),
    keyCount: 1,
    clientCount: 4,
    operationCountMax: 80,
    client: { sessions: false },
    faults: {
      nodeIds: ['r1', 'r2', 'r3'],
      faultPhaseMs: 2_000,
      intervalMsMean: 200,
      durationMsMax: 800,
      weights: { isolate: 1, split: 1 },
    },
    faultPhaseMs: 2_000,
  });
}
