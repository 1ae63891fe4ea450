import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAbortedError, isInvalidArgumentError, VirtualScheduler } from '../../src/core/index.js';
import {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  contextFrom,
  ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
  pipeline,
  RetryPolicy,
  TimeoutPolicy,
} from '../../src/resilience/index.js';

/** A policy that records when it is entered and left, and renumbers the attempt. */
class RecordingPolicy implements Policy {
  constructor(
    readonly name: string,
    readonly log: string[],
    readonly attempt?: number,
  ) {}

  async execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    const context = contextFrom(parent);
    this.log.push(`enter ${this.name} attempt ${context.attempt}`);
    try {
      return await work(
        this.attempt === undefined ? context : context.derive({ attempt: this.attempt }),
      );
    } finally {
      this.log.push(`leave ${this.name}`);
    }
  }
}

describe('pipeline', () => {
  it('runs policies outside-in and passes each context inwards', async () => {
    const log: string[] = [];
    const policy = pipeline(
      new RecordingPolicy('outer', log),
      new RecordingPolicy('middle', log, 7),
      new RecordingPolicy('inner', log),
    );
    const attempt = await policy.execute((context) => {
      log.push('work');
      return context.attempt;
    });
    assert.equal(attempt, 7);
    assert.deepEqual(log, [
      'enter outer attempt 1',
      'enter middle attempt 1',
      'enter inner attempt 7',
      'work',
      'leave inner',
      'leave middle',
      'leave outer',
    ]);
  });

  it('flattens nested pipelines', () => {
    const log: string[] = [];
    const a = new RecordingPolicy('a', log);
    const b = new RecordingPolicy('b', log);
    const c = new RecordingPolicy('c', log);
    assert.deepEqual(pipeline(pipeline(a, b), c).policies, [a, b, c]);
  });

  it('with no policies runs the work on a root context', async () => {
    const context = await pipeline().execute((received) => received);
    assert.ok(context instanceof ExecutionContext);
    assert.equal(context.attempt, 1);
    assert.equal(context.deadline, undefined);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      pipeline().execute(() => 1, controller.signal),
      (error) => isAbortedError(error),
    );
  });

  it('bounds inner timeouts by outer ones', async () => {
    const scheduler = new VirtualScheduler();
    const policy = pipeline(
      new TimeoutPolicy({ timeoutMs: 100, scheduler }),
      new TimeoutPolicy({ timeoutMs: 1_000, scheduler }),
    );
    assert.equal(await policy.execute((context) => context.deadline?.atMs), 100);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('rejects anything that is not a policy, naming its position', () => {
    assert.throws(
      () => pipeline({} as Policy),
      (error) => isInvalidArgumentError(error) && error.argument === 'policies[0]',
    );
  });
});

describe('ExecutionContext', () => {
  it('makes no AbortController until the signal is read, and shares the parent signal when not abortable', () => {
    const root = ExecutionContext.root();
    const attempt = root.derive({ attempt: 2 });
    assert.equal(attempt.signal, root.signal);
    const controller = new AbortController();
    const onCaller = ExecutionContext.root(controller.signal);
    assert.equal(onCaller.signal, controller.signal);
    assert.equal(onCaller.derive({}).signal, controller.signal);
  });

  it('aborts an abortable child and its descendants, read before or after the abort', () => {
    const root = ExecutionContext.root();
    const child = root.derive({ abortable: true });
    const grandchildEarly = child.derive({ abortable: true });
    const earlySignal = grandchildEarly.signal;
    const grandchildLate = child.derive({ abortable: true });
    child.abort(new Error('lost the race'));
    assert.ok(child.aborted && grandchildEarly.aborted && grandchildLate.aborted);
    assert.ok(earlySignal.aborted);
    assert.ok(grandchildLate.signal.aborted);
    assert.equal((grandchildLate.signal.reason as Error).message, 'lost the race');
    assert.equal(root.aborted, false);
    assert.ok(isAbortedError(grandchildLate.abortError()));
  });

  it('ignores abort on a context that cannot abort on its own', () => {
    const root = ExecutionContext.root(new AbortController().signal);
    root.abort(new Error('no'));
    assert.equal(root.aborted, false);
  });

  it('takes the attempt, signal and deadline of a foreign context', () => {
    const controller = new AbortController();
    const foreign: PolicyContext = { signal: controller.signal, attempt: 3, deadline: undefined };
    const context = contextFrom(foreign);
    assert.equal(context.attempt, 3);
    assert.equal(context.signal, controller.signal);
  });

  it('calls an execute that a subclass or an instance overrides, and foreign policies in between', async () => {
    const scheduler = new VirtualScheduler();
    const log: string[] = [];
    class LoggedTimeout extends TimeoutPolicy {
      override execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
        log.push('subclass');
        return super.execute(work, parent);
      }
    }
    const patched = new BulkheadPolicy({ concurrencyMax: 1, scheduler });
    const original = patched.execute.bind(patched);
    patched.execute = (work, parent) => {
      log.push('instance');
      return original(work, parent);
    };
    const policy = pipeline(
      new RetryPolicy({ attemptCountMax: 1, scheduler }),
      new RecordingPolicy('foreign', log),
      new LoggedTimeout({ timeoutMs: 100, scheduler }),
      patched,
    );
    assert.equal(await policy.execute(({ attempt }) => attempt), 1);
    assert.deepEqual(log, ['enter foreign attempt 1', 'subclass', 'instance', 'leave foreign']);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('records failures in a breaker inside a pipeline and passes the error on unchanged', async () => {
    const scheduler = new VirtualScheduler();
    const breaker = new CircuitBreakerPolicy({
      strategy: { kind: 'consecutive-failures', failureCountThreshold: 2 },
      breakDurationMs: 1_000,
      scheduler,
    });
    const policy = pipeline(
      new RetryPolicy({ attemptCountMax: 1, scheduler }),
      breaker,
      new TimeoutPolicy({ timeoutMs: 100, scheduler }),
    );
    const failure = new Error('down');
    for (let index = 0; index < 2; index += 1) {
      await assert.rejects(
        policy.execute(() => Promise.reject(failure)),
        (error) => (error as { lastError?: unknown }).lastError === failure,
      );
    }
    assert.equal(breaker.state, 'open');
    assert.equal(scheduler.pendingCount, 0);
  });
});
