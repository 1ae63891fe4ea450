import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BloomFilter, bloomFilterSize, isBloomFilterKey } from '../../src/cache/bloom-filter.js';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';

describe('BloomFilter sizing', () => {
  it('takes m = -n ln p / (ln 2)^2 bits and k = round(m / n ln 2) hashes', () => {
    const filter = new BloomFilter({ expectedItems: 1_000, falsePositiveRate: 0.01 });
    // -1000 ln 0.01 / (ln 2)^2 = 9585.06..., so 9586 bits; 9586 / 1000 * ln 2 = 6.64 -> 7.
    assert.equal(filter.bitCount, 9_586);
    assert.equal(filter.hashCount, 7);
    assert.equal(filter.expectedItems, 1_000);
    assert.equal(filter.falsePositiveRate, 0.01);
    assert.deepEqual(bloomFilterSize({ expectedItems: 1_000_000, falsePositiveRate: 0.001 }), {
      bitCount: 14_377_588,
      hashCount: 10,
    });
  });

  it('uses at least one hash and 32 bits', () => {
    assert.deepEqual(bloomFilterSize({ expectedItems: 1, falsePositiveRate: 0.9 }), {
      bitCount: 32,
      hashCount: 22,
    });
    const loose = bloomFilterSize({ expectedItems: 10_000, falsePositiveRate: 0.9 });
    assert.equal(loose.hashCount, 1);
  });

  it('rejects options out of range with InvalidArgumentError naming the option', () => {
    const bad: [unknown, string][] = [
      [{ expectedItems: 0, falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ expectedItems: -5, falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ expectedItems: 1.5, falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ expectedItems: Number.NaN, falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ expectedItems: 100_000_001, falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ falsePositiveRate: 0.01 }, 'options.expectedItems'],
      [{ expectedItems: 10, falsePositiveRate: 0 }, 'options.falsePositiveRate'],
      [{ expectedItems: 10, falsePositiveRate: 1 }, 'options.falsePositiveRate'],
      [{ expectedItems: 10, falsePositiveRate: Number.NaN }, 'options.falsePositiveRate'],
      [{ expectedItems: 10, falsePositiveRate: '0.1' }, 'options.falsePositiveRate'],
      [{ expectedItems: 10 }, 'options.falsePositiveRate'],
      // 10^8 items at 10^-12 would need about 4.8 * 10^9 bits.
      [{ expectedItems: 100_000_000, falsePositiveRate: 1e-12 }, 'options.falsePositiveRate'],
    ];
    for (const [options, argument] of bad) {
      assert.throws(
        () => new BloomFilter(options as never),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        JSON.stringify(options),
      );
    }
    assert.throws(() => new BloomFilter(null as never), isInvalidArgumentError);
    assert.throws(() => new BloomFilter(undefined as never), isInvalidArgumentError);
  });

  it('rejects keys that are neither strings nor numbers', () => {
    const filter = new BloomFilter({ expectedItems: 10, falsePositiveRate: 0.1 });
    for (const key of [undefined, null, {}, true, 1n, Symbol('k')]) {
      assert.throws(() => filter.add(key as never), isInvalidArgumentError);
      assert.throws(() => filter.mightContain(key as never), isInvalidArgumentError);
    }
    assert.equal(isBloomFilterKey('a'), true);
    assert.equal(isBloomFilterKey(3), true);
    assert.equal(isBloomFilterKey(null), false);
  });
});

describe('BloomFilter answers', () => {
  it('never reports an added key as absent (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.double()), { maxLength: 200 }),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0.0001, max: 0.5, noNaN: true }),
        (keys, expectedItems, falsePositiveRate) => {
          const filter = new BloomFilter({ expectedItems, falsePositiveRate });
          for (const key of keys) {
            filter.add(key);
          }
          for (const key of keys) {
            assert.equal(filter.mightContain(key), true, `lost ${String(key)}`);
          }
        },
      ),
    );
  });

  it('keeps strings and numbers apart, and treats -0 as 0 and every NaN as one key', () => {
    const filter = new BloomFilter({ expectedItems: 100, falsePositiveRate: 0.0001 });
    filter.add(1);
    assert.equal(filter.mightContain('1'), false);
    filter.add('2');
    assert.equal(filter.mightContain(2), false);
    filter.add(-0);
    assert.equal(filter.mightContain(0), true);
    filter.add(Number.NaN);
    assert.equal(filter.mightContain(0 / 0), true);
    assert.equal(filter.add(0), false, 'adding 0 after -0 sets no new bit');
  });

  it('counts keys that set a new bit, and clear() empties it', () => {
    const filter = new BloomFilter({ expectedItems: 100, falsePositiveRate: 0.01 });
    assert.equal(filter.add('a'), true);
    assert.equal(filter.add('a'), false);
    assert.equal(filter.add('b'), true);
    assert.equal(filter.count, 2);
    assert.ok(filter.setBitCount > filter.hashCount && filter.setBitCount <= 2 * filter.hashCount);
    filter.clear();
    assert.equal(filter.count, 0);
    assert.equal(filter.setBitCount, 0);
    assert.equal(filter.mightContain('a'), false);
    assert.equal(filter.expectedFalsePositiveRate(), 0);
  });

  for (const [expectedItems, rate] of [
    [10_000, 0.01],
    [5_000, 0.001],
    [20_000, 0.05],
  ] as const) {
    it(`measures about ${rate} false positives at ${expectedItems} seeded keys`, () => {
      const random = new SeededRandom({ seed: 8_001 + expectedItems });
      const filter = new BloomFilter({ expectedItems, falsePositiveRate: rate });
      const added = new Set<string>();
      while (added.size < expectedItems) {
        const key = `user:${random.uint32()}:${random.uint32()}`;
        added.add(key);
        filter.add(key);
      }
      // After exactly n distinct keys the expected rate is the configured one, within the
      // rounding of m and k.
      assert.ok(Math.abs(filter.expectedFalsePositiveRate() - rate) / rate < 0.15);
      const probes = 200_000;
      let falsePositives = 0;
      let tested = 0;
      while (tested < probes) {
        const key = `user:${random.uint32()}:${random.uint32()}`;
        if (added.has(key)) {
          continue;
        }
        tested += 1;
        if (filter.mightContain(key)) {
          falsePositives += 1;
        }
      }
      const measured = falsePositives / probes;
      // Deterministic: the seed fixes keys and hashes. The bound allows the binomial spread
      // (about 3 standard deviations at 0.001 over 200,000 probes is +-21%) and m, k rounding.
      assert.ok(
        measured > rate * 0.7 && measured < rate * 1.3,
        `measured ${measured} against configured ${rate}`,
      );
    });
  }

  it('measures about the configured rate on sequential integer keys', () => {
    const filter = new BloomFilter({ expectedItems: 50_000, falsePositiveRate: 0.01 });
    for (let key = 0; key < 50_000; key += 1) {
      filter.add(key);
    }
    let falsePositives = 0;
    for (let key = 50_000; key < 250_000; key += 1) {
      if (filter.mightContain(key)) {
        falsePositives += 1;
      }
    }
    const measured = falsePositives / 200_000;
    assert.ok(measured > 0.007 && measured < 0.013, `measured ${measured}`);
  });

  it('reports a rising expected rate past expectedItems', () => {
    const filter = new BloomFilter({ expectedItems: 1_000, falsePositiveRate: 0.01 });
    let previous = 0;
    for (let key = 0; key < 3_000; key += 1) {
      filter.add(`k${key}`);
      if (key % 500 === 499) {
        const now = filter.expectedFalsePositiveRate();
        assert.ok(now > previous);
        previous = now;
      }
    }
    assert.ok(previous > 0.1, `at 3x the expected items the rate is ${previous}`);
  });
});
