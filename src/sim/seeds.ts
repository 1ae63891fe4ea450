/**
 * Running a seeded scenario over many seeds, and replaying one: a failure names its seed
 * and a one-line command that re-runs exactly that seed.
 *
 * The source never reads the environment itself: tests pass `process.env` to
 * {@link seedsFromEnvironment}.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  describeValue,
  errorGuard,
  InvalidArgumentError,
  requireFunction,
  requireInteger,
  requireOptions,
  requireString,
} from '../core/index.js';

/** The environment variable that selects the one seed to replay: `DISTKIT_SIM_SEED`. */
export const seedEnvironmentVariable = 'DISTKIT_SIM_SEED';

/** Most seeds one call to {@link runSeeds} or {@link seedsFromEnvironment} accepts. */
export const seedCountMax = 1_000_000;

/**
 * The environment variable that widens a sweep: `DISTKIT_SIM_SEED_COUNT=500` runs 500
 * consecutive seeds from the first default seed (`npm run test:soak` sets it).
 */
export const seedCountEnvironmentVariable = 'DISTKIT_SIM_SEED_COUNT';

/**
 * A seeded scenario failed. The message names the seed, the replay command and the cause;
 * `cause` is what the scenario threw.
 */
export class SeedFailedError extends DistkitError {
  /** The seed that failed. */
  readonly seed: number;
  /** The one-line command that re-runs exactly this seed. */
  readonly replayCommand: string;

  constructor(seed: number, replayCommand: string, options?: DistkitErrorOptions) {
    const cause = options?.cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'SIMULATION_SEED_FAILED',
      `seed ${seed} failed: ${reason}\n  replay: ${replayCommand}`,
      options,
    );
    this.seed = seed;
    this.replayCommand = replayCommand;
  }
}

/** Brand guard for {@link SeedFailedError}. */
export const isSeedFailedError = errorGuard<SeedFailedError>('SIMULATION_SEED_FAILED');

/** Options for {@link runSeeds}. */
export interface RunSeedsOptions<Result> {
  /** The seeds to run, in order: integers from 0 to 2^53 - 1, at most {@link seedCountMax}. */
  readonly seeds: readonly number[];
  /**
   * The command that replays one seed, for example
   * `` (seed) => `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/sim/x.test.ts` ``.
   */
  readonly replayCommand: (seed: number) => string;
  /**
   * Runs the scenario of one seed, synchronously; it fails by throwing (an assertion, a
   * `SimulationError`). What it returns is collected in the result.
   */
  readonly scenario: (seed: number) => Result;
}

/** The outcome of one seed of {@link runSeeds}. */
export interface SeedResult<Result> {
  /** The seed. */
  readonly seed: number;
  /** What the scenario returned for it. */
  readonly result: Result;
}

/**
 * Runs `scenario` for each seed in order and returns what each returned. The first seed
 * whose scenario throws stops the run with a {@link SeedFailedError} naming the seed, the
 * replay command and the cause, so a failing test prints how to reproduce it.
 *
 * @example
 * ```ts
 * runSeeds({
 *   seeds: seedsFromEnvironment(process.env, [1, 2, 3]),
 *   replayCommand: (seed) => `DISTKIT_SIM_SEED=${seed} node --import tsx --test test/sim/x.test.ts`,
 *   scenario: (seed) => {
 *     const simulation = new Simulation({ seed });
 *     // ... add nodes and a workload, run, check the history; throw when it is wrong
 *   },
 * });
 * ```
 */
export function runSeeds<Result>(options: RunSeedsOptions<Result>): SeedResult<Result>[] {
  const settings = requireOptions('runSeeds options', options);
  const seeds = requireSeeds('runSeeds options.seeds', settings.seeds);
  const replayCommand = requireFunction<(seed: number) => string>(
    'runSeeds options.replayCommand',
    settings.replayCommand,
  );
  const scenario = requireFunction<(seed: number) => Result>(
    'runSeeds options.scenario',
    settings.scenario,
  );
  const results: SeedResult<Result>[] = [];
  for (const seed of seeds) {
    let result: Result;
    try {
      result = scenario(seed);
    } catch (error) {
      const command = requireString('runSeeds options.replayCommand result', replayCommand(seed));
      throw new SeedFailedError(seed, command, { cause: error });
    }
    results.push({ seed, result });
  }
  return results;
}

/**
 * The seeds to run: only the seed in `env.DISTKIT_SIM_SEED` when it is set (so a replay
 * command re-runs exactly one seed), otherwise `defaultSeeds`. Pass `process.env` from a
 * test. A variable that is not a decimal integer from 0 to 2^53 - 1 throws
 * {@link InvalidArgumentError} naming it.
 */
export function seedsFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  defaultSeeds: readonly number[],
): number[] {
  if (typeof env !== 'object' || env === null) {
    throw new InvalidArgumentError(
      'seedsFromEnvironment env',
      `seedsFromEnvironment env must be an environment object such as process.env; got ${describeValue(env)}.`,
    );
  }
  const seeds = requireSeeds('seedsFromEnvironment defaultSeeds', defaultSeeds);
  const text = env[seedEnvironmentVariable];
  if (text === undefined || text.trim() === '') {
    const countText = env[seedCountEnvironmentVariable]?.trim() ?? '';
    if (countText === '') {
      return seeds;
    }
    const count = /^\d{1,7}$/.test(countText) ? Number(countText) : Number.NaN;
    if (!(count >= 1 && count <= seedCountMax)) {
      throw new InvalidArgumentError(
        seedCountEnvironmentVariable,
        `${seedCountEnvironmentVariable} must be a whole number from 1 to ${seedCountMax}; got ${JSON.stringify(countText.slice(0, 40))}.`,
      );
    }
    return seedRange(seeds[0] ?? 0, count);
  }
  const trimmed = text.trim();
  const seed = /^\d{1,16}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(seed)) {
    throw new InvalidArgumentError(
      seedEnvironmentVariable,
      `${seedEnvironmentVariable} must be a decimal integer from 0 to ${Number.MAX_SAFE_INTEGER}; got ${JSON.stringify(text.slice(0, 40))}. Unset it to run the default seeds.`,
    );
  }
  return [seed];
}

/** `count` consecutive seeds from `first`: `seedRange(1, 3)` is `[1, 2, 3]`. */
export function seedRange(first: number, count: number): number[] {
  requireInteger('seedRange first', first, { min: 0, max: Number.MAX_SAFE_INTEGER });
  requireInteger('seedRange count', count, {
    min: 0,
    max: Math.min(seedCountMax, Number.MAX_SAFE_INTEGER - first + 1),
  });
  return Array.from({ length: count }, (_, index) => first + index);
}

function requireSeeds(name: string, seeds: readonly number[]): number[] {
  if (!Array.isArray(seeds)) {
    throw new InvalidArgumentError(
      name,
      `${name} must be an array of seeds; got ${describeValue(seeds)}.`,
    );
  }
  if (seeds.length > seedCountMax) {
    throw new InvalidArgumentError(
      name,
      `${name} has ${seeds.length} seeds; at most ${seedCountMax} run in one call.`,
    );
  }
  return seeds.map((seed, index) =>
    requireInteger(`${name}[${index}]`, seed, { min: 0, max: Number.MAX_SAFE_INTEGER }),
  );
}
