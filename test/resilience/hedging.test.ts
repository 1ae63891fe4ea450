import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AssertionError,
  isAbortedError,
  isAssertionError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  type HedgeEvent,
  type HedgeSuccessEvent,
  type HedgeSupersededError,
  HedgingPolicy,
  isHedgeSupersededError,
} from '../../src/resilience/hedging.js';
import { LatencyHistogram } from '../../src/resilience/latency-histogram.js';
import type { PolicyContext } from '../../src/resilience/policy.js';
import { TimeoutPolicy } from '../../src/resilience/timeout.js';

/** Lets every pending promise reaction run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Advances virtual time to `targetMs` one task at a time, letting promises settle between. */
async function advanceTo(scheduler: VirtualScheduler, targetMs: number): Promise<void> {
  for (let due = scheduler.nextDueMs(); due !== undefined && due <= targetMs; ) {
    scheduler.runNext();
    await flush();
    due = scheduler.nextDueMs();
  }
  scheduler.advanceToMs(targetMs);
  await flush();
}

interface Outcome<T> {
  status: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  error?: unknown;
  settledMs?: number;
}

/** Watches a promise so a test can read where it stands after `flush`. */
function watch<T>(promise: Promise<T>, scheduler: VirtualScheduler): Outcome<T> {
  const outcome: Outcome<T> = { status: 'pending' };
  promise.then(
    (value) => {
      Object.assign(outcome, { status: 'fulfilled', value, settledMs: scheduler.clock.nowMs() });
    },
    (error: unknown) => {
      Object.assign(outcome, { status: 'rejected', error, settledMs: scheduler.clock.nowMs() });
    },
  );
  return outcome;
}

/** What one attempt will do: answer or fail after `durationMs`. */
interface Plan {
  readonly durationMs: number;
  readonly fails?: boolean;
}

interface AttemptRecord {
  readonly attempt: number;
  readonly startedMs: number;
  readonly context: PolicyContext;
  readonly signal: AbortSignal;
  readonly plan: Plan;
}

/**
 * Work that follows `plans[attempt - 1]`: resolves with `v<attempt>` or rejects with
 * `Error('e<attempt>')` after the planned time, and stops (rejecting with the abort
 * reason) when its signal aborts, as well-behaved work does.
 */
function plannedWork(scheduler: VirtualScheduler, plans: readonly Plan[]) {
  const attempts: AttemptRecord[] = [];
  const work = (context: PolicyContext): Promise<string> => {
    const plan = plans[context.attempt - 1] ?? { durationMs: 1_000_000 };
    const signal = context.signal;
    attempts.push({
      attempt: context.attempt,
      startedMs: scheduler.clock.nowMs(),
      context,
      signal,
      plan,
    });
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        task.cancel();
        reject(signal.reason);
      };
      const task = scheduler.schedule(plan.durationMs, () => {
        signal.removeEventListener('abort', onAbort);
        if (plan.fails === true) {
          reject(new Error(`e${context.attempt}`));
        } else {
          resolve(`v${context.attempt}`);
        }
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
  return { work, attempts };
}

describe('HedgingPolicy', () => {
  it('starts the second attempt exactly at delayMs, returns the winner and aborts the loser', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [{ durationMs: 1_000 }, { durationMs: 50 }]);
    const outcome = watch(hedging.execute(work), scheduler);

    await advanceTo(scheduler, 99);
    assert.equal(attempts.length, 1, 'no hedge before the delay');
    await advanceTo(scheduler, 100);
    assert.deepEqual(
      attempts.map(({ attempt, startedMs }) => [attempt, startedMs]),
      [
        [1, 0],
        [2, 100],
      ],
    );
    await advanceTo(scheduler, 150);
    assert.deepEqual(outcome, { status: 'fulfilled', value: 'v2', settledMs: 150 });
    const loser = attempts[0] as AttemptRecord;
    assert.ok(loser.signal.aborted, 'the primary was told to stop');
    assert.ok(isHedgeSupersededError(loser.signal.reason));
    assert.equal((loser.signal.reason as HedgeSupersededError).settledByAttempt, 2);
    assert.equal(scheduler.pendingCount, 0, 'no timer or work task is left');
  });

  it('does not hedge when the primary answers within the delay', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [{ durationMs: 60 }]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 60);
    assert.equal(outcome.value, 'v1');
    assert.equal(attempts.length, 1);
    assert.equal(scheduler.pendingCount, 0, 'the hedge timer was cancelled');
    await advanceTo(scheduler, 1_000);
    assert.equal(attempts.length, 1, 'and never fires');
  });

  it('starts at most hedgeCountMax extra attempts, each a further delayMs apart', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [
      { durationMs: 1_000 },
      { durationMs: 2_000 },
      { durationMs: 2_000 },
    ]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 999);
    assert.deepEqual(
      attempts.map(({ startedMs }) => startedMs),
      [0, 100, 200],
    );
    await advanceTo(scheduler, 1_000);
    assert.equal(outcome.value, 'v1');
    assert.deepEqual(
      attempts.map(({ signal }) => signal.aborted),
      [false, true, true],
    );
    assert.deepEqual(
      attempts.map(({ context }) => context.attempt),
      [1, 2, 3],
    );
    assert.equal(scheduler.pendingCount, 0);
  });

  it('starts the next attempt at once when one fails, and restarts the delay from there', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const hedges: HedgeEvent[] = [];
    hedging.onHedge((event) => hedges.push(event));
    const { work, attempts } = plannedWork(scheduler, [
      { durationMs: 30, fails: true },
      { durationMs: 500 },
      { durationMs: 20 },
    ]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 200);
    assert.deepEqual(
      attempts.map(({ startedMs }) => startedMs),
      [0, 30, 130],
    );
    assert.deepEqual(hedges, [
      { attempt: 2, delayMs: 30, trigger: 'failure' },
      { attempt: 3, delayMs: 100, trigger: 'delay' },
    ]);
    assert.deepEqual(outcome, { status: 'fulfilled', value: 'v3', settledMs: 150 });
    assert.equal(scheduler.pendingCount, 0);
  });

  it('rejects with the error of the attempt that failed last when all fail', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const failed: number[] = [];
    hedging.onAttemptFailure(({ attempt }) => failed.push(attempt));
    const { work } = plannedWork(scheduler, [
      { durationMs: 500, fails: true },
      { durationMs: 50, fails: true },
      { durationMs: 50, fails: true },
    ]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 499);
    assert.equal(outcome.status, 'pending', 'waits for the primary still running');
    await advanceTo(scheduler, 500);
    assert.equal(outcome.status, 'rejected');
    assert.equal((outcome.error as Error).message, 'e1');
    assert.deepEqual(failed, [2, 3, 1]);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('waits for the attempts still running once none is left to start', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 100, scheduler });
    const { work } = plannedWork(scheduler, [{ durationMs: 300 }, { durationMs: 20, fails: true }]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 299);
    assert.equal(outcome.status, 'pending');
    await advanceTo(scheduler, 300);
    assert.equal(outcome.value, 'v1');
  });

  it('rejects at once and aborts the others when shouldHedge declines an error', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({
      hedgeCountMax: 2,
      delayMs: 100,
      scheduler,
      shouldHedge: (error) => (error as Error).message !== 'e2',
    });
    const { work, attempts } = plannedWork(scheduler, [
      { durationMs: 1_000 },
      { durationMs: 10, fails: true },
    ]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 110);
    assert.equal(outcome.status, 'rejected');
    assert.equal((outcome.error as Error).message, 'e2');
    assert.equal(attempts.length, 2, 'no third attempt');
    assert.ok(isHedgeSupersededError((attempts[0] as AttemptRecord).signal.reason));
    assert.equal(scheduler.pendingCount, 0);
  });

  it('never hedges past an AssertionError', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 3, delayMs: 100, scheduler });
    let calls = 0;
    const outcome = watch(
      hedging.execute(() => {
        calls += 1;
        return Promise.reject(new AssertionError('a bug'));
      }),
      scheduler,
    );
    await flush();
    assert.ok(isAssertionError(outcome.error));
    assert.equal(calls, 1);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('aborts every attempt and rejects at once when the caller aborts', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [
      { durationMs: 1_000 },
      { durationMs: 1_000 },
      { durationMs: 1_000 },
    ]);
    const controller = new AbortController();
    const outcome = watch(hedging.execute(work, controller.signal), scheduler);
    await advanceTo(scheduler, 150);
    assert.equal(attempts.length, 2);
    controller.abort('user went away');
    await flush();
    assert.equal(outcome.status, 'rejected');
    assert.ok(isAbortedError(outcome.error));
    assert.equal((outcome.error as Error).cause, 'user went away');
    for (const { signal } of attempts) {
      assert.equal(signal.reason, 'user went away');
    }
    assert.equal(scheduler.pendingCount, 0, 'the hedge timer and the work were cancelled');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    await advanceTo(scheduler, 5_000);
    assert.equal(attempts.length, 2, 'no hedge starts after the abort');
  });

  it('rejects without running the work when the caller has already aborted', async () => {
    const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 10 });
    let ran = false;
    await assert.rejects(
      hedging.execute(() => {
        ran = true;
      }, AbortSignal.abort('too late')),
      isAbortedError,
    );
    assert.equal(ran, false);
  });

  it('leaves no listener on the caller signal and no scheduled task, whatever the outcome', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const controller = new AbortController();
    const plansList: Plan[][] = [
      [{ durationMs: 10 }],
      [{ durationMs: 1_000 }, { durationMs: 10 }],
      [{ durationMs: 1_000, fails: true }, { durationMs: 10, fails: true }, { durationMs: 5 }],
      [
        { durationMs: 10, fails: true },
        { durationMs: 10, fails: true },
        { durationMs: 10, fails: true },
      ],
    ];
    for (const plans of plansList) {
      const { work } = plannedWork(scheduler, plans);
      const outcome = watch(hedging.execute(work, controller.signal), scheduler);
      await advanceTo(scheduler, scheduler.clock.nowMs() + 2_000);
      assert.notEqual(outcome.status, 'pending');
      assert.equal(scheduler.pendingCount, 0);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    }
  });

  it('handles work that returns a value or throws synchronously, without recursion', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 16, delayMs: 100, scheduler });
    assert.equal(await hedging.execute(() => 42), 42);
    assert.equal(scheduler.pendingCount, 0);

    const seen: number[] = [];
    const failing = hedging.execute(({ attempt }) => {
      seen.push(attempt);
      throw new Error(`sync ${attempt}`);
    });
    assert.equal(scheduler.pendingCount, 0, 'every attempt ran at once; no timer is left');
    await assert.rejects(failing, /sync 17/);
    assert.equal(seen.length, 17);
  });

  it('with hedgeCountMax 0 runs one attempt and schedules nothing', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 0, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [{ durationMs: 500 }]);
    const outcome = watch(hedging.execute(work), scheduler);
    assert.equal(scheduler.pendingCount, 1, 'only the work itself waits');
    await advanceTo(scheduler, 500);
    assert.equal(outcome.value, 'v1');
    assert.equal(attempts.length, 1);
  });

  it('reports the hedge and the winner with their timings', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 100, scheduler });
    const hedges: HedgeEvent[] = [];
    const successes: HedgeSuccessEvent[] = [];
    hedging.onHedge((event) => hedges.push(event));
    hedging.onSuccess((event) => successes.push(event));
    const { work } = plannedWork(scheduler, [{ durationMs: 1_000 }, { durationMs: 50 }]);
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 200);
    assert.equal(outcome.value, 'v2');
    assert.deepEqual(hedges, [{ attempt: 2, delayMs: 100, trigger: 'delay' }]);
    assert.deepEqual(successes, [{ attempt: 2, durationMs: 50 }]);
  });

  it('passes the outer deadline to every attempt and stops them all when it passes', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 250, scheduler });
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    const { work, attempts } = plannedWork(scheduler, [
      { durationMs: 1_000 },
      { durationMs: 1_000 },
      { durationMs: 1_000 },
    ]);
    const outcome = watch(
      timeout.execute((context) => hedging.execute(work, context)),
      scheduler,
    );
    await advanceTo(scheduler, 250);
    assert.ok(isDeadlineExceededError(outcome.error));
    assert.deepEqual(
      attempts.map(({ context }) => context.deadline?.atMs),
      [250, 250, 250],
    );
    assert.ok(attempts.every(({ signal }) => isDeadlineExceededError(signal.reason)));
    assert.equal(scheduler.pendingCount, 0);
  });

  it('drops the results of attempts that settle after the call', async () => {
    const scheduler = new VirtualScheduler();
    const hedging = new HedgingPolicy({ hedgeCountMax: 2, delayMs: 100, scheduler });
    // Work that ignores its signal: the losers finish anyway, one of them with an error.
    const work = ({ attempt }: PolicyContext): Promise<string> =>
      new Promise((resolve, reject) => {
        scheduler.schedule(attempt === 1 ? 500 : attempt === 2 ? 150 : 50, () =>
          attempt === 3 ? resolve('fast') : reject(new Error(`late ${attempt}`)),
        );
      });
    const outcome = watch(hedging.execute(work), scheduler);
    await advanceTo(scheduler, 1_000);
    assert.deepEqual(outcome, { status: 'fulfilled', value: 'fast', settledMs: 250 });
  });

  describe('percentile delay', () => {
    it('uses delayMs until sampleCountMin samples exist, then the percentile', async () => {
      const scheduler = new VirtualScheduler();
      const hedging = new HedgingPolicy({
        hedgeCountMax: 1,
        delayMs: 1_000,
        percentile: 90,
        sampleCountMin: 10,
        scheduler,
      });
      assert.equal(hedging.currentDelayMs(), 1_000);
      for (let index = 1; index <= 20; index += 1) {
        const { work } = plannedWork(scheduler, [{ durationMs: index * 10 }]);
        const outcome = watch(hedging.execute(work), scheduler);
        await advanceTo(scheduler, scheduler.clock.nowMs() + 1_000);
        assert.equal(outcome.value, 'v1');
        if (index === 9) {
          assert.equal(hedging.currentDelayMs(), 1_000, 'nine samples are not enough');
        }
      }
      // Nearest rank: the 18th of 10, 20, ..., 200 ms.
      const delayMs = hedging.currentDelayMs();
      assert.ok(Math.abs(delayMs - 180) <= 180 * 0.01, `delay ${delayMs}`);

      const { work, attempts } = plannedWork(scheduler, [
        { durationMs: 5_000 },
        { durationMs: 10 },
      ]);
      const startedMs = scheduler.clock.nowMs();
      watch(hedging.execute(work), scheduler);
      await advanceTo(scheduler, startedMs + 1_000);
      const hedgeStartedMs = (attempts[1] as AttemptRecord).startedMs;
      assert.ok(Math.abs(hedgeStartedMs - (startedMs + delayMs)) < 1e-9, `${hedgeStartedMs}`);
    });

    it('records a beaten primary at the time it was cancelled, and a failed one not at all', async () => {
      const scheduler = new VirtualScheduler();
      const histogram = new LatencyHistogram();
      const hedging = new HedgingPolicy({ hedgeCountMax: 1, delayMs: 100, histogram, scheduler });

      const beaten = plannedWork(scheduler, [{ durationMs: 1_000 }, { durationMs: 50 }]);
      watch(hedging.execute(beaten.work), scheduler);
      await advanceTo(scheduler, 2_000);
      assert.equal(histogram.count, 1);
      assert.equal(histogram.quantile(1), 150, 'the primary ran 150 ms before it lost');

      const failed = plannedWork(scheduler, [{ durationMs: 10, fails: true }, { durationMs: 30 }]);
      const outcome = watch(hedging.execute(failed.work), scheduler);
      await advanceTo(scheduler, 3_000);
      assert.equal(outcome.value, 'v2');
      assert.equal(histogram.count, 1, 'a failed primary says nothing about latency');
    });

    it('does not spiral down: hedged calls keep the delay near the primary percentile', async () => {
      const scheduler = new VirtualScheduler();
      const hedging = new HedgingPolicy({
        hedgeCountMax: 1,
        delayMs: 100,
        percentile: 90,
        sampleCountMin: 10,
        scheduler,
      });
      // Primaries: 9 in 10 take 10 to 90 ms, 1 in 10 takes 1 s; a hedge always takes 5 ms.
      for (let round = 0; round < 20; round += 1) {
        for (let index = 1; index <= 10; index += 1) {
          const { work } = plannedWork(scheduler, [
            { durationMs: index === 10 ? 1_000 : index * 10 },
            { durationMs: 5 },
          ]);
          watch(hedging.execute(work), scheduler);
          await advanceTo(scheduler, scheduler.clock.nowMs() + 2_000);
        }
      }
      const delayMs = hedging.currentDelayMs();
      assert.ok(delayMs >= 89, `the delay stays at the 90th percentile, got ${delayMs}`);
    });
  });

  it('rejects options out of range, naming the option', () => {
    const cases: [string, () => unknown][] = [
      ['hedgeCountMax', () => new HedgingPolicy({ hedgeCountMax: -1, delayMs: 1 })],
      ['hedgeCountMax', () => new HedgingPolicy({ hedgeCountMax: 17, delayMs: 1 })],
      ['hedgeCountMax', () => new HedgingPolicy({ hedgeCountMax: 1.5, delayMs: 1 })],
      ['delayMs', () => new HedgingPolicy({ hedgeCountMax: 1, delayMs: -1 })],
      ['delayMs', () => new HedgingPolicy({ hedgeCountMax: 1, delayMs: Number.NaN })],
      ['percentile', () => new HedgingPolicy({ hedgeCountMax: 1, delayMs: 1, percentile: 101 })],
      [
        'sampleCountMin',
        () =>
          new HedgingPolicy({ hedgeCountMax: 1, delayMs: 1, percentile: 95, sampleCountMin: 0 }),
      ],
      [
        'sampleCountMin',
        () =>
          new HedgingPolicy({
            hedgeCountMax: 1,
            delayMs: 1,
            percentile: 95,
            sampleCountMin: 11,
            histogram: new LatencyHistogram({ windowSampleCount: 10 }),
          }),
      ],
      [
        'histogram',
        () =>
          new HedgingPolicy({
            hedgeCountMax: 1,
            delayMs: 1,
            histogram: {} as LatencyHistogram,
          }),
      ],
      [
        'shouldHedge',
        () =>
          new HedgingPolicy({
            hedgeCountMax: 1,
            delayMs: 1,
            shouldHedge: 'yes' as unknown as () => boolean,
          }),
      ],
    ];
    for (const [option, make] of cases) {
      assert.throws(make, (error) => {
        assert.ok(isInvalidArgumentError(error));
        assert.match(error.argument, new RegExp(option));
        return true;
      });
    }
  });

  it('property: bounded attempts, first success wins, losers aborted, nothing left behind', async () => {
    const planArbitrary = fc.record({
      durationMs: fc.integer({ min: 0, max: 400 }),
      fails: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(planArbitrary, { minLength: 5, maxLength: 5 }),
        async (hedgeCountMax, delayMs, plans) => {
          const scheduler = new VirtualScheduler();
          const hedging = new HedgingPolicy({ hedgeCountMax, delayMs, scheduler });
          const { work, attempts } = plannedWork(scheduler, plans);
          const outcome = watch(hedging.execute(work), scheduler);
          await advanceTo(scheduler, 10_000);

          assert.notEqual(outcome.status, 'pending');
          assert.equal(scheduler.pendingCount, 0);
          assert.ok(attempts.length >= 1 && attempts.length <= hedgeCountMax + 1);
          const settledMs = outcome.settledMs as number;
          const endMs = (record: AttemptRecord): number =>
            record.startedMs + record.plan.durationMs;
          attempts.forEach((record, index) => {
            if (index > 0) {
              const previous = attempts[index - 1] as AttemptRecord;
              const byDelay = record.startedMs === previous.startedMs + delayMs;
              const byFailure = attempts.some(
                (other) => other.plan.fails === true && endMs(other) === record.startedMs,
              );
              assert.ok(byDelay || byFailure, `attempt ${record.attempt} started for a reason`);
            }
            if (endMs(record) > settledMs) {
              assert.ok(isHedgeSupersededError(record.signal.reason), 'a loser was aborted');
            }
          });
          if (outcome.status === 'fulfilled') {
            const winner = attempts.find(({ attempt }) => `v${attempt}` === outcome.value);
            assert.ok(winner !== undefined && winner.plan.fails !== true);
            assert.equal(endMs(winner), settledMs);
            assert.ok(
              attempts.every((record) => record.plan.fails === true || endMs(record) >= settledMs),
              'no success came before the winner',
            );
          } else {
            assert.equal(attempts.length, hedgeCountMax + 1, 'failures start every hedge');
            assert.ok(attempts.every(({ plan }) => plan.fails === true));
            const lastEndMs = Math.max(...attempts.map(endMs));
            assert.equal(settledMs, lastEndMs);
            const last = attempts.find(
              (record) => `e${record.attempt}` === (outcome.error as Error).message,
            );
            assert.ok(last !== undefined && endMs(last) === lastEndMs, 'the last failure');
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
