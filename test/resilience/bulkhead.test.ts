import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type Clock,
  Deadline,
  isAbortedError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  type ScheduledTask,
  type Scheduler,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  type BulkheadDequeuedEvent,
  BulkheadPolicy,
  BulkheadRejectedError,
  isBulkheadRejectedError,
} from '../../src/resilience/bulkhead.js';
import { ExecutionContext, type PolicyContext } from '../../src/resilience/policy.js';
import { TimeoutPolicy } from '../../src/resilience/timeout.js';

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise settled from outside: the work of a call that the test finishes by hand. */
interface Gate<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function gate<T = string>(): Gate<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onValue, onError) => {
    resolve = onValue;
    reject = onError;
  });
  return { promise, resolve, reject };
}

type Outcome =
  | { readonly state: 'pending' }
  | { readonly state: 'resolved'; readonly value: unknown }
  | { readonly state: 'rejected'; readonly error: unknown };

function track(promise: Promise<unknown>): { outcome: Outcome } {
  const tracked: { outcome: Outcome } = { outcome: { state: 'pending' } };
  promise.then(
    (value) => {
      tracked.outcome = { state: 'resolved', value };
    },
    (error: unknown) => {
      tracked.outcome = { state: 'rejected', error };
    },
  );
  return tracked;
}

function codeOf(outcome: Outcome): string | undefined {
  return outcome.state === 'rejected'
    ? ((outcome.error as { code?: string }).code ?? '?')
    : undefined;
}

/** A scheduler that counts clock readings and scheduled tasks. */
class CountingScheduler implements Scheduler {
  readonly inner = new VirtualScheduler();
  clockReadCount = 0;
  scheduleCount = 0;
  readonly clock: Clock = {
    nowMs: () => {
      this.clockReadCount += 1;
      return this.inner.clock.nowMs();
    },
    wallMs: () => this.inner.clock.wallMs(),
  };

  get pendingCount(): number {
    return this.inner.pendingCount;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTask {
    this.scheduleCount += 1;
    return this.inner.schedule(delayMs, callback);
  }

  scheduleAt(dueMs: number, callback: () => void): ScheduledTask {
    this.scheduleCount += 1;
    return this.inner.scheduleAt(dueMs, callback);
  }
}

describe('BulkheadPolicy options', () => {
  it('rejects a missing, zero, negative, fractional or NaN concurrencyMax', () => {
    for (const concurrencyMax of [undefined, 0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => new BulkheadPolicy({ concurrencyMax } as never),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument === 'BulkheadPolicy options.concurrencyMax' &&
          /integer >= 1/.test(error.message),
      );
    }
  });

  it('rejects a negative or fractional queueCountMax, and options that are not an object', () => {
    for (const queueCountMax of [-1, 0.5, Number.NaN]) {
      assert.throws(
        () => new BulkheadPolicy({ concurrencyMax: 1, queueCountMax }),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument === 'BulkheadPolicy options.queueCountMax',
      );
    }
    assert.throws(() => new BulkheadPolicy(null as never), isInvalidArgumentError);
    assert.throws(() => new BulkheadPolicy(undefined as never), isInvalidArgumentError);
  });

  it('defaults queueCountMax to 0 and exposes its bounds', () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 3 });
    assert.equal(bulkhead.concurrencyMax, 3);
    assert.equal(bulkhead.queueCountMax, 0);
    assert.throws(() => bulkhead.setConcurrencyMax(0), isInvalidArgumentError);
  });
});

describe('BulkheadPolicy with a free slot', () => {
  it('runs the work at once on the caller context and returns its value', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 2 });
    const parent = ExecutionContext.root();
    let seen: PolicyContext | undefined;
    let ranSynchronously = false;
    const result = bulkhead.execute((context) => {
      seen = context;
      ranSynchronously = true;
      return Promise.resolve('done');
    }, parent);
    assert.equal(ranSynchronously, true);
    assert.equal(seen, parent);
    assert.equal(bulkhead.inflightCount, 1);
    assert.equal(await result, 'done');
    assert.equal(bulkhead.inflightCount, 0);
  });

  it("returns the work's own promise, with the slot already free when it settles", async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1 });
    const own = Promise.resolve('mine');
    const returned = bulkhead.execute(() => own);
    assert.equal(returned, own);
    let inflightSeen = -1;
    await returned.then(() => {
      inflightSeen = bulkhead.inflightCount;
    });
    assert.equal(inflightSeen, 0);
  });

  it('accepts synchronous values and synchronous throws, freeing the slot each time', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1 });
    assert.equal(await bulkhead.execute(() => 7), 7);
    assert.equal(bulkhead.inflightCount, 0);
    await assert.rejects(
      bulkhead.execute(() => {
        throw new Error('sync boom');
      }),
      /sync boom/,
    );
    assert.equal(bulkhead.inflightCount, 0);
    await assert.rejects(
      bulkhead.execute(() => Promise.reject(new Error('async boom'))),
      /async/,
    );
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('adopts thenables that are not native promises', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1 });
    const thenable: PromiseLike<number> = {
      // biome-ignore lint/suspicious/noThenProperty: the test needs a foreign thenable.
      then: (onValue) => Promise.resolve(onValue?.(5)) as never,
    };
    assert.equal(await bulkhead.execute(() => thenable), 5);
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('never reads the clock, schedules a task or adds a listener when a slot is free', async () => {
    const scheduler = new CountingScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 4, queueCountMax: 10, scheduler });
    const controller = new AbortController();
    const deadline = Deadline.atMs(scheduler.inner.clock, 1_000);
    const parent = ExecutionContext.root(controller.signal, deadline);
    for (let index = 0; index < 1_000; index += 1) {
      const calls = [1, 2, 3, 4].map((value) =>
        bulkhead.execute(() => Promise.resolve(value), parent),
      );
      assert.deepEqual(await Promise.all(calls), [1, 2, 3, 4]);
    }
    assert.equal(scheduler.clockReadCount, 0);
    assert.equal(scheduler.scheduleCount, 0);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('rejects with the parent abort error without running the work', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1 });
    const controller = new AbortController();
    controller.abort(new Error('caller left'));
    let ran = false;
    await assert.rejects(
      bulkhead.execute(() => {
        ran = true;
      }, controller.signal),
      isAbortedError,
    );
    assert.equal(ran, false);
    assert.equal(bulkhead.inflightCount, 0);
  });
});

describe('BulkheadPolicy when full', () => {
  it('queues up to queueCountMax calls, then rejects with a typed error and an event', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 2, queueCountMax: 3 });
    const rejections: unknown[] = [];
    bulkhead.onReject((event) => rejections.push(event));
    const queuedCounts: number[] = [];
    bulkhead.onQueued((event) => queuedCounts.push(event.queuedCount));
    const gates = [gate(), gate()];
    const running = gates.map((g) => track(bulkhead.execute(() => g.promise)));
    const waiting = [1, 2, 3].map((value) => track(bulkhead.execute(() => `queued ${value}`)));
    assert.equal(bulkhead.inflightCount, 2);
    assert.equal(bulkhead.queuedCount, 3);
    assert.deepEqual(queuedCounts, [1, 2, 3]);

    const rejected = bulkhead.execute(() => 'never');
    await assert.rejects(rejected, (error: unknown) => {
      assert.ok(isBulkheadRejectedError(error));
      assert.ok(error instanceof BulkheadRejectedError);
      assert.equal(error.code, 'BULKHEAD_REJECTED');
      assert.equal(error.concurrencyMax, 2);
      assert.equal(error.queueCountMax, 3);
      assert.match(error.message, /raise concurrencyMax or queueCountMax/);
      return true;
    });
    assert.deepEqual(rejections, [{ inflightCount: 2, queuedCount: 3 }]);

    (gates[0] as Gate<string>).resolve('first');
    await flush();
    assert.deepEqual(running[0]?.outcome, { state: 'resolved', value: 'first' });
    // The freed slot went to the first waiter, whose synchronous work then freed it for the
    // second, and so on: all three ran, in order, while the second gate still holds a slot.
    assert.deepEqual(
      waiting.map((call) => call.outcome),
      [1, 2, 3].map((value) => ({ state: 'resolved', value: `queued ${value}` })),
    );
    assert.equal(bulkhead.inflightCount, 1);
    assert.equal(bulkhead.queuedCount, 0);
    (gates[1] as Gate<string>).resolve('second');
    await flush();
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('rejects at once with queueCountMax 0', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1 });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    await assert.rejects(
      bulkhead.execute(() => 'second'),
      isBulkheadRejectedError,
    );
    held.resolve('ok');
    assert.equal(await first, 'ok');
    assert.equal(await bulkhead.execute(() => 'third'), 'third');
  });

  it('hands slots over first in, first out, also when the work fails', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 10 });
    const order: number[] = [];
    const gates = Array.from({ length: 6 }, () => gate());
    const calls = gates.map((g, index) =>
      track(
        bulkhead.execute(() => {
          order.push(index);
          return g.promise;
        }),
      ),
    );
    for (let index = 0; index < gates.length; index += 1) {
      await flush();
      assert.deepEqual(
        order,
        Array.from({ length: index + 1 }, (_, i) => i),
      );
      if (index % 2 === 0) {
        (gates[index] as Gate<string>).resolve(`ok ${index}`);
      } else {
        (gates[index] as Gate<string>).reject(new Error(`failed ${index}`));
      }
    }
    await flush();
    assert.deepEqual(
      calls.map((call) => call.outcome.state),
      ['resolved', 'rejected', 'resolved', 'rejected', 'resolved', 'rejected'],
    );
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('passes the waiting caller its own context once admitted', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 1 });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    const parent = ExecutionContext.root().derive({ attempt: 3 });
    let seen: PolicyContext | undefined;
    const second = bulkhead.execute((context) => {
      seen = context;
      return 'second';
    }, parent);
    held.resolve('first');
    assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
    assert.equal(seen, parent);
  });

  it('starts each admitted synchronous work from a promise callback, so a long line cannot overflow the stack', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 50_000 });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    let ranCount = 0;
    const rest = Array.from({ length: 50_000 }, () =>
      bulkhead.execute(() => {
        ranCount += 1;
        return ranCount;
      }),
    );
    held.resolve('go');
    await first;
    const values = await Promise.all(rest);
    assert.equal(ranCount, 50_000);
    assert.equal(values[49_999], 50_000);
    assert.equal(bulkhead.inflightCount, 0);
  });
});

describe('BulkheadPolicy waiters that leave', () => {
  it('an aborted waiter leaves the queue at once, and the others keep their order', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 3, scheduler });
    const left: BulkheadDequeuedEvent[] = [];
    bulkhead.onDequeued((event) => left.push(event));
    const held = gate();
    const first = track(bulkhead.execute(() => held.promise));
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const order: number[] = [];
    const waiting = controllers.map((controller, index) =>
      track(
        bulkhead.execute(() => {
          order.push(index);
          return index;
        }, controller.signal),
      ),
    );
    scheduler.advanceMs(40);
    (controllers[1] as AbortController).abort(new Error('gave up'));
    // Leaves synchronously: its place is free for a newcomer before any promise callback runs.
    assert.equal(bulkhead.queuedCount, 2);
    assert.equal(getEventListeners((controllers[1] as AbortController).signal, 'abort').length, 0);
    const newcomer = track(bulkhead.execute(() => 'newcomer'));
    await flush();
    assert.equal(codeOf((waiting[1] as { outcome: Outcome }).outcome), 'ABORTED');
    assert.deepEqual(left, [{ outcome: 'aborted', waitMs: 40, queuedCount: 2 }]);

    held.resolve('first');
    await flush();
    assert.equal(first.outcome.state, 'resolved');
    assert.deepEqual(order, [0, 2]);
    assert.deepEqual(newcomer.outcome, { state: 'resolved', value: 'newcomer' });
    assert.deepEqual(
      left.map((event) => event.outcome),
      ['aborted', 'admitted', 'admitted', 'admitted'],
    );
    for (const controller of controllers) {
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    }
  });

  it('leaves no abort listener behind over many waiting calls on one long-lived signal', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 3, queueCountMax: 1_000 });
    const controller = new AbortController();
    setMaxListeners(2_000, controller.signal);
    const gates = Array.from({ length: 1_000 }, () => gate<number>());
    const calls = gates.map((g) => bulkhead.execute(() => g.promise, controller.signal));
    // The three running calls add no listener; each waiting call has exactly one.
    assert.equal(getEventListeners(controller.signal, 'abort').length, 997);
    gates.forEach((g, index) => {
      g.resolve(index);
    });
    const values = await Promise.all(calls);
    assert.equal(values.length, 1_000);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('leaves no abort listener when many waiters are aborted or rejected', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 100 });
    const shared = new AbortController();
    const held = gate();
    const first = bulkhead.execute(() => held.promise, shared.signal);
    for (let round = 0; round < 20; round += 1) {
      const own = new AbortController();
      setMaxListeners(200, own.signal);
      const calls = Array.from({ length: 100 }, () =>
        track(bulkhead.execute(() => 'never', own.signal)),
      );
      assert.equal(getEventListeners(own.signal, 'abort').length, 100);
      own.abort();
      assert.equal(getEventListeners(own.signal, 'abort').length, 0);
      assert.equal(bulkhead.queuedCount, 0);
      await flush();
      assert.ok(calls.every((call) => codeOf(call.outcome) === 'ABORTED'));
    }
    held.resolve('done');
    await first;
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('a waiter leaves at its deadline with DeadlineExceededError: the wait counts', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 2, scheduler });
    const left: BulkheadDequeuedEvent[] = [];
    bulkhead.onDequeued((event) => left.push(event));
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    const parent = ExecutionContext.root(undefined, Deadline.atMs(scheduler.clock, 100));
    let ran = false;
    const waiting = track(
      bulkhead.execute(() => {
        ran = true;
      }, parent),
    );
    assert.equal(scheduler.pendingCount, 1);
    scheduler.advanceMs(99);
    assert.equal(bulkhead.queuedCount, 1);
    scheduler.advanceMs(1);
    assert.equal(bulkhead.queuedCount, 0);
    await flush();
    assert.equal(codeOf(waiting.outcome), 'DEADLINE_EXCEEDED');
    assert.ok(
      waiting.outcome.state === 'rejected' &&
        isDeadlineExceededError(waiting.outcome.error) &&
        waiting.outcome.error.deadlineMs === 100 &&
        /waited for a bulkhead slot/.test(waiting.outcome.error.message),
    );
    assert.deepEqual(left, [{ outcome: 'expired', waitMs: 100, queuedCount: 0 }]);
    held.resolve('first');
    await first;
    assert.equal(ran, false);
    assert.equal(bulkhead.inflightCount, 0);
  });

  it('cancels the deadline task of a waiter that gets a slot in time', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 2, scheduler });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    const parent = ExecutionContext.root(undefined, Deadline.atMs(scheduler.clock, 100));
    const second = bulkhead.execute(() => 'second', parent);
    assert.equal(scheduler.pendingCount, 1);
    scheduler.advanceMs(50);
    held.resolve('first');
    assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('rejects at once a call that would wait with its deadline already passed', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 2, scheduler });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    scheduler.advanceMs(10);
    const parent = ExecutionContext.root(undefined, Deadline.atMs(scheduler.clock, 10));
    await assert.rejects(
      bulkhead.execute(() => 'late', parent),
      isDeadlineExceededError,
    );
    assert.equal(bulkhead.queuedCount, 0);
    assert.equal(scheduler.pendingCount, 0);
    held.resolve('first');
    await first;
  });

  it('inside a timeout, the wait for a slot counts against the timeout', async () => {
    const scheduler = new VirtualScheduler();
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 1, scheduler });
    const timeout = new TimeoutPolicy({ timeoutMs: 30, scheduler });
    const held = gate();
    const first = bulkhead.execute(() => held.promise);
    let ran = false;
    const waiting = track(
      timeout.execute(
        (context) =>
          bulkhead.execute(() => {
            ran = true;
          }, context),
        undefined,
      ),
    );
    scheduler.advanceMs(30);
    await flush();
    assert.equal(codeOf(waiting.outcome), 'DEADLINE_EXCEEDED');
    assert.equal(bulkhead.queuedCount, 0);
    held.resolve('first');
    await first;
    assert.equal(ran, false);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('releases the slot of a waiter aborted between admission and start', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 2 });
    const held = gate();
    const controller = new AbortController();
    const first = bulkhead.execute(() => held.promise);
    let ran = false;
    const second = track(
      bulkhead.execute(() => {
        ran = true;
      }, controller.signal),
    );
    const third = track(bulkhead.execute(() => 'third'));
    // The slot goes to `second` synchronously, and its work starts in a later promise
    // callback: abort in between.
    const subscription = bulkhead.onDequeued((event) => {
      if (event.outcome === 'admitted') {
        subscription.dispose();
        controller.abort();
      }
    });
    held.resolve('first');
    await first;
    await flush();
    assert.equal(ran, false);
    assert.equal(codeOf(second.outcome), 'ABORTED');
    assert.deepEqual(third.outcome, { state: 'resolved', value: 'third' });
    assert.equal(bulkhead.inflightCount, 0);
  });
});

describe('BulkheadPolicy.setConcurrencyMax', () => {
  it('raising the limit admits waiters at once; lowering it lets running calls finish', async () => {
    const bulkhead = new BulkheadPolicy({ concurrencyMax: 1, queueCountMax: 5 });
    const gates = Array.from({ length: 4 }, () => gate());
    const started: number[] = [];
    const calls = gates.map((g, index) =>
      bulkhead.execute(() => {
        started.push(index);
        return g.promise;
      }),
    );
    assert.equal(bulkhead.queuedCount, 3);
    bulkhead.setConcurrencyMax(3);
    assert.equal(bulkhead.inflightCount, 3);
    assert.equal(bulkhead.queuedCount, 1);
    await flush();
    assert.deepEqual(started, [0, 1, 2]);

    bulkhead.setConcurrencyMax(1);
    (gates[0] as Gate<string>).resolve('0');
    (gates[1] as Gate<string>).resolve('1');
    await flush();
    assert.deepEqual(started, [0, 1, 2], 'two slots freed, but the limit is now 1');
    assert.equal(bulkhead.inflightCount, 1);
    (gates[2] as Gate<string>).resolve('2');
    await flush();
    assert.deepEqual(started, [0, 1, 2, 3]);
    (gates[3] as Gate<string>).resolve('3');
    assert.deepEqual(await Promise.all(calls), ['0', '1', '2', '3']);
  });
});

describe('BulkheadPolicy against a model (property)', () => {
  type Step =
    | { readonly kind: 'call' }
    | { readonly kind: 'finish'; readonly pick: number; readonly fail: boolean }
    | { readonly kind: 'abort'; readonly pick: number }
    | { readonly kind: 'advance'; readonly deltaMs: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Step>({ kind: 'call' }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('finish' as const),
        pick: fc.nat(),
        fail: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        deltaMs: fc.integer({ min: 0, max: 50 }),
      }),
    },
  );

  it('bounds running and waiting calls, admits in arrival order, and starves no one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(step, { maxLength: 60 }),
        async (concurrencyMax, queueCountMax, steps) => {
          const scheduler = new VirtualScheduler();
          const bulkhead = new BulkheadPolicy({ concurrencyMax, queueCountMax, scheduler });
          interface Call {
            readonly id: number;
            readonly gate: Gate<number>;
            readonly controller: AbortController;
            readonly tracked: { outcome: Outcome };
          }
          const running: Call[] = [];
          const started: number[] = [];
          // The model's line: ids of calls waiting, in arrival order.
          const line: number[] = [];
          const calls: Call[] = [];
          const expectedRejects = new Set<number>();
          for (const item of steps) {
            if (item.kind === 'call') {
              const id = calls.length;
              const callGate = gate<number>();
              const controller = new AbortController();
              const startsNow = running.length < concurrencyMax && line.length === 0;
              const tracked = track(
                bulkhead.execute(() => {
                  started.push(id);
                  return callGate.promise;
                }, controller.signal),
              );
              const call = { id, gate: callGate, controller, tracked };
              calls.push(call);
              if (startsNow) {
                running.push(call);
              } else if (line.length < queueCountMax) {
                line.push(id);
              } else {
                expectedRejects.add(id);
              }
            } else if (item.kind === 'finish' && running.length > 0) {
              const [call] = running.splice(item.pick % running.length, 1) as [Call];
              if (item.fail) {
                call.gate.reject(new Error('failed'));
              } else {
                call.gate.resolve(call.id);
              }
              await flush();
              const next = line.shift();
              if (next !== undefined) {
                running.push(calls[next] as Call);
              }
            } else if (item.kind === 'abort' && line.length > 0) {
              const [id] = line.splice(item.pick % line.length, 1) as [number];
              (calls[id] as Call).controller.abort();
            } else if (item.kind === 'advance') {
              scheduler.advanceMs(item.deltaMs);
            }
            await flush();
            assert.equal(bulkhead.inflightCount, running.length);
            assert.ok(bulkhead.inflightCount <= concurrencyMax);
            assert.equal(bulkhead.queuedCount, line.length);
            assert.ok(bulkhead.queuedCount <= queueCountMax);
            assert.deepEqual(
              [...started].sort((a, b) => a - b),
              [
                ...running.map((call) => call.id),
                ...calls
                  .filter((call) => call.tracked.outcome.state !== 'pending')
                  .filter((call) => !expectedRejects.has(call.id))
                  .filter((call) => codeOf(call.tracked.outcome) !== 'ABORTED')
                  .map((call) => call.id),
              ].sort((a, b) => a - b),
            );
          }
          // Drain: finish everything; every call not rejected or aborted runs, in order.
          while (running.length > 0) {
            (running.shift() as Call).gate.resolve(0);
            await flush();
            const next = line.shift();
            if (next !== undefined) {
              running.push(calls[next] as Call);
            }
          }
          const admitted = calls
            .filter((call) => !expectedRejects.has(call.id))
            .filter((call) => codeOf(call.tracked.outcome) !== 'ABORTED')
            .map((call) => call.id);
          assert.deepEqual(started, admitted);
          for (const call of calls) {
            if (expectedRejects.has(call.id)) {
              assert.equal(codeOf(call.tracked.outcome), 'BULKHEAD_REJECTED');
            }
            assert.equal(getEventListeners(call.controller.signal, 'abort').length, 0);
          }
          assert.equal(bulkhead.inflightCount, 0);
          assert.equal(bulkhead.queuedCount, 0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
