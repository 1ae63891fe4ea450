/**
 * The wider leaderless sweep of `npm run test:soak`: 5 replicas, N=3, `DISTKIT_SIM_SEED_COUNT`
 * seeds (40 by default) under every network and node fault. It fails only on the
 * guarantees the mode claims (W+R>N reads never miss a write acknowledged before they
 * began, when clocks are sane; anti-entropy converges every key after the heal) and
 * reports the anomalies it measures (linearizability violations at W=R=2, stale reads at
 * W=R=1, with a sloppy quorum, and at W=R=2 when wall clocks jump).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeaderlessOptions } from '../../src/replication/leaderless.js';
import {
  type FaultPlanOptions,
  runSeeds,
  seedRange,
  seedsFromEnvironment,
} from '../../src/sim/index.js';
import {
  diverged,
  fiveReplicas,
  linearizabilityViolation,
  simulate,
} from './leaderless-scenario.js';

const seeds = seedsFromEnvironment(process.env, seedRange(1, 40));
const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/replication/leaderless.soak.ts`;

const networkAndNodes: FaultPlanOptions = {
  nodeIds: fiveReplicas,
  faultPhaseMs: 4_000,
  weights: {
    isolate: 1,
    split: 1,
    bridge: 1,
    ring: 1,
    'block-one-way': 1,
    clog: 1,
    loss: 1,
    'latency-spike': 2,
    crash: 1,
    pause: 1,
  },
  intervalMsMean: 250,
  spikeLatency: { kind: 'uniform', delayMsMin: 1, delayMsMax: 100 },
};

const withClocks: FaultPlanOptions = {
  ...networkAndNodes,
  weights: { ...networkAndNodes.weights, 'clock-jump': 1, 'clock-offset': 1 },
  clockStepMsMax: 2_000,
};

function run(seed: number, options: LeaderlessOptions, faults: FaultPlanOptions, keyCount = 2) {
  return simulate(seed, options, { clientCount: 6, keyCount, operationCountMax: 400, faults });
}

describe(`leaderless soak (${seeds.length} seeds)`, () => {
  it('W=R=2: no stale read of an acknowledged write; reports linearizability violations', () => {
    const violations: number[] = [];
    runSeeds({
      seeds,
      replayCommand,
      scenario: (seed) => {
        const { operations, stale } = run(seed, {}, networkAndNodes);
        assert.equal(stale.length, 0, 'stale reads with W+R>N');
        if (linearizabilityViolation(operations) !== undefined) {
          violations.push(seed);
        }
      },
    });
    console.log(
      `W=R=2: not linearizable in ${violations.length} of ${seeds.length} seeds (${violations.join(', ')})`,
    );
  });

  it('after the heal, anti-entropy converges every key, strict or sloppy', () => {
    runSeeds({
      seeds,
      replayCommand,
      scenario: (seed) => {
        for (const sloppyQuorum of [false, true]) {
          const measured = run(
            seed,
            { sloppyQuorum, antiEntropyEveryTicks: 20 },
            networkAndNodes,
            10,
          );
          measured.result.simulation.runForMs(6_000);
          assert.deepEqual(diverged(measured), [], `diverged (sloppy ${sloppyQuorum})`);
        }
      },
    });
  });

  it('reports the anomalies of weaker settings', () => {
    const counts = { one: 0, oneSeeds: 0, sloppy: 0, sloppySeeds: 0, clocks: 0, clockSeeds: 0 };
    for (const seed of seeds) {
      const one = run(seed, { writeQuorum: 1, readQuorum: 1 }, networkAndNodes).stale.length;
      const sloppy = run(seed, { sloppyQuorum: true }, networkAndNodes).stale.length;
      const clocks = run(seed, {}, withClocks).stale.length;
      counts.one += one;
      counts.oneSeeds += one > 0 ? 1 : 0;
      counts.sloppy += sloppy;
      counts.sloppySeeds += sloppy > 0 ? 1 : 0;
      counts.clocks += clocks;
      counts.clockSeeds += clocks > 0 ? 1 : 0;
    }
    console.log(
      `stale reads over ${seeds.length} seeds: W=R=1 ${counts.one} (${counts.oneSeeds} seeds); sloppy W=R=2 ${counts.sloppy} (${counts.sloppySeeds} seeds); W=R=2 with wall-clock jumps ${counts.clocks} (${counts.clockSeeds} seeds)`,
    );
    assert.ok(counts.one > 0);
  });
});
