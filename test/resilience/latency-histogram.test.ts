import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError } from '../../src/core/index.js';
import { LatencyHistogram } from '../../src/resilience/latency-histogram.js';

/** The nearest-rank quantile the histogram promises to approximate. */
function exactQuantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1] as number;
}

function assertClose(actual: number | undefined, expected: number, relativeError: number): void {
  assert.ok(actual !== undefined, 'a quantile was expected');
  assert.ok(
    Math.abs(actual - expected) <= relativeError * expected * (1 + 1e-9),
    `${actual} is not within ${relativeError * 100}% of ${expected}`,
  );
}

describe('LatencyHistogram', () => {
  it('has no quantile while empty', () => {
    const histogram = new LatencyHistogram();
    assert.equal(histogram.count, 0);
    assert.equal(histogram.quantile(0.5), undefined);
  });

  it('reads a single sample back exactly, because estimates stay within the observed range', () => {
    const histogram = new LatencyHistogram();
    histogram.record(123.4);
    assert.equal(histogram.quantile(0), 123.4);
    assert.equal(histogram.quantile(0.95), 123.4);
    assert.equal(histogram.quantile(1), 123.4);
  });

  it('estimates the quantiles of 1..1000 ms within the relative error bound', () => {
    const histogram = new LatencyHistogram({ relativeErrorMax: 0.01 });
    for (let valueMs = 1; valueMs <= 1_000; valueMs += 1) {
      histogram.record(valueMs);
    }
    assert.equal(histogram.count, 1_000);
    assertClose(histogram.quantile(0.5), 500, 0.01);
    assertClose(histogram.quantile(0.95), 950, 0.01);
    assertClose(histogram.quantile(0.99), 990, 0.01);
    assert.equal(histogram.quantile(0), 1, 'the minimum is exact');
    assert.equal(histogram.quantile(1), 1_000, 'the maximum is exact');
  });

  it('uses nearest rank: q * count that is an integer up to rounding names that sample', () => {
    const histogram = new LatencyHistogram({ relativeErrorMax: 0.001 });
    for (let valueMs = 1; valueMs <= 100; valueMs += 1) {
      histogram.record(valueMs * 10);
    }
    // 0.07 * 100 is 7.000000000000001 in floating point; the rank is still 7.
    assertClose(histogram.quantile(0.07), 70, 0.001);
  });

  it('reads back zero durations as zero, as virtual time produces them', () => {
    const histogram = new LatencyHistogram();
    for (let index = 0; index < 10; index += 1) {
      histogram.record(0);
    }
    assert.equal(histogram.quantile(0.5), 0);
  });

  it('keeps values below valueMsMin within valueMsMin', () => {
    const histogram = new LatencyHistogram({ valueMsMin: 1 });
    for (const valueMs of [0, 0.25, 0.5, 0.75, 1]) {
      histogram.record(valueMs);
    }
    const median = histogram.quantile(0.5) as number;
    assert.ok(Math.abs(median - 0.5) <= 1, `median ${median}`);
    assert.ok(median >= 0 && median <= 1);
  });

  it('clamps values above valueMsMax into the top bucket, within the observed range', () => {
    const histogram = new LatencyHistogram({ valueMsMax: 1_000 });
    histogram.record(5_000);
    histogram.record(9_000);
    histogram.record(7_000);
    assert.equal(histogram.quantile(1), 9_000, 'the maximum is exact');
    assert.equal(histogram.quantile(0), 5_000, 'the minimum is exact');
    const median = histogram.quantile(0.5) as number;
    assert.ok(median >= 5_000 && median <= 9_000, `median ${median}`);
  });

  it('forgets samples older than two generations', () => {
    const histogram = new LatencyHistogram({ windowSampleCount: 100 });
    for (let index = 0; index < 500; index += 1) {
      histogram.record(1_000);
    }
    assert.equal(histogram.count, 200);
    assert.equal(histogram.quantile(0.5), 1_000);
    for (let index = 0; index < 100; index += 1) {
      histogram.record(10);
    }
    // The previous generation holds 100 samples of 1 s, the current one 100 of 10 ms.
    assert.equal(histogram.count, 200);
    assertClose(histogram.quantile(0.5), 10, 0.01);
    assert.equal(histogram.quantile(1), 1_000);
    histogram.record(10);
    assert.equal(histogram.count, 101);
    assert.equal(histogram.quantile(1), 10, 'the slow samples have left the window');
  });

  it('forgets everything on reset', () => {
    const histogram = new LatencyHistogram({ windowSampleCount: 3 });
    for (let index = 0; index < 5; index += 1) {
      histogram.record(42);
    }
    histogram.reset();
    assert.equal(histogram.count, 0);
    assert.equal(histogram.quantile(0.5), undefined);
    histogram.record(7);
    assert.equal(histogram.quantile(0.5), 7);
  });

  it('sizes its buckets from the error bound and the range', () => {
    const coarse = new LatencyHistogram({ relativeErrorMax: 0.05 });
    const fine = new LatencyHistogram({ relativeErrorMax: 0.005 });
    assert.ok(
      fine.bucketCount > coarse.bucketCount * 5,
      `${fine.bucketCount} vs ${coarse.bucketCount}`,
    );
    assert.ok(coarse.bucketCount < 200);
  });

  it('rejects options out of range, naming the option', () => {
    const cases: [string, () => unknown][] = [
      ['relativeErrorMax', () => new LatencyHistogram({ relativeErrorMax: 0 })],
      ['relativeErrorMax', () => new LatencyHistogram({ relativeErrorMax: 0.6 })],
      ['relativeErrorMax', () => new LatencyHistogram({ relativeErrorMax: Number.NaN })],
      ['valueMsMin', () => new LatencyHistogram({ valueMsMin: 0 })],
      ['valueMsMin', () => new LatencyHistogram({ valueMsMin: -1 })],
      ['valueMsMax', () => new LatencyHistogram({ valueMsMin: 10, valueMsMax: 10 })],
      ['valueMsMax', () => new LatencyHistogram({ valueMsMax: Number.POSITIVE_INFINITY })],
      ['windowSampleCount', () => new LatencyHistogram({ windowSampleCount: 0 })],
      ['windowSampleCount', () => new LatencyHistogram({ windowSampleCount: 1.5 })],
      [
        'relativeErrorMax',
        () =>
          new LatencyHistogram({ relativeErrorMax: 0.0001, valueMsMin: 1e-300, valueMsMax: 1e300 }),
      ],
    ];
    for (const [option, make] of cases) {
      assert.throws(make, (error) => {
        assert.ok(isInvalidArgumentError(error));
        assert.match(error.argument, new RegExp(option));
        return true;
      });
    }
  });

  it('rejects samples and quantiles that are not numbers in range', () => {
    const histogram = new LatencyHistogram();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => histogram.record(bad), isInvalidArgumentError);
    }
    for (const bad of [-0.1, 1.1, Number.NaN]) {
      assert.throws(() => histogram.quantile(bad), isInvalidArgumentError);
    }
    assert.equal(histogram.count, 0, 'nothing bad was recorded');
  });

  it('property: every quantile is within the bound of the exact quantile of the window', () => {
    const sample = fc.oneof(
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.double({ min: 0, max: 2, noNaN: true }) },
      { weight: 6, arbitrary: fc.double({ min: 0, max: 20_000, noNaN: true }) },
      { weight: 1, arbitrary: fc.double({ min: 20_000, max: 1e6, noNaN: true }) },
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(sample, { minLength: 1, maxLength: 300 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }),
        (relativeErrorMax, windowSampleCount, samples, qs) => {
          const valueMsMin = 1;
          const valueMsMax = 20_000;
          const histogram = new LatencyHistogram({
            relativeErrorMax,
            valueMsMin,
            valueMsMax,
            windowSampleCount,
          });
          for (const valueMs of samples) {
            histogram.record(valueMs);
          }
          const window = samples.slice(samples.length - histogram.count);
          const windowLow = Math.min(...window);
          const windowHigh = Math.max(...window);
          for (const q of qs) {
            const estimate = histogram.quantile(q) as number;
            const exact = exactQuantile(window, q);
            assert.ok(estimate >= windowLow && estimate <= windowHigh, 'within the window range');
            if (exact <= valueMsMin) {
              assert.ok(Math.abs(estimate - exact) <= valueMsMin, `${estimate} vs ${exact}`);
            } else if (exact <= valueMsMax) {
              assert.ok(
                Math.abs(estimate - exact) <= relativeErrorMax * exact * (1 + 1e-9),
                `q ${q}: ${estimate} vs exact ${exact}, bound ${relativeErrorMax}`,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: memory and the window stay bounded however many samples arrive', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.double({ min: 0, max: 1e7, noNaN: true }), { maxLength: 400 }),
        (windowSampleCount, samples) => {
          const histogram = new LatencyHistogram({ windowSampleCount });
          const bucketCount = histogram.bucketCount;
          samples.forEach((valueMs, index) => {
            histogram.record(valueMs);
            const recorded = index + 1;
            const expected =
              recorded <= windowSampleCount
                ? recorded
                : windowSampleCount + ((recorded - 1) % windowSampleCount) + 1;
            assert.equal(histogram.count, expected);
            assert.ok(histogram.count <= 2 * windowSampleCount);
          });
          assert.equal(histogram.bucketCount, bucketCount, 'no buckets are added');
        },
      ),
      { numRuns: 200 },
    );
  });
});
