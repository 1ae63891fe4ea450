/**
 * Real processes under SIGKILL (issue 6): a 3-node `distkit raft start` cluster, six
 * clients writing, reading and compare-and-setting with acknowledgements, and a nemesis
 * that kills nodes (the leader among them) at random moments and restarts them on their
 * data folders. Every acknowledged write must survive and the history must be
 * linearizable; see process-crash-scenario.ts for what is checked.
 *
 * Replay a seed's plan with
 * `DISTKIT_SIM_SEED=<seed> node --import tsx --test test/store/process-crash.test.ts`;
 * `npm run test:soak` runs more seeds for longer (process-crash.soak.ts).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatProcessCrashReport,
  processCrashSeeds,
  runProcessCrashScenario,
} from './process-crash-scenario.js';

describe('store: real processes under SIGKILL', () => {
  for (const seed of processCrashSeeds([1])) {
    it(`seed ${seed}: acknowledged writes survive leader kills and the history is linearizable`, {
      timeout: 120_000,
    }, async (context) => {
      const report = await runProcessCrashScenario({
        seed,
        workloadMs: 18_000,
        roundCountMax: 6,
        signal: context.signal,
        log: (line) => context.diagnostic(line),
      });
      const summary = formatProcessCrashReport(report);
      console.log(summary);
      context.diagnostic(summary);
      assert.ok(report.okCount >= 300, `only ${report.okCount} ok operations: ${summary}`);
      assert.ok(report.okWriteCount >= 50, `only ${report.okWriteCount} ok writes: ${summary}`);
      assert.ok(report.leaderKillCount >= 1, `no leader was killed: ${summary}`);
    });
  }
});
