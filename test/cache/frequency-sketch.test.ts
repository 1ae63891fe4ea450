import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrequencySketch, hashKey } from '../../src/cache/index.js';
import { isInvalidArgumentError } from '../../src/core/index.js';

describe('FrequencySketch', () => {
  it('never underestimates within a sample period (count-min), saturating at 16', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 900 }),
        fc.integer({ min: 0, max: 1000 }),
        (keys, seed) => {
          const sketch = new FrequencySketch({ entryCount: 100 });
          const counts = new Map<number, number>();
          for (const key of keys) {
            sketch.increment(hashKey(key, seed));
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          assert.equal(sketch.agings, 0);
          for (const [key, count] of counts) {
            const estimate = sketch.frequency(hashKey(key, seed));
            assert.ok(estimate >= Math.min(count, 16), `key ${key}: ${estimate} < ${count}`);
            assert.ok(estimate <= 16);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('add(hash, k) leaves the same estimates as k increments in a row, from any state', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 400 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 40 }),
        (before, key, count) => {
          const batched = new FrequencySketch({ entryCount: 16, sampleSize: 10_000 });
          const oneByOne = new FrequencySketch({ entryCount: 16, sampleSize: 10_000 });
          for (const earlier of before) {
            batched.increment(hashKey(earlier));
            oneByOne.increment(hashKey(earlier));
          }
          batched.add(hashKey(key), count);
          for (let i = 0; i < count; i += 1) {
            oneByOne.increment(hashKey(key));
          }
          for (let probe = 0; probe <= 60; probe += 1) {
            assert.equal(
              batched.frequency(hashKey(probe)),
              oneByOne.frequency(hashKey(probe)),
              `key ${probe}`,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('addBeforeAging gives the same estimates whatever the order of the batch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 999 }), { maxLength: 40 }),
        // Enough keys for the 16-block sketch's doorkeeper words to be shared.
        fc.uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 100, maxLength: 300 }),
        fc.integer({ min: 1, max: 20 }),
        (before, batch, count) => {
          const forward = new FrequencySketch({ entryCount: 16, sampleSize: 100_000 });
          const backward = new FrequencySketch({ entryCount: 16, sampleSize: 100_000 });
          for (const earlier of before) {
            forward.increment(hashKey(earlier));
            backward.increment(hashKey(earlier));
          }
          for (const key of batch) {
            forward.addBeforeAging(hashKey(key), count);
          }
          for (const key of [...batch].reverse()) {
            backward.addBeforeAging(hashKey(key), count);
          }
          for (const probe of batch) {
            assert.equal(
              forward.frequency(hashKey(probe)),
              backward.frequency(hashKey(probe)),
              `key ${probe}`,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('add counts towards aging and refuses a count that is not a positive integer', () => {
    const sketch = new FrequencySketch({ entryCount: 10, sampleSize: 20 });
    sketch.add(hashKey('hot'), 19);
    assert.equal(sketch.agings, 0);
    sketch.add(hashKey('hot'), 3);
    assert.equal(sketch.agings, 1, 'the batch that reaches the sample size ages the sketch');
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => sketch.add(hashKey('hot'), bad), isInvalidArgumentError, String(bad));
    }
  });

  it('counts a key alone exactly: the doorkeeper takes the first sighting', () => {
    const sketch = new FrequencySketch({ entryCount: 1_000 });
    const hash = hashKey('alone');
    assert.equal(sketch.frequency(hash), 0);
    sketch.increment(hash);
    assert.equal(sketch.frequency(hash), 1);
    for (let i = 0; i < 4; i += 1) {
      sketch.increment(hash);
    }
    assert.equal(sketch.frequency(hash), 5);
    for (let i = 0; i < 50; i += 1) {
      sketch.increment(hash);
    }
    assert.equal(sketch.frequency(hash), 16);
  });

  it('keeps one-time keys low: most never-counted keys estimate 0 or 1', () => {
    const sketch = new FrequencySketch({ entryCount: 1_000 });
    for (let key = 0; key < 5_000; key += 1) {
      sketch.increment(hashKey(key));
    }
    let low = 0;
    for (let key = 0; key < 5_000; key += 1) {
      low += sketch.frequency(hashKey(key)) <= 1 ? 1 : 0;
    }
    assert.ok(low > 4_800, `${low} of 5000 one-time keys estimate at most 1`);
  });

  it('ages: after sampleSize sightings counters halve and the doorkeeper empties', () => {
    const sketch = new FrequencySketch({ entryCount: 10, sampleSize: 20 });
    const hot = hashKey('hot');
    for (let i = 0; i < 11; i += 1) {
      sketch.increment(hot);
    }
    assert.equal(sketch.frequency(hot), 11);
    for (let i = 0; i < 9; i += 1) {
      sketch.increment(hashKey(`cold${i}`));
    }
    assert.equal(sketch.agings, 1);
    assert.equal(sketch.frequency(hot), 5, '10 counted sightings halved; doorkeeper cleared');
  });

  it('validates its options', () => {
    assert.throws(() => new FrequencySketch({ entryCount: 0 }), isInvalidArgumentError);
    assert.throws(
      () => new FrequencySketch({ entryCount: 10, sampleSize: 0 }),
      isInvalidArgumentError,
    );
  });
});

describe('hashKey', () => {
  it('is deterministic per seed, differs across seeds, and separates value kinds', () => {
    assert.equal(hashKey('a', 1), hashKey('a', 1));
    assert.notEqual(hashKey('a', 1), hashKey('a', 2));
    assert.notEqual(hashKey(1), hashKey(2));
    const object = {};
    assert.equal(hashKey(object), hashKey(object));
    assert.notEqual(hashKey(object), hashKey({}));
    assert.equal(typeof hashKey(1.5), 'number');
    assert.equal(typeof hashKey(10n), 'number');
  });

  it('tells apart strings of different lengths whose code units pair up alike', () => {
    // Two code units are hashed per step, so 'a' and 'a\u0000' feed the same word.
    assert.notEqual(hashKey('a'), hashKey('a\u0000'));
    assert.notEqual(hashKey(''), hashKey('\u0000'));
    assert.notEqual(hashKey('abc'), hashKey('abc\u0000'));
  });

  it('has no collision among 200,000 keys of one pattern (odd and even lengths)', () => {
    const seen = new Set<number>();
    for (let key = 0; key < 200_000; key += 1) {
      seen.add(hashKey(`user:${key}`));
    }
    // 200,000 random 32-bit values collide about 4.7 times on average (n^2 / 2^33).
    assert.ok(seen.size > 200_000 - 20, `${200_000 - seen.size} collisions`);
  });

  it('spreads sequential integers and strings over the low bits', () => {
    const buckets = new Array(64).fill(0);
    for (let key = 0; key < 64_000; key += 1) {
      buckets[hashKey(key) & 63] += 1;
      buckets[hashKey(`key:${key}`) & 63] += 1;
    }
    assert.ok(buckets.every((count) => count > 1_700 && count < 2_300));
  });
});
