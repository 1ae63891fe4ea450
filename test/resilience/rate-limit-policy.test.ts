import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAbortedError, isInvalidArgumentError, ManualClock } from '../../src/core/index.js';
import {
  isRateLimitedError,
  pipeline,
  RateLimiter,
  RateLimitPolicy,
  type RateLimitRejectEvent,
  TokenBucket,
} from '../../src/resilience/index.js';

function bucketPolicy(clock: ManualClock, capacity: number): RateLimitPolicy {
  const algorithm = new TokenBucket({ capacity, refillCount: 1, refillIntervalMs: 100 });
  return new RateLimitPolicy({ limiter: new RateLimiter({ algorithm, clock }) });
}

describe('RateLimitPolicy', () => {
  it('admits calls while the limiter allows and rejects the rest with retryAfterMs', async () => {
    const clock = new ManualClock();
    const policy = bucketPolicy(clock, 2);
    const rejected: RateLimitRejectEvent[] = [];
    policy.onReject((event) => rejected.push(event));
    let ran = 0;
    const work = (): number => {
      ran += 1;
      return ran;
    };
    assert.equal(await policy.execute(work), 1);
    assert.equal(await policy.execute(work), 2);
    await assert.rejects(
      policy.execute(work),
      (error) => isRateLimitedError(error) && error.retryAfterMs === 100,
    );
    assert.equal(ran, 2, 'a rejected call never starts its work');
    assert.equal(rejected.length, 1);
    clock.advanceMs(100);
    assert.equal(await policy.execute(work), 3);
  });

  it('charges the configured cost', async () => {
    const clock = new ManualClock();
    const algorithm = new TokenBucket({ capacity: 5, refillCount: 1 });
    const policy = new RateLimitPolicy({ limiter: new RateLimiter({ algorithm, clock }), cost: 3 });
    await policy.execute(() => 'first');
    await assert.rejects(
      policy.execute(() => 'second'),
      (error) => isRateLimitedError(error),
    );
  });

  it('passes on the work error, thrown or rejected, and composes in a pipeline', async () => {
    const policy = bucketPolicy(new ManualClock(), 10);
    await assert.rejects(
      policy.execute(() => {
        throw new Error('thrown');
      }),
      /thrown/,
    );
    await assert.rejects(
      policy.execute(async () => Promise.reject(new Error('rejected'))),
      /rejected/,
    );
    assert.equal(
      await pipeline(policy, bucketPolicy(new ManualClock(), 1)).execute(() => 'both'),
      'both',
    );
  });

  it('rejects an aborted caller without spending the limit', async () => {
    const clock = new ManualClock();
    const policy = bucketPolicy(clock, 1);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      policy.execute(() => 1, controller.signal),
      (error) => isAbortedError(error),
    );
    assert.equal(await policy.execute(() => 'still allowed'), 'still allowed');
  });

  it('rejects invalid options naming the option', () => {
    assert.throws(
      () => new RateLimitPolicy({ limiter: {} as never }),
      (error) =>
        isInvalidArgumentError(error) && error.argument === 'RateLimitPolicy options.limiter',
    );
    const limiter = { tryAcquire: () => ({ allowed: true, remaining: 1, retryAfterMs: 0 }) };
    for (const cost of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => new RateLimitPolicy({ limiter, cost }),
        (error) =>
          isInvalidArgumentError(error) && error.argument === 'RateLimitPolicy options.cost',
      );
    }
  });
});
