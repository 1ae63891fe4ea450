/**
 * The harsh Raft sweep of `npm run test:soak`: 10% message loss and duplication, a fault
 * every 150 ms on average, a snapshot every 5 entries (so lagging followers are often
 * caught up by snapshot), 3- and 5-node clusters, `DISTKIT_SIM_SEED_COUNT` seeds of each
 * (100 by default). Histories the checker cannot decide within its budget are accepted;
 * violations fail with the seed and its replay command.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runSeeds, seedRange, seedsFromEnvironment } from '../../src/sim/index.js';
import { safetyTests } from './scenario.js';

const onlyNodeCount = process.env['DISTKIT_RAFT_NODE_COUNT'];
const groups = (
  [
    [3, seedsFromEnvironment(process.env, seedRange(1, 100))],
    [5, seedsFromEnvironment(process.env, seedRange(1001, 100))],
  ] as const
).filter(([nodeCount]) => onlyNodeCount === undefined || String(nodeCount) === onlyNodeCount);

const harsh = {
  file: 'test/raft/simulation.soak.ts',
  lossProbability: 0.1,
  duplicateProbability: 0.1,
  faultIntervalMsMean: 150,
  snapshotEveryEntries: 5,
  readOnly: 'read-index',
  allowUndecided: true,
} as const;

safetyTests(describe, it, before, assert, groups, harsh, runSeeds, 'raft under harsh simulation');

safetyTests(
  describe,
  it,
  before,
  assert,
  groups.filter(([nodeCount]) => nodeCount === 5),
  { ...harsh, reconfigureEveryMs: 300 },
  runSeeds,
  'raft under harsh simulation with membership changes',
);
