import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type Clock,
  Deadline,
  isDeadlineExceededError,
  isInvalidArgumentError,
  type ScheduledTask,
  type Scheduler,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  isLoadShedError,
  LoadShedder,
  LoadShedError,
  type LoadShedEvent,
  type LoadShedLevelEvent,
} from '../../src/resilience/load-shedder.js';
import { ExecutionContext } from '../../src/resilience/policy.js';

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

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

/** `reason` of a LoadShedError outcome, the error code of another rejection, or the state. */
function describeOutcome(outcome: Outcome): string {
  if (outcome.state !== 'rejected') {
    return outcome.state;
  }
  return isLoadShedError(outcome.error)
    ? `shed:${outcome.error.reason}`
    : ((outcome.error as { code?: string }).code ?? '?');
}

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

const threeClasses = ['critical', 'normal', 'background'] as const;

describe('LoadShedder options', () => {
  const valid = { priorities: threeClasses, concurrencyMax: 2, queueCountMax: 4 };

  it('rejects bad priority lists', () => {
    const lists: unknown[] = [
      undefined,
      [],
      'critical',
      ['a', 'a'],
      ['a', ''],
      ['a', 3],
      Array.from({ length: 33 }, (_, index) => `p${index}`),
    ];
    for (const priorities of lists) {
      assert.throws(
        () => new LoadShedder({ ...valid, priorities } as never),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument.startsWith('LoadShedder options.priorities'),
        `priorities ${JSON.stringify(priorities)}`,
      );
    }
    const most = Array.from({ length: 32 }, (_, index) => `p${index}`);
    assert.equal(new LoadShedder({ ...valid, priorities: most }).priorities.length, 32);
  });

  it('rejects bad bounds and delay settings, naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ concurrencyMax: 0 }, 'concurrencyMax'],
      [{ concurrencyMax: 1.5 }, 'concurrencyMax'],
      [{ queueCountMax: undefined }, 'queueCountMax'],
      [{ queueCountMax: -1 }, 'queueCountMax'],
      [{ queueDelayMsTarget: -1 }, 'queueDelayMsTarget'],
      [{ queueDelayMsTarget: Number.NaN }, 'queueDelayMsTarget'],
      [{ queueDelayIntervalMs: 0 }, 'queueDelayIntervalMs'],
      [{ queueDelayIntervalMs: Number.POSITIVE_INFINITY }, 'queueDelayIntervalMs'],
    ];
    for (const [change, option] of cases) {
      assert.throws(
        () => new LoadShedder({ ...valid, ...change } as never),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === `LoadShedder options.${option}`,
        option,
      );
    }
    assert.throws(() => new LoadShedder(null as never), isInvalidArgumentError);
  });

  it('hands out one policy per class, and refuses unknown classes', () => {
    const shedder = new LoadShedder(valid);
    const critical = shedder.policy('critical');
    assert.equal(critical.priority, 'critical');
    assert.equal(shedder.policy('critical'), critical);
    assert.notEqual(shedder.policy('normal'), critical);
    assert.throws(
      () => shedder.policy('urgent' as never),
      (error: unknown) =>
        isInvalidArgumentError(error) && /'critical', 'normal'/.test(error.message),
    );
    assert.throws(() => shedder.execute('urgent' as never, () => 1), isInvalidArgumentError);
    assert.deepEqual(shedder.priorities, threeClasses);
    assert.equal(shedder.concurrencyMax, 2);
    assert.equal(shedder.queueCountMax, 4);
  });
});

describe('LoadShedder admission', () => {
  it('runs a call with a free slot at once, without clock, timer or listener', async () => {
    const scheduler = new CountingScheduler();
    const shedder = new LoadShedder({
      priorities: threeClasses,
      concurrencyMax: 3,
      queueCountMax: 10,
      queueDelayMsTarget: 5,
      scheduler,
    });
    const controller = new AbortController();
    const parent = ExecutionContext.root(
      controller.signal,
      Deadline.atMs(scheduler.inner.clock, 9),
    );
    for (let index = 0; index < 500; index += 1) {
      const values = await Promise.all(
        threeClasses.map((priority) =>
          shedder.policy(priority).execute(() => Promise.resolve(priority), parent),
        ),
      );
      assert.deepEqual(values, threeClasses);
    }
    assert.equal(await shedder.execute('background', () => 'sync'), 'sync');
    assert.equal(scheduler.clockReadCount, 0);
    assert.equal(scheduler.scheduleCount, 0);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(shedder.inflightCount, 0);
  });

  it('serves the highest class first, oldest first within a class', async () => {
    const shedder = new LoadShedder({
      priorities: threeClasses,
      concurrencyMax: 1,
      queueCountMax: 10,
    });
    const held = gate();
    const first = shedder.execute('background', () => held.promise);
    const order: string[] = [];
    const arrivals = [
      ['background', 'b1'],
      ['normal', 'n1'],
      ['critical', 'c1'],
      ['normal', 'n2'],
      ['background', 'b2'],
      ['critical', 'c2'],
    ] as const;
    const calls = arrivals.map(([priority, name]) =>
      shedder.execute(priority, () => {
        order.push(name);
      }),
    );
    assert.equal(shedder.queuedCount, 6);
    assert.equal(shedder.queuedCountOf('normal'), 2);
    held.resolve('first');
    await Promise.all([first, ...calls]);
    assert.deepEqual(order, ['c1', 'c2', 'n1', 'n2', 'b1', 'b2']);
    assert.equal(shedder.inflightCount, 0);
  });

  it('with a full queue, evicts the oldest call of the lowest class below the newcomer', async () => {
    const shedder = new LoadShedder({
      priorities: threeClasses,
      concurrencyMax: 1,
      queueCountMax: 2,
    });
    const shed: LoadShedEvent[] = [];
    shedder.onShed((event) => shed.push(event));
    const held = gate();
    const first = shedder.execute('normal', () => held.promise);
    const b1 = track(shedder.execute('background', () => 'b1'));
    const b2 = track(shedder.execute('background', () => 'b2'));
    const c1 = track(shedder.execute('critical', () => 'c1'));
    const n1 = track(shedder.execute('normal', () => 'n1'));
    const b3 = track(shedder.execute('background', () => 'b3'));
    const n2 = track(shedder.execute('normal', () => 'n2'));
    const c2 = track(shedder.execute('critical', () => 'c2'));
    const c3 = track(shedder.execute('critical', () => 'c3'));
    await flush();
    assert.deepEqual(
      [b1, b2, c1, n1, b3, n2, c2, c3].map((call) => describeOutcome(call.outcome)),
      [
        'shed:evicted', // by c1
        'shed:evicted', // by n1
        'pending',
        'shed:evicted', // by c2
        'shed:queue-full', // nothing below background
        'shed:queue-full', // the queue holds c1 and n1: nothing below normal
        'pending',
        'shed:queue-full', // full of critical calls
      ],
    );
    assert.deepEqual(shed, [
      { priority: 'background', reason: 'evicted' },
      { priority: 'background', reason: 'evicted' },
      { priority: 'background', reason: 'queue-full' },
      { priority: 'normal', reason: 'queue-full' },
      { priority: 'normal', reason: 'evicted' },
      { priority: 'critical', reason: 'queue-full' },
    ]);
    const error = (b1.outcome as { error: unknown }).error;
    assert.ok(error instanceof LoadShedError);
    assert.equal(error.code, 'LOAD_SHED');
    assert.equal(error.priority, 'background');
    assert.match(error.message, /'background' call was shed: .*higher priority took its place/);
    held.resolve('first');
    await first;
    await flush();
    assert.deepEqual(c1.outcome, { state: 'resolved', value: 'c1' });
    assert.deepEqual(c2.outcome, { state: 'resolved', value: 'c2' });
  });

  it('a waiting call leaves at once when aborted, and at its deadline', async () => {
    const scheduler = new VirtualScheduler();
    const shedder = new LoadShedder({
      priorities: threeClasses,
      concurrencyMax: 1,
      queueCountMax: 5,
      scheduler,
    });
    const held = gate();
    const first = shedder.execute('critical', () => held.promise);
    const controller = new AbortController();
    const aborted = track(shedder.execute('normal', () => 'aborted', controller.signal));
    const late = track(
      shedder.execute(
        'critical',
        () => 'late',
        ExecutionContext.root(undefined, Deadline.atMs(scheduler.clock, 40)),
      ),
    );
    const onTime = track(
      shedder.execute(
        'background',
        () => 'on time',
        ExecutionContext.root(undefined, Deadline.atMs(scheduler.clock, 100)),
      ),
    );
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort();
    assert.equal(shedder.queuedCount, 2);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    scheduler.advanceMs(40);
    assert.equal(shedder.queuedCount, 1);
    await flush();
    assert.equal(describeOutcome(aborted.outcome), 'ABORTED');
    assert.ok(late.outcome.state === 'rejected' && isDeadlineExceededError(late.outcome.error));
    held.resolve('first');
    await first;
    await flush();
    assert.deepEqual(onTime.outcome, { state: 'resolved', value: 'on time' });
    assert.equal(scheduler.pendingCount, 0, 'the admitted waiter deadline task was cancelled');
  });
});

describe('LoadShedder queueing-delay controller (virtual time)', () => {
  function setUp() {
    const scheduler = new VirtualScheduler();
    const shedder = new LoadShedder({
      priorities: threeClasses,
      concurrencyMax: 1,
      queueCountMax: 100,
      queueDelayMsTarget: 10,
      queueDelayIntervalMs: 100,
      scheduler,
    });
    const levels: (LoadShedLevelEvent & { atMs: number })[] = [];
    shedder.onLevelChange((event) => levels.push({ ...event, atMs: scheduler.clock.nowMs() }));
    return { scheduler, shedder, levels };
  }

  it('sheds one more class per interval above target, and lets them back one per interval below', async () => {
    const { scheduler, shedder, levels } = setUp();
    const held = gate();
    const first = shedder.execute('critical', () => held.promise);
    const waiting = threeClasses.map((priority) =>
      track(shedder.execute(priority, () => priority)),
    );
    // The delay passes the target at 10 ms; a whole interval above it ends at 110 ms.
    scheduler.advanceMs(109);
    assert.equal(shedder.shedLevel, 0);
    assert.equal(shedder.queueDelayMs(), 109);
    scheduler.advanceMs(1);
    assert.equal(shedder.shedLevel, 1);
    assert.deepEqual(shedder.shedPriorities, ['background']);
    await flush();
    assert.equal(describeOutcome((waiting[2] as { outcome: Outcome }).outcome), 'shed:overloaded');
    assert.equal(shedder.queuedCount, 2);

    // Shed classes that would have to wait are refused at once.
    scheduler.advanceMs(40);
    const refused = track(shedder.execute('background', () => 'refused'));
    await flush();
    assert.equal(describeOutcome(refused.outcome), 'shed:overloaded');

    scheduler.advanceToMs(210);
    assert.equal(shedder.shedLevel, 2);
    await flush();
    assert.equal(describeOutcome((waiting[1] as { outcome: Outcome }).outcome), 'shed:overloaded');
    assert.equal(shedder.queuedCountOf('critical'), 1);
    // The highest class is never shed by the controller: no further step is even planned.
    assert.equal(scheduler.pendingCount, 0);
    scheduler.advanceToMs(400);
    assert.equal(shedder.shedLevel, 2);

    // The critical waiter gets the slot at 400 ms; the queue is empty from then on.
    held.resolve('first');
    await first;
    await flush();
    assert.deepEqual((waiting[0] as { outcome: Outcome }).outcome, {
      state: 'resolved',
      value: 'critical',
    });
    // Shed classes still run when a slot is free: no one waits, so no one is delayed.
    assert.equal(await shedder.execute('background', () => 'free slot'), 'free slot');
    scheduler.advanceToMs(499);
    assert.equal(shedder.shedLevel, 2);
    scheduler.advanceToMs(500);
    assert.equal(shedder.shedLevel, 1);
    scheduler.advanceToMs(600);
    assert.equal(shedder.shedLevel, 0);
    assert.equal(scheduler.pendingCount, 0);
    assert.deepEqual(
      levels.map(({ atMs, level, previousLevel, shedPriorities, queueDelayMs }) => ({
        atMs,
        level,
        previousLevel,
        shedPriorities,
        queueDelayMs,
      })),
      [
        {
          atMs: 110,
          level: 1,
          previousLevel: 0,
          shedPriorities: ['background'],
          queueDelayMs: 110,
        },
        {
          atMs: 210,
          level: 2,
          previousLevel: 1,
          shedPriorities: ['normal', 'background'],
          queueDelayMs: 210,
        },
        { atMs: 500, level: 1, previousLevel: 2, shedPriorities: ['background'], queueDelayMs: 0 },
        { atMs: 600, level: 0, previousLevel: 1, shedPriorities: [], queueDelayMs: 0 },
      ],
    );
  });

  it('ignores a burst: a delay above target for less than an interval sheds nothing', async () => {
    const { scheduler, shedder, levels } = setUp();
    for (let round = 0; round < 5; round += 1) {
      const held = gate();
      const first = shedder.execute('critical', () => held.promise);
      const waiting = shedder.execute('background', () => 'b');
      // Above target from 10 ms after the wait starts, for 99 ms: one short of an interval.
      scheduler.advanceMs(109);
      held.resolve('done');
      await first;
      assert.equal(await waiting, 'b');
      scheduler.advanceMs(5);
    }
    assert.equal(shedder.shedLevel, 0);
    assert.deepEqual(levels, []);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('measures the stretch above target across departures, and restarts it after a dip', async () => {
    const { scheduler, shedder, levels } = setUp();
    const gates = [gate(), gate(), gate()];
    const first = shedder.execute('critical', () => (gates[0] as Gate<string>).promise);
    // Three waiters that arrive at 0, 30 and 60 ms.
    const waiting = [gate(), gate(), gate()];
    const calls: Promise<string>[] = [];
    for (let index = 0; index < 3; index += 1) {
      calls.push(shedder.execute('normal', () => (waiting[index] as Gate<string>).promise));
      scheduler.advanceMs(30);
    }
    // At 90 ms the oldest (0 ms) gets the slot; the next oldest (30 ms) is 60 ms old,
    // still above target: the stretch above, which began at 10 ms, goes on.
    (gates[0] as Gate<string>).resolve('first');
    await first;
    scheduler.advanceToMs(109);
    assert.equal(shedder.shedLevel, 0);
    scheduler.advanceToMs(110);
    assert.equal(shedder.shedLevel, 1);
    // At 150 ms the waiter of 30 ms gets the slot; the one of 60 ms is 90 ms old: still above.
    scheduler.advanceToMs(150);
    (waiting[0] as Gate<string>).resolve('w0');
    await flush();
    assert.equal(shedder.queueDelayMs(), 150 - 60);
    // At 160 ms the last waiter gets the slot; the queue empties: a stretch below begins.
    scheduler.advanceToMs(160);
    (waiting[1] as Gate<string>).resolve('w1');
    await flush();
    assert.equal(shedder.queuedCount, 0);
    // A new waiter at 200 ms crosses the target at 210 ms, before the 260 ms step down:
    // the level stays, and the next step up is due a whole interval after 210 ms.
    scheduler.advanceToMs(200);
    const late = shedder.execute('critical', () => 'late');
    scheduler.advanceToMs(309);
    assert.equal(shedder.shedLevel, 1);
    scheduler.advanceToMs(310);
    assert.equal(shedder.shedLevel, 2);
    (waiting[2] as Gate<string>).resolve('w2');
    assert.equal(await late, 'late');
    await Promise.all(calls);
    scheduler.advanceToMs(1_000);
    assert.equal(shedder.shedLevel, 0);
    assert.deepEqual(
      levels.map(({ atMs, level }) => [atMs, level]),
      [
        [110, 1],
        [310, 2],
        [410, 1],
        [510, 0],
      ],
    );
  });
});

describe('LoadShedder against a model (property)', () => {
  type Step =
    | { readonly kind: 'call'; readonly classIndex: number }
    | { readonly kind: 'finish'; readonly pick: number }
    | { readonly kind: 'abort'; readonly pick: number };

  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('call' as const), classIndex: fc.nat(2) }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  );

  it('bounds the counts, serves by class then age, and evicts the lowest class first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(step, { maxLength: 60 }),
        async (concurrencyMax, queueCountMax, steps) => {
          const shedder = new LoadShedder({
            priorities: threeClasses,
            concurrencyMax,
            queueCountMax,
          });
          interface Call {
            readonly id: number;
            readonly classIndex: number;
            readonly gate: Gate<number>;
            readonly controller: AbortController;
            readonly tracked: { outcome: Outcome };
          }
          const calls: Call[] = [];
          const running: Call[] = [];
          const line: Call[] = []; // the model's queue, in arrival order
          const started: number[] = [];
          const expected = new Map<number, string>();
          for (const item of steps) {
            if (item.kind === 'call') {
              const id = calls.length;
              const callGate = gate<number>();
              const controller = new AbortController();
              const tracked = track(
                shedder.policy(threeClasses[item.classIndex] as 'critical').execute(() => {
                  started.push(id);
                  return callGate.promise;
                }, controller.signal),
              );
              const call = { id, classIndex: item.classIndex, gate: callGate, controller, tracked };
              calls.push(call);
              if (running.length < concurrencyMax) {
                running.push(call);
              } else if (line.length < queueCountMax) {
                line.push(call);
              } else {
                const lowest = Math.max(-1, ...line.map((waiting) => waiting.classIndex));
                if (lowest > item.classIndex) {
                  const victim = line.findIndex((waiting) => waiting.classIndex === lowest);
                  const [evicted] = line.splice(victim, 1) as [Call];
                  expected.set(evicted.id, 'shed:evicted');
                  line.push(call);
                } else {
                  expected.set(id, 'shed:queue-full');
                }
              }
            } else if (item.kind === 'finish' && running.length > 0) {
              const [call] = running.splice(item.pick % running.length, 1) as [Call];
              call.gate.resolve(call.id);
              expected.set(call.id, 'resolved');
              if (line.length > 0) {
                const best = Math.min(...line.map((waiting) => waiting.classIndex));
                const next = line.findIndex((waiting) => waiting.classIndex === best);
                running.push(line.splice(next, 1)[0] as Call);
              }
            } else if (item.kind === 'abort' && line.length > 0) {
              const [call] = line.splice(item.pick % line.length, 1) as [Call];
              call.controller.abort();
              expected.set(call.id, 'ABORTED');
            }
            await flush();
            assert.equal(shedder.inflightCount, running.length);
            assert.ok(shedder.inflightCount <= concurrencyMax);
            assert.equal(shedder.queuedCount, line.length);
            assert.ok(shedder.queuedCount <= queueCountMax);
            threeClasses.forEach((priority, index) => {
              assert.equal(
                shedder.queuedCountOf(priority),
                line.filter((call) => call.classIndex === index).length,
              );
            });
            assert.deepEqual(
              [...started].sort((a, b) => a - b),
              calls
                .filter((call) => running.includes(call) || expected.get(call.id) === 'resolved')
                .map((call) => call.id),
            );
            for (const call of calls) {
              assert.equal(
                describeOutcome(call.tracked.outcome),
                expected.get(call.id) ?? 'pending',
              );
            }
          }
          for (const call of calls) {
            call.gate.resolve(call.id);
            call.controller.abort();
          }
          await flush();
          for (const call of calls) {
            assert.equal(getEventListeners(call.controller.signal, 'abort').length, 0);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps the level in range and never lets a shed class wait, under random load', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            classIndex: fc.nat(2),
            gapMs: fc.integer({ min: 0, max: 40 }),
            serviceMs: fc.integer({ min: 1, max: 120 }),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 150 }),
        async (arrivals, targetMs, intervalMs) => {
          const scheduler = new VirtualScheduler();
          const shedder = new LoadShedder({
            priorities: threeClasses,
            concurrencyMax: 2,
            queueCountMax: 6,
            queueDelayMsTarget: targetMs,
            queueDelayIntervalMs: intervalMs,
            scheduler,
          });
          const changes: { atMs: number; level: number; previousLevel: number }[] = [];
          shedder.onLevelChange(({ level, previousLevel }) =>
            changes.push({ atMs: scheduler.clock.nowMs(), level, previousLevel }),
          );
          const check = () => {
            const level = shedder.shedLevel;
            assert.ok(level >= 0 && level <= 2);
            threeClasses.forEach((priority, index) => {
              if (index > 2 - level) {
                assert.equal(shedder.queuedCountOf(priority), 0, `${priority} waits at ${level}`);
              }
            });
          };
          const settled: Promise<unknown>[] = [];
          for (const { classIndex, gapMs, serviceMs } of arrivals) {
            scheduler.advanceMs(gapMs);
            await flush();
            check();
            settled.push(
              shedder
                .policy(threeClasses[classIndex] as 'critical')
                .execute(
                  () =>
                    new Promise<void>((resolve) => {
                      scheduler.schedule(serviceMs, resolve);
                    }),
                )
                .catch((error: unknown) => {
                  if (!isLoadShedError(error)) {
                    throw error;
                  }
                }),
            );
            check();
          }
          for (let guard = 0; guard < 10_000 && scheduler.pendingCount > 0; guard += 1) {
            scheduler.runNext();
            await flush();
            check();
          }
          await Promise.all(settled);
          assert.equal(shedder.inflightCount, 0);
          assert.equal(shedder.queuedCount, 0);
          assert.equal(shedder.shedLevel, 0, 'an idle shedder recovers fully');
          // One step at a time, never faster than one interval apart.
          changes.forEach((change, index) => {
            assert.equal(Math.abs(change.level - change.previousLevel), 1);
            if (index > 0) {
              assert.ok(change.atMs - (changes[index - 1] as { atMs: number }).atMs >= intervalMs);
            }
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});
