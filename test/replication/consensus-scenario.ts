/**
 * The seeded consensus run and its measures, shared by `consensus.test.ts` (a few seeds)
 * and `consensus.soak.ts` (the wide sweep).
 */

import {
  type ConsensusMetrics,
  type ConsensusOptions,
  consensus,
} from '../../src/replication/index.js';
import { type ReplicationScenarioOptions, runReplicationScenario } from './sim-harness.js';
import { type ScenarioRun, scenarioRun } from './support.js';

/** What one seeded run measured. */
export interface ConsensusRun extends ScenarioRun {
  /** Writes answered ok that no replica holds at the end, as `key=value`. */
  readonly lostWrites: readonly string[];
  /** How many `lostWrites`. */
  readonly lost: number;
  readonly leaderChanges: number;
  readonly snapshots: number;
  readonly snapshotsInstalled: number;
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

/**
 * Runs one seed of `consensus(options)` (with the scenario options given), then
 * `catchUpMs` more for every replica to catch up, and measures it: linearizability per
 * key, and the acknowledged writes lost. Every written value is unique, so a write is held
 * iff some replica's log or snapshot carries it. With the whole log in every durable state
 * (no snapshot yet) a write answered ok is lost exactly when no replica holds it; once
 * logs are compacted, a write overwritten before the snapshot is in no log any more, so
 * only a write that no other write of its key could follow (every other completed before
 * it began) must still be there. Throws only on a broken run, never on what it measures.
 */
export function measure(
  seed: number,
  options: ConsensusOptions,
  scenario: Partial<ReplicationScenarioOptions> = {},
  catchUpMs = 0,
): ConsensusRun {
  const result = runReplicationScenario({ seed, factory: consensus(options), ...scenario });
  if (catchUpMs > 0) {
    result.simulation.runForMs(catchUpMs);
  }
  const operations = result.workload.history.operations();
  const programs = [...result.programs.values()];
  const { held, compacted } = heldValues(programs.map((program) => program.core.durableState()));
  const writes = operations.filter(
    (operation) => operation.kind === 'write' && operation.status !== 'fail',
  );
  const lostWrites: string[] = [];
  for (const write of writes) {
    const value = `${write.key ?? 'k'}=${String(write.input)}`;
    if (write.status !== 'ok' || held.has(value)) {
      continue;
    }
    const overwritable = writes.some(
      (other) =>
        other !== write &&
        other.key === write.key &&
        (other.status === 'unknown' || (other.returnTime ?? 0) > write.invokeTime),
    );
    if (!compacted || !overwritable) {
      lostWrites.push(value);
    }
  }
  let leaderChanges = 0;
  let snapshots = 0;
  let snapshotsInstalled = 0;
  for (const program of programs) {
    const metrics = program.core.metrics() as unknown as ConsensusMetrics;
    leaderChanges += metrics.leaderChanges;
    snapshots += metrics.snapshotsTaken;
    snapshotsInstalled += metrics.snapshotsInstalled;
  }
  return {
    ...scenarioRun(seed, result),
    lostWrites,
    lost: lostWrites.length,
    leaderChanges,
    snapshots,
    snapshotsInstalled,
  };
}
