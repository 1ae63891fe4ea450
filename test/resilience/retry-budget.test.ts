import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, ManualClock } from '../../src/core/index.js';
import { RetryBudget } from '../../src/resilience/retry-budget.js';

/** Grants retries until the budget says no; returns how many it granted. */
function drain(budget: RetryBudget): number {
  let granted = 0;
  while (budget.tryAcquireRetry()) {
    granted += 1;
  }
  return granted;
}

function record(budget: RetryBudget, requestCount: number): void {
  for (let index = 0; index < requestCount; index += 1) {
    budget.recordRequest();
  }
}

describe('RetryBudget', () => {
  it('grants ratio × requests retries, exactly, when there is no floor', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0.1, retriesPerSecondMin: 0, clock });
    assert.equal(budget.availableRetryCount, 0);
    assert.equal(budget.tryAcquireRetry(), false);
    record(budget, 9);
    assert.equal(budget.tryAcquireRetry(), false, '9 requests earn 0.9 of a retry');
    budget.recordRequest();
    assert.equal(budget.tryAcquireRetry(), true, 'the tenth completes one retry');
    assert.equal(budget.tryAcquireRetry(), false);
    record(budget, 30);
    assert.equal(drain(budget), 3, '0.1 × 30 is exactly 3, not 2.9999');
    assert.equal(budget.requestCount, 40);
    assert.equal(budget.retryCount, 4);
    assert.equal(budget.deniedCount, 4);
  });

  it('grants the floor, retriesPerSecondMin per second of window, with no requests at all', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({
      ratio: 0.1,
      retriesPerSecondMin: 2,
      windowMs: 10_000,
      bucketCount: 10,
      clock,
    });
    assert.equal(drain(budget), 2, 'the first bucket (1 s) holds 2 retries');
    clock.advanceMs(1_000);
    assert.equal(drain(budget), 2, 'each new bucket adds its floor');
    clock.advanceMs(60_000); // idle for longer than the window
    assert.equal(budget.availableRetryCount, 20, 'a full window of floor, no more');
    for (let second = 1; second <= 15; second += 1) {
      clock.advanceMs(1_000);
      assert.equal(budget.availableRetryCount, 20, `still a full window ${second} s later`);
    }
    assert.equal(drain(budget), 20);
  });

  it('expires deposits when their bucket leaves the window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({
      ratio: 0.5,
      retriesPerSecondMin: 0,
      windowMs: 10_000,
      bucketCount: 10,
      clock,
    });
    record(budget, 20); // 10 retries, in bucket [0, 1000)
    clock.advanceMs(9_999);
    assert.equal(budget.availableRetryCount, 10);
    clock.advanceMs(1);
    assert.equal(budget.availableRetryCount, 0, 'bucket 0 left the window at 10 000 ms');
  });

  it('spends the oldest deposits first, so fewer expire unspent', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({
      ratio: 1,
      retriesPerSecondMin: 0,
      windowMs: 10_000,
      bucketCount: 10,
      clock,
    });
    record(budget, 5); // bucket 0
    clock.advanceMs(5_000);
    record(budget, 5); // bucket 5
    for (let index = 0; index < 5; index += 1) {
      assert.equal(budget.tryAcquireRetry(), true);
    }
    clock.advanceMs(5_000); // bucket 0 expires
    assert.equal(budget.availableRetryCount, 5, "bucket 5's deposits are still there");
  });

  it('works on a clock that starts below 0', () => {
    const clock = new ManualClock({ nowMs: -12_345 });
    const budget = new RetryBudget({ ratio: 1, retriesPerSecondMin: 0, clock });
    record(budget, 3);
    assert.equal(drain(budget), 3);
    record(budget, 2);
    clock.advanceMs(20_000);
    assert.equal(budget.availableRetryCount, 0);
    record(budget, 1);
    assert.equal(drain(budget), 1);
  });

  it('has documented defaults: ratio 0.1, 1 retry per second, a 10 s window of 10 buckets', () => {
    const budget = new RetryBudget({ clock: new ManualClock() });
    assert.equal(budget.ratio, 0.1);
    assert.equal(budget.retriesPerSecondMin, 1);
    assert.equal(budget.windowMs, 10_000);
    assert.equal(budget.bucketCount, 10);
  });

  it('rejects options out of range with InvalidArgumentError naming them', () => {
    const clock = new ManualClock();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ratio: 1.5 }, /options\.ratio must be a finite number from 0 to 1/],
      [{ ratio: -0.1 }, /options\.ratio/],
      [{ ratio: Number.NaN }, /options\.ratio/],
      [{ retriesPerSecondMin: -1 }, /options\.retriesPerSecondMin/],
      [{ windowMs: 0 }, /options\.windowMs/],
      [{ windowMs: Number.POSITIVE_INFINITY }, /options\.windowMs/],
      [{ bucketCount: 0 }, /options\.bucketCount/],
      [{ bucketCount: 1.5 }, /options\.bucketCount/],
      [{ bucketCount: 1_001 }, /options\.bucketCount/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => new RetryBudget({ clock, ...options }),
        (error: unknown) => isInvalidArgumentError(error) && message.test(error.message),
        JSON.stringify(options),
      );
    }
    assert.throws(() => new RetryBudget(null as never), isInvalidArgumentError);
  });
});

/** One step of a random workload. */
type Step =
  | { readonly kind: 'advance'; readonly deltaMs: number }
  | { readonly kind: 'request'; readonly count: number }
  | { readonly kind: 'retry'; readonly count: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('advance' as const),
    deltaMs: fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 0, max: 30_000 })),
  }),
  fc.record({ kind: fc.constant('request' as const), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('retry' as const), count: fc.integer({ min: 1, max: 10 }) }),
);

const configArbitrary = fc.record({
  ratio: fc.constantFrom(0, 0.05, 0.1, 0.2, 0.25, 0.5, 1),
  retriesPerSecondMin: fc.constantFrom(0, 0.5, 1, 3),
  windowMs: fc.constantFrom(1_000, 5_000, 10_000),
  bucketCount: fc.constantFrom(1, 4, 10),
  startMs: fc.integer({ min: -50_000, max: 50_000 }),
});

/**
 * A plain model of the budget: a list of deposits, each stamped with its bucket, spent
 * oldest first and dropped once `bucketCount` newer buckets have begun.
 */
class BudgetModel {
  readonly #deposits: { bucket: number; units: number }[] = [];
  #bucket: number;

  constructor(
    readonly unitsPerRequest: number,
    readonly floorUnits: number,
    readonly bucketWidthMs: number,
    readonly bucketCount: number,
    nowMs: number,
  ) {
    this.#bucket = Math.floor(nowMs / bucketWidthMs);
    this.#deposits.push({ bucket: this.#bucket, units: floorUnits });
  }

  at(nowMs: number): void {
    const bucket = Math.floor(nowMs / this.bucketWidthMs);
    for (
      let next = Math.max(this.#bucket + 1, bucket - this.bucketCount);
      next <= bucket;
      next += 1
    ) {
      this.#deposits.push({ bucket: next, units: this.floorUnits });
    }
    this.#bucket = bucket;
    while ((this.#deposits[0]?.bucket ?? bucket) <= bucket - this.bucketCount) {
      this.#deposits.shift();
    }
  }

  request(): void {
    this.#deposits.push({ bucket: this.#bucket, units: this.unitsPerRequest });
  }

  tryRetry(): boolean {
    let available = 0;
    for (const deposit of this.#deposits) {
      available += deposit.units;
    }
    if (available < 1_000_000) {
      return false;
    }
    let owed = 1_000_000;
    for (const deposit of this.#deposits) {
      const taken = Math.min(deposit.units, owed);
      deposit.units -= taken;
      owed -= taken;
    }
    return true;
  }
}

describe('RetryBudget (property tests)', () => {
  it('never grants more than ratio × requests + the floor for every bucket begun', () => {
    fc.assert(
      fc.property(configArbitrary, fc.array(stepArbitrary, { maxLength: 200 }), (config, steps) => {
        const clock = new ManualClock({ nowMs: config.startMs });
        const budget = new RetryBudget({ ...config, clock });
        const bucketWidthMs = config.windowMs / config.bucketCount;
        const firstBucket = Math.floor(config.startMs / bucketWidthMs);
        let granted = 0;
        let requested = 0;
        for (const step of steps) {
          if (step.kind === 'advance') {
            clock.advanceMs(step.deltaMs);
          } else if (step.kind === 'request') {
            record(budget, step.count);
            requested += step.count;
          } else {
            for (let index = 0; index < step.count; index += 1) {
              granted += budget.tryAcquireRetry() ? 1 : 0;
            }
          }
          const bucketsBegun = Math.floor(clock.nowMs() / bucketWidthMs) - firstBucket + 1;
          const allowance =
            config.ratio * requested +
            (config.retriesPerSecondMin * bucketsBegun * bucketWidthMs) / 1000;
          assert.ok(
            granted <= allowance + 1e-9,
            `granted ${granted} retries, allowance ${allowance}`,
          );
        }
        assert.equal(budget.retryCount, granted);
        assert.equal(budget.requestCount, requested);
      }),
    );
  });

  it('grants exactly when a list-of-deposits model of the budget would', () => {
    fc.assert(
      fc.property(configArbitrary, fc.array(stepArbitrary, { maxLength: 200 }), (config, steps) => {
        const clock = new ManualClock({ nowMs: config.startMs });
        const budget = new RetryBudget({ ...config, clock });
        const bucketWidthMs = config.windowMs / config.bucketCount;
        const model = new BudgetModel(
          Math.round(config.ratio * 1_000_000),
          Math.round(((config.retriesPerSecondMin * bucketWidthMs) / 1000) * 1_000_000),
          bucketWidthMs,
          config.bucketCount,
          config.startMs,
        );
        for (const step of steps) {
          if (step.kind === 'advance') {
            clock.advanceMs(step.deltaMs);
            model.at(clock.nowMs());
          } else if (step.kind === 'request') {
            for (let index = 0; index < step.count; index += 1) {
              budget.recordRequest();
              model.request();
            }
          } else {
            for (let index = 0; index < step.count; index += 1) {
              assert.equal(budget.tryAcquireRetry(), model.tryRetry());
            }
          }
        }
      }),
    );
  });
});
