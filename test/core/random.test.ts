import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isInvalidArgumentError,
  type Random,
  SeededRandom,
  systemRandom,
  systemSeed,
} from '../../src/core/index.js';

const seedArbitrary = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const labelArbitrary = fc.string({ minLength: 1, maxLength: 12 });

function uint32s(random: Random, count: number): number[] {
  return Array.from({ length: count }, () => random.uint32());
}

function assertInvalidArgument(run: () => unknown, what: string): void {
  assert.throws(run, (error: unknown) => isInvalidArgumentError(error), what);
}

/** Pearson's chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  let statistic = 0;
  for (let index = 0; index < observed.length; index += 1) {
    const expectedCount = expected[index] as number;
    const difference = (observed[index] as number) - expectedCount;
    statistic += (difference * difference) / expectedCount;
  }
  return statistic;
}

/** Upper 0.999 quantiles of the chi-square distribution, by degrees of freedom. */
const chiSquareCritical999: Readonly<Record<number, number>> = { 2: 13.816, 9: 27.877 };

function meanAndVariance(values: readonly number[]): { mean: number; variance: number } {
  let sum = 0;
  for (const value of values) {
    sum += value;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) {
    squares += (value - mean) * (value - mean);
  }
  return { mean, variance: squares / (values.length - 1) };
}

// ---------------------------------------------------------------------------------------
// An independent xoshiro128** written from Blackman and Vigna's published algorithm, used
// to check that SeededRandom.uint32 is that algorithm and nothing else.

function rotateLeft32(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

/** One step of xoshiro128** on `state` (four unsigned 32-bit words), in place. */
function referenceNext(state: number[]): number {
  const [s0, s1, s2, s3] = state as [number, number, number, number];
  const output = Math.imul(rotateLeft32(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  const next2 = (s2 ^ s0) >>> 0;
  const next3 = (s3 ^ s1) >>> 0;
  state[1] = (s1 ^ next2) >>> 0;
  state[0] = (s0 ^ next3) >>> 0;
  state[2] = (next2 ^ t) >>> 0;
  state[3] = rotateLeft32(next3, 11);
  return output;
}

/** The multiplicative inverse of an odd number modulo 2^32 (Newton's iteration). */
function inverseModulo32(odd: number): number {
  let inverse = odd;
  for (let round = 0; round < 5; round += 1) {
    inverse = Math.imul(inverse, 2 - Math.imul(odd, inverse));
  }
  return inverse >>> 0;
}

const inverseOf5 = inverseModulo32(5);
const inverseOf9 = inverseModulo32(9);

/** Undoes the `**` scrambler: the state word s1 that produced `output`. */
function unscramble(output: number): number {
  const rotated = Math.imul(output, inverseOf9) >>> 0;
  const product = ((rotated >>> 7) | (rotated << 25)) >>> 0;
  return Math.imul(product, inverseOf5) >>> 0;
}

/**
 * Each bit of a symbolic state word is a linear form over GF(2) in the 128 unknown bits
 * of the starting state, held as a bigint mask (bit 32 * word + bit).
 */
type SymbolicWord = bigint[];

function symbolicStart(word: number): SymbolicWord {
  return Array.from({ length: 32 }, (_, bit) => 1n << BigInt(32 * word + bit));
}

function xorWords(a: SymbolicWord, b: SymbolicWord): SymbolicWord {
  return a.map((form, bit) => form ^ (b[bit] as bigint));
}

function shiftLeftWord(word: SymbolicWord, bits: number): SymbolicWord {
  return word.map((_, bit) => (bit >= bits ? (word[bit - bits] as bigint) : 0n));
}

function rotateLeftWord(word: SymbolicWord, bits: number): SymbolicWord {
  return word.map((_, bit) => word[(bit - bits + 32) % 32] as bigint);
}

/**
 * Recovers the hidden 128-bit state a generator started from, given its first outputs:
 * the scrambler is invertible, so each output reveals the state word s1 at that step, and
 * the xoshiro transition is linear over GF(2), so those words are linear equations in the
 * starting bits. Returns undefined when the equations are inconsistent or do not pin the
 * state down, which is what a generator other than xoshiro128** would produce.
 */
function recoverState(outputs: readonly number[]): number[] | undefined {
  let s0 = symbolicStart(0);
  let s1 = symbolicStart(1);
  let s2 = symbolicStart(2);
  let s3 = symbolicStart(3);
  const rhsBit = 1n << 128n;
  const coefficientMask = rhsBit - 1n;
  const pivots = new Map<number, bigint>();
  for (const output of outputs) {
    const observed = unscramble(output);
    for (let bit = 0; bit < 32; bit += 1) {
      let row = (s1[bit] as bigint) | (((observed >>> bit) & 1) === 1 ? rhsBit : 0n);
      for (let column = 0; column < 128 && (row & coefficientMask) !== 0n; column += 1) {
        if (((row >> BigInt(column)) & 1n) === 0n) {
          continue;
        }
        const pivot = pivots.get(column);
        if (pivot === undefined) {
          pivots.set(column, row);
          row = 0n;
        } else {
          row ^= pivot;
        }
      }
      if (row !== 0n) {
        return undefined; // 0 = 1: inconsistent
      }
    }
    const t = shiftLeftWord(s1, 9);
    s2 = xorWords(s2, s0);
    s3 = xorWords(s3, s1);
    s1 = xorWords(s1, s2);
    s0 = xorWords(s0, s3);
    s2 = xorWords(s2, t);
    s3 = rotateLeftWord(s3, 11);
  }
  if (pivots.size !== 128) {
    return undefined;
  }
  const bits: bigint[] = new Array(128).fill(0n);
  for (let column = 127; column >= 0; column -= 1) {
    const pivot = pivots.get(column) as bigint;
    let value = (pivot >> 128n) & 1n;
    for (let other = column + 1; other < 128; other += 1) {
      if (((pivot >> BigInt(other)) & 1n) === 1n) {
        value ^= bits[other] as bigint;
      }
    }
    bits[column] = value;
  }
  return [0, 1, 2, 3].map((word) => {
    let value = 0;
    for (let bit = 31; bit >= 0; bit -= 1) {
      value = value * 2 + Number(bits[32 * word + bit]);
    }
    return value;
  });
}

describe('xoshiro128** reference', () => {
  it('matches a published vector of the C reference implementation', () => {
    // Test data generated with the authors' C code, from edorfaus/xoshiro-6502
    // (test-rom/testdata.asm): a starting state, then four outputs and the state after each.
    const state = [0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0];
    const expected: readonly [number, readonly number[]][] = [
      [0xf1391922, [0x72410269, 0xef382c52, 0x2e43bec7, 0x62432f20]],
      [0x6fe53806, [0xff3a011b, 0xb33a90fc, 0x2c5a18ae, 0xd81b946b]],
      [0xa5be2840, [0x941b058c, 0x605a8949, 0xa641e1b5, 0x0824bb59]],
      [0xf510ee70, [0xfc65379c, 0x52006d70, 0x87487639, 0xf1908343]],
    ];
    for (const [output, nextState] of expected) {
      assert.equal(referenceNext(state), output);
      assert.deepEqual(state, nextState);
    }
  });

  it('inverts the scrambler and recovers a known state from outputs alone', () => {
    assert.equal(Math.imul(5, inverseOf5), 1);
    assert.equal(Math.imul(9, inverseOf9), 1);
    const start = [0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0];
    const running = [...start];
    const outputs = Array.from({ length: 8 }, () => referenceNext(running));
    assert.deepEqual(recoverState(outputs), start);
  });

  it('is not fooled by a near miss: a variant with another rotation is not predicted', () => {
    // The same generator with rotation 12 instead of 11 in the last step.
    const state = [0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0];
    const variantNext = (): number => {
      const output = referenceNext(state);
      const s3 = state[3] as number;
      state[3] = rotateLeft32(((s3 >>> 11) | (s3 << 21)) >>> 0, 12);
      return output;
    };
    const outputs = Array.from({ length: 100 }, variantNext);
    const recovered = recoverState(outputs.slice(0, 8));
    const predicted =
      recovered === undefined
        ? []
        : Array.from({ length: outputs.length }, () => referenceNext(recovered));
    assert.notDeepEqual(predicted, outputs);
  });
});

describe('SeededRandom', () => {
  describe('uint32 is xoshiro128**', () => {
    const generators: [string, () => SeededRandom][] = [
      ['seed 0', () => new SeededRandom({ seed: 0 })],
      ['seed 42', () => new SeededRandom({ seed: 42 })],
      ['seed 2^53 - 1', () => new SeededRandom({ seed: 2 ** 53 - 1 })],
      ['seed 42, fork a, fork b', () => new SeededRandom({ seed: 42 }).fork('a').fork('b')],
    ];
    for (const [name, make] of generators) {
      it(`${name}: the reference run from the recovered state predicts 2,000 outputs`, () => {
        const outputs = uint32s(make(), 2_000);
        const state = recoverState(outputs.slice(0, 8));
        assert.ok(state !== undefined, 'the outputs are consistent with one xoshiro128** state');
        const predicted = Array.from({ length: outputs.length }, () => referenceNext(state));
        assert.deepEqual(predicted, outputs);
      });
    }
  });

  describe('golden vectors (the sequence must never change)', () => {
    it('seed 0', () => {
      assert.deepEqual(
        uint32s(new SeededRandom({ seed: 0 }), 8),
        [
          1240917559, 1790158574, 1812397567, 3125032890, 3298999829, 915806060, 2092207425,
          2218364168,
        ],
      );
    });

    it('seed 42', () => {
      assert.deepEqual(
        uint32s(new SeededRandom({ seed: 42 }), 8),
        [
          570755840, 1408375771, 801453658, 2042474461, 1163793522, 2571116951, 1485656222,
          3046981891,
        ],
      );
    });

    it('seed 2^53 - 1', () => {
      assert.deepEqual(
        uint32s(new SeededRandom({ seed: 2 ** 53 - 1 }), 8),
        [
          2790687518, 3376421608, 3316103212, 929055877, 647121388, 690341581, 3656737442,
          142175426,
        ],
      );
    });

    it("seed 42, fork('a').fork('b')", () => {
      const forked = new SeededRandom({ seed: 42 }).fork('a').fork('b');
      assert.equal(forked.path, 'a/b');
      assert.equal(forked.seed, 42);
      assert.deepEqual(
        uint32s(forked, 8),
        [
          563797823, 2138242525, 4172480318, 3558988668, 1904524756, 2815790749, 3989706442,
          484901396,
        ],
      );
    });
  });

  describe('golden draws of every kind (seed 42)', () => {
    it('float, integer, boolean, pick, shuffle, exponential, normal and zipf never change', () => {
      // The continuous draws use Math.log and friends: bit-exact on V8, which Node.js runs.
      const random = new SeededRandom({ seed: 42 });
      assert.deepEqual(
        [random.float(), random.float(), random.float()],
        [0.1328894520395475, 0.1866029685404199, 0.2709667950766892],
      );
      assert.deepEqual(
        Array.from({ length: 8 }, () => random.integer(1, 6)),
        [3, 2, 2, 2, 1, 1, 1, 5],
      );
      // A range where rejection sampling rejects a quarter of the raw draws.
      assert.deepEqual(
        Array.from({ length: 4 }, () => random.integer(0, 3 * 2 ** 30 - 1)),
        [3131152936, 1044912861, 3093886618, 1058055996],
      );
      assert.deepEqual(
        Array.from({ length: 4 }, () => random.integer(-(2 ** 40), 2 ** 40)),
        [871205287328, 146842511864, -1060532271808, -215265588019],
      );
      assert.deepEqual(
        Array.from({ length: 8 }, () => random.boolean(0.3)),
        [false, true, false, false, false, false, false, true],
      );
      assert.deepEqual(
        Array.from({ length: 6 }, () => random.pick(['a', 'b', 'c', 'd', 'e'])),
        ['a', 'b', 'd', 'a', 'd', 'a'],
      );
      assert.deepEqual(
        random.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        [6, 3, 8, 1, 4, 2, 5, 9, 0, 7],
      );
      assert.deepEqual(
        [random.exponential(10), random.exponential(10)],
        [2.1291456628063536, 26.435156243419257],
      );
      assert.deepEqual(
        [random.normal(), random.normal(100, 15)],
        [1.4656366809037742, 97.67183740040194],
      );
      assert.deepEqual(
        Array.from({ length: 8 }, () => random.zipf(100, 1.1)),
        [28, 3, 8, 1, 44, 13, 4, 5],
      );
      assert.equal(random.uint32(), 3404417453);
    });
  });

  describe('properties', () => {
    type Operation =
      | { kind: 'uint32' }
      | { kind: 'float' }
      | { kind: 'integer'; min: number; max: number }
      | { kind: 'boolean'; probability: number }
      | { kind: 'exponential'; mean: number }
      | { kind: 'normal' }
      | { kind: 'zipf'; count: number; exponent: number }
      | { kind: 'shuffle'; length: number };

    const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
      fc.constant({ kind: 'uint32' as const }),
      fc.constant({ kind: 'float' as const }),
      fc
        .tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 2 ** 40 }))
        .map(([min, width]) => ({ kind: 'integer' as const, min, max: min + width })),
      fc
        .double({ min: 0, max: 1, noNaN: true })
        .map((probability) => ({ kind: 'boolean' as const, probability })),
      fc
        .double({ min: 0.001, max: 1000, noNaN: true })
        .map((mean) => ({ kind: 'exponential' as const, mean })),
      fc.constant({ kind: 'normal' as const }),
      fc
        .tuple(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.1, max: 3, noNaN: true }))
        .map(([count, exponent]) => ({ kind: 'zipf' as const, count, exponent })),
      fc.integer({ min: 0, max: 20 }).map((length) => ({ kind: 'shuffle' as const, length })),
    );

    function perform(random: Random, operation: Operation): unknown {
      switch (operation.kind) {
        case 'uint32':
          return random.uint32();
        case 'float':
          return random.float();
        case 'integer':
          return random.integer(operation.min, operation.max);
        case 'boolean':
          return random.boolean(operation.probability);
        case 'exponential':
          return random.exponential(operation.mean);
        case 'normal':
          return random.normal();
        case 'zipf':
          return random.zipf(operation.count, operation.exponent);
        case 'shuffle':
          return random.shuffle(Array.from({ length: operation.length }, (_, index) => index));
      }
    }

    it('the same seed gives the same sequence of every kind of draw', () => {
      fc.assert(
        fc.property(seedArbitrary, fc.array(operationArbitrary, { maxLength: 40 }), (seed, ops) => {
          const first = new SeededRandom({ seed });
          const second = new SeededRandom({ seed });
          const firstResults = ops.map((operation) => perform(first, operation));
          const secondResults = ops.map((operation) => perform(second, operation));
          assert.deepEqual(firstResults, secondResults);
          assert.equal(first.uint32(), second.uint32());
        }),
      );
    });

    it('integer(min, max) is an integer within the bounds, for ranges up to 2^53', () => {
      const widthArbitrary = fc.oneof(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 2 ** 32 - 3, max: 2 ** 32 + 3 }),
        fc.integer({ min: 2 ** 32, max: 2 ** 53 - 1 }),
        fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      );
      fc.assert(
        fc.property(seedArbitrary, fc.maxSafeInteger(), widthArbitrary, (seed, minimum, width) => {
          // Shift the range down when it would end past the largest safe integer.
          const min = Math.min(minimum, Number.MAX_SAFE_INTEGER - width);
          const max = min + width;
          const random = new SeededRandom({ seed });
          for (let draw = 0; draw < 20; draw += 1) {
            const value = random.integer(min, max);
            assert.ok(Number.isSafeInteger(value), `${value} is a safe integer`);
            assert.ok(value >= min && value <= max, `${value} in [${min}, ${max}]`);
          }
        }),
      );
    });

    it('integer(n, n) is n', () => {
      fc.assert(
        fc.property(seedArbitrary, fc.maxSafeInteger(), (seed, n) => {
          assert.equal(new SeededRandom({ seed }).integer(n, n), n);
        }),
      );
    });

    it('float() is in [0, 1) and a multiple of 2^-53', () => {
      fc.assert(
        fc.property(seedArbitrary, (seed) => {
          const random = new SeededRandom({ seed });
          for (let draw = 0; draw < 50; draw += 1) {
            const value = random.float();
            assert.ok(value >= 0 && value < 1, `${value} in [0, 1)`);
            assert.ok(Number.isInteger(value * 2 ** 53));
          }
        }),
      );
    });

    it('uint32() is an integer in [0, 2^32)', () => {
      fc.assert(
        fc.property(seedArbitrary, (seed) => {
          const random = new SeededRandom({ seed });
          for (let draw = 0; draw < 50; draw += 1) {
            const value = random.uint32();
            assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 32, `${value}`);
          }
        }),
      );
    });

    it('shuffle returns the same array holding a permutation of its items', () => {
      fc.assert(
        fc.property(seedArbitrary, fc.array(fc.integer(), { maxLength: 60 }), (seed, items) => {
          const copy = [...items];
          const shuffled = new SeededRandom({ seed }).shuffle(copy);
          assert.equal(shuffled, copy);
          const byValue = (a: number, b: number): number => a - b;
          assert.deepEqual([...shuffled].sort(byValue), [...items].sort(byValue));
        }),
      );
    });

    it('shuffle can produce every permutation of three items', () => {
      const random = new SeededRandom({ seed: 7 });
      const seen = new Set<string>();
      for (let round = 0; round < 600; round += 1) {
        seen.add(random.shuffle(['a', 'b', 'c']).join(''));
      }
      assert.equal(seen.size, 6);
    });

    it('pick returns a member of the array', () => {
      fc.assert(
        fc.property(seedArbitrary, fc.array(fc.anything(), { minLength: 1 }), (seed, items) => {
          const random = new SeededRandom({ seed });
          for (let draw = 0; draw < 10; draw += 1) {
            assert.ok(items.includes(random.pick(items)));
          }
        }),
      );
    });

    it('pick reaches every element', () => {
      const random = new SeededRandom({ seed: 3 });
      const items = ['a', 'b', 'c', 'd', 'e'];
      const seen = new Set(Array.from({ length: 500 }, () => random.pick(items)));
      assert.equal(seen.size, items.length);
    });

    it("a fork's sequence does not depend on how much the parent drew", () => {
      fc.assert(
        fc.property(
          seedArbitrary,
          labelArbitrary,
          fc.array(operationArbitrary, { maxLength: 30 }),
          (seed, label, ops) => {
            const fresh = new SeededRandom({ seed });
            const used = new SeededRandom({ seed });
            for (const operation of ops) {
              perform(used, operation);
            }
            assert.deepEqual(uint32s(used.fork(label), 6), uint32s(fresh.fork(label), 6));
          },
        ),
      );
    });

    it('forking the same label twice gives the same stream', () => {
      fc.assert(
        fc.property(seedArbitrary, labelArbitrary, (seed, label) => {
          const parent = new SeededRandom({ seed });
          const first = parent.fork(label);
          const second = parent.fork(label);
          assert.equal(first.path, label);
          assert.deepEqual(uint32s(first, 8), uint32s(second, 8));
        }),
      );
    });

    it('different labels give different streams', () => {
      fc.assert(
        fc.property(seedArbitrary, labelArbitrary, labelArbitrary, (seed, labelA, labelB) => {
          fc.pre(labelA !== labelB);
          const parent = new SeededRandom({ seed });
          assert.notDeepEqual(uint32s(parent.fork(labelA), 4), uint32s(parent.fork(labelB), 4));
        }),
      );
    });

    it('a fork differs from its parent and from the same label under another seed', () => {
      fc.assert(
        fc.property(seedArbitrary, seedArbitrary, labelArbitrary, (seed, otherSeed, label) => {
          fc.pre(seed !== otherSeed);
          const parent = new SeededRandom({ seed });
          const child = parent.fork(label);
          assert.notDeepEqual(uint32s(child, 4), uint32s(new SeededRandom({ seed }), 4));
          assert.notDeepEqual(
            uint32s(parent.fork(label), 4),
            uint32s(new SeededRandom({ seed: otherSeed }).fork(label), 4),
          );
        }),
      );
    });

    it('nested forks are keyed by their path, not by the joined label text', () => {
      const root = new SeededRandom({ seed: 42 });
      const nested = root.fork('a').fork('b');
      const flat = root.fork('a/b');
      assert.equal(nested.path, flat.path);
      assert.notDeepEqual(uint32s(nested, 4), uint32s(flat, 4));
      assert.notDeepEqual(uint32s(root.fork('a').fork('b'), 4), uint32s(root.fork('b'), 4));
    });

    it('different seeds give different streams', () => {
      fc.assert(
        fc.property(seedArbitrary, seedArbitrary, (seedA, seedB) => {
          fc.pre(seedA !== seedB);
          assert.notDeepEqual(
            uint32s(new SeededRandom({ seed: seedA }), 4),
            uint32s(new SeededRandom({ seed: seedB }), 4),
          );
        }),
      );
    });
  });

  describe('distributions (fixed seeds, so deterministic)', () => {
    const drawCount = 100_000;

    it('integer(0, 9) is uniform by chi-square', () => {
      const random = new SeededRandom({ seed: 1 });
      const counts = new Array<number>(10).fill(0);
      for (let draw = 0; draw < drawCount; draw += 1) {
        const value = random.integer(0, 9);
        counts[value] = (counts[value] as number) + 1;
      }
      const statistic = chiSquare(counts, new Array<number>(10).fill(drawCount / 10));
      assert.ok(statistic < (chiSquareCritical999[9] as number), `chi-square ${statistic}`);
    });

    it('integer over a range wider than 2^32 is uniform across its thirds', () => {
      const random = new SeededRandom({ seed: 2 });
      const counts = [0, 0, 0];
      const draws = 30_000;
      for (let draw = 0; draw < draws; draw += 1) {
        const third = Math.floor(random.integer(0, 3 * 2 ** 32 - 1) / 2 ** 32);
        counts[third] = (counts[third] as number) + 1;
      }
      const statistic = chiSquare(counts, [draws / 3, draws / 3, draws / 3]);
      assert.ok(statistic < (chiSquareCritical999[2] as number), `chi-square ${statistic}`);
    });

    it('integer(0, 3 * 2^30 - 1) is uniform across its thirds (rejection removes the bias)', () => {
      // Without rejection, raw draws past 3 * 2^30 would wrap into the first third and make
      // it twice as likely as the others.
      const random = new SeededRandom({ seed: 3 });
      const counts = [0, 0, 0];
      const draws = 30_000;
      for (let draw = 0; draw < draws; draw += 1) {
        const third = Math.floor(random.integer(0, 3 * 2 ** 30 - 1) / 2 ** 30);
        counts[third] = (counts[third] as number) + 1;
      }
      const statistic = chiSquare(counts, [draws / 3, draws / 3, draws / 3]);
      assert.ok(statistic < (chiSquareCritical999[2] as number), `chi-square ${statistic}`);
    });

    it('exponential(mean) has the right mean and variance', () => {
      for (const mean of [0.5, 10]) {
        const random = new SeededRandom({ seed: 11 });
        const values = Array.from({ length: drawCount }, () => random.exponential(mean));
        assert.ok(values.every((value) => value >= 0 && Number.isFinite(value)));
        const measured = meanAndVariance(values);
        assert.ok(Math.abs(measured.mean / mean - 1) < 0.02, `mean ${measured.mean}`);
        assert.ok(
          Math.abs(measured.variance / (mean * mean) - 1) < 0.05,
          `variance ${measured.variance}`,
        );
      }
    });

    it('normal(mean, sd) has the right mean and variance', () => {
      const cases: [number, number][] = [
        [0, 1],
        [100, 15],
        [-3, 0.25],
      ];
      for (const [mean, standardDeviation] of cases) {
        const random = new SeededRandom({ seed: 12 });
        const values = Array.from({ length: drawCount }, () =>
          random.normal(mean, standardDeviation),
        );
        const measured = meanAndVariance(values);
        assert.ok(
          Math.abs(measured.mean - mean) < 0.02 * standardDeviation,
          `mean ${measured.mean}`,
        );
        assert.ok(
          Math.abs(measured.variance / standardDeviation ** 2 - 1) < 0.03,
          `variance ${measured.variance}`,
        );
      }
    });

    it('normal() defaults to mean 0 and standard deviation 1; sd 0 gives the mean', () => {
      const random = new SeededRandom({ seed: 13 });
      const measured = meanAndVariance(Array.from({ length: drawCount }, () => random.normal()));
      assert.ok(Math.abs(measured.mean) < 0.02, `mean ${measured.mean}`);
      assert.ok(Math.abs(measured.variance - 1) < 0.03, `variance ${measured.variance}`);
      assert.equal(random.normal(5, 0), 5);
    });

    for (const exponent of [0.5, 1, 1.5]) {
      it(`zipf(10, ${exponent}) matches the exact pmf k^-s / H by chi-square`, () => {
        const random = new SeededRandom({ seed: 21 });
        const counts = new Array<number>(10).fill(0);
        for (let draw = 0; draw < drawCount; draw += 1) {
          const rank = random.zipf(10, exponent);
          assert.ok(Number.isInteger(rank) && rank >= 1 && rank <= 10, `rank ${rank}`);
          counts[rank - 1] = (counts[rank - 1] as number) + 1;
        }
        const weights = counts.map((_, index) => (index + 1) ** -exponent);
        const harmonic = weights.reduce((sum, weight) => sum + weight, 0);
        const expected = weights.map((weight) => (drawCount * weight) / harmonic);
        const statistic = chiSquare(counts, expected);
        assert.ok(statistic < (chiSquareCritical999[9] as number), `chi-square ${statistic}`);
      });
    }

    it('zipf(1000, 1.2) stays in [1, 1000] and favours low ranks', () => {
      const random = new SeededRandom({ seed: 22 });
      let rankOneCount = 0;
      let rankAbove500Count = 0;
      for (let draw = 0; draw < drawCount; draw += 1) {
        const rank = random.zipf(1000, 1.2);
        assert.ok(Number.isInteger(rank) && rank >= 1 && rank <= 1000, `rank ${rank}`);
        rankOneCount += rank === 1 ? 1 : 0;
        rankAbove500Count += rank > 500 ? 1 : 0;
      }
      assert.ok(rankOneCount > rankAbove500Count);
    });

    it('zipf re-plans when the parameters change between calls', () => {
      const random = new SeededRandom({ seed: 23 });
      for (let draw = 0; draw < 1000; draw += 1) {
        assert.ok(random.zipf(1000, 1.2) <= 1000);
        assert.ok(random.zipf(3, 1.2) <= 3);
        assert.ok(random.zipf(5, 0.7) <= 5);
      }
      assert.equal(random.zipf(1, 2), 1);
    });

    it('boolean(p) is true with frequency p', () => {
      for (const probability of [0.5, 0.3, 0.9]) {
        const random = new SeededRandom({ seed: 31 });
        let trueCount = 0;
        for (let draw = 0; draw < drawCount; draw += 1) {
          trueCount += random.boolean(probability) ? 1 : 0;
        }
        assert.ok(
          Math.abs(trueCount / drawCount - probability) < 0.01,
          `p ${probability}: ${trueCount}`,
        );
      }
      const random = new SeededRandom({ seed: 32 });
      let defaultTrueCount = 0;
      for (let draw = 0; draw < 1000; draw += 1) {
        assert.equal(random.boolean(0), false);
        assert.equal(random.boolean(1), true);
        defaultTrueCount += random.boolean() ? 1 : 0;
      }
      assert.ok(defaultTrueCount > 400 && defaultTrueCount < 600, `${defaultTrueCount}`);
    });
  });

  describe('invalid arguments throw InvalidArgumentError', () => {
    const random = new SeededRandom({ seed: 5 });

    it('constructor: bad seeds and missing options', () => {
      const badOptions: unknown[] = [
        undefined,
        null,
        42,
        {},
        { seed: -1 },
        { seed: 1.5 },
        { seed: 2 ** 53 },
        { seed: '1' },
        { seed: Number.NaN },
        { seed: Number.POSITIVE_INFINITY },
        { seed: 1n },
      ];
      for (const options of badOptions) {
        assertInvalidArgument(() => new SeededRandom(options as never), String(options));
      }
      assertInvalidArgument(() => new (SeededRandom as new () => unknown)(), 'no arguments');
    });

    it('integer: NaN, min > max, non-integers, unsafe or too wide ranges', () => {
      const cases: [unknown, unknown][] = [
        [Number.NaN, 1],
        [0, Number.NaN],
        [2, 1],
        [0.5, 3],
        [0, 2.5],
        [0, Number.POSITIVE_INFINITY],
        [0, 2 ** 53],
        [-(2 ** 53), 0],
        [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
        ['0', 9],
        [0, undefined],
      ];
      for (const [min, max] of cases) {
        assertInvalidArgument(() => random.integer(min as never, max as never), `${min}, ${max}`);
      }
    });

    it('boolean: probabilities outside [0, 1] and non-numbers', () => {
      const probabilities = [
        Number.NaN,
        -0.1,
        1.1,
        Number.POSITIVE_INFINITY,
        '0.5',
        null,
        true,
        [],
      ];
      for (const probability of probabilities) {
        assertInvalidArgument(() => random.boolean(probability as never), String(probability));
      }
    });

    it('pick: empty arrays and non-arrays', () => {
      for (const items of [[], 'abc', undefined, null, { length: 1, 0: 'a' }]) {
        assertInvalidArgument(() => random.pick(items as never), String(items));
      }
    });

    it('shuffle: non-arrays', () => {
      for (const items of ['abc', undefined, null, { length: 0 }]) {
        assertInvalidArgument(() => random.shuffle(items as never), String(items));
      }
    });

    it('exponential: mean <= 0, NaN, infinite or not a number', () => {
      for (const mean of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5', undefined]) {
        assertInvalidArgument(() => random.exponential(mean as never), String(mean));
      }
    });

    it('normal: non-finite mean, negative or non-finite standard deviation', () => {
      const cases: [unknown, unknown][] = [
        [Number.NaN, 1],
        [Number.POSITIVE_INFINITY, 1],
        [0, -1],
        [0, Number.NaN],
        [0, Number.POSITIVE_INFINITY],
        ['0', 1],
        [null, 1],
      ];
      for (const [mean, standardDeviation] of cases) {
        assertInvalidArgument(
          () => random.normal(mean as never, standardDeviation as never),
          `${mean}, ${standardDeviation}`,
        );
      }
    });

    it('zipf: count not a positive integer, exponent not positive and finite', () => {
      const cases: [unknown, unknown][] = [
        [0, 1],
        [-3, 1],
        [1.5, 1],
        [Number.NaN, 1],
        [10, 0],
        [10, -1],
        [10, Number.NaN],
        [10, Number.POSITIVE_INFINITY],
        ['10', 1],
      ];
      for (const [count, exponent] of cases) {
        assertInvalidArgument(
          () => random.zipf(count as never, exponent as never),
          `${count}, ${exponent}`,
        );
      }
      // A valid call caches the plan; invalid arguments afterwards must still be rejected.
      random.zipf(10, 1);
      assertInvalidArgument(() => random.zipf(10, Number.NaN), 'after a cached plan');
    });

    it('fork: empty or non-string labels', () => {
      for (const label of ['', undefined, null, 1]) {
        assertInvalidArgument(() => random.fork(label as never), String(label));
      }
    });
  });
});

describe('systemSeed and systemRandom', () => {
  it('systemSeed returns distinct integers in [0, 2^53)', () => {
    const seeds = Array.from({ length: 100 }, () => systemSeed());
    for (const seed of seeds) {
      assert.ok(Number.isSafeInteger(seed) && seed >= 0, `${seed}`);
    }
    assert.equal(new Set(seeds).size, seeds.length);
  });

  it('systemRandom exposes its seed, and that seed replays the run', () => {
    const random = systemRandom();
    assert.ok(random instanceof SeededRandom);
    assert.ok(Number.isSafeInteger(random.seed) && random.seed >= 0);
    const replay = new SeededRandom({ seed: random.seed });
    assert.deepEqual(uint32s(random, 16), uint32s(replay, 16));
    assert.deepEqual(uint32s(random.fork('x'), 4), uint32s(replay.fork('x'), 4));
  });

  it('two system generators draw different streams', () => {
    assert.notDeepEqual(uint32s(systemRandom(), 4), uint32s(systemRandom(), 4));
  });
});
