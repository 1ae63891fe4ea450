import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DeadlineExceededError,
  isAbortedError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  isLimitExceededError,
  ManualClock,
  VirtualScheduler,
} from '../../src/core/index.js';
import {
  type AsyncKeyedRateLimiter,
  FixedWindow,
  Gcra,
  isRateLimitedError,
  KeyedRateLimiter,
  LeakyBucketShaper,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  RateLimiter,
  RateLimitWaiter,
  SlidingWindowCounter,
  SlidingWindowLog,
  TokenBucket,
} from '../../src/resilience/rate-limit/index.js';

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? '?';
  }
}

type AnyAlgorithm = RateLimitAlgorithm<unknown, RateLimitDecision>;

describe('KeyedRateLimiter', () => {
  it('keeps a separate limit per key', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new Gcra({ limit: 10, periodMs: 1_000, burst: 2 }),
      keyCountMax: 10,
      clock,
    });
    assert.deepEqual(limiter.tryAcquire('alice'), { allowed: true, remaining: 1, retryAfterMs: 0 });
    assert.deepEqual(limiter.tryAcquire('alice'), { allowed: true, remaining: 0, retryAfterMs: 0 });
    assert.deepEqual(limiter.tryAcquire('alice'), {
      allowed: false,
      remaining: 0,
      retryAfterMs: 100,
    });
    assert.deepEqual(limiter.tryAcquire('bob', 2), {
      allowed: true,
      remaining: 0,
      retryAfterMs: 0,
    });
    clock.advanceMs(100);
    assert.equal(limiter.tryAcquire('alice').allowed, true);
    assert.equal(limiter.keyCount, 2);
  });

  it('stores a key only when a request changes its state', () => {
    const limiter = new KeyedRateLimiter({
      algorithm: new FixedWindow({ limit: 3, windowMs: 1_000 }),
      keyCountMax: 1,
      clock: new ManualClock(),
    });
    assert.deepEqual(limiter.tryAcquire('probe', 0), {
      allowed: true,
      remaining: 3,
      retryAfterMs: 0,
    });
    assert.equal(limiter.tryAcquire('too-big', 4).allowed, false);
    assert.equal(limiter.keyCount, 0);
    assert.equal(limiter.snapshot('probe'), undefined);
    limiter.tryAcquire('real');
    assert.deepEqual(limiter.snapshot('real'), { windowStartMs: 0, count: 1 });
    // Full, yet a probe or a denial for another key still gets an answer, not an error.
    assert.equal(limiter.tryAcquire('other', 0).allowed, true);
    assert.equal(limiter.tryAcquire('other', 4).allowed, false);
  });

  it("whenFull 'throw': rejects a new key while every slot is busy, and keeps existing keys exact", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new TokenBucket({ capacity: 2, refillCount: 1, refillIntervalMs: 100 }),
      keyCountMax: 3,
      clock,
    });
    for (const key of ['a', 'b', 'c']) {
      limiter.tryAcquire(key);
    }
    try {
      limiter.tryAcquire('d');
      assert.fail('expected LimitExceededError');
    } catch (error) {
      assert.ok(isLimitExceededError(error));
      assert.equal(error.limit, 3);
      assert.match(error.message, /keyCountMax/);
    }
    assert.equal(limiter.keyCount, 3);
    assert.deepEqual(limiter.tryAcquire('a'), { allowed: true, remaining: 0, retryAfterMs: 0 });
    // 'b' and 'c' refill to full at 100 ms: idle, so they make room without changing anything.
    clock.advanceMs(100);
    assert.deepEqual(limiter.tryAcquire('d'), { allowed: true, remaining: 1, retryAfterMs: 0 });
    assert.equal(limiter.keyCount, 2);
    assert.equal(limiter.snapshot('b'), undefined);
    assert.notEqual(limiter.snapshot('a'), undefined); // 'a' was still refilling
  });

  it("whenFull 'evict-least-recent': never holds more than keyCountMax under many distinct keys", () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new SlidingWindowLog({ limit: 5, windowMs: 60_000 }),
      keyCountMax: 100,
      whenFull: 'evict-least-recent',
      clock,
    });
    for (let index = 0; index < 10_000; index += 1) {
      assert.equal(limiter.tryAcquire(`client-${index}`).allowed, true);
      // One hot key, touched every time, is never the least recently used.
      limiter.tryAcquire('hot', 0);
      if (index % 1_000 === 0) {
        limiter.tryAcquire('hot');
      }
      assert.ok(limiter.keyCount <= 100);
      clock.advanceMs(1);
    }
    assert.equal(limiter.keyCount, 100);
    assert.equal(limiter.snapshot('client-0'), undefined);
    assert.notEqual(limiter.snapshot('client-9999'), undefined);
    assert.equal(limiter.snapshot('hot')?.total, 5); // its count survived every eviction
  });

  it('reuses the slots of the least recently used keys first', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new FixedWindow({ limit: 1, windowMs: 100 }),
      keyCountMax: 2,
      whenFull: 'evict-least-recent',
      clock,
    });
    limiter.tryAcquire('a');
    limiter.tryAcquire('b');
    limiter.tryAcquire('a', 0); // a probe counts as use
    limiter.tryAcquire('c');
    assert.equal(limiter.snapshot('b'), undefined);
    assert.notEqual(limiter.snapshot('a'), undefined);
  });

  it('looks at no more than 32 least recently used keys for an idle one', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new FixedWindow({ limit: 1, windowMs: 100 }),
      keyCountMax: 40,
      clock,
    });
    limiter.tryAcquire('idle-soon');
    clock.advanceMs(50);
    for (let index = 0; index < 39; index += 1) {
      limiter.tryAcquire(`busy-${index}`);
    }
    clock.advanceMs(50); // 'idle-soon' is idle now, the others are not
    limiter.tryAcquire('idle-soon', 0); // ...and now the most recently used
    assert.equal(
      codeOf(() => limiter.tryAcquire('new')),
      'LIMIT_EXCEEDED',
    );
    assert.equal(limiter.evictIdle(), 1);
    assert.equal(limiter.tryAcquire('new').allowed, true);
  });

  it('evictIdle() drops exactly the idle keys', () => {
    const clock = new ManualClock();
    const limiter = new KeyedRateLimiter({
      algorithm: new SlidingWindowCounter({ limit: 10, windowMs: 100 }),
      keyCountMax: 10,
      clock,
    });
    limiter.tryAcquire('early');
    clock.advanceMs(150);
    limiter.tryAcquire('late');
    assert.equal(limiter.evictIdle(), 0); // 'early' counts in the previous window until 200
    clock.advanceMs(50);
    assert.equal(limiter.evictIdle(), 1);
    assert.equal(limiter.snapshot('early'), undefined);
    assert.equal(limiter.keyCount, 1);
    assert.equal(limiter.delete('late'), true);
    assert.equal(limiter.delete('late'), false);
    limiter.tryAcquire('x');
    limiter.clear();
    assert.equal(limiter.keyCount, 0);
  });

  it('implements the async port with the same decisions; errors reject', async () => {
    const clock = new ManualClock();
    const keyed = new KeyedRateLimiter({
      algorithm: new FixedWindow({ limit: 1, windowMs: 1_000 }),
      keyCountMax: 1,
      clock,
    });
    const port: AsyncKeyedRateLimiter = keyed;
    assert.deepEqual(await port.acquire('a'), { allowed: true, remaining: 0, retryAfterMs: 0 });
    assert.deepEqual(await port.acquire('a'), {
      allowed: false,
      remaining: 0,
      retryAfterMs: 1_000,
    });
    await assert.rejects(port.acquire('b'), (error) => isLimitExceededError(error));
    await assert.rejects(port.acquire('a', -1), (error) => isInvalidArgumentError(error));
    await assert.rejects(port.acquire(42 as never), (error) => isInvalidArgumentError(error));
  });

  it('validates keys and options', () => {
    const algorithm = new FixedWindow({ limit: 1, windowMs: 1 });
    const limiter = new KeyedRateLimiter({ algorithm, keyCountMax: 1, keyLengthMax: 4 });
    assert.equal(
      codeOf(() => limiter.tryAcquire(undefined as never)),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      codeOf(() => limiter.tryAcquire('12345')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      codeOf(() => limiter.tryAcquire('')),
      undefined,
    );

    const argumentOf = (options: unknown): string => {
      try {
        new KeyedRateLimiter(options as never);
      } catch (error) {
        assert.ok(isInvalidArgumentError(error));
        return error.argument;
      }
      assert.fail('expected an InvalidArgumentError');
    };
    assert.equal(argumentOf(undefined), 'KeyedRateLimiter options');
    assert.equal(argumentOf({ algorithm }), 'KeyedRateLimiter options.keyCountMax');
    for (const keyCountMax of [0, -1, 1.5, 2 ** 24 + 1, Number.NaN, '10']) {
      assert.equal(argumentOf({ algorithm, keyCountMax }), 'KeyedRateLimiter options.keyCountMax');
    }
    assert.equal(argumentOf({ keyCountMax: 1 }), 'KeyedRateLimiter options.algorithm');
    assert.equal(
      argumentOf({ algorithm, keyCountMax: 1, whenFull: 'drop' }),
      'KeyedRateLimiter options.whenFull',
    );
    assert.equal(
      argumentOf({ algorithm, keyCountMax: 1, keyLengthMax: 0 }),
      'KeyedRateLimiter options.keyLengthMax',
    );
    assert.equal(
      argumentOf({ algorithm, keyCountMax: 1, clock: { now: () => 0 } }),
      'KeyedRateLimiter options.clock',
    );
  });

  describe('property: bounding the keys changes no decision, only refuses new keys', () => {
    const algorithms: { name: string; make: () => AnyAlgorithm }[] = [
      {
        name: 'TokenBucket',
        make: () => new TokenBucket({ capacity: 3, refillCount: 7, refillIntervalMs: 1_000 }),
      },
      { name: 'Gcra', make: () => new Gcra({ limit: 5, periodMs: 1_000, burst: 2 }) },
      { name: 'FixedWindow', make: () => new FixedWindow({ limit: 3, windowMs: 300 }) },
      { name: 'SlidingWindowLog', make: () => new SlidingWindowLog({ limit: 3, windowMs: 300 }) },
      {
        name: 'SlidingWindowCounter',
        make: () => new SlidingWindowCounter({ limit: 3, windowMs: 300 }),
      },
      {
        name: 'LeakyBucketShaper',
        make: () =>
          new LeakyBucketShaper({
            leakCount: 10,
            leakIntervalMs: 1_000,
            delayMsMax: 250,
          }) as unknown as AnyAlgorithm,
      },
    ];

    const operationArbitrary = fc.oneof(
      {
        weight: 10,
        arbitrary: fc.record({
          kind: fc.constant('request' as const),
          key: fc.integer({ min: 0, max: 7 }).map((index) => `key-${index}`),
          cost: fc.integer({ min: 0, max: 4 }),
          advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'evict' as const }) },
    );

    for (const { name, make } of algorithms) {
      it(name, () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 4 }),
            fc.array(operationArbitrary, { maxLength: 120 }),
            (keyCountMax, operations) => {
              const clock = new ManualClock();
              const bounded = new KeyedRateLimiter({ algorithm: make(), keyCountMax, clock });
              const reference = new KeyedRateLimiter({
                algorithm: make(),
                keyCountMax: 1_000,
                clock,
              });
              for (const operation of operations) {
                if (operation.kind === 'evict') {
                  bounded.evictIdle();
                  continue;
                }
                clock.advanceMs(operation.advanceMs);
                let decision: RateLimitDecision;
                try {
                  decision = bounded.tryAcquire(operation.key, operation.cost);
                } catch (error) {
                  assert.ok(isLimitExceededError(error));
                  assert.equal(bounded.keyCount, keyCountMax);
                  continue; // refused: the reference must not see it either
                }
                assert.deepEqual(decision, reference.tryAcquire(operation.key, operation.cost));
                assert.ok(bounded.keyCount <= keyCountMax);
              }
            },
          ),
          { numRuns: 300 },
        );
      });
    }
  });
});

describe('RateLimitWaiter', () => {
  function setup(waitMsMax: number, waiterCountMax?: number) {
    const scheduler = new VirtualScheduler();
    const limiter = new RateLimiter({
      algorithm: new Gcra({ limit: 10, periodMs: 1_000 }), // one per 100 ms
      clock: scheduler.clock,
    });
    const waiter = new RateLimitWaiter({
      waitMsMax,
      scheduler,
      ...(waiterCountMax === undefined ? {} : { waiterCountMax }),
    });
    return { scheduler, limiter, waiter };
  }

  it('resolves at once when allowed, without scheduling anything', async () => {
    const { scheduler, limiter, waiter } = setup(1_000);
    const decision = await waiter.wait(() => limiter.tryAcquire());
    assert.equal(decision.allowed, true);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('waits exactly retryAfterMs, then resolves with the allowed decision', async () => {
    const { scheduler, limiter, waiter } = setup(1_000);
    limiter.tryAcquire();
    let resolvedAtMs: number | undefined;
    const waiting = waiter
      .wait(() => limiter.tryAcquire())
      .then((decision) => {
        resolvedAtMs = scheduler.clock.nowMs();
        return decision;
      });
    assert.equal(waiter.waiterCount, 1);
    scheduler.advanceMs(99);
    await flush();
    assert.equal(resolvedAtMs, undefined);
    scheduler.advanceMs(1);
    assert.deepEqual(await waiting, { allowed: true, remaining: 0, retryAfterMs: 0 });
    assert.equal(resolvedAtMs, 100);
    assert.equal(waiter.waiterCount, 0);
  });

  it('fails at once with RateLimitedError when the wait would exceed waitMsMax', async () => {
    const { scheduler, limiter, waiter } = setup(50);
    limiter.tryAcquire();
    await assert.rejects(
      waiter.wait(() => limiter.tryAcquire()),
      (error) => isRateLimitedError(error) && error.retryAfterMs === 100,
    );
    await assert.rejects(
      waiter.wait(() => limiter.tryAcquire(5)),
      (error) => isRateLimitedError(error) && error.retryAfterMs === Number.POSITIVE_INFINITY,
    );
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(waiter.waiterCount, 0);
  });

  it('asks again when another caller took the capacity, within the time it has', async () => {
    const { scheduler, limiter, waiter } = setup(150);
    limiter.tryAcquire();
    const first = waiter.wait(() => limiter.tryAcquire());
    const second = waiter.wait(() => limiter.tryAcquire());
    const secondFailed = assert.rejects(second, (error) => isRateLimitedError(error));
    scheduler.advanceMs(100); // the first wins; the second would need until 200 > 150
    assert.equal((await first).allowed, true);
    await secondFailed;
    assert.equal(waiter.waiterCount, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it("waits out a shaper's delay once", async () => {
    const scheduler = new VirtualScheduler();
    const shaper = new RateLimiter({
      algorithm: new LeakyBucketShaper({ leakCount: 10, leakIntervalMs: 1_000, delayMsMax: 500 }),
      clock: scheduler.clock,
    });
    const waiter = new RateLimitWaiter({ waitMsMax: 0, scheduler });
    await waiter.wait(() => shaper.tryAcquire());
    let done = false;
    const second = waiter
      .wait(() => shaper.tryAcquire())
      .then((decision) => {
        done = true;
        return decision;
      });
    scheduler.advanceMs(99);
    await flush();
    assert.equal(done, false);
    scheduler.advanceMs(1);
    assert.deepEqual(await second, { allowed: true, remaining: 4, retryAfterMs: 0, delayMs: 100 });
  });

  it('stops at once when aborted, leaving no task and no listener', async () => {
    const { scheduler, limiter, waiter } = setup(1_000);
    limiter.tryAcquire();
    const controller = new AbortController();
    const waiting = waiter.wait(() => limiter.tryAcquire(), { signal: controller.signal });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    assert.equal(scheduler.pendingCount, 1);
    controller.abort();
    await assert.rejects(waiting, (error) => isAbortedError(error));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(waiter.waiterCount, 0);
    // The capacity it waited for is still there for others.
    scheduler.advanceMs(100);
    assert.equal(limiter.tryAcquire().allowed, true);
  });

  it("rejects with the signal's distkit reason, and removes its listener when it resolves", async () => {
    const { scheduler, limiter, waiter } = setup(1_000);
    limiter.tryAcquire();
    const controller = new AbortController();
    const resolved = waiter.wait(() => limiter.tryAcquire(), { signal: controller.signal });
    scheduler.advanceMs(100);
    await resolved;
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);

    const cancelled = new AbortController();
    const waiting = waiter.wait(() => limiter.tryAcquire(), { signal: cancelled.signal });
    cancelled.abort(new DeadlineExceededError(5));
    await assert.rejects(waiting, (error) => isDeadlineExceededError(error));
  });

  it('rejects an already aborted call without asking the limiter', async () => {
    const { limiter, waiter } = setup(1_000);
    let asked = 0;
    await assert.rejects(
      waiter.wait(
        () => {
          asked += 1;
          return limiter.tryAcquire();
        },
        { signal: AbortSignal.abort() },
      ),
      (error) => isAbortedError(error),
    );
    assert.equal(asked, 0);
  });

  it('bounds the calls waiting at once', async () => {
    const { scheduler, limiter, waiter } = setup(1_000, 1);
    limiter.tryAcquire();
    const waiting = waiter.wait(() => limiter.tryAcquire());
    await assert.rejects(
      waiter.wait(() => limiter.tryAcquire()),
      (error) => isLimitExceededError(error) && error.limit === 1,
    );
    scheduler.advanceMs(100);
    assert.equal((await waiting).allowed, true);
  });

  it('rejects with what the attempt throws, and frees its place', async () => {
    const { scheduler, limiter, waiter } = setup(1_000);
    limiter.tryAcquire();
    let calls = 0;
    const waiting = waiter.wait(() => {
      calls += 1;
      if (calls === 2) {
        throw new Error('store unavailable');
      }
      return limiter.tryAcquire();
    });
    const failed = assert.rejects(waiting, /store unavailable/);
    scheduler.advanceMs(100);
    await failed;
    assert.equal(waiter.waiterCount, 0);
    await assert.rejects(
      waiter.wait(() => {
        throw new Error('at once');
      }),
      /at once/,
    );
  });

  it('validates its options and arguments', async () => {
    const argumentOf = (options: unknown): string => {
      try {
        new RateLimitWaiter(options as never);
      } catch (error) {
        assert.ok(isInvalidArgumentError(error));
        return error.argument;
      }
      assert.fail('expected an InvalidArgumentError');
    };
    assert.equal(argumentOf(undefined), 'RateLimitWaiter options');
    assert.equal(argumentOf({}), 'RateLimitWaiter options.waitMsMax');
    assert.equal(argumentOf({ waitMsMax: -1 }), 'RateLimitWaiter options.waitMsMax');
    assert.equal(
      argumentOf({ waitMsMax: 1, waiterCountMax: 1.5 }),
      'RateLimitWaiter options.waiterCountMax',
    );
    assert.equal(argumentOf({ waitMsMax: 1, scheduler: {} }), 'RateLimitWaiter options.scheduler');
    const waiter = new RateLimitWaiter({ waitMsMax: 1, scheduler: new VirtualScheduler() });
    await assert.rejects(waiter.wait(42 as never), (error) => isInvalidArgumentError(error));
    await assert.rejects(
      waiter.wait(() => ({ allowed: true, remaining: 0, retryAfterMs: 0 }), {
        signal: 'no' as never,
      }),
      (error) => isInvalidArgumentError(error),
    );
  });
});
