/**
 * The wider multi-leader sweep of `npm run test:soak`: every conflict mode on 3 and 5
 * replicas under every fault kind the nemesis has (partitions, crashes, pauses, loss,
 * clock jumps and drift), `DISTKIT_SIM_SEED_COUNT` seeds each (40 by default); after the
 * heal every replica must hold the same state. Then the lab's scenario (concurrent
 * writers of one key) over as many seeds: the totals of lost updates under `'lww'`, of
 * siblings under `'siblings'` (none lost, each surviving write one no session had seen),
 * and how many seeds' histories `checkLinearizability` rejects.
 *
 * Replay a seed: `DISTKIT_SIM_SEED=<seed> node scripts/run-tests.mjs --soak
 * test/replication/multi-leader.soak.ts`.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLinearizability, registerModel } from '../../src/check/index.js';
import { multiLeader } from '../../src/replication/index.js';
import { runSeeds, seedRange, seedsFromEnvironment } from '../../src/sim/index.js';
import {
  type AppliedWrite,
  concurrentWriters,
  finalRead,
  modes,
  partitionedWriters,
  recording,
  statesOf,
  survivingValues,
  totals as total,
} from './multi-leader-scenario.js';
import { runReplicationScenario } from './sim-harness.js';

const seeds = seedsFromEnvironment(process.env, seedRange(1, 40));
const replay = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node scripts/run-tests.mjs --soak test/replication/multi-leader.soak.ts`;

describe('multiLeader under the soak sweep', () => {
  for (const replicaCount of [3, 5]) {
    for (const conflicts of modes) {
      it(`${conflicts}, ${replicaCount} replicas: every fault kind, then the same state everywhere`, () => {
        const nodeIds = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
        let writes = 0;
        let repairs = 0;
        let refusals = 0;
        runSeeds({
          seeds,
          replayCommand: replay,
          scenario: (seed) => {
            const result = runReplicationScenario({
              seed,
              factory: multiLeader({ conflicts }),
              replicaCount,
              faults: { nodeIds, faultPhaseMs: 4_000, intervalMsMean: 200, durationMsMax: 1_500 },
            });
            result.simulation.runForMs(5_000);
            const states = statesOf(result);
            assert.equal(new Set(states).size, 1, `seed ${seed} did not converge`);
            writes += total(result, 'writesAccepted');
            repairs += total(result, 'antiEntropyRepairs');
            refusals += total(result, 'sessionRefusals');
          },
        });
        console.log(
          `${conflicts}, ${replicaCount} replicas, ${seeds.length} seeds: ${writes} writes accepted, ${repairs} keys repaired by anti-entropy, ${refusals} requests refused behind-session`,
        );
      });
    }
  }

  it('the lab: lww loses concurrent updates, siblings keeps them', () => {
    let overwritten = 0;
    let seedsWithLoss = 0;
    let siblingsWrites = 0;
    let finalSiblings = 0;
    for (const seed of seeds) {
      const lww = concurrentWriters(multiLeader({ conflicts: 'lww' }), seed);
      const lost = total(lww, 'concurrentWritesOverwritten');
      overwritten += lost;
      seedsWithLoss += lost > 0 ? 1 : 0;
      const log: AppliedWrite[] = [];
      const siblings = concurrentWriters(
        recording(multiLeader({ conflicts: 'siblings' }), log),
        seed,
      );
      siblings.simulation.runForMs(3_000);
      assert.equal(total(siblings, 'concurrentWritesOverwritten'), 0, `seed ${seed}`);
      const expected = survivingValues(log);
      for (const program of siblings.programs.values()) {
        const reply = finalRead(program.core);
        assert.ok(reply?.status === 'ok', `seed ${seed}`);
        assert.deepEqual([...(reply.siblings ?? [])].sort(), expected, `seed ${seed}`);
      }
      siblingsWrites += log.length;
      finalSiblings += expected.length;
    }
    console.log(
      `lab, ${seeds.length} seeds of 4 writers on one key: lww overwrote ${overwritten} concurrent writes (in ${seedsWithLoss} seeds); siblings overwrote none of ${siblingsWrites} writes and ended with ${finalSiblings} siblings in all`,
    );
    assert.ok(seeds.length < 3 || overwritten > 0);
  });

  it('the lab: multi-leader histories under partitions are not linearizable', () => {
    const violations: number[] = [];
    for (const seed of seeds) {
      const result = partitionedWriters(seed);
      const check = checkLinearizability(registerModel(), result.workload.history.operations());
      if (check.verdict === 'violation') {
        violations.push(seed);
      }
    }
    console.log(
      `lab: ${violations.length} of ${seeds.length} seeds not linearizable under partitions (first ${violations.slice(0, 10).join(', ')})`,
    );
    assert.ok(seeds.length < 3 || violations.length > 0);
  });
});
