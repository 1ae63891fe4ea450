import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDistkitError, isInvalidArgumentError } from '../../src/core/index.js';
import {
  isSeedFailedError,
  isSimulationError,
  runSeeds,
  SeedFailedError,
  Simulation,
  seedEnvironmentVariable,
  seedRange,
  seedsFromEnvironment,
} from '../../src/sim/index.js';

const replayCommand = (seed: number): string =>
  `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/sim/seeds.test.ts`;

describe('runSeeds', () => {
  it('runs the scenario for each seed in order and returns what each returned', () => {
    const results = runSeeds({ seeds: [3, 1, 2], replayCommand, scenario: (seed) => seed * 10 });
    assert.deepEqual(results, [
      { seed: 3, result: 30 },
      { seed: 1, result: 20 / 2 },
      { seed: 2, result: 20 },
    ]);
  });

  it('stops at the first failing seed with a typed error naming the seed, the replay command and the cause', () => {
    const ran: number[] = [];
    const cause = new Error('history is not linearizable');
    let caught: unknown;
    try {
      runSeeds({
        seeds: [1, 2, 3, 4],
        replayCommand,
        scenario: (seed) => {
          ran.push(seed);
          if (seed === 2) {
            throw cause;
          }
        },
      });
    } catch (error) {
      caught = error;
    }
    assert.deepEqual(ran, [1, 2]);
    assert.ok(isSeedFailedError(caught));
    assert.ok(isDistkitError(caught));
    assert.ok(caught instanceof SeedFailedError);
    assert.equal(caught.code, 'SIMULATION_SEED_FAILED');
    assert.equal(caught.seed, 2);
    assert.equal(caught.cause, cause);
    assert.equal(
      caught.replayCommand,
      'DISTKIT_SIM_SEED=2 node --import tsx --test test/sim/seeds.test.ts',
    );
    assert.equal(
      caught.message,
      'seed 2 failed: history is not linearizable\n  replay: DISTKIT_SIM_SEED=2 node --import tsx --test test/sim/seeds.test.ts',
    );
    assert.equal(caught.message.split('\n')[1]?.trim(), `replay: ${replayCommand(2)}`);
  });

  it('wraps a failure inside a simulation run, keeping the simulation error as the cause', () => {
    assert.throws(
      () =>
        runSeeds({
          seeds: [5],
          replayCommand,
          scenario: (seed) => {
            const simulation = new Simulation({ seed, replayCommand: replayCommand(seed) });
            simulation.at(3, () => {
              throw new Error('invariant broken');
            });
            simulation.runUntilIdle();
          },
        }),
      (error: unknown) =>
        isSeedFailedError(error) &&
        error.seed === 5 &&
        isSimulationError(error.cause) &&
        error.message.includes('invariant broken') &&
        error.message.includes('DISTKIT_SIM_SEED=5'),
    );
  });

  it('describes a thrown non-error too', () => {
    assert.throws(
      () =>
        runSeeds({
          seeds: [1],
          replayCommand,
          scenario: () => {
            throw 'plain string';
          },
        }),
      (error: unknown) =>
        isSeedFailedError(error) && error.message.startsWith('seed 1 failed: plain string'),
    );
  });

  it('validates its options with InvalidArgumentError naming the option', () => {
    const base = { seeds: [1], replayCommand, scenario: () => undefined };
    const cases: [Record<string, unknown>, string][] = [
      [{ seeds: 'all' }, 'runSeeds options.seeds'],
      [{ seeds: [1, -1] }, 'runSeeds options.seeds[1]'],
      [{ seeds: [1.5] }, 'runSeeds options.seeds[0]'],
      [{ seeds: [2 ** 53] }, 'runSeeds options.seeds[0]'],
      [{ replayCommand: 'npm test' }, 'runSeeds options.replayCommand'],
      [{ scenario: undefined }, 'runSeeds options.scenario'],
    ];
    for (const [change, argument] of cases) {
      assert.throws(
        () => runSeeds({ ...base, ...change } as never),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        argument,
      );
    }
    assert.throws(
      () => runSeeds(null as never),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'runSeeds options',
    );
    assert.throws(
      () =>
        runSeeds({
          seeds: [1],
          replayCommand: () => '',
          scenario: () => {
            throw new Error('x');
          },
        }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'runSeeds options.replayCommand result',
    );
  });
});

describe('seedsFromEnvironment', () => {
  it('returns the default seeds when the variable is unset or blank', () => {
    assert.deepEqual(seedsFromEnvironment({}, [1, 2, 3]), [1, 2, 3]);
    assert.deepEqual(seedsFromEnvironment({ DISTKIT_SIM_SEED: '  ' }, [4]), [4]);
    assert.deepEqual(seedsFromEnvironment({ OTHER: '9' }, []), []);
  });

  it('returns only the seed of DISTKIT_SIM_SEED when it is set, so a replay runs one seed', () => {
    assert.equal(seedEnvironmentVariable, 'DISTKIT_SIM_SEED');
    assert.deepEqual(seedsFromEnvironment({ DISTKIT_SIM_SEED: '42' }, [1, 2, 3]), [42]);
    assert.deepEqual(seedsFromEnvironment({ DISTKIT_SIM_SEED: ' 7\n' }, [1]), [7]);
    assert.deepEqual(
      seedsFromEnvironment({ DISTKIT_SIM_SEED: String(Number.MAX_SAFE_INTEGER) }, [1]),
      [Number.MAX_SAFE_INTEGER],
    );
  });

  it('widens the sweep to DISTKIT_SIM_SEED_COUNT seeds from the first default seed', () => {
    assert.deepEqual(
      seedsFromEnvironment({ DISTKIT_SIM_SEED_COUNT: '4' }, [10, 11]),
      [10, 11, 12, 13],
    );
    assert.deepEqual(
      seedsFromEnvironment({ DISTKIT_SIM_SEED_COUNT: '4', DISTKIT_SIM_SEED: '7' }, [10]),
      [7],
      'a replay seed wins over a sweep',
    );
    for (const text of ['0', '-3', 'many', '10000000']) {
      assert.throws(
        () => seedsFromEnvironment({ DISTKIT_SIM_SEED_COUNT: text }, [1]),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === 'DISTKIT_SIM_SEED_COUNT',
        text,
      );
    }
  });

  it('rejects a malformed seed with InvalidArgumentError naming the variable', () => {
    for (const text of ['-1', '1.5', '0x10', '1e3', 'forty-two', '9007199254740992', '12 13']) {
      assert.throws(
        () => seedsFromEnvironment({ DISTKIT_SIM_SEED: text }, [1]),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument === 'DISTKIT_SIM_SEED' &&
          error.message.includes('Unset it'),
        text,
      );
    }
    assert.throws(
      () => seedsFromEnvironment(undefined as never, [1]),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'seedsFromEnvironment env',
    );
    assert.throws(
      () => seedsFromEnvironment({}, [Number.NaN]),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'seedsFromEnvironment defaultSeeds[0]',
    );
  });

  it('reads the real environment when a test passes process.env', () => {
    const environment: Readonly<Record<string, string | undefined>> = process.env;
    const text = environment[seedEnvironmentVariable]?.trim() ?? '';
    const expected = text === '' ? [1, 2] : [Number(text)];
    assert.deepEqual(seedsFromEnvironment(process.env, [1, 2]), expected);
  });
});

describe('seedRange', () => {
  it('lists consecutive seeds', () => {
    assert.deepEqual(seedRange(1, 3), [1, 2, 3]);
    assert.deepEqual(seedRange(0, 0), []);
    assert.deepEqual(seedRange(Number.MAX_SAFE_INTEGER, 1), [Number.MAX_SAFE_INTEGER]);
  });

  it('validates its arguments', () => {
    assert.throws(() => seedRange(-1, 1), isInvalidArgumentError);
    assert.throws(() => seedRange(0, -1), isInvalidArgumentError);
    assert.throws(() => seedRange(Number.MAX_SAFE_INTEGER, 2), isInvalidArgumentError);
    assert.throws(() => seedRange(0, 2_000_000), isInvalidArgumentError);
  });
});
