import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import {
  type BreakerStrategySnapshot,
  type BreakReason,
  type CountWindowOptions,
  createBreakerStrategy,
  type TimeWindowOptions,
  type TimeWindowSnapshot,
} from '../../src/resilience/breaker-strategies.js';

interface Outcome {
  readonly failed: boolean;
  readonly slow: boolean;
  /** Time since the previous outcome, in milliseconds. */
  readonly gapMs: number;
}

const outcomeArbitrary = fc.record({
  failed: fc.boolean(),
  slow: fc.boolean(),
  gapMs: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 400 }),
  ),
});

/** The verdict of a naive window: every outcome kept, the rates recomputed from scratch. */
function naiveVerdict(
  window: readonly Outcome[],
  minimumCallCount: number,
  failureRateThreshold: number,
  slowCallRateThreshold: number | undefined,
): BreakReason | undefined {
  const callCount = window.length;
  if (callCount < minimumCallCount) {
    return undefined;
  }
  const failureRate = window.filter((outcome) => outcome.failed).length / callCount;
  if (failureRate >= failureRateThreshold) {
    return { kind: 'failure-rate', failureRate, callCount };
  }
  const slowCallRate = window.filter((outcome) => outcome.slow).length / callCount;
  if (slowCallRateThreshold !== undefined && slowCallRate >= slowCallRateThreshold) {
    return { kind: 'slow-call-rate', slowCallRate, callCount };
  }
  return undefined;
}

const rate = fc.integer({ min: 1, max: 20 }).map((twentieths) => twentieths / 20);

describe('breaker strategies', () => {
  it('consecutive failures: opens exactly when the trailing run of failures reaches the threshold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.boolean(), { maxLength: 60 }),
        (failureCountThreshold, failures) => {
          const strategy = createBreakerStrategy({
            kind: 'consecutive-failures',
            failureCountThreshold,
          });
          let run = 0;
          for (const failed of failures) {
            run = failed ? run + 1 : 0;
            const reason = strategy.record(failed, false, 0);
            const expected =
              run >= failureCountThreshold
                ? { kind: 'consecutive-failures', failureCount: run }
                : undefined;
            assert.deepEqual(reason, expected);
            if (reason !== undefined) {
              strategy.clear();
              run = 0;
            }
          }
        },
      ),
    );
  });

  it('count window: agrees with a naive window of the last N outcomes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((windowCallCount) =>
          fc.record({
            windowCallCount: fc.constant(windowCallCount),
            minimumCallCount: fc.integer({ min: 1, max: windowCallCount }),
            failureRateThreshold: rate,
            slowCallRateThreshold: fc.option(rate, { nil: undefined }),
          }),
        ),
        fc.array(outcomeArbitrary, { maxLength: 80 }),
        (settings, outcomes) => {
          const { slowCallRateThreshold, ...required } = settings;
          const options: CountWindowOptions =
            slowCallRateThreshold === undefined
              ? { kind: 'count-window', ...required }
              : { kind: 'count-window', ...required, slowCallRateThreshold };
          const strategy = createBreakerStrategy(options);
          const history: Outcome[] = [];
          for (const outcome of outcomes) {
            history.push(outcome);
            const reason = strategy.record(outcome.failed, outcome.slow, 0);
            const expected = naiveVerdict(
              history.slice(-settings.windowCallCount),
              settings.minimumCallCount,
              settings.failureRateThreshold,
              settings.slowCallRateThreshold,
            );
            assert.deepEqual(reason, expected);
          }
        },
      ),
    );
  });

  it('time window: agrees with a naive window of the last bucketCount buckets', () => {
    fc.assert(
      fc.property(
        fc.record({
          bucketCount: fc.integer({ min: 1, max: 8 }),
          bucketMs: fc.integer({ min: 1, max: 50 }),
          minimumCallCount: fc.integer({ min: 1, max: 6 }),
          failureRateThreshold: rate,
          slowCallRateThreshold: fc.option(rate, { nil: undefined }),
        }),
        fc.integer({ min: -1_000, max: 1_000 }),
        fc.array(outcomeArbitrary, { maxLength: 80 }),
        ({ bucketMs, ...settings }, startMs, outcomes) => {
          const { slowCallRateThreshold, ...required } = settings;
          const base: TimeWindowOptions = {
            kind: 'time-window',
            windowMs: bucketMs * settings.bucketCount,
            ...required,
          };
          const options: TimeWindowOptions =
            slowCallRateThreshold === undefined ? base : { ...base, slowCallRateThreshold };
          const strategy = createBreakerStrategy(options);
          const history: { outcome: Outcome; bucket: number }[] = [];
          let nowMs = startMs;
          for (const outcome of outcomes) {
            nowMs += outcome.gapMs;
            const bucket = Math.floor(nowMs / bucketMs);
            history.push({ outcome, bucket });
            const reason = strategy.record(outcome.failed, outcome.slow, nowMs);
            const window = history
              .filter((entry) => entry.bucket > bucket - settings.bucketCount)
              .map((entry) => entry.outcome);
            assert.deepEqual(
              reason,
              naiveVerdict(
                window,
                settings.minimumCallCount,
                settings.failureRateThreshold,
                settings.slowCallRateThreshold,
              ),
            );
          }
        },
      ),
    );
  });

  it('divides rather than multiplies: 3 failures of 10 reach a 0.3 threshold', () => {
    const strategy = createBreakerStrategy({
      kind: 'count-window',
      windowCallCount: 10,
      failureRateThreshold: 0.3,
    });
    for (let index = 0; index < 7; index += 1) {
      assert.equal(strategy.record(false, false, 0), undefined);
    }
    strategy.record(true, false, 0);
    strategy.record(true, false, 0);
    assert.deepEqual(strategy.record(true, false, 0), {
      kind: 'failure-rate',
      failureRate: 0.3,
      callCount: 10,
    });
  });

  it('a time window idle far longer than the window starts empty, in bounded work', () => {
    const strategy = createBreakerStrategy({
      kind: 'time-window',
      windowMs: 1_000,
      bucketCount: 10,
      minimumCallCount: 2,
      failureRateThreshold: 1,
    });
    strategy.record(true, false, 0);
    assert.equal(strategy.record(true, false, 1e15), undefined, 'the old failure expired');
    assert.deepEqual(strategy.record(true, false, 1e15 + 1), {
      kind: 'failure-rate',
      failureRate: 1,
      callCount: 2,
    });
  });

  it('says which strategies need the time and watch slow calls', () => {
    const consecutive = createBreakerStrategy({
      kind: 'consecutive-failures',
      failureCountThreshold: 1,
    });
    const counts = createBreakerStrategy({ kind: 'count-window', windowCallCount: 3 });
    const slowTimes = createBreakerStrategy({
      kind: 'time-window',
      windowMs: 10,
      slowCallRateThreshold: 0.5,
    });
    assert.deepEqual(
      [consecutive, counts, slowTimes].map((strategy) => [
        strategy.needsTime,
        strategy.watchesSlowCalls,
      ]),
      [
        [false, false],
        [false, false],
        [true, true],
      ],
    );
  });
});

describe('breaker strategy snapshots', () => {
  const strategies = [
    { kind: 'consecutive-failures', failureCountThreshold: 4 },
    { kind: 'count-window', windowCallCount: 6, minimumCallCount: 2, slowCallRateThreshold: 0.5 },
    {
      kind: 'time-window',
      windowMs: 100,
      bucketCount: 5,
      minimumCallCount: 2,
      slowCallRateThreshold: 0.5,
    },
  ] as const;

  it('round-trip through JSON: a restored strategy decides like the original', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...strategies),
        fc.array(outcomeArbitrary, { maxLength: 30 }),
        fc.array(outcomeArbitrary, { maxLength: 30 }),
        (options, before, after) => {
          const original = createBreakerStrategy(options);
          let nowMs = 0;
          for (const outcome of before) {
            nowMs += outcome.gapMs;
            if (original.record(outcome.failed, outcome.slow, nowMs) !== undefined) {
              original.clear();
            }
          }
          const snapshot = JSON.parse(
            JSON.stringify(original.toJSON(nowMs)),
          ) as BreakerStrategySnapshot;
          const restored = createBreakerStrategy(options);
          assert.equal(restored.restore(snapshot, nowMs, 0), true);
          for (const outcome of after) {
            nowMs += outcome.gapMs;
            assert.deepEqual(
              restored.record(outcome.failed, outcome.slow, nowMs),
              original.record(outcome.failed, outcome.slow, nowMs),
            );
          }
        },
      ),
    );
  });

  it('a smaller count window keeps the newest saved outcomes', () => {
    const large = createBreakerStrategy({ kind: 'count-window', windowCallCount: 6 });
    for (const failed of [true, true, true, false, false, false]) {
      large.record(failed, false, 0);
    }
    const small = createBreakerStrategy({
      kind: 'count-window',
      windowCallCount: 3,
      failureRateThreshold: 0.5,
    });
    assert.equal(small.restore(large.toJSON(0), 0, 0), true);
    assert.deepEqual(small.toJSON(0), { kind: 'count-window', outcomes: [0, 0, 0] });
    assert.equal(small.record(true, false, 0), undefined, '1 failure in the newest 3');
  });

  it('a time window ages restored buckets by the elapsed time', () => {
    const options = {
      kind: 'time-window',
      windowMs: 100,
      bucketCount: 4,
      minimumCallCount: 1,
    } as const;
    const original = createBreakerStrategy(options);
    original.record(false, false, 10);
    original.record(false, true, 40);
    const snapshot = original.toJSON(60);
    assert.deepEqual(snapshot, {
      kind: 'time-window',
      bucketMs: 25,
      buckets: [
        { callCount: 0, failureCount: 0, slowCallCount: 0 },
        { callCount: 1, failureCount: 0, slowCallCount: 0 },
        { callCount: 1, failureCount: 0, slowCallCount: 1 },
        { callCount: 0, failureCount: 0, slowCallCount: 0 },
      ],
    });
    const restored = createBreakerStrategy(options);
    restored.restore(snapshot, 5_000, 50);
    assert.deepEqual(
      (restored.toJSON(5_000) as TimeWindowSnapshot).buckets.map((bucket) => bucket.callCount),
      [1, 0, 0, 0],
      'two buckets later, only the newer call is still in the window, now the oldest',
    );
  });

  it('refuses history of another kind or bucket width, and rejects malformed history', () => {
    const counts = createBreakerStrategy({ kind: 'count-window', windowCallCount: 3 });
    assert.equal(counts.restore({ kind: 'consecutive-failures', failureCount: 2 }, 0, 0), false);
    const times = createBreakerStrategy({ kind: 'time-window', windowMs: 100, bucketCount: 4 });
    assert.equal(times.restore({ kind: 'time-window', bucketMs: 10, buckets: [] }, 0, 0), false);
    assert.throws(
      () => counts.restore({ kind: 'count-window', outcomes: [4] }, 0, 0),
      isInvalidArgumentError,
    );
    assert.throws(
      () =>
        times.restore(
          {
            kind: 'time-window',
            bucketMs: 25,
            buckets: [{ callCount: 1, failureCount: 2, slowCallCount: 0 }],
          },
          0,
          0,
        ),
      isInvalidArgumentError,
    );
  });
});
