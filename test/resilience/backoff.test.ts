import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, type Random, SeededRandom } from '../../src/core/index.js';
import {
  type Backoff,
  ConstantBackoff,
  ExponentialBackoff,
  type Jitter,
  LinearBackoff,
} from '../../src/resilience/backoff.js';

/** A Random whose float() always returns `value`: pins a jittered draw to one end. */
function fixedRandom(value: number): Random {
  const random = new SeededRandom({ seed: 1 });
  random.float = () => value;
  return random;
}

/** Delays after attempts 1..count, each fed the previous delay, as a retry policy does. */
function schedule(backoff: Backoff, count: number, random: Random): number[] {
  const delays: number[] = [];
  let previousDelayMs = 0;
  for (let attempt = 1; attempt <= count; attempt += 1) {
    previousDelayMs = backoff.delayMs(attempt, previousDelayMs, random);
    delays.push(previousDelayMs);
  }
  return delays;
}

const none = fixedRandom(0.5);

describe('backoff schedules without jitter', () => {
  it('ConstantBackoff returns the same delay every time', () => {
    assert.deepEqual(
      schedule(new ConstantBackoff({ delayMs: 250 }), 5, none),
      [250, 250, 250, 250, 250],
    );
  });

  it('LinearBackoff grows by the increment (default: the base) up to the cap', () => {
    assert.deepEqual(
      schedule(new LinearBackoff({ delayMsBase: 100, delayMsMax: 350 }), 5, none),
      [100, 200, 300, 350, 350],
    );
    assert.deepEqual(
      schedule(
        new LinearBackoff({ delayMsBase: 100, delayMsIncrement: 50, delayMsMax: 1_000 }),
        4,
        none,
      ),
      [100, 150, 200, 250],
    );
  });

  it('ExponentialBackoff multiplies by the factor (default 2) up to the cap', () => {
    const doubling = new ExponentialBackoff({
      delayMsBase: 100,
      delayMsMax: 1_000,
      jitter: 'none',
    });
    assert.deepEqual(schedule(doubling, 6, none), [100, 200, 400, 800, 1_000, 1_000]);
    const tripling = new ExponentialBackoff({
      delayMsBase: 10,
      factor: 3,
      delayMsMax: 10_000,
      jitter: 'none',
    });
    assert.deepEqual(schedule(tripling, 4, none), [10, 30, 90, 270]);
  });

  it('ExponentialBackoff stays at the cap for huge attempt numbers, and at 0 from a base of 0', () => {
    const backoff = new ExponentialBackoff({ delayMsBase: 1, delayMsMax: 5_000, jitter: 'none' });
    assert.equal(backoff.delayMs(10_000, 0, none), 5_000);
    const zero = new ExponentialBackoff({ delayMsBase: 0, delayMsMax: 5_000, jitter: 'none' });
    assert.equal(zero.delayMs(10_000, 0, none), 0);
  });

  it('defaults: exponential uses full jitter, constant and linear none', () => {
    assert.equal(new ExponentialBackoff({ delayMsBase: 1, delayMsMax: 2 }).jitter, 'full');
    assert.equal(new ConstantBackoff({ delayMs: 1 }).jitter, 'none');
    assert.equal(new LinearBackoff({ delayMsBase: 1, delayMsMax: 2 }).jitter, 'none');
  });
});

describe('jitter at the ends of its range', () => {
  const exponential = (jitter: Jitter): ExponentialBackoff =>
    new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 1_000, jitter });

  it('full jitter spans [0, computed]', () => {
    assert.equal(exponential('full').delayMs(3, 0, fixedRandom(0)), 0);
    assert.equal(exponential('full').delayMs(3, 0, fixedRandom(0.5)), 200);
  });

  it('equal jitter spans [computed / 2, computed]', () => {
    assert.equal(exponential('equal').delayMs(3, 0, fixedRandom(0)), 200);
    assert.equal(exponential('equal').delayMs(3, 0, fixedRandom(0.5)), 300);
    assert.equal(new ConstantBackoff({ delayMs: 80, jitter: 'equal' }).delayMs(1, 0, none), 60);
    assert.equal(
      new LinearBackoff({ delayMsBase: 100, delayMsMax: 400, jitter: 'full' }).delayMs(2, 0, none),
      100,
    );
  });

  it('decorrelated jitter spans [base, min(cap, 3 × previous)], a small previous counting as the base', () => {
    const backoff = exponential('decorrelated');
    assert.equal(backoff.delayMs(1, 0, fixedRandom(0)), 100);
    assert.equal(backoff.delayMs(1, 0, fixedRandom(0.5)), 200); // 100 + 0.5 × (300 - 100)
    assert.equal(backoff.delayMs(5, 200, fixedRandom(0.5)), 350); // 100 + 0.5 × (600 - 100)
    assert.equal(backoff.delayMs(5, 900, fixedRandom(0.5)), 550); // capped: 100 + 0.5 × 900
  });
});

const jitters: readonly Jitter[] = ['none', 'full', 'equal', 'decorrelated'];

/** An exponential backoff with arbitrary but valid options. */
const exponentialArbitrary = fc
  .record({
    delayMsBase: fc.double({ min: 0.001, max: 10_000, noNaN: true }),
    factor: fc.double({ min: 1, max: 10, noNaN: true }),
    capOverBaseMs: fc.double({ min: 0, max: 100_000, noNaN: true }),
    jitter: fc.constantFrom(...jitters),
  })
  .map(
    ({ delayMsBase, factor, capOverBaseMs, jitter }) =>
      new ExponentialBackoff({
        delayMsBase,
        factor,
        delayMsMax: delayMsBase + capOverBaseMs,
        jitter,
      }),
  );

describe('backoff bounds (property tests)', () => {
  it('every delay is finite and within [0, delayMsMax]', () => {
    fc.assert(
      fc.property(
        exponentialArbitrary,
        fc.integer({ min: 1, max: 2_000 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 32 }),
        (backoff, attempt, previousDelayMs, seed) => {
          const delayMs = backoff.delayMs(attempt, previousDelayMs, new SeededRandom({ seed }));
          return Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= backoff.delayMsMax;
        },
      ),
    );
  });

  it('full jitter lies in [0, computed] and equal jitter in [computed / 2, computed]', () => {
    fc.assert(
      fc.property(
        exponentialArbitrary,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 2 ** 32 }),
        (shape, attempt, seed) => {
          const options = {
            delayMsBase: shape.delayMsBase,
            factor: shape.factor,
            delayMsMax: shape.delayMsMax,
          };
          const computedMs = new ExponentialBackoff({ ...options, jitter: 'none' }).delayMs(
            attempt,
            0,
            none,
          );
          const full = new ExponentialBackoff({ ...options, jitter: 'full' }).delayMs(
            attempt,
            0,
            new SeededRandom({ seed }),
          );
          const equal = new ExponentialBackoff({ ...options, jitter: 'equal' }).delayMs(
            attempt,
            0,
            new SeededRandom({ seed }),
          );
          assert.equal(
            computedMs,
            Math.min(shape.delayMsMax, shape.delayMsBase * shape.factor ** (attempt - 1)),
          );
          assert.ok(full >= 0 && full <= computedMs, `full ${full} outside [0, ${computedMs}]`);
          assert.ok(
            equal >= computedMs / 2 && equal <= computedMs,
            `equal ${equal} outside [${computedMs / 2}, ${computedMs}]`,
          );
        },
      ),
    );
  });

  it('decorrelated jitter lies in [base, min(cap, 3 × max(previous, base))] along any run', () => {
    fc.assert(
      fc.property(
        exponentialArbitrary.map(
          (shape) =>
            new ExponentialBackoff({
              delayMsBase: shape.delayMsBase,
              delayMsMax: shape.delayMsMax,
              jitter: 'decorrelated',
            }),
        ),
        fc.integer({ min: 0, max: 2 ** 32 }),
        (backoff, seed) => {
          const random = new SeededRandom({ seed });
          let previousDelayMs = 0;
          for (let attempt = 1; attempt <= 30; attempt += 1) {
            const delayMs = backoff.delayMs(attempt, previousDelayMs, random);
            const upperMs = Math.min(
              backoff.delayMsMax,
              3 * Math.max(previousDelayMs, backoff.delayMsBase),
            );
            assert.ok(
              delayMs >= backoff.delayMsBase && delayMs <= upperMs,
              `attempt ${attempt}: ${delayMs} outside [${backoff.delayMsBase}, ${upperMs}]`,
            );
            previousDelayMs = delayMs;
          }
        },
      ),
    );
  });

  it('equal jitter never exceeds a subnormal computed delay (found by the property below)', () => {
    // Halving a subnormal delay rounds, and half + half could then exceed the delay.
    const constant = new ConstantBackoff({ delayMs: 5.4e-323, jitter: 'equal' });
    const delayMs = constant.delayMs(1, 0, new SeededRandom({ seed: 1197505358 }));
    assert.ok(delayMs <= constant.delayMsMax, `${delayMs} <= ${constant.delayMsMax}`);
  });

  it('constant and linear delays stay within [0, delayMsMax] with any jitter they offer', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.constantFrom('none', 'full', 'equal' as const),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 2 ** 32 }),
        (delayMsBase, delayMsIncrement, capOverBaseMs, jitter, attempt, seed) => {
          const random = new SeededRandom({ seed });
          const linear = new LinearBackoff({
            delayMsBase,
            delayMsIncrement,
            delayMsMax: delayMsBase + capOverBaseMs,
            jitter,
          });
          const constant = new ConstantBackoff({ delayMs: delayMsBase, jitter });
          for (const backoff of [linear, constant]) {
            const delayMs = backoff.delayMs(attempt, 0, random);
            assert.ok(
              delayMs >= 0 && delayMs <= backoff.delayMsMax,
              'delayMs >= 0 && delayMs <= backoff.delayMsMax',
            );
          }
        },
      ),
    );
  });

  it('is deterministic for a seed: the same seed gives the same schedule', () => {
    fc.assert(
      fc.property(exponentialArbitrary, fc.integer({ min: 0, max: 2 ** 32 }), (backoff, seed) => {
        const first = schedule(backoff, 20, new SeededRandom({ seed }));
        const second = schedule(backoff, 20, new SeededRandom({ seed }));
        assert.deepEqual(first, second);
      }),
    );
  });
});

describe('backoff options', () => {
  it('rejects negative, NaN or infinite delays and inverted caps with InvalidArgumentError', () => {
    const bad: (() => unknown)[] = [
      () => new ConstantBackoff({ delayMs: -1 }),
      () => new ConstantBackoff({ delayMs: Number.NaN }),
      () => new ConstantBackoff({ delayMs: Number.POSITIVE_INFINITY }),
      () => new LinearBackoff({ delayMsBase: 10, delayMsMax: 5 }),
      () => new LinearBackoff({ delayMsBase: 10, delayMsIncrement: -1, delayMsMax: 50 }),
      () => new ExponentialBackoff({ delayMsBase: -5, delayMsMax: 50 }),
      () => new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 50 }),
      () => new ExponentialBackoff({ delayMsBase: 10, factor: 0.5, delayMsMax: 50 }),
      () => new ExponentialBackoff({ delayMsBase: 10, factor: Number.NaN, delayMsMax: 50 }),
      () => new ExponentialBackoff({ delayMsBase: 0, delayMsMax: 50, jitter: 'decorrelated' }),
      () => new ExponentialBackoff(undefined as never),
    ];
    for (const make of bad) {
      assert.throws(make, isInvalidArgumentError);
    }
  });

  it('rejects an unknown jitter, and decorrelated jitter on constant and linear schedules', () => {
    assert.throws(
      () => new ExponentialBackoff({ delayMsBase: 1, delayMsMax: 2, jitter: 'wild' as Jitter }),
      (error: unknown) => isInvalidArgumentError(error) && /jitter/.test(error.message),
    );
    assert.throws(
      () => new ConstantBackoff({ delayMs: 1, jitter: 'decorrelated' as 'none' }),
      isInvalidArgumentError,
    );
    assert.throws(
      () => new LinearBackoff({ delayMsBase: 1, delayMsMax: 2, jitter: 'decorrelated' as 'none' }),
      isInvalidArgumentError,
    );
  });

  it('names the option in the message', () => {
    assert.throws(
      () => new LinearBackoff({ delayMsBase: 10, delayMsMax: 5 }),
      /LinearBackoff options\.delayMsMax must be a finite number >= 10; got number 5/,
    );
  });
});
