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
import { type ReplicationScenarioOptions, runReplicationScenario } from './sim-harness.js';
import { type ScenarioRun, scenarioRun } from './support.js';

/** What one seeded run measured. */
export interface LeaderFollowerRun extends ScenarioRun {
  /** Sum of every replica's `acknowledgedWritesLost`. */
  readonly lost: number;
  readonly failovers: number;
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
  let lost = 0;
  let failovers = 0;
  for (const program of result.programs.values()) {
    const metrics = program.core.metrics() as Partial<LeaderFollowerMetrics>;
    lost += metrics.acknowledgedWritesLost ?? 0;
    failovers += metrics.failovers ?? 0;
  }
  return { ...scenarioRun(seed, result), lost, failovers };
}
