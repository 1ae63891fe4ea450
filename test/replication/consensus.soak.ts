/**
 * The wide consensus sweep of `npm run test:soak`: `DISTKIT_SIM_SEED_COUNT` seeds (100 by
 * default) of 3- and 5-replica Raft groups on a network that loses and duplicates 5% of
 * the messages, under every fault kind (crashes with restarts from the durable state,
 * partitions of every shape, pauses, lossy, clogged and slow links, clock jumps, offsets
 * and drift), with frequent snapshots. Every history must be linearizable per key and no
 * acknowledged write may be lost; a failure names the seed and its replay command.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSeeds, seedRange, seedsFromEnvironment } from '../../src/sim/index.js';
import { measure } from './consensus-scenario.js';
import { everyFaultKind } from './support.js';

const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --import ./scripts/fast-check-setup.mjs --test test/replication/consensus.soak.ts`;

interface Totals {
  ok: number;
  fail: number;
  unknown: number;
  leaderChanges: number;
  snapshots: number;
  snapshotsInstalled: number;
}

/** One seed; throws (with the seed) when it is not linearizable or lost an acknowledged write. */
function run(seed: number, replicaCount: number, snapshotEveryEntries: number, totals: Totals) {
  const replicas = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
  const measured = measure(
    seed,
    { snapshotEveryEntries },
    {
      replicaCount,
      clientCount: 5,
      operationCountMax: 300,
      network: { lossProbability: 0.05, duplicateProbability: 0.05 },
      faults: everyFaultKind(replicas, {
        crashCountMax: Math.floor((replicas.length - 1) / 2),
        clockRateDeviationMax: 0.3,
      }),
      faultPhaseMs: 5_000,
      settleMs: 1_000,
    },
  );
  assert.deepEqual(
    measured.violations,
    [],
    `seed ${seed}, ${replicaCount} replicas, not linearizable; replay: ${replayCommand(seed)}`,
  );
  assert.equal(measured.undecidedKeys, 0, `seed ${seed}: the checker could not decide a key`);
  assert.deepEqual(
    measured.lostWrites,
    [],
    `seed ${seed}, ${replicaCount} replicas: acknowledged writes lost; replay: ${replayCommand(seed)}`,
  );
  totals.ok += measured.ok;
  totals.fail += measured.fail;
  totals.unknown += measured.unknown;
  totals.leaderChanges += measured.leaderChanges;
  totals.snapshots += measured.snapshots;
  totals.snapshotsInstalled += measured.snapshotsInstalled;
}

describe('consensus soak: every fault kind on a lossy, duplicating network', () => {
  for (const replicaCount of [3, 5]) {
    for (const snapshotEveryEntries of [1_000, 5]) {
      it(`${replicaCount} replicas, a snapshot every ${snapshotEveryEntries} entries: linearizable, nothing acknowledged lost`, () => {
        const totals: Totals = {
          ok: 0,
          fail: 0,
          unknown: 0,
          leaderChanges: 0,
          snapshots: 0,
          snapshotsInstalled: 0,
        };
        const seeds = seedsFromEnvironment(process.env, seedRange(1, 100));
        runSeeds({
          seeds,
          replayCommand,
          scenario: (seed) => run(seed, replicaCount, snapshotEveryEntries, totals),
        });
        console.log(
          `consensus soak, ${replicaCount} replicas, snapshot every ${snapshotEveryEntries}, ${seeds.length} seeds: ${JSON.stringify(totals)}`,
        );
        assert.ok(totals.ok > 0);
      });
    }
  }
});
