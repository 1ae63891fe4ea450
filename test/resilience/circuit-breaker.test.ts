import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isAbortedError,
  isInvalidArgumentError,
  ManualClock,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  type BreakEvent,
  BreakerOpenError,
  type CircuitBreakerOptions,
  CircuitBreakerPolicy,
  type CircuitBreakerSnapshot,
  isBreakerOpenError,
  type StateChangeEvent,
} from '../../src/resilience/circuit-breaker.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const boom = (): Promise<never> => Promise.reject(new Error('boom'));
const ok = (): Promise<string> => Promise.resolve('ok');

function consecutive(
  scheduler: VirtualScheduler,
  failureCountThreshold: number,
  extra: Partial<CircuitBreakerOptions> = {},
): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy({
    strategy: { kind: 'consecutive-failures', failureCountThreshold },
    breakDurationMs: 1_000,
    scheduler,
    ...extra,
  });
}

async function failTimes(breaker: CircuitBreakerPolicy, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await assert.rejects(breaker.execute(boom), /boom/);
  }
}

/** The error a breaker rejects with; fails the test if it resolves or rejects otherwise. */
async function rejection(call: Promise<unknown>): Promise<BreakerOpenError> {
  try {
    await call;
  } catch (error) {
    assert.ok(isBreakerOpenError(error), `expected BreakerOpenError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the breaker to reject');
}

/** A ManualClock that counts how often it is read. */
class CountingClock extends ManualClock {
  readCount = 0;

  override nowMs(): number {
    this.readCount += 1;
    return super.nowMs();
  }
}

describe('CircuitBreakerPolicy options', () => {
  const scheduler = new VirtualScheduler();
  const valid: CircuitBreakerOptions = {
    strategy: { kind: 'consecutive-failures', failureCountThreshold: 3 },
    breakDurationMs: 100,
    scheduler,
  };
  const cases: [string, Record<string, unknown>, string][] = [
    ['no strategy', { strategy: undefined }, 'options.strategy'],
    ['an unknown strategy', { strategy: { kind: 'sometimes' } }, 'options.strategy.kind'],
    [
      'a zero failure count',
      { strategy: { kind: 'consecutive-failures', failureCountThreshold: 0 } },
      'options.strategy.failureCountThreshold',
    ],
    [
      'a zero window',
      { strategy: { kind: 'count-window', windowCallCount: 0 } },
      'options.strategy.windowCallCount',
    ],
    [
      'a minimum above the window',
      { strategy: { kind: 'count-window', windowCallCount: 5, minimumCallCount: 6 } },
      'options.strategy.minimumCallCount',
    ],
    [
      'a zero failure rate',
      { strategy: { kind: 'count-window', windowCallCount: 5, failureRateThreshold: 0 } },
      'options.strategy.failureRateThreshold',
    ],
    [
      'a failure rate above 1',
      { strategy: { kind: 'count-window', windowCallCount: 5, failureRateThreshold: 1.5 } },
      'options.strategy.failureRateThreshold',
    ],
    [
      'a NaN slow-call rate',
      {
        strategy: { kind: 'count-window', windowCallCount: 5, slowCallRateThreshold: Number.NaN },
        slowCallDurationMs: 10,
      },
      'options.strategy.slowCallRateThreshold',
    ],
    [
      'a slow-call rate without slowCallDurationMs',
      { strategy: { kind: 'count-window', windowCallCount: 5, slowCallRateThreshold: 0.5 } },
      'options.slowCallDurationMs',
    ],
    [
      'a zero time window',
      { strategy: { kind: 'time-window', windowMs: 0 } },
      'options.strategy.windowMs',
    ],
    [
      'a zero bucket count',
      { strategy: { kind: 'time-window', windowMs: 1_000, bucketCount: 0 } },
      'options.strategy.bucketCount',
    ],
    [
      'a zero time-window minimum',
      { strategy: { kind: 'time-window', windowMs: 1_000, minimumCallCount: 0 } },
      'options.strategy.minimumCallCount',
    ],
    ['a zero break', { breakDurationMs: 0 }, 'CircuitBreakerPolicy options.breakDurationMs'],
    ['a negative break', { breakDurationMs: -1 }, 'CircuitBreakerPolicy options.breakDurationMs'],
    [
      'a multiplier below 1',
      { breakDurationMultiplier: 0.5 },
      'CircuitBreakerPolicy options.breakDurationMultiplier',
    ],
    [
      'a maximum break below the break',
      { breakDurationMsMax: 50 },
      'CircuitBreakerPolicy options.breakDurationMsMax',
    ],
    [
      'zero probes',
      { halfOpenProbeCountMax: 0 },
      'CircuitBreakerPolicy options.halfOpenProbeCountMax',
    ],
    [
      'a fractional probe count',
      { halfOpenProbeCountMax: 1.5 },
      'CircuitBreakerPolicy options.halfOpenProbeCountMax',
    ],
    [
      'a zero half-open wait',
      { halfOpenWaitMsMax: 0 },
      'CircuitBreakerPolicy options.halfOpenWaitMsMax',
    ],
    [
      'a negative slow-call duration',
      { slowCallDurationMs: -5 },
      'CircuitBreakerPolicy options.slowCallDurationMs',
    ],
    ['a non-function isFailure', { isFailure: true }, 'CircuitBreakerPolicy options.isFailure'],
    [
      'a non-function isResultFailure',
      { isResultFailure: 1 },
      'CircuitBreakerPolicy options.isResultFailure',
    ],
    ['an empty name', { name: '' }, 'CircuitBreakerPolicy options.name'],
  ];
  for (const [label, change, argument] of cases) {
    it(`rejects ${label}, naming ${argument}`, () => {
      assert.throws(
        () => new CircuitBreakerPolicy({ ...valid, ...change } as CircuitBreakerOptions),
        (error) => isInvalidArgumentError(error) && error.argument === argument,
      );
    });
  }

  it('rejects a missing options object', () => {
    assert.throws(
      () => new CircuitBreakerPolicy(undefined as unknown as CircuitBreakerOptions),
      isInvalidArgumentError,
    );
  });

  it('accepts the documented defaults', () => {
    const breaker = new CircuitBreakerPolicy(valid);
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.name, undefined);
  });
});

describe('CircuitBreakerPolicy while closed', () => {
  it('passes values and errors through, sync and async, and hands the work a context', async () => {
    const breaker = consecutive(new VirtualScheduler(), 3);
    assert.equal(await breaker.execute(() => 7), 7);
    assert.equal(await breaker.execute(async () => 'async'), 'async');
    let attempt = 0;
    await breaker.execute((context) => {
      attempt = context.attempt;
    });
    assert.equal(attempt, 1);
    await assert.rejects(
      breaker.execute(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    await assert.rejects(breaker.execute(boom), /boom/);
    assert.equal(breaker.state, 'closed');
  });

  it('opens after failureCountThreshold failures in a row, and a success restarts the run', async () => {
    const breaker = consecutive(new VirtualScheduler(), 3);
    await failTimes(breaker, 2);
    await breaker.execute(ok);
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });

  it('opens with a full break when a success fills the window to minimumCallCount', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: { kind: 'count-window', windowCallCount: 4, failureRateThreshold: 0.25 },
      breakDurationMs: 100,
      scheduler,
    });
    await failTimes(breaker, 1);
    await breaker.execute(ok);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    scheduler.advanceMs(10);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'open', '1 failure in 4 calls reaches 0.25');
    assert.equal((await rejection(breaker.execute(ok))).retryAfterMs, 100);
  });

  it('counts a thrown error like a rejected one', async () => {
    const breaker = consecutive(new VirtualScheduler(), 1);
    await assert.rejects(
      breaker.execute(() => {
        throw new Error('sync');
      }),
    );
    assert.equal(breaker.state, 'open');
  });

  it('counts errors that isFailure rejects as successes', async () => {
    const breaker = consecutive(new VirtualScheduler(), 2, {
      isFailure: (error) => !(error instanceof RangeError),
    });
    await failTimes(breaker, 1);
    await assert.rejects(breaker.execute(() => Promise.reject(new RangeError('not found'))));
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'closed', 'the RangeError restarted the run');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });

  it('counts values that isResultFailure flags as failures and still returns them', async () => {
    const breaker = consecutive(new VirtualScheduler(), 2, {
      isResultFailure: (value) => value === 503,
    });
    assert.equal(await breaker.execute(() => 503), 503);
    assert.equal(await breaker.execute(async () => 200), 200);
    assert.equal(await breaker.execute(async () => 503), 503);
    assert.equal(breaker.state, 'closed');
    assert.equal(await breaker.execute(async () => 503), 503);
    assert.equal(breaker.state, 'open');
  });

  it('rejects at once with the abort error when the caller has already aborted', async () => {
    const breaker = consecutive(new VirtualScheduler(), 1);
    const controller = new AbortController();
    controller.abort();
    let ran = false;
    await assert.rejects(
      breaker.execute(() => {
        ran = true;
      }, controller.signal),
      isAbortedError,
    );
    assert.equal(ran, false);
    assert.equal(breaker.state, 'closed');
  });

  it('does not count errors of calls whose caller cancelled them', async () => {
    const breaker = consecutive(new VirtualScheduler(), 1);
    const controller = new AbortController();
    const call = breaker.execute(
      ({ signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      controller.signal,
    );
    controller.abort(new Error('caller gave up'));
    await assert.rejects(call, /caller gave up/);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open', 'an ordinary failure still counts');
  });

  it('ignores outcomes of calls that started before the breaker last changed state', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    const early = deferred<string>();
    const earlyCall = breaker.execute(() => early.promise);
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
    scheduler.advanceMs(1_000);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    early.reject(new Error('late'));
    await assert.rejects(earlyCall, /late/);
    assert.equal(breaker.state, 'closed', 'the stale failure did not count');
  });

  it('reads no clock on the success path unless something needs the time', async () => {
    const clock = new CountingClock();
    const scheduler = new VirtualScheduler({ clock });
    const counting = new CircuitBreakerPolicy({
      strategy: { kind: 'count-window', windowCallCount: 10 },
      breakDurationMs: 100,
      scheduler,
    });
    const before = clock.readCount;
    for (let index = 0; index < 5; index += 1) {
      await counting.execute(ok);
      await counting.execute(() => 1);
    }
    assert.equal(clock.readCount, before, 'no reads without listeners or slow-call checks');

    const listened = consecutive(scheduler, 5);
    const durations: number[] = [];
    listened.onSuccess(({ durationMs }) => durations.push(durationMs));
    const readsBefore = clock.readCount;
    await listened.execute(ok);
    assert.equal(clock.readCount - readsBefore, 2, 'start and end, for the listener');
    assert.deepEqual(durations, [0]);
  });
});

describe('CircuitBreakerPolicy while open', () => {
  it('rejects without running the work, saying when it will probe', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1, { name: 'payments' });
    const rejections: BreakerOpenError[] = [];
    breaker.onReject((error) => rejections.push(error));
    await failTimes(breaker, 1);
    scheduler.advanceMs(250);
    let ran = false;
    const error = await rejection(
      breaker.execute(() => {
        ran = true;
      }),
    );
    assert.equal(ran, false);
    assert.equal(error.code, 'BREAKER_OPEN');
    assert.equal(error.state, 'open');
    assert.equal(error.retryAfterMs, 750);
    assert.equal(error.breakerName, 'payments');
    assert.match(error.message, /'payments' is open.*in 750 ms/);
    assert.ok(error instanceof BreakerOpenError);
    assert.deepEqual(rejections, [error]);
  });

  it('leaves the global stack trace limit as it found it', async () => {
    const breaker = consecutive(new VirtualScheduler(), 1);
    await failTimes(breaker, 1);
    const limit = Error.stackTraceLimit;
    await rejection(breaker.execute(ok));
    assert.equal(Error.stackTraceLimit, limit);
  });

  it('still reads open once the break is over, until a call arrives and probes', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    await failTimes(breaker, 1);
    scheduler.advanceMs(999);
    assert.equal((await rejection(breaker.execute(ok))).retryAfterMs, 1);
    scheduler.advanceMs(5_000);
    assert.equal(breaker.state, 'open');
    assert.equal(scheduler.pendingCount, 0, 'no timer while open');
    const probe = deferred<string>();
    const call = breaker.execute(() => probe.promise);
    assert.equal(breaker.state, 'half-open');
    probe.resolve('fine');
    assert.equal(await call, 'fine');
    assert.equal(breaker.state, 'closed');
  });

  it('reports the reason and break duration of each opening', async () => {
    const breaker = new CircuitBreakerPolicy({
      strategy: { kind: 'count-window', windowCallCount: 4, failureRateThreshold: 0.5 },
      breakDurationMs: 300,
      scheduler: new VirtualScheduler(),
    });
    const breaks: BreakEvent[] = [];
    breaker.onBreak((event) => breaks.push(event));
    await breaker.execute(ok);
    await failTimes(breaker, 1);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed', 'the window is not full yet');
    await failTimes(breaker, 1);
    assert.deepEqual(breaks, [
      { reason: { kind: 'failure-rate', failureRate: 0.5, callCount: 4 }, breakDurationMs: 300 },
    ]);
  });
});

describe('CircuitBreakerPolicy while half-open', () => {
  async function openedBreaker(
    extra: Partial<CircuitBreakerOptions> = {},
  ): Promise<{ scheduler: VirtualScheduler; breaker: CircuitBreakerPolicy }> {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1, extra);
    await failTimes(breaker, 1);
    scheduler.advanceMs(1_000);
    return { scheduler, breaker };
  }

  it('closes when its one probe succeeds, with the events in order', async () => {
    const { breaker } = await openedBreaker();
    const log: string[] = [];
    breaker.onHalfOpen(() => log.push('half-open'));
    breaker.onReset(({ manual }) => log.push(`reset manual=${manual}`));
    breaker.onStateChange(({ from, to }) => log.push(`${from} -> ${to}`));
    await breaker.execute(ok);
    assert.deepEqual(log, [
      'half-open',
      'open -> half-open',
      'reset manual=false',
      'half-open -> closed',
    ]);
  });

  it('re-opens when the probe fails, backing the break off up to breakDurationMsMax', async () => {
    const { scheduler, breaker } = await openedBreaker({
      breakDurationMultiplier: 2,
      breakDurationMsMax: 3_000,
    });
    const breaks: string[] = [];
    breaker.onBreak(({ breakDurationMs, reason }) => {
      breaks.push(`${reason.kind} ${breakDurationMs}`);
    });
    for (const expectedMs of [2_000, 3_000, 3_000]) {
      await failTimes(breaker, 1);
      assert.equal(breaker.state, 'open');
      assert.equal((await rejection(breaker.execute(ok))).retryAfterMs, expectedMs);
      scheduler.advanceMs(expectedMs);
    }
    assert.deepEqual(breaks, ['probe-failed 2000', 'probe-failed 3000', 'probe-failed 3000']);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(
      (await rejection(breaker.execute(ok))).retryAfterMs,
      1_000,
      'closing forgot the backoff',
    );
  });

  it('admits halfOpenProbeCountMax probes and closes only when all of them succeed', async () => {
    const { scheduler, breaker } = await openedBreaker({
      halfOpenProbeCountMax: 3,
      halfOpenWaitMsMax: 500,
    });
    const probes = [deferred<string>(), deferred<string>(), deferred<string>()];
    const calls = probes.map((probe) => breaker.execute(() => probe.promise));
    scheduler.advanceMs(100);
    const extra = await rejection(breaker.execute(ok));
    assert.equal(extra.state, 'half-open');
    assert.equal(extra.retryAfterMs, 400, 'the time until the half-open period ends');
    probes[0]?.resolve('a');
    probes[1]?.resolve('b');
    await flush();
    assert.equal(breaker.state, 'half-open');
    assert.equal((await rejection(breaker.execute(ok))).state, 'half-open', 'slots stay used');
    probes[2]?.resolve('c');
    assert.deepEqual(await Promise.all(calls), ['a', 'b', 'c']);
    assert.equal(breaker.state, 'closed');
    assert.equal(scheduler.pendingCount, 0, 'the half-open timer is cancelled');
  });

  it('re-opens on one failed probe even after others succeeded', async () => {
    const { breaker } = await openedBreaker({ halfOpenProbeCountMax: 3 });
    const probes = [deferred<string>(), deferred<string>(), deferred<string>()];
    const settled = Promise.allSettled(probes.map((probe) => breaker.execute(() => probe.promise)));
    probes[0]?.resolve('a');
    probes[1]?.reject(new Error('down'));
    await flush();
    assert.equal(breaker.state, 'open');
    probes[2]?.resolve('c');
    const outcomes = await settled;
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(breaker.state, 'open', 'the late probe success is ignored');
  });

  it('re-opens at exactly halfOpenWaitMsMax when a probe hangs, ignoring its late result', async () => {
    const { scheduler, breaker } = await openedBreaker({ halfOpenWaitMsMax: 400 });
    const reasons: string[] = [];
    breaker.onBreak(({ reason }) => reasons.push(reason.kind));
    const hung = deferred<string>();
    const call = breaker.execute(() => hung.promise);
    scheduler.advanceMs(399);
    assert.equal(breaker.state, 'half-open');
    scheduler.advanceMs(1);
    assert.equal(breaker.state, 'open');
    assert.deepEqual(reasons, ['probe-timeout']);
    hung.resolve('too late');
    assert.equal(await call, 'too late');
    assert.equal(breaker.state, 'open');
    assert.equal((await rejection(breaker.execute(ok))).retryAfterMs, 1_000);
  });

  it('frees the slot of a probe whose caller cancelled it', async () => {
    const { breaker } = await openedBreaker();
    const controller = new AbortController();
    const hung = deferred<string>();
    const call = breaker.execute(() => hung.promise, controller.signal);
    controller.abort(new Error('caller gave up'));
    hung.reject(new Error('aborted'));
    await assert.rejects(call);
    assert.equal(breaker.state, 'half-open', 'neither a success nor a failure');
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed', 'a new probe was admitted and succeeded');
  });

  it('treats a slow probe as failed when the strategy watches slow calls', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: {
        kind: 'count-window',
        windowCallCount: 2,
        failureRateThreshold: 1,
        slowCallRateThreshold: 1,
      },
      slowCallDurationMs: 50,
      breakDurationMs: 100,
      scheduler,
    });
    const slowCall = async (): Promise<void> => {
      const work = deferred<string>();
      const call = breaker.execute(() => work.promise);
      scheduler.advanceMs(50);
      work.resolve('slow');
      await call;
    };
    await slowCall();
    await slowCall();
    assert.equal(breaker.state, 'open');
    scheduler.advanceMs(100);
    await slowCall();
    assert.equal(breaker.state, 'open', 'the slow probe re-opened it');
    scheduler.advanceMs(100);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
  });
});

describe('CircuitBreakerPolicy slow calls', () => {
  it('opens on the slow-call rate, counting calls of slowCallDurationMs or longer', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: {
        kind: 'count-window',
        windowCallCount: 4,
        failureRateThreshold: 1,
        slowCallRateThreshold: 0.5,
      },
      slowCallDurationMs: 100,
      breakDurationMs: 1_000,
      scheduler,
    });
    const reports: { durationMs: number; slow: boolean }[] = [];
    breaker.onSuccess((event) => reports.push(event));
    const timedCall = async (durationMs: number): Promise<void> => {
      const work = deferred<void>();
      const call = breaker.execute(() => work.promise);
      scheduler.advanceMs(durationMs);
      work.resolve();
      await call;
    };
    await timedCall(99);
    await timedCall(100);
    await timedCall(10);
    assert.equal(breaker.state, 'closed');
    const reasons: BreakEvent[] = [];
    breaker.onBreak((event) => reasons.push(event));
    await timedCall(150);
    assert.deepEqual(reports, [
      { durationMs: 99, slow: false },
      { durationMs: 100, slow: true },
      { durationMs: 10, slow: false },
      { durationMs: 150, slow: true },
    ]);
    assert.deepEqual(reasons, [
      {
        reason: { kind: 'slow-call-rate', slowCallRate: 0.5, callCount: 4 },
        breakDurationMs: 1_000,
      },
    ]);
  });

  it('reports failures with their duration and error', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 5);
    const failures: { durationMs: number; error: unknown }[] = [];
    breaker.onFailure(({ durationMs, error }) => failures.push({ durationMs, error }));
    const work = deferred<void>();
    const call = breaker.execute(() => work.promise);
    scheduler.advanceMs(30);
    const error = new Error('late failure');
    work.reject(error);
    await assert.rejects(call);
    assert.deepEqual(failures, [{ durationMs: 30, error }]);
  });
});

describe('CircuitBreakerPolicy time window', () => {
  it('opens on the failure rate of the last windowMs and forgets older buckets', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: {
        kind: 'time-window',
        windowMs: 1_000,
        bucketCount: 10,
        minimumCallCount: 4,
        failureRateThreshold: 0.75,
      },
      breakDurationMs: 500,
      scheduler,
    });
    await failTimes(breaker, 3);
    scheduler.advanceMs(1_000);
    await breaker.execute(ok);
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed', 'the three old failures fell out of the window');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open', '3 of 4 calls in the window failed');
  });

  it('does not open below minimumCallCount', async () => {
    const breaker = new CircuitBreakerPolicy({
      strategy: { kind: 'time-window', windowMs: 1_000, minimumCallCount: 5 },
      breakDurationMs: 500,
      scheduler: new VirtualScheduler(),
    });
    await failTimes(breaker, 4);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });
});

describe('CircuitBreakerPolicy isolate and reset', () => {
  it('isolate rejects every call until reset, with no retry hint', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    const log: string[] = [];
    breaker.onBreak(({ reason, breakDurationMs }) => log.push(`${reason.kind} ${breakDurationMs}`));
    breaker.onReset(({ manual }) => log.push(`reset manual=${manual}`));
    breaker.isolate();
    breaker.isolate();
    assert.equal(breaker.state, 'isolated');
    scheduler.advanceMs(1_000_000);
    const error = await rejection(breaker.execute(ok));
    assert.equal(error.state, 'isolated');
    assert.equal(error.retryAfterMs, undefined);
    assert.match(error.message, /reset\(\)/);
    breaker.reset();
    assert.equal(breaker.state, 'closed');
    assert.equal(await breaker.execute(ok), 'ok');
    assert.deepEqual(log, ['isolated undefined', 'reset manual=true']);
  });

  it('isolating a half-open breaker cancels its timer and drops its probes', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    await failTimes(breaker, 1);
    scheduler.advanceMs(1_000);
    const probe = deferred<string>();
    const call = breaker.execute(() => probe.promise);
    assert.equal(scheduler.pendingCount, 1);
    breaker.isolate();
    assert.equal(scheduler.pendingCount, 0);
    probe.resolve('done');
    await call;
    assert.equal(breaker.state, 'isolated');
  });

  it('reset closes an open breaker and forgets history and backoff', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 2, { breakDurationMultiplier: 3 });
    const changes: StateChangeEvent[] = [];
    breaker.onStateChange((change) => changes.push(change));
    await failTimes(breaker, 2);
    breaker.reset();
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'closed', 'the run of failures restarted');
    await failTimes(breaker, 1);
    assert.equal((await rejection(breaker.execute(ok))).retryAfterMs, 1_000);
    assert.deepEqual(changes, [
      { from: 'closed', to: 'open' },
      { from: 'open', to: 'closed' },
      { from: 'closed', to: 'open' },
    ]);
  });

  it('a listener may reset the breaker when it turns half-open', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    await failTimes(breaker, 1);
    scheduler.advanceMs(1_000);
    breaker.onHalfOpen(() => breaker.reset());
    assert.equal(await breaker.execute(ok), 'ok');
    assert.equal(breaker.state, 'closed');
    assert.equal(scheduler.pendingCount, 0);
  });

  it('tells how long it has been since the last failure', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 3);
    assert.equal(breaker.sinceLastFailureMs, Number.POSITIVE_INFINITY);
    await failTimes(breaker, 1);
    scheduler.advanceMs(40);
    assert.equal(breaker.sinceLastFailureMs, 40);
    breaker.reset();
    assert.equal(breaker.sinceLastFailureMs, Number.POSITIVE_INFINITY);
  });
});

describe('CircuitBreakerPolicy toJSON and initialState', () => {
  function schedulerAt(nowMs: number, wallMs: number): VirtualScheduler {
    return new VirtualScheduler({ clock: new ManualClock({ nowMs, wallMs }) });
  }

  it('restores an open breaker in another process with the break time it had left', async () => {
    const first = schedulerAt(5_000, 1_000_000);
    const breaker = consecutive(first, 1, { breakDurationMultiplier: 2 });
    await failTimes(breaker, 1);
    first.advanceMs(300);
    const saved: CircuitBreakerSnapshot = JSON.parse(JSON.stringify(breaker));
    assert.deepEqual(saved, {
      version: 1,
      state: 'open',
      savedAtWallMs: 1_000_300,
      breakRemainingMs: 700,
      consecutiveOpenCount: 1,
      strategy: { kind: 'consecutive-failures', failureCount: 0 },
    });

    // A new process: another monotonic origin, 200 ms of wall time later.
    const second = schedulerAt(42, 1_000_500);
    const restored = consecutive(second, 1, { breakDurationMultiplier: 2, initialState: saved });
    assert.equal(restored.state, 'open');
    assert.equal((await rejection(restored.execute(ok))).retryAfterMs, 500);
    second.advanceMs(500);
    await failTimes(restored, 1);
    assert.equal(
      (await rejection(restored.execute(ok))).retryAfterMs,
      2_000,
      'the backoff survived the restore',
    );
  });

  it('never lengthens the break when the wall clock went backwards', async () => {
    const scheduler = schedulerAt(0, 10_000);
    const breaker = consecutive(scheduler, 1);
    await failTimes(breaker, 1);
    const saved = breaker.toJSON();
    const restored = consecutive(schedulerAt(0, 2_000), 1, { initialState: saved });
    assert.equal((await rejection(restored.execute(ok))).retryAfterMs, 1_000);
  });

  it('restores a half-open breaker as open with its break over', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = consecutive(scheduler, 1);
    await failTimes(breaker, 1);
    scheduler.advanceMs(1_000);
    void breaker.execute(() => deferred<void>().promise);
    const saved = breaker.toJSON();
    assert.equal(saved.state, 'half-open');
    const restored = consecutive(new VirtualScheduler(), 1, { initialState: saved });
    assert.equal(restored.state, 'open');
    await restored.execute(ok);
    assert.equal(restored.state, 'closed');
  });

  it('restores an isolated breaker', async () => {
    const breaker = consecutive(new VirtualScheduler(), 1);
    breaker.isolate();
    const restored = consecutive(new VirtualScheduler(), 1, { initialState: breaker.toJSON() });
    assert.equal(restored.state, 'isolated');
    assert.equal((await rejection(restored.execute(ok))).state, 'isolated');
  });

  it('restores a closed breaker’s history, so it opens after the failures it still needs', async () => {
    const options: Partial<CircuitBreakerOptions> = {};
    const breaker = consecutive(new VirtualScheduler(), 3, options);
    await failTimes(breaker, 2);
    const saved = JSON.parse(JSON.stringify(breaker.toJSON()));
    const restored = consecutive(new VirtualScheduler(), 3, { initialState: saved });
    await failTimes(restored, 1);
    assert.equal(restored.state, 'open');
  });

  it('drops history saved by another kind of strategy but keeps the state', async () => {
    const breaker = consecutive(new VirtualScheduler(), 3);
    await failTimes(breaker, 2);
    const restored = new CircuitBreakerPolicy({
      strategy: { kind: 'count-window', windowCallCount: 2, failureRateThreshold: 1 },
      breakDurationMs: 100,
      scheduler: new VirtualScheduler(),
      initialState: breaker.toJSON(),
    });
    assert.equal(restored.state, 'closed');
    await failTimes(restored, 1);
    assert.equal(restored.state, 'closed', 'the saved failures were not carried over');
  });

  it('rejects a malformed snapshot with InvalidArgumentError', () => {
    const good = consecutive(new VirtualScheduler(), 3).toJSON();
    const bad: Record<string, unknown>[] = [
      { ...good, version: 2 },
      { ...good, state: 'ajar' },
      { ...good, breakRemainingMs: -1 },
      { ...good, consecutiveOpenCount: 0.5 },
      { ...good, savedAtWallMs: Number.NaN },
      { ...good, strategy: null },
      { ...good, strategy: { kind: 'consecutive-failures', failureCount: -1 } },
    ];
    for (const initialState of bad) {
      assert.throws(
        () =>
          consecutive(new VirtualScheduler(), 3, {
            initialState: initialState as never,
          }),
        isInvalidArgumentError,
        JSON.stringify(initialState),
      );
    }
  });
});
