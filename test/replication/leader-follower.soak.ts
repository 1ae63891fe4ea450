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
import type { LeaderFollowerOptions } from '../../src/replication/index.js';
import {
  type FaultPlanOptions,
  runSeeds,
  seedRange,
  seedsFromEnvironment,
} from '../../src/sim/index.js';
import { measure } from './leader-follower-scenario.js';
import { everyFaultKind } from './support.js';

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
  const plan = faults(replicas);
  const measured = measure(seed, options, plan, {
    replicaCount,
    network: { lossProbability: 0.05, duplicateProbability: 0.05 },
    operationCountMax: 300,
    faultPhaseMs: plan.faultPhaseMs,
  });
  const faultLog = measured.result.nemesis?.formatLog().join('\n') ?? '';
  const violations = measured.violations.map(
    (violation) => `seed ${seed} ${violation}\nFaults:\n${faultLog}`,
  );
  totals.undecidedKeys += measured.undecidedKeys;
  totals.failovers += measured.failovers;
  totals.ok += measured.ok;
  totals.fail += measured.fail;
  totals.unknown += measured.unknown;
  totals.lost += measured.lost;
  totals.seedsLosing += measured.lost > 0 ? 1 : 0;
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
        (replicas) => everyFaultKind(replicas),
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
