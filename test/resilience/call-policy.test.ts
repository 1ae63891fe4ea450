import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isDeadlineExceededError,
  isInvalidArgumentError,
  SeededRandom,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  ConstantBackoff,
  callPolicy,
  type PolicyContext,
  RetryPolicy,
  TimeoutPolicy,
} from '../../src/resilience/index.js';

/** Lets promise reactions run, then advances virtual time, until `promise` settles. */
async function settle<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let step = 0; step < 1_000 && !done; step += 1) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!done && !scheduler.runNext()) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return promise;
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function build(scheduler: VirtualScheduler) {
  return callPolicy({
    retry: { attemptCountMax: 2, backoff: new ConstantBackoff({ delayMs: 0 }) },
    breaker: {
      strategy: { kind: 'consecutive-failures', failureCountThreshold: 5 },
      breakDurationMs: 1_000,
    },
    timeout: 100,
    bulkhead: { concurrencyMax: 1, queueCountMax: 10 },
    scheduler,
    random: new SeededRandom({ seed: 1 }),
  });
}

describe('callPolicy', () => {
  it('builds retry, breaker, timeout and bulkhead in that order', () => {
    const policy = build(new VirtualScheduler());
    assert.deepEqual(
      policy.policies.map((part) => part.constructor),
      [RetryPolicy, CircuitBreakerPolicy, TimeoutPolicy, BulkheadPolicy],
    );
  });

  it('leaves out parts not given and takes ready policies as they are', () => {
    const timeout = new TimeoutPolicy({ timeoutMs: 5, scheduler: new VirtualScheduler() });
    const policy = callPolicy({ timeout });
    assert.deepEqual(policy.policies, [timeout]);
    assert.deepEqual(callPolicy({}).policies, []);
  });

  it('times out each attempt and retries it: the timeout sits inside the retry', async () => {
    const scheduler = new VirtualScheduler();
    const policy = build(scheduler);
    const attempts: number[] = [];
    const result = settle(
      scheduler,
      policy.execute((context: PolicyContext) => {
        attempts.push(context.attempt);
        // The first attempt hangs until its signal aborts. Work must honour its signal:
        // work that ignored it would go on holding its bulkhead slot after the timeout.
        return context.attempt === 1 ? untilAborted(context.signal) : `attempt ${context.attempt}`;
      }),
    );
    assert.equal(await result, 'attempt 2');
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(scheduler.clock.nowMs(), 100, 'the first attempt was cut at its 100 ms timeout');
  });

  it('counts time queued for a bulkhead slot against the attempt timeout', async () => {
    const scheduler = new VirtualScheduler();
    const policy = callPolicy({
      timeout: 100,
      bulkhead: { concurrencyMax: 1, queueCountMax: 10 },
      scheduler,
    });
    const holder = policy.execute(() => new Promise<never>(() => {}));
    holder.catch(() => {});
    let ran = false;
    const queued = policy.execute(() => {
      ran = true;
    });
    await assert.rejects(settle(scheduler, queued), (error) => isDeadlineExceededError(error));
    assert.equal(ran, false, 'the queued call never got a slot');
  });

  it('rejects invalid parts naming them', () => {
    assert.throws(
      () => callPolicy({ timeout: -5 }),
      (error) => isInvalidArgumentError(error) && error.argument === 'callPolicy options.timeout',
    );
    assert.throws(
      () => callPolicy({ bulkhead: { concurrencyMax: 0 } }),
      (error) => isInvalidArgumentError(error),
    );
    assert.throws(
      () => callPolicy({ retry: 'often' as never }),
      (error) => isInvalidArgumentError(error),
    );
  });
});
