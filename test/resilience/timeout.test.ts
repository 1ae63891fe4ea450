import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  Deadline,
  isAbortedError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  linkSignal,
  VirtualScheduler,
} from '../../src/core/index.js';
import { type PolicyContext, TimeoutPolicy } from '../../src/resilience/index.js';

function pending<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}

describe('TimeoutPolicy', () => {
  it('returns the value of work that finishes in time and leaves no task behind', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 100, scheduler });
    assert.equal(await timeout.execute(() => 'sync value'), 'sync value');
    assert.equal(await timeout.execute(async () => 'async value'), 'async value');
    assert.equal(scheduler.pendingCount, 0);
  });

  it('passes on the error of work that fails in time, thrown or rejected', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 100, scheduler });
    await assert.rejects(
      timeout.execute(() => {
        throw new Error('thrown');
      }),
      /thrown/,
    );
    await assert.rejects(
      timeout.execute(async () => Promise.reject(new Error('rejected'))),
      /rejected/,
    );
    assert.equal(scheduler.pendingCount, 0);
  });

  it('rejects at exactly timeoutMs with DeadlineExceededError and aborts the work signal', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 100, scheduler });
    const work = pending<string>();
    let context: PolicyContext | undefined;
    let settled = false;
    const call = timeout.execute((received) => {
      context = received;
      return work.promise;
    });
    call.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const signal = context?.signal as AbortSignal;
    scheduler.advanceMs(99);
    await Promise.resolve();
    assert.equal(settled, false);
    assert.equal(signal.aborted, false);
    scheduler.advanceMs(1);
    await assert.rejects(
      call,
      (error) => isDeadlineExceededError(error) && error.deadlineMs === 100,
    );
    assert.ok(signal.aborted);
    assert.ok(isDeadlineExceededError(signal.reason));
    // A late result is dropped, not delivered twice.
    work.resolve('late');
    await Promise.resolve();
  });

  it('aborts a signal first read after the timeout with the same reason', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 10, scheduler });
    let context: PolicyContext | undefined;
    const call = timeout.execute((received) => {
      context = received;
      return new Promise<never>(() => {});
    });
    scheduler.advanceMs(10);
    await assert.rejects(call, (error) => isDeadlineExceededError(error));
    assert.ok(context?.signal.aborted);
    assert.ok(isDeadlineExceededError(context?.signal.reason));
  });

  it('bounds the work by the caller deadline when it is earlier (deadline propagation)', async () => {
    const scheduler = new VirtualScheduler();
    const caller = linkSignal({ scheduler, timeoutMs: 30 });
    const timeout = new TimeoutPolicy({ timeoutMs: 500, scheduler });
    let deadline: Deadline | undefined;
    const call = timeout.execute((context) => {
      deadline = context.deadline;
      return new Promise<never>(() => {});
    }, caller.signal);
    assert.equal(deadline?.atMs, 30);
    scheduler.advanceMs(30);
    await assert.rejects(call, (error) => isDeadlineExceededError(error));
    caller.dispose();
  });

  it('keeps its own deadline when it is the earlier one', async () => {
    const scheduler = new VirtualScheduler();
    const caller = linkSignal({ scheduler, timeoutMs: 1_000 });
    const timeout = new TimeoutPolicy({ timeoutMs: 50, scheduler });
    const atMs = await timeout.execute((context) => context.deadline?.atMs, caller.signal);
    assert.equal(atMs, 50);
    caller.dispose();
  });

  it('rejects at once when the caller has already aborted or its deadline has passed', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 50, scheduler });
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    let ran = false;
    await assert.rejects(
      timeout.execute(() => {
        ran = true;
      }, controller.signal),
      (error) => isAbortedError(error),
    );
    const expired = linkSignal({ scheduler, deadline: Deadline.atMs(scheduler.clock, 0) });
    await assert.rejects(
      timeout.execute(() => {
        ran = true;
      }, expired.signal),
      (error) => isDeadlineExceededError(error),
    );
    assert.equal(ran, false);
  });

  it('passes a caller abort through to the work signal and removes its listener afterwards', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 1_000, scheduler });
    const controller = new AbortController();
    let workSignal: AbortSignal | undefined;
    const call = timeout.execute(({ signal }) => {
      workSignal = signal;
      return new Promise<never>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }, controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(call, /stop/);
    assert.ok(workSignal?.aborted);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('leaves no listener on a long-lived caller signal over 100,000 calls', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 1_000, scheduler });
    const controller = new AbortController();
    for (let index = 0; index < 100_000; index += 1) {
      await timeout.execute(({ signal }) => signal.aborted, controller.signal);
    }
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('emits onTimeout with the time given and the attempt', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 25, scheduler });
    const events: unknown[] = [];
    const subscription = timeout.onTimeout((event) => events.push(event));
    const call = timeout.execute(() => new Promise<never>(() => {}));
    scheduler.advanceMs(25);
    await assert.rejects(call);
    subscription.dispose();
    assert.deepEqual(events, [{ timeoutMs: 25, attempt: 1 }]);
  });

  it('rejects invalid options naming the option', () => {
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      assert.throws(
        () => new TimeoutPolicy({ timeoutMs: timeoutMs as number }),
        (error) =>
          isInvalidArgumentError(error) && error.argument === 'TimeoutPolicy options.timeoutMs',
      );
    }
    assert.throws(
      () => new TimeoutPolicy(undefined as never),
      (error) => isInvalidArgumentError(error),
    );
  });

  it('throws at the call site for a parent that is neither a signal nor a context', () => {
    const timeout = new TimeoutPolicy({ timeoutMs: 10, scheduler: new VirtualScheduler() });
    assert.throws(
      () => timeout.execute(() => 1, 42 as never),
      (error) => isInvalidArgumentError(error) && error.argument === 'parent',
    );
  });
});
