import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  Deadline,
  DeadlineExceededError,
  deadlineOf,
  isDeadlineExceededError,
  isInvalidArgumentError,
  linkSignal,
  ManualClock,
  type SignalScope,
  VirtualScheduler,
} from '../../src/core/index.js';

function abortListenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

describe('Deadline', () => {
  it('afterMs sets the deadline relative to now and counts down', () => {
    const clock = new ManualClock({ nowMs: 50 });
    const deadline = Deadline.afterMs(clock, 100);
    assert.equal(deadline.clock, clock);
    assert.equal(deadline.atMs, 150);
    assert.equal(deadline.remainingMs(), 100);
    assert.equal(deadline.isExpired(), false);
    clock.advanceMs(60);
    assert.equal(deadline.remainingMs(), 40);
    assert.equal(deadline.isExpired(), false);
    clock.advanceMs(40);
    assert.equal(deadline.remainingMs(), 0);
    assert.equal(deadline.isExpired(), true);
    clock.advanceMs(1_000);
    assert.equal(deadline.remainingMs(), 0, 'never below 0');
    assert.equal(deadline.isExpired(), true);
  });

  it('atMs sets an absolute deadline, in the past if need be', () => {
    const clock = new ManualClock({ nowMs: 500 });
    const future = Deadline.atMs(clock, 800);
    assert.equal(future.atMs, 800);
    assert.equal(future.remainingMs(), 300);
    const past = Deadline.atMs(clock, 100);
    assert.equal(past.isExpired(), true);
    assert.equal(past.remainingMs(), 0);
  });

  it('afterMs with 0 is already expired', () => {
    const clock = new ManualClock({ nowMs: 7 });
    assert.equal(Deadline.afterMs(clock, 0).isExpired(), true);
  });

  it('withinMs keeps the earlier of itself and a timeout from now', () => {
    const clock = new ManualClock();
    const deadline = Deadline.afterMs(clock, 100);
    const tighter = deadline.withinMs(30);
    assert.equal(tighter.atMs, 30);
    assert.equal(deadline.withinMs(500), deadline);
    clock.advanceMs(90);
    assert.equal(deadline.withinMs(20), deadline);
    assert.equal(deadline.withinMs(5).atMs, 95);
  });

  it('earliest picks the earlier deadline, and itself on a tie or undefined', () => {
    const clock = new ManualClock();
    const early = Deadline.atMs(clock, 10);
    const late = Deadline.atMs(clock, 20);
    const alsoEarly = Deadline.atMs(clock, 10);
    assert.equal(early.earliest(late), early);
    assert.equal(late.earliest(early), early);
    assert.equal(early.earliest(alsoEarly), early);
    assert.equal(early.earliest(undefined), early);
  });

  it('rejects a negative or non-finite time with InvalidArgumentError', () => {
    const clock = new ManualClock();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => Deadline.afterMs(clock, bad), isInvalidArgumentError);
    }
    assert.throws(() => Deadline.atMs(clock, Number.NaN), isInvalidArgumentError);
  });

  it('scope links a signal to the deadline', () => {
    const scheduler = new VirtualScheduler();
    const deadline = Deadline.afterMs(scheduler.clock, 40);
    const scope = deadline.scope({ scheduler });
    assert.equal(scope.deadline, deadline);
    assert.equal(deadlineOf(scope.signal), deadline);
    scheduler.advanceMs(39);
    assert.equal(scope.signal.aborted, false);
    scheduler.advanceMs(1);
    assert.ok(isDeadlineExceededError(scope.signal.reason));
  });
});

describe('linkSignal', () => {
  it('aborts at the deadline with a DeadlineExceededError reason', () => {
    const scheduler = new VirtualScheduler();
    const scope = linkSignal({ scheduler, timeoutMs: 100 });
    assert.equal(scope.signal.aborted, false);
    assert.equal(scheduler.pendingCount, 1);
    scheduler.advanceMs(99);
    assert.equal(scope.signal.aborted, false);
    scheduler.advanceMs(1);
    assert.equal(scope.signal.aborted, true);
    const reason: unknown = scope.signal.reason;
    assert.ok(isDeadlineExceededError(reason));
    assert.ok(reason instanceof DeadlineExceededError);
    assert.equal(reason.deadlineMs, 100);
    assert.equal(scheduler.pendingCount, 0);
    scope.dispose();
  });

  it('aborts with the exact reason of a parent that aborts first, and cancels its timer', () => {
    const scheduler = new VirtualScheduler();
    const parent = new AbortController();
    const scope = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 100 });
    assert.equal(abortListenerCount(parent.signal), 1);
    const reason = { why: 'client went away' };
    scheduler.advanceMs(10);
    parent.abort(reason);
    assert.equal(scope.signal.aborted, true);
    assert.equal(scope.signal.reason, reason);
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(abortListenerCount(parent.signal), 0);
    scheduler.advanceMs(1_000);
    assert.equal(scope.signal.reason, reason, 'the deadline does not overwrite the reason');
  });

  it('aborts at once when the parent is already aborted, adding no listener or timer', () => {
    const scheduler = new VirtualScheduler();
    const reason = new Error('already gone');
    const parent = AbortSignal.abort(reason);
    const scope = linkSignal({ scheduler, parentSignal: parent, timeoutMs: 100 });
    assert.equal(scope.signal.aborted, true);
    assert.equal(scope.signal.reason, reason);
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(abortListenerCount(parent), 0);
  });

  it('aborts at once when the deadline has already passed', () => {
    const scheduler = new VirtualScheduler({ clock: new ManualClock({ nowMs: 1_000 }) });
    const parent = new AbortController();
    const past = Deadline.atMs(scheduler.clock, 400);
    const scope = linkSignal({ scheduler, parentSignal: parent.signal, deadline: past });
    assert.equal(scope.signal.aborted, true);
    assert.ok(isDeadlineExceededError(scope.signal.reason));
    assert.equal((scope.signal.reason as DeadlineExceededError).deadlineMs, 400);
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(abortListenerCount(parent.signal), 0);

    const zero = linkSignal({ scheduler, timeoutMs: 0 });
    assert.equal(zero.signal.aborted, true);
    assert.ok(isDeadlineExceededError(zero.signal.reason));
    assert.equal(scheduler.pendingCount, 0);
  });

  it('never aborts without a deadline or a parent, and reports no deadline', () => {
    const scheduler = new VirtualScheduler();
    const scope = linkSignal({ scheduler });
    assert.equal(scope.deadline, undefined);
    assert.equal(deadlineOf(scope.signal), undefined);
    assert.equal(scheduler.pendingCount, 0);
    scheduler.advanceMs(1e9);
    assert.equal(scope.signal.aborted, false);
  });

  it('reports min(own, parent) through deadlineOf', () => {
    const scheduler = new VirtualScheduler();
    const parent = linkSignal({ scheduler, timeoutMs: 100 });
    assert.equal(deadlineOf(parent.signal)?.atMs, 100);

    const tighter = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 30 });
    assert.equal(deadlineOf(tighter.signal)?.atMs, 30);
    assert.equal(tighter.deadline?.atMs, 30);

    const looser = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 500 });
    assert.equal(deadlineOf(looser.signal), deadlineOf(parent.signal));

    const inheritOnly = linkSignal({ scheduler, parentSignal: parent.signal });
    assert.equal(deadlineOf(inheritOnly.signal)?.atMs, 100);

    assert.equal(deadlineOf(undefined), undefined);
    assert.equal(deadlineOf(new AbortController().signal), undefined);
    for (const scope of [parent, tighter, looser, inheritOnly]) {
      scope.dispose();
    }
    assert.equal(scheduler.pendingCount, 0);
  });

  it('aborts a nested child at the inherited deadline with the parent reason', () => {
    const scheduler = new VirtualScheduler();
    const parent = linkSignal({ scheduler, timeoutMs: 100 });
    const child = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 500 });
    const grandchild = linkSignal({ scheduler, parentSignal: child.signal, timeoutMs: 300 });
    assert.equal(deadlineOf(grandchild.signal)?.atMs, 100);

    scheduler.advanceMs(99);
    assert.equal(grandchild.signal.aborted, false);
    scheduler.advanceMs(1);
    assert.ok(isDeadlineExceededError(parent.signal.reason));
    assert.equal(child.signal.reason, parent.signal.reason);
    assert.equal(grandchild.signal.reason, parent.signal.reason);
    assert.equal((grandchild.signal.reason as DeadlineExceededError).deadlineMs, 100);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('aborts a nested child at its inherited deadline even after the parent scope is disposed', () => {
    const scheduler = new VirtualScheduler();
    const parent = linkSignal({ scheduler, timeoutMs: 100 });
    const child = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 500 });
    parent.dispose();
    assert.equal(deadlineOf(child.signal)?.atMs, 100);
    scheduler.advanceMs(100);
    assert.ok(isDeadlineExceededError(child.signal.reason));
    assert.equal((child.signal.reason as DeadlineExceededError).deadlineMs, 100);
    assert.equal(parent.signal.aborted, false);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('gives a nested child with the earlier deadline a timer of its own', () => {
    const scheduler = new VirtualScheduler();
    const parent = linkSignal({ scheduler, timeoutMs: 100 });
    const child = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 40 });
    assert.equal(scheduler.pendingCount, 2);
    scheduler.advanceMs(40);
    assert.ok(isDeadlineExceededError(child.signal.reason));
    assert.equal((child.signal.reason as DeadlineExceededError).deadlineMs, 40);
    assert.equal(parent.signal.aborted, false);
    assert.equal(abortListenerCount(parent.signal), 0, 'the expired child let go of its parent');
    assert.equal(scheduler.pendingCount, 1);
    parent.dispose();
    assert.equal(scheduler.pendingCount, 0);
  });

  it('ignores a parent deadline measured on another clock', () => {
    const scheduler = new VirtualScheduler();
    const otherScheduler = new VirtualScheduler();
    const parent = linkSignal({ scheduler: otherScheduler, timeoutMs: 10 });
    const child = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 50 });
    assert.equal(deadlineOf(child.signal)?.atMs, 50);
    assert.equal(deadlineOf(child.signal)?.clock, scheduler.clock);
    assert.equal(scheduler.pendingCount, 1);
    otherScheduler.advanceMs(10);
    assert.equal(child.signal.reason, parent.signal.reason, 'still aborts with the parent');
    assert.equal(scheduler.pendingCount, 0);
  });

  it('combines timeoutMs and deadline to the earliest', () => {
    const scheduler = new VirtualScheduler();
    const clock = scheduler.clock;
    const byTimeout = linkSignal({
      scheduler,
      deadline: Deadline.atMs(clock, 200),
      timeoutMs: 50,
    });
    assert.equal(byTimeout.deadline?.atMs, 50);
    const byDeadline = linkSignal({
      scheduler,
      deadline: Deadline.atMs(clock, 20),
      timeoutMs: 50,
    });
    assert.equal(byDeadline.deadline?.atMs, 20);
    assert.equal(scheduler.pendingCount, 2);
    scheduler.advanceMs(20);
    assert.equal(byDeadline.signal.aborted, true);
    assert.equal(byTimeout.signal.aborted, false);
    scheduler.advanceMs(30);
    assert.equal(byTimeout.signal.aborted, true);
    assert.equal((byTimeout.signal.reason as DeadlineExceededError).deadlineMs, 50);
  });

  it('dispose is idempotent, releases the parent and timer, and does not abort', () => {
    const scheduler = new VirtualScheduler();
    const parent = new AbortController();
    const scope = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 100 });
    assert.equal(abortListenerCount(parent.signal), 1);
    assert.equal(scheduler.pendingCount, 1);
    scope.dispose();
    scope.dispose();
    assert.equal(scope.signal.aborted, false);
    assert.equal(abortListenerCount(parent.signal), 0);
    assert.equal(scheduler.pendingCount, 0);
    scheduler.advanceMs(1_000);
    parent.abort();
    assert.equal(scope.signal.aborted, false, 'a disposed scope no longer follows its sources');
  });

  it('dispose after an abort does nothing more', () => {
    const scheduler = new VirtualScheduler();
    const parent = new AbortController();
    const scope = linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 5 });
    scheduler.advanceMs(5);
    const reason: unknown = scope.signal.reason;
    scope.dispose();
    scope.dispose();
    assert.equal(scope.signal.reason, reason);
    assert.equal(abortListenerCount(parent.signal), 0);
  });

  it('rejects invalid options with InvalidArgumentError', () => {
    const scheduler = new VirtualScheduler();
    const otherClock = new ManualClock();
    const invalid: [string, () => SignalScope][] = [
      ['missing options', () => linkSignal(undefined as never)],
      ['missing scheduler', () => linkSignal({} as never)],
      ['scheduler of the wrong shape', () => linkSignal({ scheduler: {} as never })],
      [
        'deadline on another clock',
        () => linkSignal({ scheduler, deadline: Deadline.afterMs(otherClock, 10) }),
      ],
      [
        'deadline that is not a Deadline',
        () => linkSignal({ scheduler, deadline: { atMs: 5, clock: scheduler.clock } as never }),
      ],
      ['negative timeout', () => linkSignal({ scheduler, timeoutMs: -1 })],
      ['NaN timeout', () => linkSignal({ scheduler, timeoutMs: Number.NaN })],
      ['non-signal parent', () => linkSignal({ scheduler, parentSignal: {} as never })],
      ['null parent', () => linkSignal({ scheduler, parentSignal: null as never })],
      ['options that are not an object', () => linkSignal(5 as never)],
    ];
    for (const [label, call] of invalid) {
      assert.throws(call, isInvalidArgumentError, label);
    }
    assert.equal(scheduler.pendingCount, 0);
  });

  it('names the linkSignal option in the error for a bad timeout', () => {
    const scheduler = new VirtualScheduler();
    assert.throws(
      () => linkSignal({ scheduler, timeoutMs: -5 }),
      (error: unknown) =>
        isInvalidArgumentError(error) &&
        error.argument === 'linkSignal options.timeoutMs' &&
        error.message.includes('linkSignal options.timeoutMs') &&
        error.message.includes('number -5'),
    );
  });

  it('composes 100,000 child scopes on one parent without leaking listeners or timers', () => {
    const scheduler = new VirtualScheduler();
    const parent = new AbortController();
    // Many children at once are the point here, not a leak: silence Node's warning.
    setMaxListeners(0, parent.signal);
    const batchSize = 500;
    let disposedCount = 0;
    let expiredCount = 0;

    // 60,000 scopes that end normally: the work finishes and disposes its scope, in an
    // order unrelated to creation. Half of them have a deadline, half only the parent.
    for (let batch = 0; batch < 120; batch += 1) {
      const scopes: SignalScope[] = [];
      for (let index = 0; index < batchSize; index += 1) {
        scopes.push(
          linkSignal({
            scheduler,
            parentSignal: parent.signal,
            ...(index % 2 === 0 ? { timeoutMs: 1_000 + index } : {}),
          }),
        );
      }
      assert.equal(abortListenerCount(parent.signal), batchSize);
      for (let index = 0; index < batchSize; index += 1) {
        const scope = scopes[(index * 7) % batchSize] as SignalScope;
        scope.dispose();
        assert.equal(scope.signal.aborted, false);
        disposedCount += 1;
      }
      assert.equal(abortListenerCount(parent.signal), 0);
      assert.equal(scheduler.pendingCount, 0);
    }

    // 30,000 scopes that expire as virtual time passes, some of them nested so that they
    // rely on a sibling's timer; the owners dispose them afterwards, as a finally would.
    for (let batch = 0; batch < 60; batch += 1) {
      const scopes: SignalScope[] = [];
      for (let index = 0; index < batchSize; index += 1) {
        const outer = scopes[index - 1];
        const nested = index % 5 === 4 && outer !== undefined;
        scopes.push(
          linkSignal({
            scheduler,
            parentSignal: nested ? outer.signal : parent.signal,
            timeoutMs: 1 + (index % 50) + (nested ? 1_000 : 0),
          }),
        );
      }
      scheduler.advanceMs(60);
      for (const scope of scopes) {
        assert.ok(isDeadlineExceededError(scope.signal.reason));
        scope.dispose();
        expiredCount += 1;
      }
      assert.equal(abortListenerCount(parent.signal), 0);
      assert.equal(scheduler.pendingCount, 0);
    }

    // The last 10,000 are still running when the parent itself aborts at the very end.
    const last: SignalScope[] = [];
    for (let index = 0; index < 10_000; index += 1) {
      last.push(linkSignal({ scheduler, parentSignal: parent.signal, timeoutMs: 1e6 + index }));
    }
    assert.equal(abortListenerCount(parent.signal), 10_000);
    assert.equal(scheduler.pendingCount, 10_000);
    const reason = new Error('server shutting down');
    parent.abort(reason);
    for (const scope of last) {
      assert.equal(scope.signal.reason, reason);
      scope.dispose();
    }

    assert.equal(disposedCount + expiredCount + last.length, 100_000);
    assert.equal(abortListenerCount(parent.signal), 0);
    assert.equal(scheduler.pendingCount, 0);
  });
});
