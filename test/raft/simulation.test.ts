/**
 * Raft under the deterministic simulator: 3- and 5-node clusters, clients reading,
 * writing and compare-and-setting one register through any node, a nemesis of
 * partitions, crashes (losing unsynced writes), pauses, clock faults, loss, duplication
 * and reordering. Every history must be linearizable, the cluster must make progress
 * again after the heal, and the Raft paper's safety properties must hold throughout
 * (one test per property).
 *
 * Replay a seed with the command a failure prints
 * (`DISTKIT_SIM_SEED=<seed> DISTKIT_RAFT_NODE_COUNT=<3|5> node --import tsx --test test/raft/simulation.test.ts`);
 * widen the sweep with `DISTKIT_SIM_SEED_COUNT=<n>` (`npm run test:soak`).
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runSeeds, seedRange, seedsFromEnvironment } from '../../src/sim/index.js';
import { defaultVariant, safetyTests } from './scenario.js';

/** `DISTKIT_RAFT_NODE_COUNT` (3 or 5) narrows a replay to one cluster size. */
const onlyNodeCount = process.env['DISTKIT_RAFT_NODE_COUNT'];
const groups = (
  [
    [3, seedsFromEnvironment(process.env, seedRange(1, 12))],
    [5, seedsFromEnvironment(process.env, seedRange(101, 6))],
  ] as const
).filter(([nodeCount]) => onlyNodeCount === undefined || String(nodeCount) === onlyNodeCount);

/**
 * A widened sweep (`DISTKIT_SIM_SEED_COUNT`) runs every variant on every seed, and
 * accepts (and counts) the rare history the checker cannot decide within its budget: in
 * 1,000 seeds of each sweep two did not fit 10 million search steps. A violation still
 * fails.
 */
const widened = (process.env['DISTKIT_SIM_SEED_COUNT'] ?? '') !== '';
const variant = { ...defaultVariant, allowUndecided: widened };

safetyTests(
  describe,
  it,
  before,
  assert,
  groups,
  defaultVariant,
  runSeeds,
  'raft under simulation',
);

safetyTests(
  describe,
  it,
  before,
  assert,
  groups.map(
    ([nodeCount, seeds]) => [nodeCount, seeds.slice(0, widened ? seeds.length : 3)] as const,
  ),
  // A lease assumes clocks tick at about the same rate and a leader never stalls: the
  // nemesis here drifts no clock and pauses no node (lease.txt shows a stalled leader's
  // stale read; the wider sweep found one under pauses, seed 399).
  { ...variant, readOnly: 'lease', excludedFaults: ['pause', 'clock-rate'] },
  runSeeds,
  'raft under simulation, lease reads (no pauses, no clock drift)',
);

safetyTests(
  describe,
  it,
  before,
  assert,
  groups
    .filter(([nodeCount]) => nodeCount === 5)
    .map(([nodeCount, seeds]) => [nodeCount, seeds.slice(0, widened ? seeds.length : 4)] as const),
  { ...variant, reconfigureEveryMs: 400 },
  runSeeds,
  'raft under simulation with membership changes by joint consensus every 400 ms',
);

safetyTests(
  describe,
  it,
  before,
  assert,
  groups.map(
    ([nodeCount, seeds]) => [nodeCount, seeds.slice(0, widened ? seeds.length : 3)] as const,
  ),
  // A steady leader sends its entries before they are on its own disk and syncs 5 ms
  // later, so crashes often land in between and lose them there: they must count
  // towards a commit only once synced (sent-before-persisted, Raft thesis §10.2.1).
  { ...variant, leaderSyncDelayMs: 5 },
  runSeeds,
  'raft under simulation, leader syncing 5 ms after it sends',
);
