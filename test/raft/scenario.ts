/**
 * The seeded Raft scenario shared by `simulation.test.ts` (a fixed small sweep in
 * `npm test`) and `simulation.soak.ts` (harsher faults and more seeds in
 * `npm run test:soak`): a cluster under a workload and a nemesis, then a heal, a
 * liveness check, a linearizability check and the safety properties.
 */

import { casRegisterModel, checkLinearizability, type Operation } from '../../src/check/index.js';
import type { MemoryRaftStorage, ReadOnlyMode } from '../../src/raft/index.js';
import {
  checkLiveness,
  type FaultKind,
  faultKinds,
  Nemesis,
  Simulation,
  Workload,
} from '../../src/sim/index.js';
import { type ClusterOptions, RaftClient, RaftNodeProgram, SafetyObserver } from './sim-cluster.js';

/** Fault intensity and cluster settings of a sweep. */
export interface ScenarioVariant {
  /** The test file that replays a seed of this variant. */
  readonly file: string;
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  /** The nemesis's mean gap between faults. */
  readonly faultIntervalMsMean: number;
  readonly snapshotEveryEntries: number;
  readonly readOnly: ReadOnlyMode;
  /**
   * Accept a history the checker could not decide within its budget (many operations
   * of unknown outcome under heavy faults); a violation still fails.
   */
  readonly allowUndecided: boolean;
  /**
   * Every this many milliseconds (0: never) a client asks the leader to change the
   * membership: a random 3 to all of the nodes become the voters, the rest learners.
   */
  readonly reconfigureEveryMs?: number;
  /** Fault kinds the nemesis leaves out (default none). */
  readonly excludedFaults?: readonly FaultKind[];
  /** Virtual ms a steady leader's sync lags behind its sends (see `ClusterOptions`). Default 1. */
  readonly leaderSyncDelayMs?: number;
}

export const defaultVariant: ScenarioVariant = {
  file: 'test/raft/simulation.test.ts',
  lossProbability: 0.01,
  duplicateProbability: 0.01,
  faultIntervalMsMean: 400,
  snapshotEveryEntries: 25,
  readOnly: 'read-index',
  allowUndecided: false,
};

/** Every fault kind the node count allows, with weight 1, except `excluded`. */
function weightsWithout(
  excluded: readonly FaultKind[],
  nodeCount: number,
): Partial<Record<FaultKind, number>> {
  const weights: Partial<Record<FaultKind, number>> = {};
  for (const kind of faultKinds) {
    const allowed = kind === 'ring' ? nodeCount >= 4 : kind === 'bridge' ? nodeCount >= 3 : true;
    if (allowed && !excluded.includes(kind)) {
      weights[kind] = 1;
    }
  }
  return weights;
}

/** The command that replays one seed of a variant. */
export function replayCommandFor(variant: ScenarioVariant, nodeCount: number) {
  return (seed: number): string =>
    `DISTKIT_SIM_SEED=${seed} DISTKIT_RAFT_NODE_COUNT=${nodeCount} node --import tsx --import ./scripts/fast-check-setup.mjs --test ${variant.file}`;
}

export interface ScenarioResult {
  readonly nodeCount: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly applied: number;
  readonly livenessAfterMs: number;
  readonly faults: Readonly<Record<string, number>>;
  /** Keys whose history the checker could not decide within its budget (allowed only when `allowUndecided`). */
  readonly undecidedKeys: number;
}

/** One seeded run; throws on a violation. Its observer's counts are merged into `total`. */
export function raftScenario(
  seed: number,
  nodeCount: number,
  total: SafetyObserver,
  variant: ScenarioVariant = defaultVariant,
): ScenarioResult {
  const observer = new SafetyObserver();
  const ids = Array.from({ length: nodeCount }, (_, index) => `n${index + 1}`);
  const simulation = new Simulation({
    seed,
    replayCommand: replayCommandFor(variant, nodeCount)(seed),
    network: {
      lossProbability: variant.lossProbability,
      duplicateProbability: variant.duplicateProbability,
    },
  });
  const storages = new Map<string, MemoryRaftStorage>();
  const options: ClusterOptions = {
    voters: ids,
    observer,
    storages,
    snapshotEveryEntries: variant.snapshotEveryEntries,
    readOnly: variant.readOnly,
    ...(variant.leaderSyncDelayMs === undefined
      ? {}
      : { leaderSyncDelayMs: variant.leaderSyncDelayMs }),
  };
  const programs = new Map<string, RaftNodeProgram>();
  for (const id of ids) {
    simulation.addNode({
      id,
      program: (host) => {
        const program = new RaftNodeProgram(host, options);
        programs.set(id, program);
        return program;
      },
    });
  }
  const describeCluster = (): string =>
    [...programs.values()]
      .map((program) => {
        const status = program.node.status();
        return `${status.id}: ${status.role} term ${status.term} leader ${status.leader ?? '-'} commit ${status.commitIndex} applied ${status.appliedIndex} last ${status.lastIndex} voters ${status.membership.voters.join(',')} outgoing ${status.membership.votersOutgoing.join(',')} learners ${status.membership.learners.join(',')}`;
      })
      .join('; ');
  const workload = new Workload(simulation, {
    model: 'cas-register',
    clientCount: 4,
    operationCountMax: 160,
    operationTimeoutMs: 600,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: 80 },
    mix: { read: 2, write: 1, cas: 1 },
    // Three independent registers: each key's history is checked on its own, which keeps
    // the search small when many operations end with an unknown outcome.
    keyCount: 3,
    client: (host) => new RaftClient(host, ids),
  });
  const reconfigureEveryMs = variant.reconfigureEveryMs ?? 0;
  if (reconfigureEveryMs > 0) {
    simulation.addClient({
      id: 'reconfigurer',
      program: (host) => {
        const change = (): void => {
          const shuffled = host.random.shuffle([...ids]);
          const count = host.random.integer(3, ids.length);
          const voters = shuffled.slice(0, count).sort();
          const learners = shuffled.slice(count).sort();
          for (const id of ids) {
            host.send(id, { kind: 'reconfigure', voters, learners });
          }
          if (host.clock.nowMs() < 6_000) {
            host.scheduler.schedule(reconfigureEveryMs, change);
          }
        };
        host.scheduler.schedule(reconfigureEveryMs, change);
        return { onMessage: () => {} };
      },
    });
  }
  const nemesis = new Nemesis(simulation, {
    faultPhaseMs: 6_000,
    plan: {
      intervalMsMean: variant.faultIntervalMsMean,
      durationMsMax: 1_500,
      clockStepMsMax: 2_000,
      ...(variant.excludedFaults === undefined
        ? {}
        : { weights: weightsWithout(variant.excludedFaults, nodeCount) }),
    },
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
    throw new Error(`no progress after the heal: ${live.explanation} Raft: ${describeCluster()}`);
  }
  const byKey = new Map<string, Operation[]>();
  for (const operation of workload.history.operations()) {
    const key = operation.key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), operation]);
  }
  let undecidedKeys = 0;
  for (const [key, operations] of byKey) {
    const check = checkLinearizability(casRegisterModel(), operations);
    if (check.verdict === 'unknown') {
      undecidedKeys += 1;
    }
    if (check.verdict === 'violation') {
      throw new Error(
        `not linearizable (key ${key}): ${check.explanation.message}\nFaults:\n${nemesis.formatLog().join('\n')}`,
      );
    }
    if (check.verdict === 'unknown' && !variant.allowUndecided) {
      throw new Error(`linearizability undecided (key ${key}): ${check.message}`);
    }
  }
  observer.checkLogMatching(storages);
  total.merge(observer, `seed ${seed} (${nodeCount} nodes)`);
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
    undecidedKeys,
  };
}

/** The sweep and the per-property tests, shared by the test and soak files. */
export function safetyTests(
  describe: (name: string, body: () => void) => void,
  it: (name: string, body: () => void) => void,
  before: (body: () => void) => void,
  assert: typeof import('node:assert/strict'),
  groups: readonly (readonly [number, readonly number[]])[],
  variant: ScenarioVariant,
  runSeeds: typeof import('../../src/sim/index.js').runSeeds,
  title: string,
): void {
  describe(title, () => {
    const observer = new SafetyObserver();
    const results: ScenarioResult[] = [];

    before(() => {
      for (const [nodeCount, seeds] of groups) {
        const runs = runSeeds({
          seeds,
          replayCommand: replayCommandFor(variant, nodeCount),
          scenario: (seed) => raftScenario(seed, nodeCount, observer, variant),
        });
        for (const run of runs) {
          results.push(run.result);
        }
      }
      console.log(
        `${results.length} seeds: ${results.reduce((sum, result) => sum + result.ok, 0)} operations ok, ${results.reduce((sum, result) => sum + result.undecidedKeys, 0)} key histories undecided within the checker's budget, snapshots installed ${observer.snapshotsInstalled}, membership entries applied ${observer.membershipEntriesApplied}, recoveries from disk ${observer.recoveries}, entries applied ${observer.appliedCount}`,
      );
    });

    it('keeps every history linearizable and recovers liveness after the heal', () => {
      assert.ok(results.length > 0);
      assert.ok(
        results.reduce((sum, result) => sum + result.ok, 0) > 0,
        'some operations succeeded',
      );
      if (results.length >= 6) {
        // Over a sweep (not a one-seed replay), the faults must have exercised these.
        assert.ok(observer.snapshotsInstalled > 0, 'some follower caught up by snapshot');
        assert.ok(observer.recoveries > 0, 'some node recovered from its disk');
      }
      if ((variant.reconfigureEveryMs ?? 0) > 0) {
        assert.ok(observer.membershipEntriesApplied > 0, 'membership changes were applied');
      }
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

    it('leader completeness: an entry committed in a term is in the log of every leader of a later term', () => {
      assert.ok(observer.checks.leaderCompleteness > 0);
      assert.deepEqual(observer.violations.leaderCompleteness, []);
    });

    it('state machine safety: no two nodes apply different entries at one index', () => {
      assert.ok(observer.checks.stateMachineSafety > 0);
      assert.deepEqual(observer.violations.stateMachineSafety, []);
    });
  });
}
