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
import { checkLinearizability, type Operation, registerModel } from '../../src/check/index.js';
import {
  type LeaderlessOptions,
  type LeaderlessReplica,
  leaderless,
} from '../../src/replication/leaderless.js';
import {
  type FaultPlanOptions,
  runSeeds,
  seedRange,
  seedsFromEnvironment,
} from '../../src/sim/index.js';
import { runReplicationScenario } from './sim-harness.js';

const replicas = ['r1', 'r2', 'r3', 'r4', 'r5'];
const seeds = seedsFromEnvironment(process.env, seedRange(1, 40));
const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/replication/leaderless.soak.ts`;

/** Reads of a value overwritten, in real time, by an ok write completed before the read began. */
function staleReads(operations: readonly Operation[]): number {
  const writes = operations.filter((operation) => operation.kind === 'write');
  const writeOf = new Map(writes.map((write) => [`${write.key}\u0000${write.input}`, write]));
  let stale = 0;
  for (const read of operations) {
    if (read.kind !== 'read' || read.status !== 'ok') {
      continue;
    }
    const source =
      read.output === null ? undefined : writeOf.get(`${read.key}\u0000${read.output}`);
    if (
      writes.some(
        (write) =>
          write.key === read.key &&
          write.status === 'ok' &&
          (write.returnTime as number) < read.invokeTime &&
          (read.output === null ||
            (source?.status === 'ok' && (source.returnTime as number) < write.invokeTime)),
      )
    ) {
      stale += 1;
    }
  }
  return stale;
}

function linearizable(operations: readonly Operation[]): 'ok' | 'violation' | 'unknown' {
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    byKey.set(operation.key ?? '', [...(byKey.get(operation.key ?? '') ?? []), operation]);
  }
  let verdict: 'ok' | 'unknown' = 'ok';
  for (const history of byKey.values()) {
    const check = checkLinearizability(registerModel(), history);
    if (check.verdict === 'violation') {
      return 'violation';
    }
    if (check.verdict === 'unknown') {
      verdict = 'unknown';
    }
  }
  return verdict;
}

const networkAndNodes: FaultPlanOptions = {
  nodeIds: replicas,
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
  const result = runReplicationScenario({
    seed,
    factory: leaderless(options),
    replicaCount: 5,
    clientCount: 6,
    keyCount,
    operationCountMax: 400,
    faults,
    faultPhaseMs: 4_000,
  });
  return { result, operations: result.workload.history.operations() };
}

describe(`leaderless soak (${seeds.length} seeds)`, () => {
  it('W=R=2: no stale read of an acknowledged write; reports linearizability violations', () => {
    const violations: number[] = [];
    runSeeds({
      seeds,
      replayCommand,
      scenario: (seed) => {
        const { operations } = run(seed, {}, networkAndNodes);
        assert.equal(staleReads(operations), 0, 'stale reads with W+R>N');
        if (linearizable(operations) === 'violation') {
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
          const { result, operations } = run(
            seed,
            { sloppyQuorum, antiEntropyEveryTicks: 20 },
            networkAndNodes,
            10,
          );
          result.simulation.runForMs(6_000);
          const cores = new Map(
            [...result.programs].map(([id, program]) => [id, program.core as LeaderlessReplica]),
          );
          const any = cores.get('r1') as LeaderlessReplica;
          for (const key of new Set(operations.map((operation) => operation.key ?? ''))) {
            const versions = any
              .preferenceList(key)
              .map((owner) => JSON.stringify(cores.get(owner)?.storedVersion(key)));
            assert.equal(new Set(versions).size, 1, `${key} diverged (sloppy ${sloppyQuorum})`);
          }
          for (const core of cores.values()) {
            assert.equal(core.hints().length, 0, 'hints left after the heal');
          }
        }
      },
    });
  });

  it('reports the anomalies of weaker settings', () => {
    const counts = { one: 0, oneSeeds: 0, sloppy: 0, sloppySeeds: 0, clocks: 0, clockSeeds: 0 };
    for (const seed of seeds) {
      const one = staleReads(
        run(seed, { writeQuorum: 1, readQuorum: 1 }, networkAndNodes).operations,
      );
      const sloppy = staleReads(run(seed, { sloppyQuorum: true }, networkAndNodes).operations);
      const clocks = staleReads(run(seed, {}, withClocks).operations);
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
