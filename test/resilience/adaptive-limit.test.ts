import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DeadlineExceededError,
  isInvalidArgumentError,
  ManualClock,
  SeededRandom,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  AdaptiveConcurrencyPolicy,
  classifyOverloadErrors,
  type LimitChangeEvent,
} from '../../src/resilience/adaptive-concurrency.js';
import {
  AimdLimit,
  GradientLimit,
  type Limit,
  type LimitSample,
} from '../../src/resilience/adaptive-limit.js';
import { BulkheadRejectedError, isBulkheadRejectedError } from '../../src/resilience/bulkhead.js';
import { LoadShedError } from '../../src/resilience/load-shedder.js';

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sample(rttMs: number, inflightCount: number, dropped = false): LimitSample {
  return { rttMs, inflightCount, dropped };
}

describe('limit options', () => {
  it('AimdLimit rejects bad bounds, thresholds and ratios, naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ limitMin: 0 }, 'limitMin'],
      [{ limitMin: 5, limitMax: 4 }, 'limitMax'],
      [{ limitInitial: 0 }, 'limitInitial'],
      [{ limitMax: 10, limitInitial: 11 }, 'limitInitial'],
      [{ limitInitial: 2.5 }, 'limitInitial'],
      [{ rttMsThreshold: 0 }, 'rttMsThreshold'],
      [{ rttMsThreshold: Number.NaN }, 'rttMsThreshold'],
      [{ backoffRatio: 0 }, 'backoffRatio'],
      [{ backoffRatio: 1 }, 'backoffRatio'],
      [{ backoffRatio: 1.5 }, 'backoffRatio'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new AimdLimit(options as never),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === `AimdLimit options.${option}`,
        option,
      );
    }
    const limit = new AimdLimit({ limitMin: 20, limitMax: 30 });
    assert.equal(limit.limit, 20, 'the default start is kept within the bounds');
  });

  it('GradientLimit rejects bad options, naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ limitMin: 0 }, 'limitMin'],
      [{ windowSampleCount: 0 }, 'windowSampleCount'],
      [{ rttToleranceRatio: 0.9 }, 'rttToleranceRatio'],
      [{ smoothingRatio: 0 }, 'smoothingRatio'],
      [{ smoothingRatio: 1.1 }, 'smoothingRatio'],
      [{ backoffRatio: 1 }, 'backoffRatio'],
      [{ probeIntervalMs: 0 }, 'probeIntervalMs'],
      [{ queueAllowance: 3 }, 'queueAllowance'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new GradientLimit(options as never),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === `GradientLimit options.${option}`,
        option,
      );
    }
    assert.equal(new GradientLimit({ limitMax: 8 }).limit, 8);
  });

  it('both reject malformed samples', () => {
    for (const limit of [new AimdLimit(), new GradientLimit()]) {
      for (const bad of [
        sample(-1, 1),
        sample(Number.NaN, 1),
        sample(1, -1),
        sample(1, 1.5),
        { rttMs: 1, inflightCount: 1 },
        null,
      ]) {
        assert.throws(() => limit.addSample(bad as never), isInvalidArgumentError);
      }
    }
  });
});

describe('AimdLimit', () => {
  it('adds 1/limit per fine call while in use, and multiplies by backoffRatio on a drop or a slow call', () => {
    const clock = new ManualClock();
    const limit = new AimdLimit({
      limitInitial: 10,
      rttMsThreshold: 100,
      backoffRatio: 0.5,
      clock,
    });
    clock.advanceToMs(1_000);
    // 10 + 1/10: the limit reported is the integer part.
    assert.equal(limit.addSample(sample(50, 5)), 10);
    // Fewer than half the slots in use: no growth.
    assert.equal(limit.addSample(sample(50, 4)), 10);
    for (let index = 0; index < 9; index += 1) {
      limit.addSample(sample(50, 10));
    }
    assert.equal(limit.limit, 10);
    assert.equal(
      limit.addSample(sample(50, 10)),
      11,
      'one more slot after about one limit of calls',
    );
    // A drop halves: 11.0... * 0.5.
    assert.equal(limit.addSample(sample(50, 11, true)), 5);
    // A call that started before that decrease (at 950 ms) does not cut again.
    assert.equal(limit.addSample(sample(60, 11, true)), 5);
    assert.equal(limit.addSample(sample(500, 11)), 5);
    // One that started after it does: slower than the threshold counts as a drop.
    clock.advanceToMs(1_200);
    assert.equal(limit.addSample(sample(150, 5)), 2);
    clock.advanceToMs(2_000);
    assert.equal(limit.addSample(sample(1, 2, true)), 1);
    clock.advanceToMs(3_000);
    assert.equal(limit.addSample(sample(1, 1, true)), 1, 'never below limitMin');
  });

  it('never grows past limitMax', () => {
    const limit = new AimdLimit({ limitInitial: 2, limitMax: 3, clock: new ManualClock() });
    for (let index = 0; index < 100; index += 1) {
      limit.addSample(sample(1, 3));
    }
    assert.equal(limit.limit, 3);
  });
});

describe('GradientLimit', () => {
  it('scales the limit by the latency ratio each window, plus the queue allowance', () => {
    const clock = new ManualClock();
    const limit = new GradientLimit({
      limitInitial: 10,
      windowSampleCount: 2,
      rttToleranceRatio: 1,
      smoothingRatio: 1,
      queueAllowance: () => 1,
      probeIntervalMs: 1_000,
      clock,
    });
    assert.equal(limit.rttMsNoLoad, undefined);
    assert.equal(limit.addSample(sample(10, 10)), 10, 'nothing changes inside a window');
    // Window 1 measures the no-load latency (10 ms); gradient 1: 10 + 1.
    assert.equal(limit.addSample(sample(10, 10)), 11);
    assert.equal(limit.rttMsNoLoad, 10);
    // Window 2 at 20 ms: gradient 10 / 20 = 0.5, so 11 * 0.5 + 1 = 6.5.
    limit.addSample(sample(20, 11));
    assert.equal(limit.addSample(sample(20, 11)), 6);
    // Window 3 at 15 ms: 6.5 * (10 / 15) + 1 = 5.33.
    limit.addSample(sample(15, 6));
    assert.equal(limit.addSample(sample(15, 6)), 5);
    // A window with a drop: 5.33 * 0.9 = 4.8.
    limit.addSample(sample(15, 5, true));
    assert.equal(limit.addSample(sample(15, 5)), 4);
    // A window that used less than half the limit does not grow it, however fast.
    clock.advanceToMs(1_000);
    limit.addSample(sample(10, 1));
    assert.equal(limit.addSample(sample(10, 2)), 1, 'the probe interval has passed: probing');
    assert.equal(limit.probing, true);
    // The probe counts only calls admitted at limitMin, and replaces the no-load latency.
    assert.equal(limit.addSample(sample(99, 3)), 1);
    assert.equal(limit.addSample(sample(30, 1, true)), 1);
    assert.equal(limit.addSample(sample(30, 1)), 1);
    assert.equal(limit.addSample(sample(30, 1)), 4, 'the estimate is back after the probe');
    assert.equal(limit.probing, false);
    assert.equal(limit.rttMsNoLoad, 30);
    // At 30 ms the latency is now the no-load one: gradient 1, 4.8 + 1.
    limit.addSample(sample(30, 4));
    assert.equal(limit.addSample(sample(30, 4)), 5);
  });

  it('moves a smoothingRatio of the way to its target', () => {
    const limit = new GradientLimit({
      limitInitial: 10,
      windowSampleCount: 1,
      smoothingRatio: 0.5,
      queueAllowance: () => 4,
      clock: new ManualClock(),
    });
    assert.equal(limit.addSample(sample(10, 10)), 12, '10 + (14 - 10) * 0.5');
    assert.throws(
      () =>
        new GradientLimit({
          windowSampleCount: 1,
          queueAllowance: () => Number.NaN,
          clock: new ManualClock(),
        }).addSample(sample(1, 1)),
      isInvalidArgumentError,
    );
  });
});

describe('limits stay within their bounds (property)', () => {
  const samples = fc.array(
    fc.record({
      rttMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
      inflightCount: fc.nat(2_000),
      dropped: fc.boolean(),
      advanceMs: fc.integer({ min: 0, max: 5_000 }),
    }),
    { maxLength: 300 },
  );
  const bounds = fc
    .tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 200 }))
    .map(([limitMin, extra]) => ({ limitMin, limitMax: limitMin + extra }));

  for (const name of ['AimdLimit', 'GradientLimit'] as const) {
    it(`${name}: every limit is an integer within [limitMin, limitMax]`, () => {
      fc.assert(
        fc.property(bounds, fc.double({ min: 0, max: 1, noNaN: true }), samples, (b, at, list) => {
          const clock = new ManualClock();
          const limitInitial = b.limitMin + Math.floor(at * (b.limitMax - b.limitMin));
          const limit: Limit =
            name === 'AimdLimit'
              ? new AimdLimit({ ...b, limitInitial, rttMsThreshold: 500, clock })
              : new GradientLimit({
                  ...b,
                  limitInitial,
                  windowSampleCount: 3,
                  probeIntervalMs: 2_000,
                  clock,
                });
          for (const { rttMs, inflightCount, dropped, advanceMs } of list) {
            clock.advanceMs(advanceMs);
            const value = limit.addSample({ rttMs, inflightCount, dropped });
            assert.equal(value, limit.limit);
            assert.ok(Number.isSafeInteger(value));
            assert.ok(value >= b.limitMin && value <= b.limitMax, `${value} outside ${b}`);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('AimdLimit: a fine sample never lowers the limit, a drop never raises it', () => {
    fc.assert(
      fc.property(samples, (list) => {
        const clock = new ManualClock();
        const limit = new AimdLimit({ limitInitial: 50, limitMax: 400, clock });
        for (const { rttMs, inflightCount, dropped, advanceMs } of list) {
          clock.advanceMs(advanceMs);
          const before = limit.limit;
          const after = limit.addSample({ rttMs, inflightCount, dropped });
          assert.ok(dropped ? after <= before : after >= before);
        }
      }),
    );
  });
});

// A simulated dependency: `capacity` workers serve calls first come, first served, each
// in `serviceMs` (with +-10% seeded jitter). Up to `capacity` calls in flight, latency is
// the service time; beyond, calls queue and latency grows linearly with the excess. Its
// clients always have more work than the limit lets through (a saturated closed loop).

interface Scenario {
  readonly capacity: number;
  readonly serviceMs: number;
  readonly durationMs: number;
  /** Calls from other clients already queued at the start: the dependency starts overloaded. */
  readonly backlogCount?: number;
  /** Calls finishing in [dropFromMs, dropUntilMs) fail with probability dropProbability. */
  readonly dropFromMs?: number;
  readonly dropUntilMs?: number;
  readonly dropProbability?: number;
  /** From `slowdownAtMs` on, the service time is `serviceMsAfter`. */
  readonly slowdownAtMs?: number;
  readonly serviceMsAfter?: number;
  readonly seed: number;
}

/** Runs a scenario; returns the limit every 100 ms, except while a gradient limit probes. */
function simulate(
  makeLimit: (clock: ManualClock) => Limit,
  scenario: Scenario,
): { atMs: number; limit: number }[] {
  const scheduler = new VirtualScheduler();
  const random = new SeededRandom({ seed: scenario.seed });
  const limit = makeLimit(scheduler.clock);
  let busyCount = 0;
  const waiting: (() => void)[] = [];
  const serve = (done: () => void): void => {
    busyCount += 1;
    const slow =
      scenario.slowdownAtMs !== undefined && scheduler.clock.nowMs() >= scenario.slowdownAtMs;
    const serviceMs = slow ? (scenario.serviceMsAfter as number) : scenario.serviceMs;
    scheduler.schedule(serviceMs * (0.9 + 0.2 * random.float()), () => {
      busyCount -= 1;
      const next = waiting.shift();
      if (next !== undefined) {
        serve(next);
      }
      done();
    });
  };
  const submit = (done: () => void): void => {
    if (busyCount < scenario.capacity) {
      serve(done);
    } else {
      waiting.push(done);
    }
  };
  for (let index = 0; index < (scenario.backlogCount ?? 0); index += 1) {
    submit(() => {});
  }
  let inflightCount = 0;
  const fill = (): void => {
    while (inflightCount < limit.limit) {
      inflightCount += 1;
      const admittedCount = inflightCount;
      const startedAtMs = scheduler.clock.nowMs();
      submit(() => {
        inflightCount -= 1;
        const nowMs = scheduler.clock.nowMs();
        const dropped =
          nowMs >= (scenario.dropFromMs ?? Number.POSITIVE_INFINITY) &&
          nowMs < (scenario.dropUntilMs ?? Number.POSITIVE_INFINITY) &&
          random.boolean(scenario.dropProbability ?? 1);
        const value = limit.addSample({
          rttMs: nowMs - startedAtMs,
          inflightCount: admittedCount,
          dropped,
        });
        assert.ok(value >= limit.limitMin && value <= limit.limitMax);
        fill();
      });
    }
  };
  fill();
  const trace: { atMs: number; limit: number }[] = [];
  for (let atMs = 100; atMs <= scenario.durationMs; atMs += 100) {
    scheduler.advanceToMs(atMs);
    if (!(limit instanceof GradientLimit && limit.probing)) {
      trace.push({ atMs, limit: limit.limit });
    }
  }
  return trace;
}

function limitsBetween(
  trace: readonly { atMs: number; limit: number }[],
  fromMs: number,
  untilMs: number,
): number[] {
  return trace.filter(({ atMs }) => atMs >= fromMs && atMs < untilMs).map(({ limit }) => limit);
}

function assertBand(limits: readonly number[], lowest: number, highest: number, what: string) {
  assert.ok(limits.length > 0, what);
  const low = Math.min(...limits);
  const high = Math.max(...limits);
  assert.ok(
    low >= lowest && high <= highest,
    `${what}: limits ${low}..${high}, band ${lowest}..${highest}`,
  );
}

const capacity = 20;
const serviceMs = 10;
// The band "near the capacity": AIMD settles where latency reaches its threshold (here
// 1.25 times the service time: 25% queueing), the gradient where latency reaches its
// tolerance plus the queue allowance.
const bandLowest = Math.floor(capacity * 0.75);
const bandHighest = Math.ceil(capacity * 1.5);

const algorithms: readonly {
  name: string;
  make: (clock: ManualClock, limitInitial: number) => Limit;
}[] = [
  {
    name: 'AimdLimit',
    make: (clock, limitInitial) =>
      new AimdLimit({ limitInitial, limitMax: 200, rttMsThreshold: serviceMs * 1.25, clock }),
  },
  {
    name: 'GradientLimit',
    make: (clock, limitInitial) =>
      new GradientLimit({
        limitInitial,
        limitMax: 200,
        rttToleranceRatio: 1.1,
        probeIntervalMs: 5_000,
        clock,
      }),
  },
];

describe('adaptive limits against a simulated dependency (virtual time)', () => {
  for (const { name, make } of algorithms) {
    for (const seed of [1, 2, 3]) {
      it(`${name} converges near the capacity from below (seed ${seed})`, () => {
        const trace = simulate((clock) => make(clock, 1), {
          capacity,
          serviceMs,
          durationMs: 20_000,
          seed,
        });
        assertBand(limitsBetween(trace, 5_000, 20_000), bandLowest, bandHighest, name);
      });

      it(`${name} converges near the capacity from above, on an overloaded dependency (seed ${seed})`, () => {
        const trace = simulate((clock) => make(clock, 4 * capacity), {
          capacity,
          serviceMs,
          durationMs: 20_000,
          backlogCount: 3 * capacity,
          seed,
        });
        assertBand(limitsBetween(trace, 10_000, 20_000), bandLowest, bandHighest, name);
      });

      it(`${name} backs off on errors and recovers after them (seed ${seed})`, () => {
        const trace = simulate((clock) => make(clock, capacity), {
          capacity,
          serviceMs,
          durationMs: 30_000,
          dropFromMs: 10_000,
          dropUntilMs: 15_000,
          dropProbability: 0.3,
          seed,
        });
        const before = limitsBetween(trace, 5_000, 10_000);
        const during = limitsBetween(trace, 13_000, 15_000);
        assertBand(before, bandLowest, bandHighest, `${name} before the errors`);
        assert.ok(
          Math.max(...during) <= capacity / 2,
          `${name} during the errors: ${Math.max(...during)}`,
        );
        assertBand(limitsBetween(trace, 25_000, 30_000), bandLowest, bandHighest, `${name} after`);
      });
    }
  }

  it('GradientLimit follows a dependency that gets slower at every load, through its probe', () => {
    const trace = simulate((clock) => (algorithms[1] as (typeof algorithms)[1]).make(clock, 20), {
      capacity,
      serviceMs,
      durationMs: 30_000,
      slowdownAtMs: 10_000,
      serviceMsAfter: 3 * serviceMs,
      seed: 7,
    });
    // The capacity in calls is unchanged; only the latency at no load tripled. Once a probe
    // has measured the new no-load latency, the limit is back near the capacity.
    assertBand(limitsBetween(trace, 20_000, 30_000), bandLowest, bandHighest, 'after the probe');
  });
});

/** A limit that records its samples and follows a script. */
class ScriptedLimit implements Limit {
  readonly limitMin = 1;
  readonly limitMax = 100;
  readonly samples: LimitSample[] = [];
  limit: number;
  readonly #script: number[];

  constructor(limit: number, script: number[] = []) {
    this.limit = limit;
    this.#script = script;
  }

  addSample(value: LimitSample): number {
    this.samples.push(value);
    this.limit = this.#script.shift() ?? this.limit;
    return this.limit;
  }
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

describe('AdaptiveConcurrencyPolicy', () => {
  it('rejects a bad limit, queue bound or classifier', () => {
    for (const limit of [undefined, {}, { limit: 0, addSample: () => 0 }, { limit: 2 }]) {
      assert.throws(
        () => new AdaptiveConcurrencyPolicy({ limit } as never),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument === 'AdaptiveConcurrencyPolicy options.limit',
      );
    }
    assert.throws(
      () => new AdaptiveConcurrencyPolicy({ limit: new ScriptedLimit(1), queueCountMax: -1 }),
      isInvalidArgumentError,
    );
    assert.throws(
      () =>
        new AdaptiveConcurrencyPolicy({ limit: new ScriptedLimit(1), classifyError: 1 as never }),
      isInvalidArgumentError,
    );
  });

  it('admits up to the limit, times each call on the clock, and follows the new limit', async () => {
    const scheduler = new VirtualScheduler();
    const limit = new ScriptedLimit(2, [3]);
    const policy = new AdaptiveConcurrencyPolicy({ limit, scheduler });
    const changes: LimitChangeEvent[] = [];
    policy.onLimitChange((event) => changes.push(event));
    const rejects: unknown[] = [];
    policy.onReject((event) => rejects.push(event));
    const gates = [gate(), gate()];
    const calls = gates.map((g) => policy.execute(() => g.promise));
    assert.equal(policy.inflightCount, 2);
    await assert.rejects(
      policy.execute(() => 'third'),
      (error: unknown) => {
        assert.ok(isBulkheadRejectedError(error));
        assert.ok(error instanceof BulkheadRejectedError);
        assert.equal(error.concurrencyMax, 2);
        return true;
      },
    );
    assert.deepEqual(rejects, [{ inflightCount: 2, queuedCount: 0 }]);
    scheduler.advanceMs(30);
    (gates[1] as Gate<string>).resolve('second');
    await flush();
    assert.deepEqual(limit.samples, [{ rttMs: 30, inflightCount: 2, dropped: false }]);
    assert.equal(policy.limit, 3);
    assert.deepEqual(changes, [{ limit: 3, previousLimit: 2 }]);
    const more = [gate(), gate()];
    const moreCalls = more.map((g) => policy.execute(() => g.promise));
    assert.equal(policy.inflightCount, 3);
    (gates[0] as Gate<string>).resolve('first');
    for (const g of more) {
      g.resolve('more');
    }
    assert.deepEqual(await Promise.all([...calls, ...moreCalls]), [
      'first',
      'second',
      'more',
      'more',
    ]);
    assert.equal(policy.inflightCount, 0);
  });

  it('lowering the limit lets running calls finish and admits no one until below it', async () => {
    const limit = new ScriptedLimit(3, [1]);
    const policy = new AdaptiveConcurrencyPolicy({ limit, queueCountMax: 5 });
    const gates = [gate(), gate(), gate()];
    const calls = gates.map((g) => policy.execute(() => g.promise));
    const started: string[] = [];
    const waiting = policy.execute(() => {
      started.push('waiting');
      return 'waited';
    });
    assert.equal(policy.queuedCount, 1);
    (gates[0] as Gate<string>).resolve('0');
    await flush();
    assert.equal(policy.limit, 1);
    assert.deepEqual(started, []);
    (gates[1] as Gate<string>).resolve('1');
    await flush();
    assert.deepEqual(started, []);
    (gates[2] as Gate<string>).resolve('2');
    assert.equal(await waiting, 'waited');
    await Promise.all(calls);
  });

  it('counts overload errors as drops and ignores other failures by default', async () => {
    const scheduler = new VirtualScheduler();
    const limit = new ScriptedLimit(5);
    const policy = new AdaptiveConcurrencyPolicy({ limit, scheduler });
    const timeout = new DeadlineExceededError(5);
    await assert.rejects(
      policy.execute(() => Promise.reject(timeout)),
      (e) => e === timeout,
    );
    await assert.rejects(
      policy.execute(() => {
        throw new LoadShedError('normal', 'overloaded');
      }),
    );
    await assert.rejects(policy.execute(() => Promise.reject(new Error('not found'))));
    assert.equal(await policy.execute(() => 'fine'), 'fine');
    assert.deepEqual(
      limit.samples.map((value) => value.dropped),
      [true, true, false],
    );
    assert.equal(classifyOverloadErrors(new Error('x')), 'ignored');
    assert.equal(classifyOverloadErrors(timeout), 'dropped');
  });

  it('uses a custom classifier', async () => {
    const limit = new ScriptedLimit(5);
    const policy = new AdaptiveConcurrencyPolicy({
      limit,
      scheduler: new VirtualScheduler(),
      classifyError: (error) => ((error as Error).message === 'busy' ? 'dropped' : 'completed'),
    });
    await assert.rejects(policy.execute(() => Promise.reject(new Error('busy'))));
    await assert.rejects(policy.execute(() => Promise.reject(new Error('bad request'))));
    assert.deepEqual(
      limit.samples.map((value) => value.dropped),
      [true, false],
    );
  });

  it('finds the capacity of a simulated dependency end to end, with real promises', async () => {
    const scheduler = new VirtualScheduler();
    const random = new SeededRandom({ seed: 11 });
    const policy = new AdaptiveConcurrencyPolicy({
      limit: new AimdLimit({
        limitInitial: 1,
        limitMax: 100,
        rttMsThreshold: serviceMs * 1.25,
        clock: scheduler.clock,
      }),
      scheduler,
    });
    let busyCount = 0;
    let inflightMax = 0;
    const waiting: (() => void)[] = [];
    const serve = (done: () => void): void => {
      busyCount += 1;
      scheduler.schedule(serviceMs * (0.9 + 0.2 * random.float()), () => {
        busyCount -= 1;
        waiting.shift()?.(); // the next queued call starts its service
        done();
      });
    };
    const dependency = (): Promise<void> =>
      new Promise<void>((resolve) => {
        inflightMax = Math.max(inflightMax, policy.inflightCount);
        if (busyCount < capacity) {
          serve(resolve);
        } else {
          waiting.push(() => serve(resolve));
        }
      });
    const sleep = (delayMs: number) =>
      new Promise<void>((resolve) => scheduler.schedule(delayMs, resolve));
    let stop = false;
    let rejectedCount = 0;
    const client = async (): Promise<void> => {
      while (!stop) {
        try {
          await policy.execute(dependency);
        } catch (error) {
          assert.ok(isBulkheadRejectedError(error));
          rejectedCount += 1;
          await sleep(5);
        }
      }
    };
    const clients = Array.from({ length: 2 * capacity }, () => client());
    const limits: number[] = [];
    while (scheduler.clock.nowMs() < 4_000) {
      scheduler.runNext();
      await flush();
      if (scheduler.clock.nowMs() >= 2_000) {
        limits.push(policy.limit);
      }
    }
    stop = true;
    while (scheduler.runNext()) {
      await flush();
    }
    await Promise.all(clients);
    assertBand(limits, bandLowest, bandHighest, 'AdaptiveConcurrencyPolicy with AimdLimit');
    assert.ok(rejectedCount > 0, 'the clients offered more than the limit');
    assert.ok(inflightMax <= 100);
  });
});
