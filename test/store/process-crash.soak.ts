/**
 * The real-process crash scenario of process-crash.test.ts, longer and over more seeds
 * (`npm run test:soak`): five seeds, 45 s of clients each, up to 15 nemesis rounds, and
 * snapshots every 100 entries so restarts recover from snapshots and laggards receive them.
 *
 * Replay one seed's plan with
 * `DISTKIT_SIM_SEED=<seed> node --import tsx --test test/store/process-crash.soak.ts`.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatProcessCrashReport,
  processCrashSeeds,
  runProcessCrashScenario,
} from './process-crash-scenario.js';

describe('store: real processes under SIGKILL (soak)', () => {
  for (const seed of processCrashSeeds([101, 102, 103, 104, 105])) {
    it(`seed ${seed}: acknowledged writes survive and the history is linearizable`, {
      timeout: 240_000,
    }, async (context) => {
      const report = await runProcessCrashScenario({
        seed,
        workloadMs: 45_000,
        roundCountMax: 15,
        snapshotEveryEntries: 100,
        testFile: 'test/store/process-crash.soak.ts',
        signal: context.signal,
        log: (line) => context.diagnostic(line),
      });
      const summary = formatProcessCrashReport(report);
      console.log(summary);
      context.diagnostic(summary);
      assert.ok(report.okCount >= 600, `only ${report.okCount} ok operations: ${summary}`);
      assert.ok(report.leaderKillCount >= 2, `fewer than two leader kills: ${summary}`);
    });
  }
});
