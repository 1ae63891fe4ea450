/**
 * distkit/core against its peers: the seeded generator against `Math.random` and
 * pure-rand, and the single-timer scheduler against one platform timer per deadline.
 *
 * Run with `npm run bench core`; see bench/README.md for what the figures mean.
 */

import { strict as assert } from 'node:assert';
import { type ScheduledTask, SeededRandom, SystemScheduler, VirtualScheduler } from 'distkit/core';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { runBenchmarks } from './harness.js';

const seed = 1;

// Every generator starts from the same seed, and each comparison gets fresh ones, so no
// case draws from a state another case has already advanced.
const floatRandom = new SeededRandom({ seed });
const floatPeer = xoroshiro128plus(seed);
const integerRandom = new SeededRandom({ seed });
const integerPeer = xoroshiro128plus(seed);

/** Deadlines per scheduler iteration. */
const deadlineCount = 100_000;
const delayMsMin = 1_000;
const delayMsMax = 30_000;

// The same delays, drawn once outside the timed region, for every scheduler case.
const delayRandom = new SeededRandom({ seed }).fork('delays');
const delaysMs: readonly number[] = Array.from({ length: deadlineCount }, () =>
  delayRandom.integer(delayMsMin, delayMsMax),
);

/** Shared by every deadline, so the iterations allocate handles and not closures. */
const neverRuns = (): void => {
  throw new Error('a benchmark deadline fired: every one should have been cancelled');
};

const systemScheduler = new SystemScheduler();
const systemTasks: ScheduledTask[] = new Array(deadlineCount);
/** 100,000 schedules, then 100,000 cancels; returns how many cancels succeeded. */
function scheduleAndCancelSystem(): number {
  let index = 0;
  for (const delayMs of delaysMs) {
    systemTasks[index] = systemScheduler.schedule(delayMs, neverRuns);
    index += 1;
  }
  let cancelledCount = 0;
  for (const task of systemTasks) {
    if (task.cancel()) {
      cancelledCount += 1;
    }
  }
  return cancelledCount;
}

const timers: ReturnType<typeof setTimeout>[] = new Array(deadlineCount);
/** The same with one platform timer per deadline. */
function scheduleAndCancelTimers(): number {
  let index = 0;
  for (const delayMs of delaysMs) {
    timers[index] = setTimeout(neverRuns, delayMs);
    index += 1;
  }
  for (const timer of timers) {
    clearTimeout(timer);
  }
  return timers.length;
}

const virtualScheduler = new VirtualScheduler();
let virtualRunCount = 0;
const countRun = (): void => {
  virtualRunCount += 1;
};
/** 100,000 schedules, then one advance past the latest; returns how many ran. */
function scheduleAndAdvanceVirtual(): number {
  for (const delayMs of delaysMs) {
    virtualScheduler.schedule(delayMs, countRun);
  }
  return virtualScheduler.advanceMs(delayMsMax);
}

// Each iteration must do all of its work; check that once before measuring it.
assert.equal(scheduleAndCancelSystem(), deadlineCount);
assert.equal(systemScheduler.pendingCount, 0);
assert.equal(scheduleAndCancelTimers(), deadlineCount);
assert.equal(scheduleAndAdvanceVirtual(), deadlineCount);
assert.equal(virtualRunCount, deadlineCount);
assert.equal(virtualScheduler.pendingCount, 0);

const deadlineUnit = { name: 'deadline', countPerIteration: deadlineCount };
const schedulerBudget = { timeBudgetMs: 1_800, gcBeforeEachSample: true };

await runBenchmarks({
  module: 'core',
  comparisons: [
    {
      title: 'Random: one float in [0, 1)',
      distkit: { name: 'distkit SeededRandom.float()', run: () => floatRandom.float() },
      peers: [
        { name: 'Math.random()', run: () => Math.random() },
        {
          name: 'pure-rand uniformFloat64(xoroshiro128plus)',
          run: () => uniformFloat64(floatPeer),
        },
      ],
    },
    {
      title: 'Random: one integer in [0, 99]',
      distkit: {
        name: 'distkit SeededRandom.integer(0, 99)',
        run: () => integerRandom.integer(0, 99),
      },
      peers: [
        {
          name: 'pure-rand uniformInt(xoroshiro128plus, 0, 99)',
          run: () => uniformInt(integerPeer, 0, 99),
        },
        { name: 'Math.floor(Math.random() * 100)', run: () => Math.floor(Math.random() * 100) },
      ],
    },
    {
      title: `Scheduler: schedule ${deadlineCount.toLocaleString('en')} deadlines ${delayMsMin / 1_000}-${delayMsMax / 1_000} s away, then cancel them all`,
      distkit: { name: 'distkit SystemScheduler', run: scheduleAndCancelSystem },
      peers: [{ name: 'setTimeout + clearTimeout', run: scheduleAndCancelTimers }],
      unit: deadlineUnit,
      ...schedulerBudget,
    },
    {
      title: `Scheduler: schedule ${deadlineCount.toLocaleString('en')} tasks on VirtualScheduler, then advance past them all`,
      distkit: { name: 'distkit VirtualScheduler', run: scheduleAndAdvanceVirtual },
      peers: [],
      unit: { name: 'task', countPerIteration: deadlineCount },
      ...schedulerBudget,
    },
  ],
});
