/**
 * The fallback policy: when the work fails, answer with a substitute (a cached copy, a
 * default, a degraded result) instead of the error.
 *
 * @module
 */

import {
  Emitter,
  type Event,
  InvalidArgumentError,
  isAssertionError,
  requireFunction,
  requireOptions,
} from '../core/index.js';
import {
  contextFrom,
  type ExecutionContext,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
import { isThenable } from './timeout.js';

/** Computes a fallback from the error, with the context the work ran under. */
export type FallbackFunction<T> = (error: unknown, context: PolicyContext) => T | PromiseLike<T>;

/** Options for {@link FallbackPolicy}. */
export interface FallbackOptions<T> {
  /**
   * The substitute: a value, or a function of the error and the context that returns one
   * (or a promise of one). A function is always called, never returned; to fall back to a
   * function value, wrap it: `fallback: () => handler`.
   */
  readonly fallback: T | FallbackFunction<T>;
  /**
   * Which failures get the fallback; the rest reject as they are. Default: all of them.
   * Whatever it says, an `AssertionError` (a bug) and a failure after the caller aborted
   * always reject as they are.
   */
  readonly shouldFallback?: (error: unknown) => boolean;
}

/** Payload of {@link FallbackPolicy.onFallback}. */
export interface FallbackEvent {
  /** The failure the fallback replaced. */
  readonly error: unknown;
}

function alwaysFallback(): boolean {
  return true;
}

/**
 * Runs the work and, when it fails, settles with `fallback` instead.
 *
 * Two failures never get the fallback: an `AssertionError`, which means a bug and is never
 * caught, and any failure once the context the policy runs in has aborted (the caller
 * cancelled, or a policy outside this one gave up): nobody is waiting for the value, and
 * substituting one would hide the cancellation. If the fallback function throws or
 * rejects, the call rejects with that error.
 *
 * The policy is generic over the fallback's type `T`, and `execute` returns the union of
 * the work's type and `T`: `new FallbackPolicy<User>(...)` around work that returns a
 * `User` gives a `Promise<User>`. The price of that precision is that a fallback is not a
 * plain {@link Policy}, whose `execute` must return exactly the work's type; it goes
 * outside a pipeline instead of into one (see the example), which is where a fallback
 * belongs anyway: it answers for the call after everything else has given up.
 *
 * The work runs under the caller's context itself, so the policy adds no signal, timer or
 * listener; the success path costs one promise reaction.
 *
 * @example
 * ```ts
 * const cached = new FallbackPolicy<User>({ fallback: (error) => cache.get(id) ?? guest });
 * const user = await cached.execute((context) => resilient.execute(loadUser, context));
 * ```
 */
export class FallbackPolicy<T> {
  readonly #fallbackFunction: FallbackFunction<T> | undefined;
  readonly #fallbackValue: T | undefined;
  readonly #shouldFallback: (error: unknown) => boolean;
  readonly #fellBack = new Emitter<FallbackEvent>();

  /** Emitted when a failure is replaced by the fallback, before the fallback runs. */
  readonly onFallback: Event<FallbackEvent> = this.#fellBack.event;

  constructor(options: FallbackOptions<T>) {
    const checked = requireOptions('FallbackPolicy options', options);
    if (!('fallback' in checked)) {
      throw new InvalidArgumentError(
        'options.fallback',
        'FallbackPolicy options.fallback is required: a value, or a function of the error ' +
          'that returns one.',
      );
    }
    const fallback = checked.fallback;
    if (typeof fallback === 'function') {
      this.#fallbackFunction = fallback as FallbackFunction<T>;
    } else {
      this.#fallbackValue = fallback;
    }
    this.#shouldFallback =
      checked.shouldFallback === undefined
        ? alwaysFallback
        : requireFunction<(error: unknown) => boolean>(
            'FallbackPolicy options.shouldFallback',
            checked.shouldFallback,
          );
  }

  /**
   * Runs `work`; settles with its value, with the fallback when it fails in a way that
   * qualifies, or with its error otherwise.
   */
  execute<R>(work: PolicyWork<R>, parent?: AbortSignal | PolicyContext): Promise<R | T> {
    const context = contextFrom(parent);
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    let result: R | PromiseLike<R>;
    try {
      result = work(context);
    } catch (error) {
      try {
        return Promise.resolve(this.#recover(error, context));
      } catch (fallbackError) {
        return Promise.reject(fallbackError);
      }
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(undefined, (error: unknown) =>
        this.#recover(error, context),
      );
    }
    return Promise.resolve(result);
  }

  /** The fallback for `error`, or `error` rethrown when it does not qualify. */
  #recover(error: unknown, context: ExecutionContext): T | PromiseLike<T> {
    if (isAssertionError(error) || context.aborted || this.#shouldFallback(error) !== true) {
      throw error;
    }
    this.#fellBack.emit({ error });
    const fallbackFunction = this.#fallbackFunction;
    return fallbackFunction === undefined
      ? (this.#fallbackValue as T)
      : fallbackFunction(error, context);
  }
}
