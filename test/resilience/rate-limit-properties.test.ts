/**
 * Properties every rate-limit algorithm promises, checked with fast-check over random
 * configurations and random request times and costs, on the pure transitions
 * (`acquire(state, nowMs, cost)`), so each check can fork the state without disturbing the
 * run. Times advance as a ManualClock's do (`nowMs += deltaMs`), including by exactly
 * `retryAfterMs`, the instant where an off-by-an-ulp answer would show.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FixedWindow,
  Gcra,
  LeakyBucketMeter,
  LeakyBucketShaper,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  type ShapeDecision,
  SlidingWindowCounter,
  SlidingWindowLog,
  TokenBucket,
} from '../../src/resilience/rate-limit/index.js';

type AnyAlgorithm = RateLimitAlgorithm<unknown, RateLimitDecision>;

interface Step {
  /** Advance by the previous denial's retryAfterMs instead of advanceMs, when there is one. */
  readonly waitForRetry: boolean;
  readonly advanceMs: number;
  readonly cost: number;
}

interface Event {
  readonly atMs: number;
  readonly cost: number;
  readonly decision: RateLimitDecision;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  waitForRetry: fc.boolean(),
  advanceMs: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 400 }),
    fc.double({ min: 0, max: 3_000, noNaN: true, noDefaultInfinity: true }),
  ),
  cost: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 24 })),
});

const startArbitrary = fc.oneof(
  fc.constant(0),
  // Small fractional times: where a difference of two instants is most often rounded.
  fc.double({ min: 0, max: 10, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: 0, max: 1_000_000 }),
  fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true }),
);

const countArbitrary = fc.integer({ min: 1, max: 20 });
const durationArbitrary = fc.oneof(
  fc.integer({ min: 1, max: 5_000 }),
  fc.double({ min: 0.5, max: 5_000, noNaN: true, noDefaultInfinity: true }),
);
const rateCountArbitrary = fc.oneof(
  fc.integer({ min: 1, max: 50 }),
  fc.double({ min: 0.05, max: 50, noNaN: true, noDefaultInfinity: true }),
);

/** Allowed cost over any closed interval [a, b] of allowed events is at most burst + rate·(b - a). */
function checkRateBound(events: readonly Event[], burst: number, unitsPerMs: number): void {
  const allowed = events.filter((event) => event.decision.allowed && event.cost > 0);
  for (let first = 0; first < allowed.length; first += 1) {
    let total = 0;
    for (let last = first; last < allowed.length; last += 1) {
      total += (allowed[last] as Event).cost;
      const spanMs = (allowed[last] as Event).atMs - (allowed[first] as Event).atMs;
      // Instants are doubles: near 2^28 ms they are spaced about 6e-8 ms apart, so an
      // instant computed as "exactly when one unit has leaked" can land an ulp early (seed
      // 762746571 found one). The bound holds up to that resolution of the clock.
      const resolutionMs =
        4 * Number.EPSILON * Math.max(1, Math.abs((allowed[last] as Event).atMs));
      const bound = burst + (spanMs + resolutionMs) * unitsPerMs;
      assert.ok(
        total <= bound + 1e-9 * (1 + bound),
        `allowed ${total} in ${spanMs} ms; the bound is ${bound}`,
      );
    }
  }
}

/** Allowed cost within any window (t, t + windowMs) starting at an allowed event is at most `bound`. */
function checkWindowBound(events: readonly Event[], windowMs: number, bound: number): void {
  const allowed = events.filter((event) => event.decision.allowed && event.cost > 0);
  for (let first = 0; first < allowed.length; first += 1) {
    let total = 0;
    const startMs = (allowed[first] as Event).atMs;
    for (let last = first; last < allowed.length; last += 1) {
      const event = allowed[last] as Event;
      if (!(startMs + windowMs > event.atMs)) {
        break;
      }
      total += event.cost;
    }
    assert.ok(
      total <= bound,
      `allowed ${total} within ${windowMs} ms of ${startMs}; bound ${bound}`,
    );
  }
}

interface Family {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<AnyAlgorithm>;
  /** The family's guarantee over the whole run. */
  readonly checkBound: (algorithm: AnyAlgorithm, events: readonly Event[]) => void;
  /** Whether `remaining` means "the largest cost allowed at the same instant". */
  readonly remainingIsLargestCost: boolean;
}

const families: Family[] = [
  {
    name: 'TokenBucket',
    arbitrary: fc
      .record({
        capacity: countArbitrary,
        refillCount: rateCountArbitrary,
        refillIntervalMs: durationArbitrary,
      })
      .map((options) => new TokenBucket(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const bucket = algorithm as unknown as TokenBucket;
      checkRateBound(events, bucket.capacity, bucket.refillCount / bucket.refillIntervalMs);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'LeakyBucketMeter',
    arbitrary: fc
      .record({
        capacity: countArbitrary,
        leakCount: rateCountArbitrary,
        leakIntervalMs: durationArbitrary,
      })
      .map((options) => new LeakyBucketMeter(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const meter = algorithm as unknown as LeakyBucketMeter;
      checkRateBound(events, meter.capacity, meter.leakCount / meter.leakIntervalMs);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'Gcra',
    arbitrary: fc
      .record({ limit: countArbitrary, periodMs: durationArbitrary, burst: countArbitrary })
      .map((options) => new Gcra(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const gcra = algorithm as unknown as Gcra;
      checkRateBound(events, gcra.burst, gcra.limit / gcra.periodMs);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'FixedWindow',
    arbitrary: fc
      .record({ limit: countArbitrary, windowMs: durationArbitrary })
      .map((options) => new FixedWindow(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const fixed = algorithm as unknown as FixedWindow;
      checkWindowBound(events, fixed.windowMs, 2 * fixed.limit);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'SlidingWindowLog',
    arbitrary: fc
      .record({ limit: countArbitrary, windowMs: durationArbitrary })
      .map((options) => new SlidingWindowLog(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const log = algorithm as unknown as SlidingWindowLog;
      checkWindowBound(events, log.windowMs, log.limit);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'SlidingWindowCounter',
    arbitrary: fc
      .record({ limit: countArbitrary, windowMs: durationArbitrary })
      .map((options) => new SlidingWindowCounter(options) as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const counter = algorithm as unknown as SlidingWindowCounter;
      checkWindowBound(events, counter.windowMs, 2 * counter.limit);
    },
    remainingIsLargestCost: true,
  },
  {
    name: 'LeakyBucketShaper',
    arbitrary: fc
      .record({
        leakCount: rateCountArbitrary,
        leakIntervalMs: durationArbitrary,
        delayMsMax: fc.oneof(fc.constant(0), durationArbitrary),
      })
      .map((options) => new LeakyBucketShaper(options) as unknown as AnyAlgorithm),
    checkBound: (algorithm, events) => {
      const shaper = algorithm as unknown as LeakyBucketShaper;
      const msPerUnit = shaper.leakIntervalMs / shaper.leakCount;
      let previousEndMs = Number.NEGATIVE_INFINITY;
      for (const { atMs, cost, decision } of events) {
        const { delayMs } = decision as ShapeDecision;
        if (!decision.allowed || cost === 0) {
          continue;
        }
        const tolerance = 1e-9 * (1 + Math.abs(atMs));
        assert.ok(delayMs <= shaper.delayMsMax + tolerance, `waits ${delayMs} ms`);
        const startMs = atMs + delayMs;
        assert.ok(
          startMs >= previousEndMs - tolerance,
          `starts at ${startMs}, before ${previousEndMs}`,
        );
        previousEndMs = startMs + cost * msPerUnit;
      }
    },
    remainingIsLargestCost: false,
  },
];

function nextNow(nowMs: number, step: Step, previous: RateLimitDecision | undefined): number {
  if (
    step.waitForRetry &&
    previous !== undefined &&
    !previous.allowed &&
    Number.isFinite(previous.retryAfterMs)
  ) {
    return nowMs + previous.retryAfterMs;
  }
  return nowMs + step.advanceMs;
}

/** Runs `steps` through `algorithm` from `startMs`, calling `inspect` after each decision. */
function run(
  algorithm: AnyAlgorithm,
  startMs: number,
  steps: readonly Step[],
  inspect: (state: unknown, nowMs: number, cost: number, decision: RateLimitDecision) => void,
): Event[] {
  const state = algorithm.createState();
  const events: Event[] = [];
  let nowMs = startMs;
  let previous: RateLimitDecision | undefined;
  for (const step of steps) {
    nowMs = nextNow(nowMs, step, previous);
    const decision = algorithm.acquire(state, nowMs, step.cost);
    inspect(state, nowMs, step.cost, decision);
    events.push({ atMs: nowMs, cost: step.cost, decision });
    previous = decision;
  }
  return events;
}

const runs = { numRuns: 300 };

for (const family of families) {
  describe(`${family.name} properties`, () => {
    it('a denied request is allowed after exactly retryAfterMs, and not before', () => {
      fc.assert(
        fc.property(
          family.arbitrary,
          startArbitrary,
          fc.array(stepArbitrary, { maxLength: 60 }),
          (algorithm, startMs, steps) => {
            run(algorithm, startMs, steps, (state, nowMs, cost, decision) => {
              if (decision.allowed) {
                assert.equal(decision.retryAfterMs, 0);
                return;
              }
              const retryAfterMs = decision.retryAfterMs;
              if (cost > algorithm.costMax) {
                assert.equal(retryAfterMs, Number.POSITIVE_INFINITY);
                return;
              }
              assert.ok(retryAfterMs > 0 && Number.isFinite(retryAfterMs), `${retryAfterMs}`);
              const later = algorithm.copyState(state);
              assert.ok(
                algorithm.acquire(later, nowMs + retryAfterMs, cost).allowed,
                `denied again at +${retryAfterMs} ms`,
              );
              // Not much earlier: the answer is the exact instant, not a safe overestimate.
              const earlierMs = nowMs + retryAfterMs * (1 - 1e-7);
              if (retryAfterMs * 1e-7 > 16 * Number.EPSILON * (Math.abs(nowMs) + retryAfterMs)) {
                const earlier = algorithm.copyState(state);
                assert.ok(
                  !algorithm.acquire(earlier, earlierMs, cost).allowed,
                  `already allowed at +${earlierMs - nowMs} ms of ${retryAfterMs}`,
                );
              }
            });
          },
        ),
        { numRuns: 1_000 },
      );
    });

    it('holds its bound on the allowed cost over time', () => {
      fc.assert(
        fc.property(
          family.arbitrary,
          startArbitrary,
          fc.array(stepArbitrary, { maxLength: 80 }),
          (algorithm, startMs, steps) => {
            family.checkBound(
              algorithm,
              run(algorithm, startMs, steps, () => {}),
            );
          },
        ),
        runs,
      );
    });

    if (family.remainingIsLargestCost) {
      it('remaining is the largest cost one more request at the same instant would be allowed', () => {
        fc.assert(
          fc.property(
            family.arbitrary,
            startArbitrary,
            fc.array(stepArbitrary, { maxLength: 60 }),
            (algorithm, startMs, steps) => {
              run(algorithm, startMs, steps, (state, nowMs, _cost, { remaining }) => {
                assert.ok(Number.isInteger(remaining) && remaining >= 0);
                assert.ok(remaining <= algorithm.costMax);
                if (remaining > 0) {
                  const fork = algorithm.copyState(state);
                  assert.ok(algorithm.acquire(fork, nowMs, remaining).allowed);
                }
                if (remaining < algorithm.costMax) {
                  const fork = algorithm.copyState(state);
                  assert.ok(!algorithm.acquire(fork, nowMs, remaining + 1).allowed);
                }
              });
            },
          ),
          runs,
        );
      });
    }

    it('an idle state is interchangeable with a fresh one: dropping it changes no decision', () => {
      fc.assert(
        fc.property(
          family.arbitrary,
          startArbitrary,
          fc.array(stepArbitrary, { maxLength: 60 }),
          (algorithm, startMs, steps) => {
            const kept = algorithm.createState();
            let dropped = algorithm.createState();
            let nowMs = startMs;
            let previous: RateLimitDecision | undefined;
            let dropCount = 0;
            for (const step of steps) {
              nowMs = nextNow(nowMs, step, previous);
              if (nowMs >= algorithm.idleAtMs(dropped)) {
                dropped = algorithm.createState();
                dropCount += 1;
              }
              const decision = algorithm.acquire(kept, nowMs, step.cost);
              assert.deepEqual(algorithm.acquire(dropped, nowMs, step.cost), decision);
              previous = decision;
            }
            return dropCount >= 0;
          },
        ),
        runs,
      );
    });

    it('a denial or a cost-0 probe changes no later decision', () => {
      fc.assert(
        fc.property(
          family.arbitrary,
          startArbitrary,
          fc.array(stepArbitrary, { maxLength: 40 }),
          fc.array(stepArbitrary, { minLength: 1, maxLength: 20 }),
          (algorithm, startMs, prefix, suffix) => {
            const state = algorithm.createState();
            let nowMs = startMs;
            for (const step of prefix) {
              nowMs += step.advanceMs;
              algorithm.acquire(state, nowMs, step.cost);
            }
            // Fork: one copy sees a probe and a request that is denied (cost above the max,
            // or whatever the state denies now), the other sees nothing.
            const touched = algorithm.copyState(state);
            const untouched = algorithm.copyState(state);
            algorithm.acquire(touched, nowMs, 0);
            const probe = algorithm.acquire(algorithm.copyState(state), nowMs, 1);
            if (!probe.allowed) {
              algorithm.acquire(touched, nowMs, 1);
            }
            if (algorithm.costMax < Number.MAX_SAFE_INTEGER) {
              algorithm.acquire(touched, nowMs, algorithm.costMax + 1);
            }
            for (const step of suffix) {
              nowMs += step.advanceMs;
              assert.deepEqual(
                algorithm.acquire(touched, nowMs, step.cost),
                algorithm.acquire(untouched, nowMs, step.cost),
              );
            }
          },
        ),
        runs,
      );
    });
  });
}

// Exact oracles: the textbook formulations, written independently of the implementations'
// threshold arithmetic, on configurations where floating point is exact (power-of-two
// rates for the buckets, integers for the windows). Decisions must agree to the bit.

interface Oracle {
  acquire(nowMs: number, cost: number): RateLimitDecision;
}

/** The classic token bucket: refill, compare, take. */
function tokenBucketOracle(capacity: number, msPerToken: number): Oracle {
  let tokens = capacity;
  let updatedMs: number | undefined;
  return {
    acquire(nowMs, cost) {
      const available =
        updatedMs === undefined
          ? capacity
          : Math.min(capacity, tokens + (nowMs - updatedMs) / msPerToken);
      if (cost <= available) {
        if (cost > 0) {
          tokens = available - cost;
          updatedMs = nowMs;
        }
        return { allowed: true, remaining: Math.floor(available - cost), retryAfterMs: 0 };
      }
      return {
        allowed: false,
        remaining: Math.floor(available),
        retryAfterMs: cost > capacity ? Number.POSITIVE_INFINITY : (cost - available) * msPerToken,
      };
    },
  };
}

function fixedWindowOracle(limit: number, windowMs: number): Oracle {
  let startMs: number | undefined;
  let count = 0;
  return {
    acquire(nowMs, cost) {
      if (startMs !== undefined && nowMs - startMs >= windowMs) {
        startMs = undefined;
        count = 0;
      }
      if (count + cost <= limit) {
        if (cost > 0) {
          startMs ??= nowMs;
          count += cost;
        }
        return { allowed: true, remaining: limit - count, retryAfterMs: 0 };
      }
      return {
        allowed: false,
        remaining: limit - count,
        retryAfterMs:
          cost > limit ? Number.POSITIVE_INFINITY : (startMs as number) + windowMs - nowMs,
      };
    },
  };
}

/** The sliding log as a plain list, searched in full each time. */
function slidingLogOracle(limit: number, windowMs: number): Oracle {
  const log: { atMs: number; cost: number }[] = [];
  const inWindow = (nowMs: number) => log.filter((entry) => nowMs - entry.atMs < windowMs);
  return {
    acquire(nowMs, cost) {
      const active = inWindow(nowMs);
      const used = active.reduce((sum, entry) => sum + entry.cost, 0);
      if (used + cost <= limit) {
        if (cost > 0) {
          log.push({ atMs: nowMs, cost });
        }
        return { allowed: true, remaining: limit - used - cost, retryAfterMs: 0 };
      }
      if (cost > limit) {
        return { allowed: false, remaining: limit - used, retryAfterMs: Number.POSITIVE_INFINITY };
      }
      // The earliest instant at which the entries still in the window leave room.
      let retryAfterMs = Number.POSITIVE_INFINITY;
      for (const candidate of active) {
        const atMs = candidate.atMs + windowMs;
        const left = inWindow(atMs).reduce((sum, entry) => sum + entry.cost, 0);
        if (left + cost <= limit) {
          retryAfterMs = Math.min(retryAfterMs, atMs - nowMs);
        }
      }
      return { allowed: false, remaining: limit - used, retryAfterMs };
    },
  };
}

/**
 * The sliding window counter in exact integer arithmetic: the estimate times windowMs is
 * `current·W + previous·(W - elapsed)`, compared with `limit·W`.
 */
function slidingCounterOracle(limit: number, windowMs: number): Oracle {
  let startMs: number | undefined;
  let previous = 0;
  let current = 0;
  const fits = (elapsedMs: number, cost: number) =>
    (current + cost) * windowMs + previous * (windowMs - elapsedMs) <= limit * windowMs;
  const roll = (nowMs: number) => {
    if (startMs === undefined) {
      return;
    }
    const windows = Math.floor((nowMs - startMs) / windowMs);
    if (windows >= 2) {
      startMs = undefined;
      previous = 0;
      current = 0;
    } else if (windows === 1) {
      previous = current;
      current = 0;
      startMs += windowMs;
    }
  };
  return {
    acquire(nowMs, cost) {
      roll(nowMs);
      const elapsedMs = startMs === undefined ? 0 : nowMs - startMs;
      let remaining = 0;
      while (remaining < limit && fits(elapsedMs, remaining + 1)) {
        remaining += 1;
      }
      if (cost <= limit && fits(elapsedMs, cost)) {
        if (cost > 0) {
          if (previous === 0 && current === 0) {
            startMs = nowMs;
          }
          current += cost;
          remaining -= cost;
          const afterMs = nowMs - (startMs as number);
          remaining = 0;
          while (remaining < limit && fits(afterMs, remaining + 1)) {
            remaining += 1;
          }
        }
        return { allowed: true, remaining, retryAfterMs: 0 };
      }
      if (cost > limit) {
        return { allowed: false, remaining, retryAfterMs: Number.POSITIVE_INFINITY };
      }
      const windowStartMs = startMs as number;
      let atMs: number;
      if (current + cost <= limit) {
        // previous·(W - e) <= (limit - current - cost)·W  ⇔  e >= W - spare·W / previous
        atMs = windowStartMs + windowMs - ((limit - current - cost) * windowMs) / previous;
      } else {
        atMs =
          windowStartMs + windowMs + Math.max(0, windowMs - ((limit - cost) * windowMs) / current);
      }
      return { allowed: false, remaining, retryAfterMs: atMs - nowMs };
    },
  };
}

interface OracleCase {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<{ algorithm: AnyAlgorithm; oracle: () => Oracle }>;
  /** Whether times stay integers (a wait for retryAfterMs is rounded to the nearest integer). */
  readonly integerTimes: boolean;
  /** Relative tolerance on retryAfterMs (0: exact). */
  readonly retryTolerance: number;
}

const powerOfTwoMs = fc.integer({ min: -2, max: 8 }).map((exponent) => 2 ** exponent);
const rateDivisor = fc.constantFrom(1, 2, 4, 8);

const oracleCases: OracleCase[] = [
  {
    name: 'TokenBucket',
    arbitrary: fc
      .tuple(countArbitrary, powerOfTwoMs, rateDivisor)
      .map(([capacity, msPerToken, refillCount]) => ({
        algorithm: new TokenBucket({
          capacity,
          refillCount,
          refillIntervalMs: msPerToken * refillCount,
        }) as AnyAlgorithm,
        oracle: () => tokenBucketOracle(capacity, msPerToken),
      })),
    integerTimes: false,
    retryTolerance: 0,
  },
  {
    name: 'LeakyBucketMeter (the token bucket reflected)',
    arbitrary: fc
      .tuple(countArbitrary, powerOfTwoMs, rateDivisor)
      .map(([capacity, msPerToken, leakCount]) => ({
        algorithm: new LeakyBucketMeter({
          capacity,
          leakCount,
          leakIntervalMs: msPerToken * leakCount,
        }) as AnyAlgorithm,
        oracle: () => tokenBucketOracle(capacity, msPerToken),
      })),
    integerTimes: false,
    retryTolerance: 0,
  },
  {
    name: 'Gcra (a token bucket of capacity burst)',
    arbitrary: fc
      .tuple(countArbitrary, powerOfTwoMs, rateDivisor)
      .map(([burst, msPerToken, limit]) => ({
        algorithm: new Gcra({ limit, periodMs: msPerToken * limit, burst }) as AnyAlgorithm,
        oracle: () => tokenBucketOracle(burst, msPerToken),
      })),
    integerTimes: false,
    retryTolerance: 0,
  },
  {
    name: 'FixedWindow',
    arbitrary: fc
      .tuple(countArbitrary, fc.integer({ min: 1, max: 2_000 }))
      .map(([limit, windowMs]) => ({
        algorithm: new FixedWindow({ limit, windowMs }) as AnyAlgorithm,
        oracle: () => fixedWindowOracle(limit, windowMs),
      })),
    integerTimes: false,
    retryTolerance: 0,
  },
  {
    name: 'SlidingWindowLog',
    arbitrary: fc
      .tuple(countArbitrary, fc.integer({ min: 1, max: 2_000 }))
      .map(([limit, windowMs]) => ({
        algorithm: new SlidingWindowLog({ limit, windowMs }) as AnyAlgorithm,
        oracle: () => slidingLogOracle(limit, windowMs),
      })),
    integerTimes: false,
    retryTolerance: 0,
  },
  {
    name: 'SlidingWindowCounter',
    arbitrary: fc
      .tuple(countArbitrary, fc.integer({ min: 1, max: 2_000 }))
      .map(([limit, windowMs]) => ({
        algorithm: new SlidingWindowCounter({ limit, windowMs }) as AnyAlgorithm,
        oracle: () => slidingCounterOracle(limit, windowMs),
      })),
    integerTimes: true,
    retryTolerance: 1e-12,
  },
];

const integerStepArbitrary: fc.Arbitrary<Step> = fc.record({
  waitForRetry: fc.boolean(),
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 })),
  cost: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 24 })),
});

describe('agreement with exact textbook oracles', () => {
  for (const { name, arbitrary, integerTimes, retryTolerance } of oracleCases) {
    it(`${name}: same allowed, remaining and retryAfterMs at every step`, () => {
      fc.assert(
        fc.property(
          arbitrary,
          fc.integer({ min: 0, max: 100_000 }),
          fc.array(integerStepArbitrary, { maxLength: 80 }),
          ({ algorithm, oracle: makeOracle }, startMs, steps) => {
            const oracle = makeOracle();
            const state = algorithm.createState();
            let nowMs = startMs;
            let previousMs = startMs;
            let previous: RateLimitDecision | undefined;
            for (const step of steps) {
              nowMs = nextNow(nowMs, step, previous);
              if (integerTimes) {
                // Rounding to the nearest integer lands exactly on integral thresholds.
                nowMs = Math.max(Math.round(nowMs), previousMs);
              }
              previousMs = nowMs;
              const actual = algorithm.acquire(state, nowMs, step.cost);
              const expected = oracle.acquire(nowMs, step.cost);
              const at = `at ${nowMs}, cost ${step.cost}`;
              assert.equal(actual.allowed, expected.allowed, at);
              assert.equal(actual.remaining, expected.remaining, at);
              if (retryTolerance === 0 || !Number.isFinite(expected.retryAfterMs)) {
                assert.equal(actual.retryAfterMs, expected.retryAfterMs, at);
              } else {
                assert.ok(
                  Math.abs(actual.retryAfterMs - expected.retryAfterMs) <=
                    retryTolerance * (nowMs + expected.retryAfterMs),
                  `${at}: ${actual.retryAfterMs} vs ${expected.retryAfterMs}`,
                );
              }
              previous = actual;
            }
          },
        ),
        { numRuns: 400 },
      );
    });
  }
});
