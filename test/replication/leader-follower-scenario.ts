/**
 * The seeded leader-follower run and its measures, shared by `leader-follower.test.ts` (a
 * few seeds) and `leader-follower.soak.ts` (the wide sweep).
 */

import {
  type LeaderFollowerMetrics,
  type LeaderFollowerOptions,
  leaderFollower,
} from '../../src/replication/index.js';
import type { FaultPlanOptions } from '../../src/sim/index.js';
import {
  type ReplicationScenarioOptions,
  type ReplicationScenarioResult,
  runReplicationScenario,
} from './sim-harness.js';
import { linearizabilityByKey } from './support.js';

/** What one seeded run measured. */
export interface LeaderFollowerRun {
  readonly seed: number;
  readonly result: ReplicationScenarioResult;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  /** Sum of every replica's `acknowledgedWritesLost`. */
  readonly lost: number;
  readonly failovers: number;
  /** One message per key whose history is not linearizable. */
  readonly violations: readonly string[];
  readonly undecidedKeys: number;
}

/**
 * Runs one seed of `leaderFollower(options)` (with `faults`, if any, and the scenario
 * options given), then a second more, and measures it; throws only on a broken run, never
 * on what it measures.
 */
export function measure(
  seed: number,
  options: LeaderFollowerOptions,
  faults: FaultPlanOptions | undefined,
  scenario: Partial<ReplicationScenarioOptions> = {},
): LeaderFollowerRun {
  const result = runReplicationScenario({
    seed,
    factory: leaderFollower(options),
    ...(faults === undefined ? {} : { faults }),
    ...scenario,
  });
  // Time for a deposed leader to hear the new epoch and truncate (and count) its log.
  result.simulation.runForMs(1_000);
  const violations: string[] = [];
  let undecidedKeys = 0;
  for (const [key, check] of linearizabilityByKey(result.workload.history.operations())) {
    if (check.verdict === 'violation') {
      violations.push(`key ${key}: ${check.explanation.message}`);
    } else if (check.verdict === 'unknown') {
      undecidedKeys += 1;
    }
  }
  let lost = 0;
  let failovers = 0;
  for (const program of result.programs.values()) {
    const metrics = program.core.metrics() as Partial<LeaderFollowerMetrics>;
    lost += metrics.acknowledgedWritesLost ?? 0;
    failovers += metrics.failovers ?? 0;
  }
  const statistics = result.workload.statistics;
  return {
    seed,
    result,
    ok: statistics.okCount,
    fail: statistics.failCount,
    unknown: statistics.unknownCount,
    lost,
    failovers,
    violations,
    undecidedKeys,
  };
}
