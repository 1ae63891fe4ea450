import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  AbortedError,
  AssertionError,
  causeChain,
  DeadlineExceededError,
  InvalidArgumentError,
  isAbortedError,
  isDeadlineExceededError,
  isDistkitError,
  isInvalidArgumentError,
  linkSignal,
  ManualClock,
  QueueClosedError,
  type Random,
  SeededRandom,
  VirtualScheduler,
} from '../../src/core/index.js';
import { type Backoff, ConstantBackoff, ExponentialBackoff } from '../../src/resilience/backoff.js';
import { pipeline } from '../../src/resilience/pipeline.js';
import { ExecutionContext, type PolicyContext } from '../../src/resilience/policy.js';
import {
  defaultShouldRetryError,
  isRetryAttemptError,
  isRetryExhaustedError,
  RetryAttemptError,
  type RetryEvent,
  RetryExhaustedError,
  type RetryFailureEvent,
  type RetryGiveUpEvent,
  type RetryOptions,
  RetryPolicy,
  type RetrySuccessEvent,
  retryAfterMsOf,
} from '../../src/resilience/retry.js';
import { RetryBudget } from '../../src/resilience/retry-budget.js';
import { TimeoutPolicy } from '../../src/resilience/timeout.js';

/** Lets every pending promise continuation run; no time passes on any clock. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Where a promise stands, read after {@link flush}. */
function track<T>(promise: Promise<T>): {
  readonly settled: () => boolean;
  readonly promise: Promise<T>;
} {
  let settled = false;
  const watched = promise.then(
    (value) => {
      settled = true;
      return value;
    },
    (error: unknown) => {
      settled = true;
      throw error;
    },
  );
  // The caller awaits `promise`; this handler only keeps the rejection from being unhandled.
  watched.catch(() => {});
  return { settled: () => settled, promise: watched };
}

/** Runs the scheduler's tasks one at a time, jumping time, until `promise` settles. */
async function runUntilSettled<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  const tracked = track(promise);
  await flush();
  while (!tracked.settled() && scheduler.runNext()) {
    await flush();
  }
  return tracked.promise;
}

/** Work that fails `failureCount` times, then returns `value`; logs each attempt's time. */
function flaky<T>(
  scheduler: VirtualScheduler,
  failureCount: number,
  value: T,
  makeError: (attempt: number) => unknown = (attempt) => new Error(`failure ${attempt}`),
): {
  readonly work: (context: PolicyContext) => Promise<T>;
  readonly attemptTimesMs: number[];
  readonly contexts: PolicyContext[];
} {
  const attemptTimesMs: number[] = [];
  const contexts: PolicyContext[] = [];
  return {
    attemptTimesMs,
    contexts,
    work: async (context) => {
      attemptTimesMs.push(scheduler.clock.nowMs());
      contexts.push(context);
      if (attemptTimesMs.length <= failureCount) {
        throw makeError(attemptTimesMs.length);
      }
      return value;
    },
  };
}

/** A policy on a virtual scheduler with a fixed 100 ms backoff unless told otherwise. */
function policyOf(scheduler: VirtualScheduler, options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy({
    backoff: new ConstantBackoff({ delayMs: 100 }),
    scheduler,
    random: new SeededRandom({ seed: 1 }),
    ...options,
  });
}

class RetryAfterError extends Error {
  constructor(readonly retryAfterMs: number | undefined) {
    super(`busy; retry after ${retryAfterMs} ms`);
  }
}

describe('RetryPolicy: success and retries', () => {
  it('returns a first-try value with one call, attempt 1, and no scheduled task', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler);
    const attempts: number[] = [];
    assert.equal(
      await retry.execute(({ attempt }) => {
        attempts.push(attempt);
        return 'sync';
      }),
      'sync',
    );
    assert.equal(await retry.execute(async () => 'async'), 'async');
    assert.deepEqual(attempts, [1]);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('accepts a foreign thenable from the work', async () => {
    const scheduler = new VirtualScheduler();
    const thenable: PromiseLike<number> = {
      // biome-ignore lint/suspicious/noThenProperty: a foreign thenable on purpose
      then: (onValue, onError) => Promise.resolve(7).then(onValue, onError),
    };
    assert.equal(await policyOf(scheduler).execute(() => thenable), 7);
  });

  it('retries thrown and rejected errors until an attempt succeeds', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { attemptCountMax: 5 });
    let callCount = 0;
    const result = runUntilSettled(
      scheduler,
      retry.execute(() => {
        callCount += 1;
        if (callCount === 1) {
          throw new Error('thrown synchronously');
        }
        if (callCount === 2) {
          return Promise.reject(new Error('rejected'));
        }
        return `ok after ${callCount}`;
      }),
    );
    assert.equal(await result, 'ok after 3');
    assert.equal(scheduler.pendingCount, 0);
  });

  it("gives each attempt parent.derive({ attempt }): the caller's signal and deadline, its own number", async () => {
    const scheduler = new VirtualScheduler();
    const request = linkSignal({ scheduler, timeoutMs: 10_000 });
    const { work, contexts } = flaky(scheduler, 2, 'done');
    await runUntilSettled(scheduler, policyOf(scheduler).execute(work, request.signal));
    assert.deepEqual(
      contexts.map((context) => context.attempt),
      [1, 2, 3],
    );
    for (const context of contexts) {
      assert.equal(context.signal, request.signal, 'attempts share the caller signal');
      assert.equal(context.deadline?.atMs, 10_000);
    }
    request.dispose();
  });

  it('numbers its own attempts from 1 inside an outer context at a later attempt', async () => {
    const scheduler = new VirtualScheduler();
    const inner = policyOf(scheduler);
    const { work, contexts } = flaky(scheduler, 1, 'done');
    const outerContext: PolicyContext = {
      attempt: 4,
      signal: new AbortController().signal,
      deadline: undefined,
    };
    await runUntilSettled(scheduler, inner.execute(work, outerContext));
    assert.deepEqual(
      contexts.map((context) => context.attempt),
      [1, 2],
    );
  });
});

describe('RetryPolicy: the context of a call with no parent', () => {
  it('gives each call a root of its own: numbered attempts on one signal, no deadline', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler);
    const first = flaky(scheduler, 1, 'first');
    const second = flaky(scheduler, 2, 'second');
    const calls = Promise.all([retry.execute(first.work), retry.execute(second.work)]);
    assert.deepEqual(await runUntilSettled(scheduler, calls), ['first', 'second']);
    assert.deepEqual(
      first.contexts.map((context) => context.attempt),
      [1, 2],
    );
    assert.deepEqual(
      second.contexts.map((context) => context.attempt),
      [1, 2, 3],
    );
    for (const contexts of [first.contexts, second.contexts]) {
      const [attempt1, ...later] = contexts as [PolicyContext, ...PolicyContext[]];
      assert.ok(attempt1 instanceof ExecutionContext, 'inner policies take it as it is');
      for (const context of contexts) {
        assert.equal(context.deadline, undefined);
        assert.equal(context.signal.aborted, false);
      }
      for (const context of later) {
        assert.equal(
          context.signal,
          attempt1.signal,
          'later attempts share the first one’s signal',
        );
      }
    }
    assert.notEqual(
      first.contexts[0]?.signal,
      second.contexts[0]?.signal,
      'two calls never share a signal',
    );
    assert.notEqual(first.contexts[0], second.contexts[0]);
  });

  it("stops the retries of the one call whose own context aborts, and leaves the others' alone", async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { attemptCountMax: 3 });
    const reason = new Error('the work gave up on itself');
    let abortingAttempts = 0;
    const aborting = retry.execute(async (context) => {
      abortingAttempts += 1;
      (context as ExecutionContext).abort(reason);
      throw new Error('failed after aborting');
    });
    const other = flaky(scheduler, 2, 'other');
    const otherCall = retry.execute(other.work);
    const [abortedError, otherValue] = await runUntilSettled(
      scheduler,
      Promise.all([aborting.then(undefined, (error: unknown) => error), otherCall]),
    );
    assert.ok(isAbortedError(abortedError), 'the call rejects with its abort');
    assert.equal((abortedError as AbortedError).cause, reason);
    assert.equal(abortingAttempts, 1, 'no retry after the abort');
    assert.equal(otherValue, 'other');
    assert.equal(other.contexts.length, 3);
    for (const context of other.contexts) {
      assert.equal(context.signal.aborted, false);
    }
  });

  it('gives the work a root that an inner policy derives from, abortable per call', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler);
    const timeout = new TimeoutPolicy({ timeoutMs: 50, scheduler });
    const seen: PolicyContext[] = [];
    const value = await runUntilSettled(
      scheduler,
      retry.execute((outer) =>
        timeout.execute((inner) => {
          seen.push(outer, inner);
          return inner.attempt;
        }, outer),
      ),
    );
    assert.equal(value, 1);
    const [outer, inner] = seen as [PolicyContext, PolicyContext];
    assert.equal(inner.deadline?.atMs, 50);
    assert.notEqual(inner.signal, outer.signal, 'the timeout made a child that can abort alone');
    assert.equal(outer.signal.aborted, false);
    assert.equal(scheduler.pendingCount, 0);
  });
});

describe('RetryPolicy: timing in virtual time', () => {
  it('waits exactly the backoff between attempts: 100, 200, 400 ms without jitter', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, {
      attemptCountMax: 4,
      backoff: new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 10_000, jitter: 'none' }),
    });
    const { work, attemptTimesMs } = flaky(scheduler, 3, 'done');
    const call = track(retry.execute(work));
    await flush();
    assert.deepEqual(attemptTimesMs, [0]);
    scheduler.advanceMs(99);
    await flush();
    assert.deepEqual(attemptTimesMs, [0], 'not a millisecond early');
    scheduler.advanceMs(1);
    await flush();
    assert.deepEqual(attemptTimesMs, [0, 100]);
    scheduler.advanceMs(200);
    await flush();
    assert.deepEqual(attemptTimesMs, [0, 100, 300]);
    scheduler.advanceMs(400);
    await flush();
    assert.deepEqual(attemptTimesMs, [0, 100, 300, 700]);
    assert.equal(await call.promise, 'done');
  });

  it('draws jitter from its seeded random: the attempt times are those of the same seed', async () => {
    const backoff = new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 5_000, jitter: 'full' });
    const expected = new SeededRandom({ seed: 42 });
    const expectedTimesMs = [0];
    let previousDelayMs = 0;
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      previousDelayMs = backoff.delayMs(attempt, previousDelayMs, expected);
      expectedTimesMs.push((expectedTimesMs.at(-1) as number) + previousDelayMs);
    }

    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, {
      attemptCountMax: 6,
      backoff,
      random: new SeededRandom({ seed: 42 }),
    });
    const { work, attemptTimesMs } = flaky(scheduler, 5, 'done');
    assert.equal(await runUntilSettled(scheduler, retry.execute(work)), 'done');
    assert.deepEqual(attemptTimesMs, expectedTimesMs);
    assert.equal(new Set(attemptTimesMs.slice(1).map((timeMs) => timeMs % 100)).size > 1, true);
  });

  it('passes the backoff the failed attempt, the delay waited before it, and its own random', async () => {
    const scheduler = new VirtualScheduler();
    const random = new SeededRandom({ seed: 3 });
    const calls: [number, number, Random][] = [];
    const backoff: Backoff = {
      delayMs: (attempt, previousDelayMs, received) => {
        calls.push([attempt, previousDelayMs, received]);
        return attempt * 10;
      },
    };
    const retry = policyOf(scheduler, { attemptCountMax: 4, backoff, random });
    const { work } = flaky(scheduler, 3, 'done');
    await runUntilSettled(scheduler, retry.execute(work));
    assert.deepEqual(calls, [
      [1, 0, random],
      [2, 10, random],
      [3, 20, random],
    ]);
  });

  it('retries at once, without a scheduler task, when the delay is 0', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { backoff: new ConstantBackoff({ delayMs: 0 }) });
    const { work, attemptTimesMs } = flaky(scheduler, 2, 'done');
    const call = track(retry.execute(work));
    await flush();
    assert.equal(call.settled(), true, 'settled without advancing time');
    assert.equal(await call.promise, 'done');
    assert.deepEqual(attemptTimesMs, [0, 0, 0]);
  });
});

describe('RetryPolicy: exhaustion', () => {
  it('throws RetryExhaustedError holding every attempt error, in a cause chain and a list', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { attemptCountMax: 3 });
    const errors = [new Error('one'), new Error('two'), new Error('three')];
    const { work } = flaky(scheduler, 3, 'never', (attempt) => errors[attempt - 1]);
    const error = await runUntilSettled(scheduler, retry.execute(work)).catch((caught) => caught);

    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.ok(
      error instanceof RetryExhaustedError && isDistkitError(error),
      'error instanceof RetryExhaustedError && isDistkitError(error)',
    );
    assert.equal(error.code, 'RETRY_EXHAUSTED');
    assert.equal(error.reason, 'attempts');
    assert.equal(error.attemptCount, 3);
    assert.deepEqual(error.errors, errors);
    assert.equal(error.lastError, errors[2]);
    assert.match(error.message, /Gave up after 3 attempts/);
    assert.match(error.message, /Last error: Error: three/);

    const chain = [...causeChain(error)];
    assert.equal(chain.length, 4, 'the error, then one link per attempt');
    assert.equal(chain[0], error);
    const links = chain.slice(1);
    assert.ok(links.every(isRetryAttemptError), 'links.every(isRetryAttemptError)');
    assert.deepEqual(
      links.map((link) => (isRetryAttemptError(link) ? [link.attempt, link.error] : [])),
      [
        [3, errors[2]],
        [2, errors[1]],
        [1, errors[0]],
      ],
    );
    assert.match((links[0] as Error).message, /Attempt 3 failed: Error: three/);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('with attemptCountMax 1 runs once and reports that one failure', async () => {
    const scheduler = new VirtualScheduler();
    const failure = new Error('only');
    const error = await policyOf(scheduler, { attemptCountMax: 1 })
      .execute(() => {
        throw failure;
      })
      .catch((caught) => caught);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(error.attemptCount, 1);
    assert.deepEqual(error.errors, [failure]);
    assert.match(error.message, /Gave up after 1 attempt:/);
  });

  it('describes non-Error throws in the message', async () => {
    const scheduler = new VirtualScheduler();
    const error = await policyOf(scheduler, { attemptCountMax: 1 })
      .execute(() => Promise.reject('a plain string'))
      .catch((caught) => caught);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.deepEqual(error.errors, ['a plain string']);
    assert.match(error.message, /Last error: "a plain string"/);
  });
});

describe('RetryPolicy: which failures are retried', () => {
  it('passes an error that shouldRetryError declines through unwrapped, after one attempt', async () => {
    const scheduler = new VirtualScheduler();
    const seen: [unknown, number][] = [];
    const fatal = new Error('fatal');
    const retry = policyOf(scheduler, {
      shouldRetryError: (error, attempt) => {
        seen.push([error, attempt]);
        return error !== fatal;
      },
    });
    const { work } = flaky(scheduler, 5, 'never', (attempt) =>
      attempt === 2 ? fatal : new Error('transient'),
    );
    const error = await runUntilSettled(scheduler, retry.execute(work)).catch((caught) => caught);
    assert.equal(error, fatal);
    assert.deepEqual(
      seen.map(([, attempt]) => attempt),
      [1, 2],
    );
  });

  it('by default retries ordinary errors and timeouts but not bugs, bad arguments or inner exhaustion', () => {
    const innerExhausted = new RetryExhaustedError(
      'attempts',
      1,
      new RetryAttemptError(1, new Error('inner')),
    );
    const cases: [unknown, boolean][] = [
      [new Error('connection reset'), true],
      ['a string', true],
      [undefined, true],
      [new DeadlineExceededError(100), true],
      [new AbortedError(), true],
      [{ code: 'ECONNREFUSED' }, true],
      [new AssertionError('bug'), false],
      [new InvalidArgumentError('x', 'bad x'), false],
      [new QueueClosedError(), false],
      [innerExhausted, false],
    ];
    for (const [error, expected] of cases) {
      assert.equal(defaultShouldRetryError(error), expected, String(error));
    }
  });

  it('does not retry an InvalidArgumentError by default', async () => {
    const scheduler = new VirtualScheduler();
    const { work, attemptTimesMs } = flaky(
      scheduler,
      5,
      'never',
      () => new InvalidArgumentError('id', 'id must be a string'),
    );
    await assert.rejects(runUntilSettled(scheduler, policyOf(scheduler).execute(work)), (error) =>
      isInvalidArgumentError(error),
    );
    assert.equal(attemptTimesMs.length, 1);
  });

  it('does not multiply retries: an inner exhausted retry is not retried by an outer one', async () => {
    const scheduler = new VirtualScheduler();
    const outer = policyOf(scheduler, { attemptCountMax: 3 });
    const inner = policyOf(scheduler, { attemptCountMax: 3 });
    let callCount = 0;
    const error = await runUntilSettled(
      scheduler,
      pipeline(outer, inner).execute(() => {
        callCount += 1;
        throw new Error('down');
      }),
    ).catch((caught) => caught);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(callCount, 3, '3 attempts, not 3 × 3');
  });

  it('retries values that shouldRetryResult rejects, and returns the last one when out of attempts', async () => {
    const scheduler = new VirtualScheduler();
    const seen: [unknown, number][] = [];
    const giveUps: RetryGiveUpEvent[] = [];
    const retries: RetryEvent[] = [];
    const retry = policyOf(scheduler, {
      attemptCountMax: 3,
      shouldRetryResult: (value, attempt) => {
        seen.push([value, attempt]);
        return (value as { status: number }).status === 503;
      },
    });
    retry.onGiveUp((event) => giveUps.push(event));
    retry.onRetry((event) => retries.push(event));
    let callCount = 0;
    const result = await runUntilSettled(
      scheduler,
      retry.execute(() => {
        callCount += 1;
        return { status: 503, call: callCount };
      }),
    );
    assert.deepEqual(result, { status: 503, call: 3 });
    assert.deepEqual(
      seen.map(([, attempt]) => attempt),
      [1, 2, 3],
    );
    assert.deepEqual(giveUps, [{ attemptCount: 3, reason: 'attempts', error: undefined }]);
    assert.deepEqual(retries[0], {
      attempt: 1,
      delayMs: 100,
      error: undefined,
      result: { status: 503, call: 1 },
    });
  });

  it('stops retrying values once shouldRetryResult accepts one', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, {
      attemptCountMax: 5,
      shouldRetryResult: (value) => value === 'not yet',
    });
    let callCount = 0;
    const result = await runUntilSettled(
      scheduler,
      retry.execute(async () => {
        callCount += 1;
        return callCount < 3 ? 'not yet' : 'ready';
      }),
    );
    assert.equal(result, 'ready');
    assert.equal(callCount, 3);
  });

  it('rejects with what a predicate throws', async () => {
    const scheduler = new VirtualScheduler();
    const bug = new Error('predicate bug');
    const retry = policyOf(scheduler, {
      shouldRetryResult: () => {
        throw bug;
      },
    });
    await assert.rejects(
      retry.execute(() => 1),
      (error) => error === bug,
    );
  });
});

describe('RetryPolicy: retry-after hints', () => {
  it('waits the hint instead of the backoff', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { backoff: new ConstantBackoff({ delayMs: 10 }) });
    const { work, attemptTimesMs } = flaky(scheduler, 1, 'done', () => new RetryAfterError(750));
    assert.equal(await runUntilSettled(scheduler, retry.execute(work)), 'done');
    assert.deepEqual(attemptTimesMs, [0, 750]);
  });

  it('uses the backoff when the error carries no usable hint', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { backoff: new ConstantBackoff({ delayMs: 10 }) });
    const { work, attemptTimesMs } = flaky(
      scheduler,
      1,
      'done',
      () => new RetryAfterError(undefined),
    );
    await runUntilSettled(scheduler, retry.execute(work));
    assert.deepEqual(attemptTimesMs, [0, 10]);
    assert.equal(retryAfterMsOf(new RetryAfterError(-5)), undefined);
    assert.equal(retryAfterMsOf({ retryAfterMs: Number.NaN }), undefined);
    assert.equal(retryAfterMsOf({ retryAfterMs: '100' }), undefined);
    assert.equal(retryAfterMsOf(null), undefined);
    assert.equal(retryAfterMsOf({ retryAfterMs: 0 }), 0);
  });

  it('gives up at once, reason retryAfter, when the hint exceeds retryAfterMsMax', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { retryAfterMsMax: 1_000 });
    const { work, attemptTimesMs } = flaky(scheduler, 1, 'done', () => new RetryAfterError(1_001));
    const call = track(retry.execute(work));
    await flush();
    assert.equal(call.settled(), true, 'no wait');
    const error = await call.promise.catch((caught) => caught);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(error.reason, 'retryAfter');
    assert.match(error.message, /1001 ms; retryAfterMsMax is 1000 ms/);
    assert.deepEqual(attemptTimesMs, [0]);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('honours a hint equal to retryAfterMsMax', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { retryAfterMsMax: 1_000 });
    const { work, attemptTimesMs } = flaky(scheduler, 1, 'done', () => new RetryAfterError(1_000));
    await runUntilSettled(scheduler, retry.execute(work));
    assert.deepEqual(attemptTimesMs, [0, 1_000]);
  });

  it('reads hints with a custom extractor, and rejects one that returns nonsense', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, {
      retryAfterMsOf: (error) => ((error as Error).message === 'slow down' ? 5_000 : undefined),
      retryAfterMsMax: 60_000,
    });
    const { work, attemptTimesMs } = flaky(scheduler, 1, 'done', () => new Error('slow down'));
    await runUntilSettled(scheduler, retry.execute(work));
    assert.deepEqual(attemptTimesMs, [0, 5_000]);

    const broken = policyOf(scheduler, { retryAfterMsOf: () => -1 });
    await assert.rejects(
      broken.execute(() => Promise.reject(new Error('x'))),
      (error) =>
        isInvalidArgumentError(error) && /retryAfterMsOf returned number -1/.test(error.message),
    );
  });
});

describe('RetryPolicy: cancellation and deadlines', () => {
  it('rejects at once, without calling the work, when the caller has already aborted', async () => {
    const scheduler = new VirtualScheduler();
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    let called = false;
    await assert.rejects(
      policyOf(scheduler).execute(() => {
        called = true;
      }, controller.signal),
      (error) => isAbortedError(error) && (error.cause as Error).message === 'gone',
    );
    assert.equal(called, false);
  });

  it('stops waiting the moment the caller aborts, leaving no task and no listener', async () => {
    const scheduler = new VirtualScheduler();
    const controller = new AbortController();
    const retry = policyOf(scheduler, { backoff: new ConstantBackoff({ delayMs: 60_000 }) });
    const { work, attemptTimesMs } = flaky(scheduler, 5, 'never');
    const call = track(retry.execute(work, controller.signal));
    await flush();
    assert.equal(scheduler.pendingCount, 1, 'waiting for the retry');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);

    controller.abort(new Error('user left'));
    await flush();
    assert.equal(call.settled(), true, 'rejected without any time passing');
    await assert.rejects(call.promise, (error) => isAbortedError(error));
    assert.equal(scheduler.pendingCount, 0, 'the wait was cancelled');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the listener is gone');
    assert.deepEqual(attemptTimesMs, [0]);
  });

  it('removes its abort listener after every wait that ends normally', async () => {
    const scheduler = new VirtualScheduler();
    const controller = new AbortController();
    const { work } = flaky(scheduler, 3, 'done');
    await runUntilSettled(
      scheduler,
      policyOf(scheduler, { attemptCountMax: 4 }).execute(work, controller.signal),
    );
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('does not retry after the caller aborts during an attempt, whatever the predicate says', async () => {
    const scheduler = new VirtualScheduler();
    const controller = new AbortController();
    const budget = new RetryBudget({ ratio: 1, retriesPerSecondMin: 0, clock: scheduler.clock });
    const retry = policyOf(scheduler, { shouldRetryError: () => true, budget });
    const retries: RetryEvent[] = [];
    retry.onRetry((event) => retries.push(event));
    let callCount = 0;
    const call = retry.execute(async ({ signal }) => {
      callCount += 1;
      controller.abort(new Error('cancelled mid-flight'));
      throw new AbortedError(undefined, { cause: signal.reason });
    }, controller.signal);
    await assert.rejects(call, (error) => isAbortedError(error));
    assert.equal(callCount, 1);
    assert.deepEqual(retries, [], 'no retry was even announced');
    assert.equal(budget.retryCount, 0, 'nor paid for');
    assert.equal(scheduler.pendingCount, 0);
  });

  it('gives up, reason deadline, rather than wait past the caller deadline', async () => {
    const scheduler = new VirtualScheduler();
    const request = linkSignal({ scheduler, timeoutMs: 250 });
    const retry = policyOf(scheduler, { attemptCountMax: 10 });
    const { work, attemptTimesMs } = flaky(scheduler, 10, 'never');
    const error = await runUntilSettled(scheduler, retry.execute(work, request.signal)).catch(
      (caught) => caught,
    );
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(error.reason, 'deadline');
    assert.equal(error.attemptCount, 3);
    assert.deepEqual(attemptTimesMs, [0, 100, 200]);
    assert.equal(scheduler.clock.nowMs(), 200, 'gave up at once, not at the deadline');
    assert.match(error.message, /The wait would be 100 ms; 50 ms were left/);
    request.dispose();
  });

  it('gives up when the wait would end exactly at the deadline', async () => {
    const scheduler = new VirtualScheduler();
    const request = linkSignal({ scheduler, timeoutMs: 200 });
    const { work, attemptTimesMs } = flaky(scheduler, 10, 'never');
    const error = await runUntilSettled(
      scheduler,
      policyOf(scheduler, { attemptCountMax: 10 }).execute(work, request.signal),
    ).catch((caught) => caught);
    assert.ok(
      isRetryExhaustedError(error) && error.reason === 'deadline',
      'isRetryExhaustedError(error) && error.reason === "deadline"',
    );
    assert.deepEqual(attemptTimesMs, [0, 100]);
    request.dispose();
  });

  it('respects the deadline of an outer TimeoutPolicy and retries per-attempt timeouts', async () => {
    const scheduler = new VirtualScheduler();
    const policy = pipeline(
      new TimeoutPolicy({ timeoutMs: 1_000, scheduler }),
      policyOf(scheduler, { attemptCountMax: 10 }),
      new TimeoutPolicy({ timeoutMs: 150, scheduler }),
    );
    const attemptTimesMs: number[] = [];
    const error = await runUntilSettled(
      scheduler,
      policy.execute(() => {
        attemptTimesMs.push(scheduler.clock.nowMs());
        return new Promise<never>(() => {}); // never answers
      }),
    ).catch((caught) => caught);
    // Each attempt times out after 150 ms and is retried 100 ms later: 0, 250, 500, 750.
    // After the attempt at 750 times out at 900, a wait of 100 would reach 1000.
    assert.deepEqual(attemptTimesMs, [0, 250, 500, 750]);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(error.reason, 'deadline');
    assert.ok(
      error.errors.every(isDeadlineExceededError),
      'error.errors.every(isDeadlineExceededError)',
    );
    assert.equal(scheduler.pendingCount, 0);
  });

  it('rejects with the outer deadline when it fires during a wait', async () => {
    const scheduler = new VirtualScheduler();
    const controller = new AbortController();
    const request = linkSignal({ scheduler, parentSignal: controller.signal });
    const retry = policyOf(scheduler, { backoff: new ConstantBackoff({ delayMs: 500 }) });
    const { work } = flaky(scheduler, 5, 'never');
    const call = track(retry.execute(work, request.signal));
    await flush();
    controller.abort(new DeadlineExceededError(300));
    await flush();
    await assert.rejects(call.promise, (error) => isDeadlineExceededError(error));
    assert.equal(scheduler.pendingCount, 0);
    request.dispose();
  });
});

describe('RetryPolicy: budget', () => {
  it('records a request per call and gives up, reason budget, when the budget has no retry', async () => {
    const scheduler = new VirtualScheduler();
    const budget = new RetryBudget({ ratio: 0, retriesPerSecondMin: 0, clock: scheduler.clock });
    const retry = policyOf(scheduler, { budget });
    const giveUps: RetryGiveUpEvent[] = [];
    retry.onGiveUp((event) => giveUps.push(event));
    const { work, attemptTimesMs } = flaky(scheduler, 5, 'never');
    const error = await runUntilSettled(scheduler, retry.execute(work)).catch((caught) => caught);
    assert.ok(isRetryExhaustedError(error), 'isRetryExhaustedError(error)');
    assert.equal(error.reason, 'budget');
    assert.match(error.message, /retry budget is spent/);
    assert.deepEqual(attemptTimesMs, [0]);
    assert.equal(budget.requestCount, 1);
    assert.equal(budget.deniedCount, 1);
    assert.deepEqual(giveUps, [{ attemptCount: 1, reason: 'budget', error }]);
  });

  it('shares one budget between policies', async () => {
    const scheduler = new VirtualScheduler();
    const budget = new RetryBudget({ ratio: 0.5, retriesPerSecondMin: 0, clock: scheduler.clock });
    const users = policyOf(scheduler, { budget });
    const orders = policyOf(scheduler, { budget });
    await users.execute(() => 'a');
    await orders.execute(() => 'b'); // two requests: one retry between them
    const first = flaky(scheduler, 1, 'retried');
    assert.equal(await runUntilSettled(scheduler, users.execute(first.work)), 'retried');
    // The third request earned half a retry and the retry spent one: half is left. The
    // fourth request completes a retry, and the budget refuses the one after it.
    const second = flaky(scheduler, 2, 'never');
    const error = await runUntilSettled(scheduler, orders.execute(second.work)).catch(
      (caught) => caught,
    );
    assert.ok(
      isRetryExhaustedError(error) && error.reason === 'budget',
      'isRetryExhaustedError(error) && error.reason === "budget"',
    );
    assert.equal(error.attemptCount, 2);
    assert.equal(budget.requestCount, 4);
    assert.equal(budget.retryCount, 2);
    assert.equal(budget.deniedCount, 1);
  });

  it('does not spend the budget on a retry it will not make', async () => {
    const scheduler = new VirtualScheduler();
    const budget = new RetryBudget({ ratio: 1, retriesPerSecondMin: 0, clock: scheduler.clock });
    const once = policyOf(scheduler, { attemptCountMax: 1, budget });
    await once.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    const request = linkSignal({ scheduler, timeoutMs: 50 }); // shorter than the 100 ms wait
    const error = await policyOf(scheduler, { budget })
      .execute(() => Promise.reject(new Error('x')), request.signal)
      .catch((caught) => caught);
    assert.ok(
      isRetryExhaustedError(error) && error.reason === 'deadline',
      'isRetryExhaustedError(error) && error.reason === "deadline"',
    );
    assert.equal(budget.retryCount, 0);
    assert.equal(budget.availableRetryCount, 2);
    request.dispose();
  });
});

/** A ManualClock that counts its readings. */
class CountingClock extends ManualClock {
  readingCount = 0;

  override nowMs(): number {
    this.readingCount += 1;
    return super.nowMs();
  }
}

describe('RetryPolicy: events', () => {
  it('reports retries, success and duration in virtual time', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler);
    const retries: RetryEvent[] = [];
    const successes: RetrySuccessEvent[] = [];
    retry.onRetry((event) => retries.push(event));
    retry.onSuccess((event) => successes.push(event));
    const errors = [new Error('a'), new Error('b')];
    const { work } = flaky(scheduler, 2, 'done', (attempt) => errors[attempt - 1]);
    await runUntilSettled(scheduler, retry.execute(work));
    assert.deepEqual(retries, [
      { attempt: 1, delayMs: 100, error: errors[0], result: undefined },
      { attempt: 2, delayMs: 100, error: errors[1], result: undefined },
    ]);
    assert.deepEqual(successes, [{ attemptCount: 3, durationMs: 200 }]);
  });

  it('reports give-ups and failures with the error the call rejects with', async () => {
    const scheduler = new VirtualScheduler();
    const retry = policyOf(scheduler, { attemptCountMax: 2 });
    const giveUps: RetryGiveUpEvent[] = [];
    const failures: RetryFailureEvent[] = [];
    retry.onGiveUp((event) => giveUps.push(event));
    retry.onFailure((event) => failures.push(event));
    const { work } = flaky(scheduler, 5, 'never');
    const error = await runUntilSettled(scheduler, retry.execute(work)).catch((caught) => caught);
    assert.deepEqual(giveUps, [{ attemptCount: 2, reason: 'attempts', error }]);
    assert.deepEqual(failures, [{ attemptCount: 2, durationMs: 100, error }]);

    const fatal = new InvalidArgumentError('x', 'bad');
    await retry.execute(() => Promise.reject(fatal)).catch(() => {});
    assert.equal(giveUps.length, 1, 'a declined error is not a give-up');
    assert.deepEqual(failures[1], { attemptCount: 1, durationMs: 0, error: fatal });
  });

  it('reads no clock on the success path unless someone listens for durations', async () => {
    const clock = new CountingClock();
    const scheduler = new VirtualScheduler({ clock });
    const retry = policyOf(scheduler);
    retry.onRetry(() => {});
    retry.onGiveUp(() => {});
    await retry.execute(() => 'fast');
    await retry.execute(async () => 'fast');
    assert.equal(clock.readingCount, 0);

    const subscription = retry.onSuccess(() => {});
    await retry.execute(() => 'measured');
    assert.equal(clock.readingCount, 2, 'start and end');
    subscription.dispose();
    await retry.execute(() => 'fast again');
    assert.equal(clock.readingCount, 2);
  });
});

describe('RetryPolicy: options', () => {
  it('has documented defaults', () => {
    const retry = new RetryPolicy();
    assert.equal(retry.attemptCountMax, 3);
    assert.equal(retry.retryAfterMsMax, 10_000);
    assert.equal(retry.budget, undefined);
    assert.ok(
      retry.backoff instanceof ExponentialBackoff,
      'retry.backoff instanceof ExponentialBackoff',
    );
    assert.deepEqual(
      [
        retry.backoff.delayMsBase,
        retry.backoff.factor,
        retry.backoff.delayMsMax,
        retry.backoff.jitter,
      ],
      [100, 2, 10_000, 'full'],
    );
  });

  it('rejects bad options with InvalidArgumentError naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [{ attemptCountMax: 0 }, /attemptCountMax must be an integer from 1 to 1000/],
      [{ attemptCountMax: 1.5 }, /attemptCountMax/],
      [{ attemptCountMax: 1_001 }, /attemptCountMax/],
      [{ attemptCountMax: Number.NaN }, /attemptCountMax/],
      [{ backoff: 100 }, /options\.backoff must be a Backoff/],
      [{ backoff: { delayMs: 5 } }, /options\.backoff/],
      [{ shouldRetryError: true }, /options\.shouldRetryError must be a function/],
      [{ shouldRetryResult: 'yes' }, /options\.shouldRetryResult/],
      [{ retryAfterMsOf: 5 }, /options\.retryAfterMsOf/],
      [{ retryAfterMsMax: -1 }, /options\.retryAfterMsMax/],
      [{ retryAfterMsMax: Number.NaN }, /options\.retryAfterMsMax/],
      [{ budget: {} }, /options\.budget must be a RetryBudget/],
      [{ scheduler: {} }, /options\.scheduler/],
      [{ random: {} }, /options\.random/],
      [[], /options must be an options object/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => new RetryPolicy(options as RetryOptions),
        (error: unknown) => isInvalidArgumentError(error) && message.test(error.message),
        JSON.stringify(options),
      );
    }
  });

  it('rejects the call, naming the backoff, when a custom backoff returns a bad delay', async () => {
    const scheduler = new VirtualScheduler();
    for (const delayMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      const retry = policyOf(scheduler, { backoff: { delayMs: () => delayMs } });
      const failures: RetryFailureEvent[] = [];
      retry.onFailure((event) => failures.push(event));
      await assert.rejects(
        retry.execute(() => Promise.reject(new Error('x'))),
        (error) => isInvalidArgumentError(error) && /options\.backoff returned/.test(error.message),
      );
      assert.equal(failures.length, 1, 'reported like any other rejection');
    }
    assert.equal(scheduler.pendingCount, 0);
  });
});

describe('defaultShouldRetryError and the circuit breaker', () => {
  it('retries an open breaker, which says when it probes, but not an isolated one', async () => {
    const { CircuitBreakerPolicy, isBreakerOpenError } = await import(
      '../../src/resilience/circuit-breaker.js'
    );
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: { kind: 'consecutive-failures', failureCountThreshold: 1 },
      breakDurationMs: 1_000,
      scheduler,
    });
    await assert.rejects(breaker.execute(() => Promise.reject(new Error('down'))));
    const open = await breaker.execute(() => 1).catch((error: unknown) => error);
    assert.ok(isBreakerOpenError(open));
    assert.equal(defaultShouldRetryError(open), true);
    breaker.isolate();
    const isolated = await breaker.execute(() => 1).catch((error: unknown) => error);
    assert.ok(isBreakerOpenError(isolated));
    assert.equal(defaultShouldRetryError(isolated), false);
  });
});
