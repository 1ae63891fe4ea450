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
import { checkLinearizability, type Operation, registerModel } from '../../src/check/index.js';
import { type ConsensusMetrics, consensus } from '../../src/replication/index.js';
import {
  type FaultPlanOptions,
  runSeeds,
  seedRange,
  seedsFromEnvironment,
} from '../../src/sim/index.js';
import { runReplicationScenario } from './sim-harness.js';

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

function everyFault(replicas: readonly string[]): FaultPlanOptions {
  return {
    nodeIds: replicas,
    faultPhaseMs: 5_000,
    intervalMsMean: 300,
    durationMsMax: 1_500,
    crashCountMax: Math.floor((replicas.length - 1) / 2),
    clockStepMsMax: 2_000,
    clockRateDeviationMax: 0.3,
  };
}

/** The values every replica's durable state holds (log entries and snapshot), as `key=value`. */
function heldValues(states: readonly unknown[]): { held: Set<string>; compacted: boolean } {
  const decoder = new TextDecoder();
  const held = new Set<string>();
  let compacted = false;
  for (const value of states) {
    const state = value as { snapshot: { data: Uint8Array }; entries: { data: Uint8Array }[] };
    if (state.snapshot.data.byteLength > 0) {
      compacted = true;
      const snapshot = JSON.parse(decoder.decode(state.snapshot.data)) as {
        values: [string, string][];
      };
      for (const [key, stored] of snapshot.values) {
        held.add(`${key}=${stored}`);
      }
    }
    for (const entry of state.entries) {
      if (entry.data.byteLength > 0) {
        const command = JSON.parse(decoder.decode(entry.data)) as { key: string; value: string };
        held.add(`${command.key}=${command.value}`);
      }
    }
  }
  return { held, compacted };
}

/** One seed; throws (with the seed) when it is not linearizable or lost an acknowledged write. */
function run(seed: number, replicaCount: number, snapshotEveryEntries: number, totals: Totals) {
  const replicas = Array.from({ length: replicaCount }, (_, index) => `r${index + 1}`);
  const result = runReplicationScenario({
    seed,
    factory: consensus({ snapshotEveryEntries }),
    replicaCount,
    clientCount: 5,
    operationCountMax: 300,
    network: { lossProbability: 0.05, duplicateProbability: 0.05 },
    faults: everyFault(replicas),
    faultPhaseMs: 5_000,
    settleMs: 1_000,
  });
  const operations = result.workload.history.operations();
  const byKey = new Map<string, Operation[]>();
  for (const operation of operations) {
    byKey.set(operation.key ?? '', [...(byKey.get(operation.key ?? '') ?? []), operation]);
  }
  for (const [key, keyOperations] of byKey) {
    const check = checkLinearizability(registerModel(), keyOperations);
    assert.notEqual(
      check.verdict,
      'violation',
      `seed ${seed}, ${replicaCount} replicas, key ${key}: ${check.verdict === 'violation' ? check.explanation.message : ''}; replay: ${replayCommand(seed)}`,
    );
    assert.equal(check.verdict, 'ok', `seed ${seed}: the checker could not decide key ${key}`);
  }
  const programs = [...result.programs.values()];
  const { held, compacted } = heldValues(programs.map((program) => program.core.durableState()));
  const writes = operations.filter(
    (operation) => operation.kind === 'write' && operation.status !== 'fail',
  );
  for (const write of writes) {
    if (write.status !== 'ok' || held.has(`${write.key ?? 'k'}=${String(write.input)}`)) {
      continue;
    }
    // Compacted logs no longer hold a write overwritten before the snapshot: it must be
    // there only if no other write of its key can follow it (all completed before it began).
    const overwritable = writes.some(
      (other) =>
        other !== write &&
        other.key === write.key &&
        (other.status === 'unknown' || (other.returnTime ?? 0) > write.invokeTime),
    );
    assert.ok(
      compacted && overwritable,
      `seed ${seed}, ${replicaCount} replicas: acknowledged write ${write.key}=${String(write.input)} is lost; replay: ${replayCommand(seed)}`,
    );
  }
  const statistics = result.workload.statistics;
  totals.ok += statistics.okCount;
  totals.fail += statistics.failCount;
  totals.unknown += statistics.unknownCount;
  for (const program of programs) {
    const metrics = program.core.metrics() as unknown as ConsensusMetrics;
    totals.leaderChanges += metrics.leaderChanges;
    totals.snapshots += metrics.snapshotsTaken;
    totals.snapshotsInstalled += metrics.snapshotsInstalled;
  }
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
