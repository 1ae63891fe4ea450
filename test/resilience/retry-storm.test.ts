/**
 * A retry storm in virtual time: a fleet of clients calls a dependency that fails every
 * call. Without a budget each failed request becomes `attemptCountMax` attempts; with a
 * shared budget the retries stay within `ratio` of the requests plus the floor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom, VirtualScheduler } from '../../src/core/index.js';
import { ExponentialBackoff } from '../../src/resilience/backoff.js';
import type { PolicyContext } from '../../src/resilience/policy.js';
import { isRetryExhaustedError, RetryPolicy } from '../../src/resilience/retry.js';
import { RetryBudget } from '../../src/resilience/retry-budget.js';

const clientCount = 100;
const requestIntervalMs = 1_000;
const requestCountPerClient = 60; // one minute of traffic
const attemptCountMax = 4;
const dependencyLatencyMs = 5;

interface StormOptions {
  readonly seed: number;
  readonly budget?: (scheduler: VirtualScheduler) => RetryBudget;
  /** From this time on the dependency answers; before it, it fails every call. */
  readonly recoverAtMs?: number;
}

interface StormResult {
  readonly requestTimesMs: readonly number[];
  /** Times at which retries (attempts after the first) reached the dependency. */
  readonly retryTimesMs: readonly number[];
  readonly attemptCount: number;
  readonly successCount: number;
  readonly exhaustedReasons: ReadonlyMap<string, number>;
  readonly endMs: number;
  readonly budget: RetryBudget | undefined;
}

async function flush(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

async function simulateStorm(options: StormOptions): Promise<StormResult> {
  const scheduler = new VirtualScheduler();
  const random = new SeededRandom({ seed: options.seed });
  const budget = options.budget?.(scheduler);
  const backoff = new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 2_000 });
  const recoverAtMs = options.recoverAtMs ?? Number.POSITIVE_INFINITY;
  const requestTimesMs: number[] = [];
  const retryTimesMs: number[] = [];
  const exhaustedReasons = new Map<string, number>();
  let attemptCount = 0;
  let successCount = 0;

  const dependency = (context: PolicyContext): Promise<string> => {
    attemptCount += 1;
    const nowMs = scheduler.clock.nowMs();
    if (context.attempt > 1) {
      retryTimesMs.push(nowMs);
    }
    return new Promise((resolve, reject) => {
      scheduler.schedule(dependencyLatencyMs, () => {
        if (nowMs >= recoverAtMs) {
          resolve('ok');
        } else {
          reject(new Error('503 Service Unavailable'));
        }
      });
    });
  };

  const calls: Promise<void>[] = [];
  for (let client = 0; client < clientCount; client += 1) {
    const policy = new RetryPolicy({
      attemptCountMax,
      backoff,
      scheduler,
      random: random.fork(`client-${client}`),
      ...(budget === undefined ? {} : { budget }),
    });
    const startMs = (client * requestIntervalMs) / clientCount; // spread over the second
    for (let request = 0; request < requestCountPerClient; request += 1) {
      scheduler.schedule(startMs + request * requestIntervalMs, () => {
        requestTimesMs.push(scheduler.clock.nowMs());
        calls.push(
          policy.execute(dependency).then(
            () => {
              successCount += 1;
            },
            (error: unknown) => {
              assert.ok(isRetryExhaustedError(error), `seed ${options.seed}: ${String(error)}`);
              exhaustedReasons.set(error.reason, (exhaustedReasons.get(error.reason) ?? 0) + 1);
            },
          ),
        );
      });
    }
  }

  await flush();
  while (scheduler.runNext()) {
    await flush();
  }
  await Promise.all(calls);
  return {
    requestTimesMs,
    retryTimesMs,
    attemptCount,
    successCount,
    exhaustedReasons,
    endMs: scheduler.clock.nowMs(),
    budget,
  };
}

const countIn = (timesMs: readonly number[], fromMs: number, toMs: number): number =>
  timesMs.filter((timeMs) => timeMs >= fromMs && timeMs < toMs).length;

describe('retry storm: 100 clients, a dependency that fails every call', () => {
  const requestCount = clientCount * requestCountPerClient;

  it('without a budget, every request becomes attemptCountMax attempts', async () => {
    const seed = 20_260_101;
    const storm = await simulateStorm({ seed });
    assert.equal(storm.requestTimesMs.length, requestCount);
    assert.equal(storm.attemptCount, requestCount * attemptCountMax, `seed ${seed}`);
    assert.equal(storm.retryTimesMs.length, requestCount * (attemptCountMax - 1));
    assert.deepEqual([...storm.exhaustedReasons], [['attempts', requestCount]]);
  });

  it('with a budget of ratio 0.1, retries stay within 0.1 × requests plus the floor', async () => {
    const seed = 20_260_101;
    const ratio = 0.1;
    const retriesPerSecondMin = 1;
    const windowMs = 10_000;
    const bucketCount = 10;
    const bucketWidthMs = windowMs / bucketCount;
    const storm = await simulateStorm({
      seed,
      budget: (scheduler) =>
        new RetryBudget({
          ratio,
          retriesPerSecondMin,
          windowMs,
          bucketCount,
          clock: scheduler.clock,
        }),
    });
    const retryCount = storm.retryTimesMs.length;
    assert.equal(storm.requestTimesMs.length, requestCount);
    assert.equal(storm.attemptCount, requestCount + retryCount, 'every attempt is counted once');
    assert.equal(storm.budget?.retryCount, retryCount, 'the dependency saw each granted retry');

    // The configured bound, exactly: ratio × requests, plus the floor for every bucket
    // that began between the budget's creation (time 0) and the end of the run.
    const bucketsBegun = Math.floor(storm.endMs / bucketWidthMs) + 1;
    const bound =
      ratio * requestCount + (retriesPerSecondMin * bucketsBegun * bucketWidthMs) / 1000;
    assert.ok(retryCount <= bound, `seed ${seed}: ${retryCount} retries > bound ${bound}`);
    // 6,000 requests: at most 600 + about 61 retries instead of 18,000, so the extra load
    // on the failing dependency is about 11% instead of 300%.
    assert.ok(bound < 0.12 * requestCount, 'bound < 0.12 * requestCount');
    // The budget is spent, not hoarded: nearly all the allowance went to retries.
    assert.ok(retryCount >= 0.9 * ratio * requestCount, `seed ${seed}: only ${retryCount}`);
    assert.equal(
      (storm.exhaustedReasons.get('budget') ?? 0) + (storm.exhaustedReasons.get('attempts') ?? 0),
      requestCount,
    );

    // Nor does it burst: the retries in each 10 s window spend only what that window and
    // the one before it deposited.
    for (let fromMs = 0; fromMs < storm.endMs; fromMs += windowMs) {
      const retriesInWindow = countIn(storm.retryTimesMs, fromMs, fromMs + windowMs);
      const requestsInReach = countIn(storm.requestTimesMs, fromMs - windowMs, fromMs + windowMs);
      const windowBound = ratio * requestsInReach + (retriesPerSecondMin * 2 * windowMs) / 1000;
      assert.ok(
        retriesInWindow <= windowBound,
        `seed ${seed}: ${retriesInWindow} retries in [${fromMs}, ${fromMs + windowMs}) > ${windowBound}`,
      );
    }
  });

  it('holds the bound for other seeds and other ratios', async () => {
    for (const [seed, ratio] of [
      [1, 0.05],
      [2, 0.2],
      [3, 0.5],
    ] as const) {
      const storm = await simulateStorm({
        seed,
        budget: (scheduler) =>
          new RetryBudget({ ratio, retriesPerSecondMin: 2, clock: scheduler.clock }),
      });
      const bucketsBegun = Math.floor(storm.endMs / 1_000) + 1;
      const bound = ratio * requestCount + 2 * bucketsBegun;
      assert.ok(
        storm.retryTimesMs.length <= bound,
        `seed ${seed}, ratio ${ratio}: ${storm.retryTimesMs.length} retries > ${bound}`,
      );
    }
  });

  it('does not get in the way of recovery: once the dependency answers, calls succeed', async () => {
    const seed = 7;
    const recoverAtMs = 30_000;
    const storm = await simulateStorm({
      seed,
      recoverAtMs,
      budget: (scheduler) =>
        new RetryBudget({ ratio: 0.1, retriesPerSecondMin: 1, clock: scheduler.clock }),
    });
    const requestsAfterRecovery = countIn(storm.requestTimesMs, recoverAtMs, storm.endMs + 1);
    assert.ok(
      storm.successCount >= requestsAfterRecovery,
      `seed ${seed}: ${storm.successCount} successes < ${requestsAfterRecovery} requests after recovery`,
    );
    assert.equal(
      storm.successCount +
        (storm.exhaustedReasons.get('budget') ?? 0) +
        (storm.exhaustedReasons.get('attempts') ?? 0),
      requestCount,
    );
  });
});
