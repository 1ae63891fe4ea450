/**
 * A pipeline of distkit's own policies runs each call with one promise and one reaction to
 * the work's promise, leaving the layers innermost first (src/resilience/pipeline-run.ts).
 * These tests pin down what the layers see on the paths that differ from one promise per
 * layer: timeouts that answer before the work does, layers that reject while admitting,
 * retries whose further attempts replace an outcome, work that throws or returns at once,
 * bulkheads that must queue, and policies of other libraries in between.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAbortedError, isDeadlineExceededError, VirtualScheduler } from '../../src/core/index.js';
import {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  ConstantBackoff,
  isBreakerOpenError,
  isBulkheadRejectedError,
  isRetryExhaustedError,
  type Policy,
  type PolicyContext,
  type PolicyWork,
  pipeline,
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
    await turn();
    if (!done && !scheduler.runNext()) {
      await turn();
    }
  }
  return promise;
}

function turn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

interface Outcomes {
  successes: number;
  failures: number;
}

/**
 * A breaker that counts the outcomes it records through its predicates. (Outcome
 * listeners would time every call, which sends the breaker down its general path.)
 */
function breakerOf(
  scheduler: VirtualScheduler,
  failureCountThreshold = 5,
  breakDurationMs = 1_000,
): { breaker: CircuitBreakerPolicy; outcomes: Outcomes } {
  const outcomes: Outcomes = { successes: 0, failures: 0 };
  const breaker = new CircuitBreakerPolicy({
    strategy: { kind: 'consecutive-failures', failureCountThreshold },
    breakDurationMs,
    scheduler,
    isFailure: () => {
      outcomes.failures += 1;
      return true;
    },
    isResultFailure: () => {
      outcomes.successes += 1;
      return false;
    },
  });
  return { breaker, outcomes };
}

/** A policy of another library: runs the work through a closure of its own. */
class ForeignPolicy implements Policy {
  callCount = 0;

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    this.callCount += 1;
    return Promise.resolve().then(() => work(parent as PolicyContext));
  }
}

describe('pipeline of distkit policies, one promise per call', () => {
  it('an outer timeout answers at its deadline while an inner retry still waits; nothing is left behind', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker, outcomes } = breakerOf(scheduler);
    const retry = new RetryPolicy({
      attemptCountMax: 5,
      backoff: new ConstantBackoff({ delayMs: 60 }),
      scheduler,
    });
    const policy = pipeline(breaker, new TimeoutPolicy({ timeoutMs: 100, scheduler }), retry);
    const attempts: number[] = [];
    const call = policy.execute(({ attempt, signal }) => {
      attempts.push(attempt);
      return attempt === 1
        ? Promise.reject(new Error('first attempt fails'))
        : untilAborted(signal);
    });
    await assert.rejects(settle(scheduler, call), (error) => isDeadlineExceededError(error));
    assert.equal(scheduler.clock.nowMs(), 100);
    assert.deepEqual(attempts, [1, 2]);
    await turn();
    assert.deepEqual(outcomes, { successes: 0, failures: 1 }, 'the timeout counts once');
    assert.equal(scheduler.pendingCount, 0, 'no timer or wait outlives the call');
  });

  it('a timeout answers at its deadline and the bulkhead inside holds its slot until the work ends', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const { breaker, outcomes } = breakerOf(scheduler);
    const policy = pipeline(breaker, new TimeoutPolicy({ timeoutMs: 100, scheduler }), bulkhead);
    // Work that ignores its signal and answers at 300 ms.
    const call = policy.execute(
      () => new Promise<string>((resolve) => scheduler.schedule(300, () => resolve('late'))),
    );
    const rejection = call.then(
      () => assert.fail('the call should time out'),
      (error: unknown) => error,
    );
    scheduler.advanceMs(100);
    assert.ok(isDeadlineExceededError(await rejection));
    assert.equal(bulkhead.inflightCount, 1, 'the work still runs in its slot');
    scheduler.advanceMs(200);
    await turn();
    assert.equal(bulkhead.inflightCount, 0);
    assert.deepEqual(outcomes, { successes: 0, failures: 1 }, 'the late value is not recorded');
    assert.equal(scheduler.pendingCount, 0);
  });

  it('nested timeouts: the inner one answers, the outer one is cancelled', async () => {
    const scheduler = new VirtualScheduler();
    const policy = pipeline(
      new TimeoutPolicy({ timeoutMs: 100, scheduler }),
      new TimeoutPolicy({ timeoutMs: 50, scheduler }),
      new BulkheadPolicy({ concurrencyMax: 1, scheduler }),
    );
    const call = policy.execute(({ signal }) => untilAborted(signal));
    await assert.rejects(settle(scheduler, call), (error) => isDeadlineExceededError(error));
    assert.equal(scheduler.clock.nowMs(), 50);
    await turn();
    assert.equal(scheduler.pendingCount, 0);
  });

  it('the slot is free and the outcome recorded by the time the caller resumes', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker } = breakerOf(scheduler, 1);
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const policy = pipeline(
      new RetryPolicy({ attemptCountMax: 1, scheduler }),
      breaker,
      new TimeoutPolicy({ timeoutMs: 100, scheduler }),
      bulkhead,
    );
    assert.equal(await policy.execute(async () => 'value'), 'value');
    assert.equal(bulkhead.inflightCount, 0);
    assert.equal(scheduler.pendingCount, 0, 'the timeout was cancelled');
    await assert.rejects(policy.execute(async () => Promise.reject(new Error('down'))));
    assert.equal(bulkhead.inflightCount, 0);
    assert.equal(breaker.state, 'open', 'the failure was recorded before the caller resumed');
  });

  it('runs work that returns or throws at once, and retries it', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker, outcomes } = breakerOf(scheduler, 2);
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const policy = pipeline(
      new RetryPolicy({
        attemptCountMax: 3,
        backoff: new ConstantBackoff({ delayMs: 0 }),
        scheduler,
      }),
      breaker,
      bulkhead,
    );
    const seen: number[] = [];
    const call = policy.execute(({ attempt }) => {
      seen.push(attempt);
      if (attempt === 1) {
        throw new Error('thrown at once');
      }
      return attempt * 10;
    });
    assert.ok(call instanceof Promise, 'execute always returns a promise');
    assert.equal(await settle(scheduler, call), 20);
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(outcomes, { successes: 1, failures: 1 });
    assert.equal(bulkhead.inflightCount, 0);
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a native promise.
      then: (resolve: (value: string) => void) => resolve('from a thenable'),
    };
    assert.equal(
      await policy.execute(() => thenable as unknown as PromiseLike<string>),
      'from a thenable',
    );
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('a layer that rejects while admitting fails the call without running the work', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker, outcomes } = breakerOf(scheduler);
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const policy = pipeline(
      new RetryPolicy({ attemptCountMax: 3, scheduler }),
      breaker,
      new TimeoutPolicy({ timeoutMs: 100, scheduler }),
      bulkhead,
    );
    let workCount = 0;
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      policy.execute(() => {
        workCount += 1;
      }, controller.signal),
      (error) => isAbortedError(error),
    );
    // An isolated breaker: its rejection carries no retry-after hint, so it is not retried.
    breaker.isolate();
    await assert.rejects(
      policy.execute(() => {
        workCount += 1;
      }),
      (error) => isBreakerOpenError(error),
    );
    assert.equal(workCount, 0);
    assert.deepEqual(outcomes, { successes: 0, failures: 0 });
    assert.equal(bulkhead.inflightCount, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('an open breaker inside a retry: the attempt waits for the probe time and probes', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker } = breakerOf(scheduler, 1, 100);
    const policy = pipeline(new RetryPolicy({ attemptCountMax: 2, scheduler }), breaker);
    await assert.rejects(
      settle(
        scheduler,
        policy.execute(() => Promise.reject(new Error('down'))),
      ),
      (error) => isRetryExhaustedError(error),
    );
    assert.equal(breaker.state, 'open');
    const startMs = scheduler.clock.nowMs();
    const call = policy.execute(async () => 'probed');
    assert.equal(await settle(scheduler, call), 'probed');
    assert.ok(scheduler.clock.nowMs() > startMs, 'the retry waited for the breaker');
    assert.equal(breaker.state, 'closed');
  });

  it('a full bulkhead queues the call on its general path, and rejects when its queue is full', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker, outcomes } = breakerOf(scheduler);
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 1, scheduler });
    const policy = pipeline(breaker, bulkhead);
    let release: (value: string) => void = () => {};
    const first = policy.execute(() => new Promise<string>((resolve) => (release = resolve)));
    const second = policy.execute(async () => 'second');
    await assert.rejects(
      policy.execute(async () => 'third'),
      (error) => isBulkheadRejectedError(error),
    );
    assert.equal(bulkhead.queuedCount, 1);
    release('first');
    assert.equal(await first, 'first');
    assert.equal(await second, 'second');
    assert.equal(bulkhead.inflightCount, 0);
    assert.deepEqual(outcomes, { successes: 2, failures: 1 });
  });

  it('runs the layers after a policy of another library through that policy', async () => {
    const scheduler = new VirtualScheduler();
    const { breaker, outcomes } = breakerOf(scheduler);
    const foreign = new ForeignPolicy();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const policy = pipeline(
      new RetryPolicy({
        attemptCountMax: 2,
        backoff: new ConstantBackoff({ delayMs: 0 }),
        scheduler,
      }),
      breaker,
      foreign,
      bulkhead,
    );
    const call = policy.execute(({ attempt }) =>
      attempt === 1 ? Promise.reject(new Error('once')) : Promise.resolve(attempt),
    );
    assert.equal(await settle(scheduler, call), 2);
    assert.equal(foreign.callCount, 2);
    assert.deepEqual(outcomes, { successes: 1, failures: 1 });
    assert.equal(bulkhead.inflightCount, 0);
  });
});
