import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInvalidArgumentError, ManualClock } from '../../src/core/index.js';
import {
  FixedWindow,
  Gcra,
  isRateLimitedError,
  LeakyBucketMeter,
  LeakyBucketShaper,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  RateLimitedError,
  RateLimiter,
  SlidingWindowCounter,
  SlidingWindowLog,
  TokenBucket,
} from '../../src/resilience/rate-limit/index.js';

/** A limiter on a manual clock, and a compact way to run requests at chosen instants. */
function harness<State, Decision extends RateLimitDecision>(
  algorithm: RateLimitAlgorithm<State, Decision>,
) {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ algorithm, clock });
  return {
    clock,
    limiter,
    /** Moves to `atMs` and decides a request of `cost` there. */
    at(atMs: number, cost = 1): Decision {
      clock.advanceToMs(atMs);
      return limiter.tryAcquire(cost);
    },
  };
}

function allow(remaining: number): RateLimitDecision {
  return { allowed: true, remaining, retryAfterMs: 0 };
}

function deny(remaining: number, retryAfterMs: number): RateLimitDecision {
  return { allowed: false, remaining, retryAfterMs };
}

describe('TokenBucket', () => {
  it('spends a burst of capacity, then refills one token per interval', () => {
    // 3 tokens, 1 more every 100 ms.
    const { at } = harness(new TokenBucket({ capacity: 3, refillCount: 1, refillIntervalMs: 100 }));
    assert.deepEqual(at(0), allow(2));
    assert.deepEqual(at(0), allow(1));
    assert.deepEqual(at(0), allow(0));
    assert.deepEqual(at(0), deny(0, 100));
    assert.deepEqual(at(40), deny(0, 60));
    assert.deepEqual(at(100), allow(0));
    assert.deepEqual(at(150, 2), deny(0, 150));
    assert.deepEqual(at(150, 4), deny(0, Number.POSITIVE_INFINITY));
    assert.deepEqual(at(300, 2), allow(0));
    // Long idle: back to full, never above it.
    assert.deepEqual(at(10_000, 0), allow(3));
    assert.deepEqual(at(10_000, 3), allow(0));
  });

  it('refills continuously, so remaining counts whole tokens of a fractional level', () => {
    const { at } = harness(
      new TokenBucket({ capacity: 2, refillCount: 4, refillIntervalMs: 1_000 }),
    );
    assert.deepEqual(at(0, 2), allow(0));
    assert.deepEqual(at(125, 0), allow(0)); // 0.5 tokens
    assert.deepEqual(at(125), deny(0, 125));
    assert.deepEqual(at(250), allow(0)); // exactly 1 token at 250
    assert.deepEqual(at(750, 0), allow(2));
  });

  it('a cost-0 probe reports remaining and changes nothing', () => {
    const { at, limiter } = harness(new TokenBucket({ capacity: 5, refillCount: 1 }));
    at(0, 3);
    const before = limiter.snapshot();
    assert.deepEqual(at(100, 0), allow(2));
    assert.deepEqual(limiter.snapshot(), before);
  });

  it('reset() forgets the history; idle tells when the bucket is full again', () => {
    const { at, clock, limiter } = harness(
      new TokenBucket({ capacity: 2, refillCount: 1, refillIntervalMs: 10 }),
    );
    assert.equal(limiter.idle, true);
    at(0, 2);
    assert.equal(limiter.idle, false);
    clock.advanceMs(19);
    assert.equal(limiter.idle, false);
    clock.advanceMs(1);
    assert.equal(limiter.idle, true);
    at(20, 2);
    limiter.reset();
    assert.deepEqual(at(20, 2), allow(0));
  });
});

describe('LeakyBucketMeter', () => {
  it('rejects what would overflow and leaks at the configured rate', () => {
    // Holds 3 units, leaks 1 per 100 ms: the same numbers as the token bucket above.
    const { at } = harness(
      new LeakyBucketMeter({ capacity: 3, leakCount: 1, leakIntervalMs: 100 }),
    );
    assert.deepEqual(at(0), allow(2));
    assert.deepEqual(at(0, 2), allow(0));
    assert.deepEqual(at(0), deny(0, 100));
    assert.deepEqual(at(100), allow(0));
    assert.deepEqual(at(150, 2), deny(0, 150));
    assert.deepEqual(at(150, 4), deny(0, Number.POSITIVE_INFINITY));
    assert.deepEqual(at(300, 2), allow(0));
    assert.deepEqual(at(10_000, 0), allow(3));
  });
});

describe('retryAfterMs in floating point', () => {
  it('is rounded up so that a clock advanced by it reaches the instant (a case found by fast-check)', () => {
    const meter = new LeakyBucketMeter({
      capacity: 16,
      leakCount: 0.23780771468161765,
      leakIntervalMs: 248,
    });
    const { clock, limiter } = harness(meter);
    limiter.tryAcquire(11);
    clock.advanceMs(limiter.tryAcquire(8).retryAfterMs);
    const nowMs = clock.nowMs();
    const allowedAtMs = meter.allowedAtMs(limiter.snapshot(), 16);
    // The plain difference falls one ulp short when added back.
    assert.ok(nowMs + (allowedAtMs - nowMs) < allowedAtMs);
    const denied = limiter.tryAcquire(16);
    assert.equal(denied.allowed, false);
    assert.ok(denied.retryAfterMs > allowedAtMs - nowMs);
    clock.advanceMs(denied.retryAfterMs);
    assert.deepEqual(limiter.tryAcquire(16), allow(0));
  });
});

describe('LeakyBucketShaper', () => {
  const shaper = () =>
    harness(new LeakyBucketShaper({ leakCount: 1, leakIntervalMs: 100, delayMsMax: 250 }));

  it('spaces requests one interval apart and tells each how long to wait', () => {
    const { at } = shaper();
    assert.deepEqual(at(0), { allowed: true, remaining: 2, retryAfterMs: 0, delayMs: 0 });
    assert.deepEqual(at(0), { allowed: true, remaining: 1, retryAfterMs: 0, delayMs: 100 });
    assert.deepEqual(at(0), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 200 });
    // The next would wait 300 ms > 250: rejected until 50 ms from now.
    assert.deepEqual(at(0), { allowed: false, remaining: 0, retryAfterMs: 50, delayMs: 0 });
    assert.deepEqual(at(50), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 250 });
  });

  it('lets a large cost hold the queue for cost intervals', () => {
    const { at } = shaper();
    assert.deepEqual(at(0, 5), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 0 });
    // The queue is busy until 500; a request is accepted once the wait is <= 250.
    assert.deepEqual(at(100, 1), { allowed: false, remaining: 0, retryAfterMs: 150, delayMs: 0 });
    assert.deepEqual(at(250, 1), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 250 });
  });

  it('a cost-0 call reports the wait and reserves nothing; delayMsMax 0 admits only an idle queue', () => {
    const { at, limiter } = shaper();
    at(0, 2);
    // Unit requests could still start at 200 and 300 (waits 150 and 250).
    assert.deepEqual(at(50, 0), { allowed: true, remaining: 2, retryAfterMs: 0, delayMs: 150 });
    assert.deepEqual(limiter.snapshot(), { nextFreeMs: 200 });

    const strict = harness(
      new LeakyBucketShaper({ leakCount: 10, leakIntervalMs: 1_000, delayMsMax: 0 }),
    );
    assert.deepEqual(strict.at(0), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 0 });
    assert.deepEqual(strict.at(30), {
      allowed: false,
      remaining: 0,
      retryAfterMs: 70,
      delayMs: 0,
    });
    assert.deepEqual(strict.at(100), { allowed: true, remaining: 0, retryAfterMs: 0, delayMs: 0 });
  });
});

describe('Gcra', () => {
  it('allows a burst, then one request per emission interval', () => {
    // 10 per second = one per 100 ms, bursts of 3.
    const { at } = harness(new Gcra({ limit: 10, periodMs: 1_000, burst: 3 }));
    assert.deepEqual(at(0), allow(2));
    assert.deepEqual(at(0), allow(1));
    assert.deepEqual(at(0), allow(0));
    assert.deepEqual(at(0), deny(0, 100));
    assert.deepEqual(at(99), deny(0, 1));
    assert.deepEqual(at(100), allow(0));
    assert.deepEqual(at(100, 4), deny(0, Number.POSITIVE_INFINITY));
    assert.deepEqual(at(1_000, 0), allow(3));
  });

  it('without a burst, spaces requests exactly periodMs / limit apart', () => {
    const { at, limiter } = harness(new Gcra({ limit: 2, periodMs: 1_000 }));
    assert.deepEqual(at(0), allow(0));
    assert.deepEqual(limiter.snapshot(), { arrivalMs: 500 });
    assert.deepEqual(at(0), deny(0, 500));
    assert.deepEqual(at(499), deny(0, 1));
    assert.deepEqual(at(500), allow(0));
    assert.deepEqual(at(1_700), allow(0));
    assert.deepEqual(limiter.snapshot(), { arrivalMs: 2_200 });
  });
});

describe('FixedWindow', () => {
  it('counts up to the limit in a window that opens at its first request', () => {
    const { at } = harness(new FixedWindow({ limit: 3, windowMs: 1_000 }));
    assert.deepEqual(at(100), allow(2)); // window [100, 1100)
    assert.deepEqual(at(500, 2), allow(0));
    assert.deepEqual(at(500), deny(0, 600));
    assert.deepEqual(at(1_099), deny(0, 1));
    assert.deepEqual(at(1_099, 4), deny(0, Number.POSITIVE_INFINITY));
    assert.deepEqual(at(1_100), allow(2)); // window [1100, 2100)
    assert.deepEqual(at(5_000, 0), allow(3));
  });

  it('admits up to twice the limit across a window boundary (the known weakness)', () => {
    const { at } = harness(new FixedWindow({ limit: 3, windowMs: 1_000 }));
    at(0);
    assert.deepEqual(at(999, 2), allow(0));
    assert.deepEqual(at(1_000, 3), allow(0)); // 5 within [999, 1000]
  });
});

describe('SlidingWindowLog', () => {
  it('counts exactly the last windowMs and says when the oldest entry leaves', () => {
    const { at } = harness(new SlidingWindowLog({ limit: 3, windowMs: 1_000 }));
    assert.deepEqual(at(0), allow(2));
    assert.deepEqual(at(400), allow(1));
    assert.deepEqual(at(800), allow(0));
    assert.deepEqual(at(900), deny(0, 100)); // the entry at 0 leaves at 1000
    assert.deepEqual(at(1_000), allow(0)); // (0, 1000]: 400, 800, 1000... and 0 is out
    // Cost 2 needs two entries to leave: 400 (at 1400) and 800 (at 1800).
    assert.deepEqual(at(1_000, 2), deny(0, 800));
    assert.deepEqual(at(1_800, 2), allow(0));
  });

  it('merges requests at one instant and grows its log only as needed', () => {
    const { at, limiter } = harness(new SlidingWindowLog({ limit: 100, windowMs: 50 }));
    for (let index = 0; index < 10; index += 1) {
      at(0);
    }
    let state = limiter.snapshot();
    assert.equal(state.size, 1);
    assert.equal(state.total, 10);
    assert.equal(state.times.length, 8);
    for (let time = 1; time <= 20; time += 1) {
      at(time);
    }
    state = limiter.snapshot();
    assert.equal(state.size, 21);
    assert.equal(state.times.length, 32);
    assert.deepEqual(at(60, 0), allow(100 - 10)); // entries 11..20 are in (10, 60]
  });

  it('never holds more entries than the limit', () => {
    const { at, limiter } = harness(new SlidingWindowLog({ limit: 5, windowMs: 1_000 }));
    for (let time = 0; time < 50; time += 1) {
      at(time * 300);
      assert.ok(limiter.snapshot().times.length <= 5);
    }
  });
});

describe('SlidingWindowCounter', () => {
  it('weighs the previous window by how much of it is still in view', () => {
    const { at } = harness(new SlidingWindowCounter({ limit: 10, windowMs: 1_000 }));
    assert.deepEqual(at(0, 10), allow(0)); // window [0, 1000)
    // In [1000, 2000) the previous 10 count 10 × (1 - elapsed / 1000): one unit frees
    // per 100 ms, so a unit request fits at 1100.
    assert.deepEqual(at(500), deny(0, 600));
    assert.deepEqual(at(1_050), deny(0, 50));
    assert.deepEqual(at(1_100), allow(0)); // 1 + 10 × 0.9 = 10
    assert.deepEqual(at(1_500, 0), allow(4)); // 1 + 10 × 0.5 = 6
    assert.deepEqual(at(1_500, 5), deny(4, 100));
    assert.deepEqual(at(1_600, 5), allow(0));
    assert.deepEqual(at(1_600, 11), deny(0, Number.POSITIVE_INFINITY));
  });

  it('allows exactly at a threshold that falls on an integral instant', () => {
    const { at } = harness(new SlidingWindowCounter({ limit: 7, windowMs: 7 }));
    assert.deepEqual(at(0, 7), allow(0));
    assert.deepEqual(at(7), deny(0, 1)); // 0 + 7 × (1 - 0/7) + 1 > 7
    assert.deepEqual(at(8), allow(0)); // 1 + 7 × (1 - 1/7) = 7
  });

  it('opens a fresh window after a quiet spell of two windows', () => {
    const { at, limiter } = harness(new SlidingWindowCounter({ limit: 4, windowMs: 100 }));
    at(0, 4);
    assert.deepEqual(at(250, 0), allow(4));
    assert.deepEqual(at(250, 4), allow(0));
    assert.deepEqual(limiter.snapshot(), {
      windowStartMs: 250,
      previousCount: 0,
      currentCount: 4,
    });
  });
});

describe('option validation', () => {
  /** Builds with `options` and returns the InvalidArgumentError's argument and message. */
  function rejection(build: () => unknown): { argument: string; message: string } {
    try {
      build();
    } catch (error) {
      assert.ok(isInvalidArgumentError(error), `not an InvalidArgumentError: ${String(error)}`);
      return { argument: error.argument, message: error.message };
    }
    assert.fail('expected an InvalidArgumentError');
  }

  const badPositive = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5', null] as const;
  const defaulted = { refillIntervalMs: 1, leakIntervalMs: 1, burst: 1 };
  const badCount = [0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32 + 1, '3'] as const;

  interface Case {
    name: string;
    build: (options: Record<string, unknown>) => unknown;
    valid: Record<string, unknown>;
    counts: string[];
    positives: string[];
  }
  const cases: Case[] = [
    {
      name: 'TokenBucket',
      build: (options) => new TokenBucket(options as never),
      valid: { capacity: 5, refillCount: 1, refillIntervalMs: 100 },
      counts: ['capacity'],
      positives: ['refillCount', 'refillIntervalMs'],
    },
    {
      name: 'LeakyBucketMeter',
      build: (options) => new LeakyBucketMeter(options as never),
      valid: { capacity: 5, leakCount: 1, leakIntervalMs: 100 },
      counts: ['capacity'],
      positives: ['leakCount', 'leakIntervalMs'],
    },
    {
      name: 'LeakyBucketShaper',
      build: (options) => new LeakyBucketShaper(options as never),
      valid: { leakCount: 1, leakIntervalMs: 100, delayMsMax: 10 },
      counts: [],
      positives: ['leakCount', 'leakIntervalMs'],
    },
    {
      name: 'Gcra',
      build: (options) => new Gcra(options as never),
      valid: { limit: 5, periodMs: 100, burst: 2 },
      counts: ['limit', 'burst'],
      positives: ['periodMs'],
    },
    {
      name: 'FixedWindow',
      build: (options) => new FixedWindow(options as never),
      valid: { limit: 5, windowMs: 100 },
      counts: ['limit'],
      positives: ['windowMs'],
    },
    {
      name: 'SlidingWindowLog',
      build: (options) => new SlidingWindowLog(options as never),
      valid: { limit: 5, windowMs: 100 },
      counts: ['limit'],
      positives: ['windowMs'],
    },
    {
      name: 'SlidingWindowCounter',
      build: (options) => new SlidingWindowCounter(options as never),
      valid: { limit: 5, windowMs: 100 },
      counts: ['limit'],
      positives: ['windowMs'],
    },
  ];

  for (const { name, build, valid, counts, positives } of cases) {
    it(`${name}: names each bad option and its allowed range`, () => {
      build(valid);
      assert.equal(rejection(() => build(undefined as never)).argument, `${name} options`);
      assert.equal(rejection(() => build([] as never)).argument, `${name} options`);
      for (const option of counts) {
        for (const value of badCount) {
          const { argument, message } = rejection(() => build({ ...valid, [option]: value }));
          assert.equal(argument, `${name} options.${option}`);
          assert.match(message, /must be an integer from 1 to \d+/);
        }
      }
      for (const option of positives) {
        for (const value of badPositive) {
          if (value === null && option in defaulted) {
            continue; // null, like undefined, selects the default
          }
          const { argument, message } = rejection(() => build({ ...valid, [option]: value }));
          assert.equal(argument, `${name} options.${option}`);
          assert.match(message, /must be a finite number > 0/);
        }
      }
      for (const option of [...counts, ...positives]) {
        if (!(option in defaulted)) {
          const missing: Record<string, unknown> = { ...valid };
          delete missing[option];
          assert.equal(rejection(() => build(missing)).argument, `${name} options.${option}`);
        }
      }
    });
  }

  it('rejects rates whose ratio overflows or underflows', () => {
    const tooSlow = rejection(
      () => new TokenBucket({ capacity: 1, refillCount: 1e-300, refillIntervalMs: 1e300 }),
    );
    assert.equal(tooSlow.argument, 'TokenBucket options.refillCount');
    assert.match(tooSlow.message, /finite number > 0/);
    const tooFast = rejection(() => new Gcra({ limit: 2 ** 32, periodMs: 1e-320 }));
    assert.equal(tooFast.argument, 'Gcra options.limit');
  });

  it('LeakyBucketShaper: delayMsMax is a finite number >= 0', () => {
    const valid = { leakCount: 1, delayMsMax: 0 };
    new LeakyBucketShaper(valid);
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, undefined, '1']) {
      const { argument, message } = rejection(
        () => new LeakyBucketShaper({ ...valid, delayMsMax: value as number }),
      );
      assert.equal(argument, 'LeakyBucketShaper options.delayMsMax');
      assert.match(message, /must be a finite number >= 0/);
    }
  });

  it('SlidingWindowLog bounds its limit, since the log holds up to limit entries', () => {
    const { message } = rejection(() => new SlidingWindowLog({ limit: 2_000_000, windowMs: 1 }));
    assert.match(message, /from 1 to 1048576/);
  });

  it('rejects bad costs on every algorithm, naming the algorithm', () => {
    const algorithms: RateLimitAlgorithm<unknown>[] = [
      new TokenBucket({ capacity: 5, refillCount: 1 }),
      new LeakyBucketMeter({ capacity: 5, leakCount: 1 }),
      new LeakyBucketShaper({ leakCount: 1, delayMsMax: 10 }),
      new Gcra({ limit: 5, periodMs: 100 }),
      new FixedWindow({ limit: 5, windowMs: 100 }),
      new SlidingWindowLog({ limit: 5, windowMs: 100 }),
      new SlidingWindowCounter({ limit: 5, windowMs: 100 }),
    ] as RateLimitAlgorithm<unknown>[];
    for (const algorithm of algorithms) {
      const limiter = new RateLimiter({ algorithm, clock: new ManualClock() });
      for (const cost of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, '1', 2 ** 53]) {
        const { argument, message } = rejection(() => limiter.tryAcquire(cost as number));
        assert.match(argument, / cost$/);
        assert.match(message, /must be an integer from 0 to 9007199254740991/);
      }
    }
  });

  it('RateLimiter checks its algorithm and clock', () => {
    assert.equal(
      rejection(() => new RateLimiter({ algorithm: {} as never })).argument,
      'RateLimiter options.algorithm',
    );
    assert.equal(
      rejection(
        () =>
          new RateLimiter({
            algorithm: new FixedWindow({ limit: 1, windowMs: 1 }),
            clock: {} as never,
          }),
      ).argument,
      'RateLimiter options.clock',
    );
  });
});

describe('RateLimitedError', () => {
  it('carries retryAfterMs and is recognised by its brand guard', () => {
    const error = new RateLimitedError(250);
    assert.ok(isRateLimitedError(error));
    assert.equal(error.code, 'RATE_LIMITED');
    assert.equal(error.retryAfterMs, 250);
    assert.match(error.message, /250 ms/);
    assert.match(new RateLimitedError(Number.POSITIVE_INFINITY).message, /ever allows/);
    assert.ok(!isRateLimitedError(new Error('no')));
  });
});
