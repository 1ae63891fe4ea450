/**
 * The wide leader-follower sweep of `npm run test:soak`: `DISTKIT_SIM_SEED_COUNT` seeds
 * (100 by default) of 3- and 5-replica groups on a network that loses and duplicates 5%
 * of the messages, under every fault kind (crashes, partitions, pauses, lossy and slow
 * links, clock jumps and drift) or under leader-deposing splits and crashes. Sync mode
 * must stay linearizable and lose no acknowledged write; async and semi-sync are measured
 * (their losses printed), and a violation in sync mode fails with the seed's replay
 * command.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLinearizability, type Operation, registerModel } from '../../src/check/index.js';
import {
  type LeaderFollowerMetrics,
  type LeaderFollowerOptions,
  leaderFollower,
} from '../../src/replication/index.js';
import {
  type FaultPlanOptions,
  Nemesis,
  runSeeds,
  Simulation,
  seedRange,
  seedsFromEnvironment,
  Workload,
} from '../../src/sim/index.js';
import { ReplicaClient, ReplicaProgram } from './sim-harness.js';

const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --import ./scripts/fast-check-setup.mjs --test test/replication/leader-follower.soak.ts`;

interface Totals {
  ok: number;
  fail: number;
  unknown: number;
  lost: number;
  failovers: number;
  seedsLosing: number;
  seedsViolating: number;
  undecidedKeys: number;
}

function everyFault(replicas: readonly string[]): FaultPlanOptions {
  return {
    nodeIds: replicas,
    faultPhaseMs: 5_000,
    intervalMsMean: 300,
    durationMsMax: 1_500,
    crashCountMax: 1,
    clockStepMsMax: 2_000,
  };
}

function leaderDeposing(replicas: readonly string[]): FaultPlanOptions {
  return {
    nodeIds: replicas,
    faultPhaseMs: 5_000,
    weights: { split: 2, crash: 1 },
    crashCountMax: 1,
    intervalMsMean: 800,
    durationMsMin: 400,
    durationMsMax: 1_500,
  };
}

/** One seed on a lossy, duplicating network; returns what it measured, throws on a broken run. */
function run(
  seed: number,
  replicaCount: number,
  options: LeaderFollowerOptions,
  faults: (replicas: readonly string[]) => FaultPlanOptions,
  totals: Totals,
): readonly string[] {
  const replicas = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
  const simulation = new Simulation({
    seed,
    replayCommand: replayCommand(seed),
    network: { lossProbability: 0.05, duplicateProbability: 0.05 },
  });
  const factory = leaderFollower(options);
  const programs = new Map<string, ReplicaProgram>();
  for (const id of replicas) {
    simulation.addNode({
      id,
      program: (host) => {
        const previous = programs.get(id);
        const program = new ReplicaProgram(
          host,
          factory,
          replicas,
          10,
          previous?.core.durableState(),
        );
        programs.set(id, program);
        return program;
      },
    });
  }
  const workload = new Workload(simulation, {
    model: 'register',
    clientCount: 4,
    operationCountMax: 300,
    operationTimeoutMs: 500,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: 40 },
    keyCount: 3,
    client: (host) => new ReplicaClient(host, replicas),
  });
  const plan = faults(replicas);
  const nemesis = new Nemesis(simulation, { faultPhaseMs: plan.faultPhaseMs, plan });
  nemesis.runUntilHealed();
  simulation.runUntil(() => workload.done, { timeoutMs: 60_000 });
  simulation.runForMs(1_000);
  const byKey = new Map<string, Operation[]>();
  for (const operation of workload.history.operations()) {
    const key = operation.key ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), operation]);
  }
  const violations: string[] = [];
  for (const [key, operations] of byKey) {
    const check = checkLinearizability(registerModel(), operations);
    if (check.verdict === 'violation') {
      violations.push(
        `seed ${seed} key ${key}: ${check.explanation.message}\nFaults:\n${nemesis.formatLog().join('\n')}`,
      );
    } else if (check.verdict === 'unknown') {
      totals.undecidedKeys += 1;
    }
  }
  let lost = 0;
  for (const program of programs.values()) {
    const metrics = program.core.metrics() as Partial<LeaderFollowerMetrics>;
    lost += metrics.acknowledgedWritesLost ?? 0;
    totals.failovers += metrics.failovers ?? 0;
  }
  const statistics = workload.statistics;
  totals.ok += statistics.okCount;
  totals.fail += statistics.failCount;
  totals.unknown += statistics.unknownCount;
  totals.lost += lost;
  totals.seedsLosing += lost > 0 ? 1 : 0;
  totals.seedsViolating += violations.length > 0 ? 1 : 0;
  return violations;
}

function sweep(
  title: string,
  replicaCount: number,
  options: LeaderFollowerOptions,
  faults: (replicas: readonly string[]) => FaultPlanOptions,
  firstSeed: number,
  strict: boolean,
): Totals {
  const totals: Totals = {
    ok: 0,
    fail: 0,
    unknown: 0,
    lost: 0,
    failovers: 0,
    seedsLosing: 0,
    seedsViolating: 0,
    undecidedKeys: 0,
  };
  const seeds = seedsFromEnvironment(process.env, seedRange(firstSeed, 100));
  runSeeds({
    seeds,
    replayCommand,
    scenario: (seed) => {
      const violations = run(seed, replicaCount, options, faults, totals);
      if (strict) {
        assert.deepEqual(violations, [], `seed ${seed} is not linearizable`);
        assert.equal(totals.lost, 0, `seed ${seed} lost an acknowledged write`);
      }
    },
  });
  console.log(`${title} (${seeds.length} seeds): ${JSON.stringify(totals)}`);
  return totals;
}

describe('leader-follower soak', () => {
  for (const replicaCount of [3, 5]) {
    const first = replicaCount === 3 ? 1 : 1_001;
    it(`sync, ${replicaCount} replicas, every fault kind: linearizable, nothing acknowledged lost`, () => {
      sweep(
        `sync every fault ${replicaCount}`,
        replicaCount,
        { replication: 'sync' },
        everyFault,
        first,
        true,
      );
    });

    it(`sync, ${replicaCount} replicas, leader split off or crashed: linearizable, nothing acknowledged lost`, () => {
      const totals = sweep(
        `sync leader faults ${replicaCount}`,
        replicaCount,
        { replication: 'sync' },
        leaderDeposing,
        first,
        true,
      );
      assert.ok(totals.ok > 0);
    });

    it(`async and semi-sync, ${replicaCount} replicas, leader faults: losses measured and counted`, () => {
      const asynchronous = sweep(
        `async leader faults ${replicaCount}`,
        replicaCount,
        { replication: 'async' },
        leaderDeposing,
        first,
        false,
      );
      sweep(
        `semi-sync (1 acknowledgement) leader faults ${replicaCount}`,
        replicaCount,
        { replication: 'semi-sync', acknowledgementsRequired: 1 },
        leaderDeposing,
        first,
        false,
      );
      if (process.env['DISTKIT_SIM_SEED'] === undefined) {
        assert.ok(asynchronous.lost > 0, 'async loses acknowledged writes over a sweep');
      }
    });
  }
});
