/**
 * Delay distributions for links, think times and disk operations: constant, uniform,
 * exponential and long-tailed (Pareto), each drawn from the simulation's seeded
 * {@link Random} so a seed fixes every delay.
 *
 * @module
 */

import { InvalidArgumentError, type Random, requireNumber, requireOptions } from '../core/index.js';

/** Always the same delay. */
export interface ConstantDelay {
  readonly kind: 'constant';
  /** The delay. */
  readonly delayMs: number;
}

/** Any delay in `[delayMsMin, delayMsMax]` with equal probability. */
export interface UniformDelay {
  readonly kind: 'uniform';
  /** Shortest delay. */
  readonly delayMsMin: number;
  /** Longest delay; not below `delayMsMin`. */
  readonly delayMsMax: number;
}

/**
 * `delayMsMin` plus an exponentially distributed extra with mean `extraMsMean`: most
 * messages fast, a few slow, as on a loaded link.
 */
export interface ExponentialDelay {
  readonly kind: 'exponential';
  /** The floor every delay starts from (propagation time). Default 0. */
  readonly delayMsMin?: number;
  /** Mean of the exponential part above the floor. */
  readonly extraMsMean: number;
}

/**
 * A Pareto tail: `delayMsMin / u^(1/shape)` for uniform `u`, capped at `delayMsMax`.
 * With `shape` near 1 a small share of messages is slower by orders of magnitude, as in
 * real data-centre latency; larger shapes give thinner tails.
 */
export interface LongTailedDelay {
  readonly kind: 'long-tailed';
  /** The smallest delay, the Pareto scale; above 0. */
  readonly delayMsMin: number;
  /** The tail index; above 0. 1.1 to 3 are typical. */
  readonly shape: number;
  /** No delay exceeds this; not below `delayMsMin`. */
  readonly delayMsMax: number;
}

/** How long something takes, drawn per occurrence. */
export type DelayDistribution = ConstantDelay | UniformDelay | ExponentialDelay | LongTailedDelay;

/**
 * Checks a {@link DelayDistribution} and returns it; throws
 * {@link InvalidArgumentError} naming `name` and the field that is wrong.
 */
export function requireDelayDistribution(name: string, value: unknown): DelayDistribution {
  const distribution = requireOptions(name, value as DelayDistribution | undefined);
  switch (distribution.kind) {
    case 'constant':
      requireNumber(`${name}.delayMs`, distribution.delayMs, { min: 0 });
      return distribution;
    case 'uniform': {
      const low = requireNumber(`${name}.delayMsMin`, distribution.delayMsMin, { min: 0 });
      requireNumber(`${name}.delayMsMax`, distribution.delayMsMax, { min: low });
      return distribution;
    }
    case 'exponential':
      requireNumber(`${name}.delayMsMin`, distribution.delayMsMin ?? 0, { min: 0 });
      requireNumber(`${name}.extraMsMean`, distribution.extraMsMean, { min: 0 });
      return distribution;
    case 'long-tailed': {
      const low = requireNumber(`${name}.delayMsMin`, distribution.delayMsMin, {
        min: Number.MIN_VALUE,
      });
      requireNumber(`${name}.shape`, distribution.shape, { min: Number.MIN_VALUE });
      requireNumber(`${name}.delayMsMax`, distribution.delayMsMax, { min: low });
      return distribution;
    }
    default:
      throw new InvalidArgumentError(
        `${name}.kind`,
        `${name}.kind must be 'constant', 'uniform', 'exponential' or 'long-tailed'; got ${JSON.stringify((distribution as { kind?: unknown }).kind)}.`,
      );
  }
}

/** Draws one delay in milliseconds from `distribution` (checked beforehand). */
export function sampleDelayMs(distribution: DelayDistribution, random: Random): number {
  switch (distribution.kind) {
    case 'constant':
      return distribution.delayMs;
    case 'uniform':
      return (
        distribution.delayMsMin +
        random.float() * (distribution.delayMsMax - distribution.delayMsMin)
      );
    case 'exponential':
      return (
        (distribution.delayMsMin ?? 0) +
        (distribution.extraMsMean > 0 ? random.exponential(distribution.extraMsMean) : 0)
      );
    case 'long-tailed': {
      // 1 - float() lies in (0, 1], so the power is finite.
      const draw = distribution.delayMsMin / (1 - random.float()) ** (1 / distribution.shape);
      return draw < distribution.delayMsMax ? draw : distribution.delayMsMax;
    }
  }
}
