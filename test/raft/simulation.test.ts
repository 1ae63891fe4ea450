/**
 * Raft under the deterministic simulator: 3- and 5-node clusters, clients reading,
 * writing and compare-and-setting one register through any node, a nemesis of
 * partitions, crashes (losing unsynced writes), pauses, clock faults, loss, duplication
 * and reordering. Every history must be linearizable, the cluster must make progress
 * again after the heal, and the Raft paper's safety properties must hold throughout
 * (one test per property below).
 *
 * Replay a seed with `DISTKIT_SIM_SEED=<seed> node --import tsx --test test/raft/simulation.test.ts`;
 * widen the sweep with `DISTKIT_SIM_SEED_COUNT=<n>` (`npm run test:soak`).
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { casRegisterModel, checkLinearizability } from '../../src/check/index.js';
import type { MemoryRaftStorage } from '../../src/raft/index.js';
import {
  checkLiveness,
  Nemesis,
  runSeeds,
  Simulation,
  seedRange,
  seedsFromEnvironment,
  Workload,
} from '../../src/sim/index.js';
import { type ClusterOptions, RaftClient, RaftNodeProgram, SafetyObserver } from './sim-cluster.js';

const replayCommandFor =
  (nodeCount: number) =>
  (seed: number): string =>
    `DISTKIT_SIM_SEED=${seed} DISTKIT_RAFT_NODE_COUNT=${nodeCount} node --import tsx --import ./scripts/fast-check-setup.mjs --test test/raft/simulation.test.ts`;

interface ScenarioResult {
  readonly nodeCount: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly applied: number;
  readonly livenessAfterMs: number;
  readonly faults: Readonly<Record<string, number>>;
}

/** One seeded run; throws (with the seed) on a violation. */
export function raftScenario(
  seed: number,
  nodeCount: number,
  total: SafetyObserver,
): ScenarioResult {
  const observer = new SafetyObserver();
  const ids = Array.from({ length: nodeCount }, (_, index) => `n${index + 1}`);
  const simulation = new Simulation({
    seed,
    replayCommand: replayCommandFor(nodeCount)(seed),
    network: { lossProbability: 0.01, duplicateProbability: 0.01 },
  });
  const storages = new Map<string, MemoryRaftStorage>();
  const options: ClusterOptions = { voters: ids, observer, storages, snapshotEveryEntries: 25 };
  for (const id of ids) {
    simulation.addNode({ id, program: (host) => new RaftNodeProgram(host, options) });
  }
  const workload = new Workload(simulation, {
    model: 'cas-register',
    clientCount: 4,
    operationCountMax: 160,
    operationTimeoutMs: 600,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: 80 },
    mix: { read: 2, write: 1, cas: 1 },
    client: (host) => new RaftClient(host, ids),
  });
  const nemesis = new Nemesis(simulation, {
    faultPhaseMs: 6_000,
    plan: { intervalMsMean: 400, durationMsMax: 1_500, clockStepMsMax: 2_000 },
  });
  nemesis.runUntilHealed();
  simulation.runUntil(() => workload.done, { timeoutMs: 30_000 });

  // Liveness after the heal: a fresh write through every node in turn must commit.
  let livenessReplies = 0;
  simulation.addClient({
    id: 'liveness',
    program: (host) => {
      let next = 1_000_000;
      const send = (): void => {
        next += 1;
        host.send(ids[next % ids.length] as string, {
          id: next,
          kind: 'write',
          key: 'liveness',
          input: next,
        });
        host.scheduler.schedule(50, send);
      };
      send();
      return {
        onMessage: (_from: string, message: unknown) => {
          if ((message as { status?: string }).status === 'ok') {
            livenessReplies += 1;
          }
        },
      };
    },
  });
  const live = checkLiveness(simulation, { progress: () => livenessReplies, withinMs: 5_000 });
  if (!live.live) {
    throw new Error(`no progress after the heal: ${live.explanation}`);
  }
  const check = checkLinearizability(casRegisterModel(), workload.history.operations());
  if (check.verdict !== 'ok') {
    throw new Error(
      check.verdict === 'violation'
        ? `not linearizable: ${check.explanation.message}`
        : `linearizability unknown: ${check.message}`,
    );
  }
  observer.checkLogMatching(storages);
  total.merge(observer, `seed ${seed}`);
  const statistics = workload.statistics;
  const faults: Record<string, number> = {};
  for (const entry of nemesis.log) {
    if (entry.event === 'start' && entry.fault !== undefined) {
      faults[entry.fault.kind] = (faults[entry.fault.kind] ?? 0) + 1;
    }
  }
  return {
    nodeCount,
    ok: statistics.okCount,
    fail: statistics.failCount,
    unknown: statistics.unknownCount,
    applied: observer.appliedCount,
    livenessAfterMs: live.afterMs,
    faults,
  };
}

/** `DISTKIT_RAFT_NODE_COUNT` (3 or 5) narrows a replay to one cluster size. */
const onlyNodeCount = process.env['DISTKIT_RAFT_NODE_COUNT'];
const groups = (
  [
    [3, seedsFromEnvironment(process.env, seedRange(1, 12))],
    [5, seedsFromEnvironment(process.env, seedRange(101, 6))],
  ] as const
).filter(([nodeCount]) => onlyNodeCount === undefined || String(nodeCount) === onlyNodeCount);

describe('raft under simulation', () => {
  const observer = new SafetyObserver();
  const results: ScenarioResult[] = [];

  before(() => {
    for (const [nodeCount, seeds] of groups) {
      const runs = runSeeds({
        seeds,
        replayCommand: replayCommandFor(nodeCount),
        scenario: (seed) => raftScenario(seed, nodeCount, observer),
      });
      for (const run of runs) {
        results.push(run.result);
        console.log(`seed ${run.seed}: ${JSON.stringify(run.result)}`);
      }
    }
  });

  it('keeps every history linearizable and recovers liveness after the heal', () => {
    assert.ok(results.length > 0);
    console.log(
      `snapshots installed ${observer.snapshotsInstalled}, recoveries from disk ${observer.recoveries}`,
    );
    if (results.length >= 6) {
      // Over the default sweep (not a one-seed replay), the faults must have exercised these.
      assert.ok(observer.snapshotsInstalled > 0, 'some follower caught up by snapshot');
      assert.ok(observer.recoveries > 0, 'some node recovered from its disk');
    }
    const ok = results.reduce((sum, result) => sum + result.ok, 0);
    assert.ok(ok > 0, 'some operations succeeded');
  });

  it('election safety: at most one leader per term', () => {
    assert.ok(observer.checks.electionSafety > 0);
    assert.deepEqual(observer.violations.electionSafety, []);
  });

  it('leader append-only: a leader never overwrites or deletes entries in its log', () => {
    assert.ok(observer.checks.leaderAppendOnly > 0);
    assert.deepEqual(observer.violations.leaderAppendOnly, []);
  });

  it('log matching: logs with an entry of the same index and term are identical up to it', () => {
    assert.ok(observer.checks.logMatching > 0);
    assert.deepEqual(observer.violations.logMatching, []);
  });

  it('leader completeness: a committed entry is in the log of every later leader', () => {
    assert.ok(observer.checks.leaderCompleteness > 0);
    assert.deepEqual(observer.violations.leaderCompleteness, []);
  });

  it('state machine safety: no two nodes apply different entries at one index', () => {
    assert.ok(observer.checks.stateMachineSafety > 0);
    assert.deepEqual(observer.violations.stateMachineSafety, []);
  });
});
