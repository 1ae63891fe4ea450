import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  DeadlineExceededError,
  isAbortedError,
  isDeadlineExceededError,
  ManualClock,
} from '../../src/core/index.js';
import { ExecutionContext } from '../../src/resilience/policy.js';

// The abort state of a context (its controller, whether and why it aborted, the listener on
// its parent's signal) is made only when the signal is read or the context aborts; these
// pin what that state does, whichever of the two comes first.
describe('ExecutionContext: abort state made on demand', () => {
  it('makes a signal born aborted, with the first reason, when the context aborted before any read', () => {
    const root = ExecutionContext.root();
    const first = new Error('first');
    root.abort(first);
    root.abort(new Error('second'));
    assert.equal(root.aborted, true);
    assert.equal(root.signal.aborted, true);
    assert.equal(root.signal.reason, first);
    const error = root.abortError();
    assert.ok(isAbortedError(error));
    assert.equal(error.cause, first);
  });

  it('keeps one signal per context, aborted in place by a later abort', () => {
    const root = ExecutionContext.root();
    const signal = root.signal;
    assert.equal(root.signal, signal);
    assert.equal(signal.aborted, false);
    const reason = new DeadlineExceededError(5);
    root.abort(reason);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
    assert.equal(root.abortError(), reason, 'a distkit error is the abort error itself');
    assert.ok(isDeadlineExceededError(root.abortError()));
  });

  it('gives each root a signal of its own: aborting one leaves the others alone', () => {
    const one = ExecutionContext.root();
    const other = ExecutionContext.root();
    assert.notEqual(one.signal, other.signal);
    one.abort(new Error('only this one'));
    assert.equal(other.aborted, false);
    assert.equal(other.signal.aborted, false);
    assert.equal(other.abortError(), undefined);
  });

  it("listens to the parent's signal only once its own is read, and stops on release", () => {
    const root = ExecutionContext.root();
    const parentSignal = root.signal;
    const child = root.derive({ abortable: true });
    child.release();
    assert.equal(getEventListeners(parentSignal, 'abort').length, 0, 'no signal read yet');
    const childSignal = child.signal;
    assert.equal(getEventListeners(parentSignal, 'abort').length, 1);
    child.release();
    assert.equal(getEventListeners(parentSignal, 'abort').length, 0);
    root.abort(new Error('after release'));
    assert.equal(childSignal.aborted, false, 'a released child no longer follows its parent');
    assert.equal(child.aborted, true, 'but still reports that an ancestor aborted');
  });

  it("follows the parent's abort while it listens, and stops listening when it aborts itself", () => {
    const root = ExecutionContext.root();
    const following = root.derive({ abortable: true });
    const followingSignal = following.signal;
    const leaving = root.derive({ abortable: true });
    const leavingSignal = leaving.signal;
    assert.equal(getEventListeners(root.signal, 'abort').length, 2);
    const own = new Error('own');
    leaving.abort(own);
    assert.equal(leavingSignal.reason, own);
    assert.equal(getEventListeners(root.signal, 'abort').length, 1, 'the aborted child left');
    const parentReason = new Error('parent');
    root.abort(parentReason);
    assert.equal(followingSignal.reason, parentReason);
    assert.equal(getEventListeners(root.signal, 'abort').length, 0);
  });

  it("makes a child's signal born aborted when its parent aborted first", () => {
    const root = ExecutionContext.root();
    const reason = new Error('gone');
    root.abort(reason);
    const child = root.derive({ abortable: true });
    assert.equal(child.signal.aborted, true);
    assert.equal(child.signal.reason, reason);
  });

  it('ignores abort on a child that cannot abort on its own, and keeps deadlines as given', () => {
    const clock = new ManualClock();
    const root = ExecutionContext.rootWithDeadline(clock, 250);
    const child = root.derive({ attempt: 2 });
    child.abort(new Error('ignored'));
    assert.equal(child.aborted, false);
    assert.equal(child.signal, root.signal);
    assert.equal(child.attempt, 2);
    assert.equal(child.deadline?.atMs, 250);
    assert.equal(child.deadlineAtMsOn(clock), 250);
    assert.equal(root.deadline, root.deadline, 'the deadline object is made once');
  });
});
