/**
 * Arithmetic and checks shared by the rate-limit algorithms. Internal: not part of the
 * public API.
 *
 * Every algorithm decides by comparing `nowMs` with an instant computed from its state
 * alone (the instant from which a request of that cost is allowed). Deciding that way,
 * rather than by comparing recomputed token counts, keeps the promise of
 * `retryAfterMs` exact in floating point: the same expression decides at both instants.
 *
 * @module
 */

import {
  describeValue,
  InvalidArgumentError,
  requireInteger,
  requireOptions,
} from '../../core/index.js';

/** Largest capacity or limit of the counting algorithms: 2^32. */
export const countLimitMax = 2 ** 32;

/**
 * The delay after which a clock at `nowMs` reads at least `atMs`: `atMs - nowMs`, nudged
 * up by an ulp when floating-point rounding would otherwise leave `nowMs + delay` just
 * short of `atMs`. 0 when `atMs` is not after `nowMs`; `Infinity` for `atMs = Infinity`.
 */
export function delayUntilMs(nowMs: number, atMs: number): number {
  if (!(atMs > nowMs)) {
    return 0;
  }
  let delayMs = atMs - nowMs;
  // One nudge always suffices (the rounded difference is at most half an ulp short); the
  // bound only guards the loop.
  for (let nudge = 0; nudge < 4 && nowMs + delayMs < atMs; nudge += 1) {
    delayMs += Math.max(delayMs * Number.EPSILON, Number.MIN_VALUE);
  }
  return delayMs;
}

/** A monotone "would a request of this cost be allowed now" test; cost 0 is always allowed. */
export interface CostPredicate<State> {
  /** True when a request of `cost` at `nowMs` would be allowed from `state`. */
  allows(state: State, nowMs: number, cost: number): boolean;
}

/**
 * The largest cost in [0, `costMax`] that `predicate` allows, found from an `estimate`
 * (usually exact, so this costs two tests) by galloping and bisection, so rounding in the
 * estimate never makes `remaining` disagree with the decisions.
 */
export function largestAllowedCost<State>(
  predicate: CostPredicate<State>,
  state: State,
  nowMs: number,
  estimate: number,
  costMax: number,
): number {
  let guess = Math.floor(estimate);
  if (!(guess >= 0)) {
    guess = 0;
  } else if (guess > costMax) {
    guess = costMax;
  }
  let allowed: number;
  let denied: number;
  if (guess === 0 || predicate.allows(state, nowMs, guess)) {
    allowed = guess;
    denied = costMax + 1;
    for (let step = 1; allowed + step <= costMax; step *= 2) {
      if (!predicate.allows(state, nowMs, allowed + step)) {
        denied = allowed + step;
        break;
      }
      allowed += step;
    }
  } else {
    denied = guess;
    allowed = 0;
    for (let step = 1; denied - step > 0; step *= 2) {
      if (predicate.allows(state, nowMs, denied - step)) {
        allowed = denied - step;
        break;
      }
      denied -= step;
    }
  }
  while (denied - allowed > 1) {
    const middle = allowed + Math.floor((denied - allowed) / 2);
    if (predicate.allows(state, nowMs, middle)) {
      allowed = middle;
    } else {
      denied = middle;
    }
  }
  return allowed;
}

/** Requires a cost: an integer from 0 to `Number.MAX_SAFE_INTEGER`. */
export function requireCost(kind: string, cost: unknown): number {
  return requireInteger(`${kind} cost`, cost, { min: 0, max: Number.MAX_SAFE_INTEGER });
}

/** Requires a finite number > 0 (a duration, a rate); returns it. */
export function requirePositive(name: string, value: unknown): number {
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) {
    return value;
  }
  throw new InvalidArgumentError(
    name,
    `${name} must be a finite number > 0; got ${describeValue(value)}.`,
  );
}

/** Requires a count limit: an integer from 1 to `max`; returns it. */
export function requireCount(name: string, value: unknown, max = countLimitMax): number {
  return requireInteger(name, value, { min: 1, max });
}

/**
 * Requires `count` units per `intervalMs` to make a usable rate: both ratios (units per
 * ms and ms per unit) finite and > 0. Returns `[unitsPerMs, msPerUnit]`.
 */
export function requireRate(
  kind: string,
  countOption: string,
  count: number,
  intervalOption: string,
  intervalMs: number,
): readonly [number, number] {
  const unitsPerMs = count / intervalMs;
  const msPerUnit = intervalMs / count;
  if (
    !(unitsPerMs > 0 && Number.isFinite(unitsPerMs) && msPerUnit > 0 && Number.isFinite(msPerUnit))
  ) {
    throw new InvalidArgumentError(
      `${kind} options.${countOption}`,
      `${kind} options.${countOption} / options.${intervalOption} must be a rate whose ` +
        `ratio both ways is a finite number > 0; got ${count} per ${intervalMs} ms.`,
    );
  }
  return [unitsPerMs, msPerUnit];
}

/** Requires an options object; `undefined` is reported as missing rather than accepted. */
export function requireOptionsObject<T extends object>(kind: string, options: T | undefined): T {
  if (options === undefined) {
    throw new InvalidArgumentError(
      `${kind} options`,
      `${kind} needs an options object; got undefined.`,
    );
  }
  return requireOptions(`${kind} options`, options);
}
