/**
 * The retry policy: runs the work again after a failure, up to a number of attempts,
 * waiting a backoff between attempts, and stops early when the caller aborts, when the
 * next wait would pass the deadline, when a server's retry-after hint asks for more than
 * the policy will wait, or when a shared retry budget is spent.
 *
 * The first attempt's success path costs one `.then`, whose failure handler is the call's
 * one closure, and, for a call with no parent, the call's own root context (abortable per
 * call, so never shared): no clock read (unless someone listens to `onSuccess` or
 * `onFailure`, or a budget is set), no timer, no array, no abort check of a root made for
 * the call, and no extra context when the caller's context is already at attempt 1.
 *
 * @module
 */

import {
  abortError,
  DistkitError,
  type DistkitErrorOptions,
  describeValue,
  Emitter,
  type Event,
  errorGuard,
  InvalidArgumentError,
  isAssertionError,
  isDistkitError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptions,
  type Scheduler,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import { type Backoff, ExponentialBackoff } from './backoff.js';
import {
  contextFrom,
  delegateStep,
  ExecutionContext,
  enterStep,
  leaveStep,
  type Policy,
  type PolicyContext,
  type PolicyWork,
  runStep,
  runSteps,
  type StepPolicy,
  StepRejection,
  type StepRun,
} from './policy.js';
import type { RetryBudgetLike } from './retry-budget.js';
import { isThenable } from './timeout.js';

/**
 * An error that says when a retry may succeed: a server's `Retry-After` (converted to
 * milliseconds by whoever reads the response), or a circuit breaker's time until it lets
 * a trial call through. The retry policy waits this long instead of its backoff.
 */
export interface RetryAfterHint {
  /** Milliseconds to wait before the next attempt (finite, >= 0). */
  readonly retryAfterMs: number;
}

/**
 * The retry-after hint an error carries: its own `retryAfterMs` property when that is a
 * finite number >= 0, otherwise `undefined`. The error's cause chain is not searched: a
 * hint belongs to the error that reports it.
 *
 * @example
 * ```ts
 * class TooManyRequestsError extends Error implements RetryAfterHint {
 *   constructor(readonly retryAfterMs: number) {
 *     super('429 Too Many Requests');
 *   }
 * }
 * retryAfterMsOf(new TooManyRequestsError(2_000)); // 2000
 * ```
 */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null) {
    const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof value === 'number' && value >= 0 && value < Number.POSITIVE_INFINITY) {
      return value;
    }
  }
  return undefined;
}

/** Error codes that {@link defaultShouldRetryError} never retries. */
const nonRetryableCodes: ReadonlySet<string> = new Set([
  'INVALID_ARGUMENT',
  'RETRY_EXHAUSTED',
  'QUEUE_CLOSED',
]);

/**
 * The default `shouldRetryError`: true for every error except
 *
 * - an `AssertionError` (`assert()` failed: a bug, which a retry only repeats);
 * - an `InvalidArgumentError` (code `INVALID_ARGUMENT`: the same call fails the same way);
 * - a {@link RetryExhaustedError} (code `RETRY_EXHAUSTED`: an inner retry policy already
 *   retried; retrying again would multiply the attempts, n × m, against a dependency that
 *   is down);
 * - a `QueueClosedError` (code `QUEUE_CLOSED`: the queue stays closed);
 * - a `BreakerOpenError` with no `retryAfterMs` (an isolated breaker: it stays open until
 *   an operator resets it, so no wait helps). An open breaker's error, which says when it
 *   will probe, is retried after that time.
 *
 * Errors caused by the caller's own cancellation or deadline need no entry here: whatever
 * the predicate says, the policy never retries once the caller's signal has aborted (see
 * {@link RetryPolicy}). Errors from other causes, an inner timeout's
 * `DeadlineExceededError` or a `BreakerOpenError` say, are retried.
 */
export function defaultShouldRetryError(error: unknown): boolean {
  if (isAssertionError(error)) {
    return false;
  }
  if (!isDistkitError(error)) {
    return true;
  }
  if (error.code === 'BREAKER_OPEN') {
    return (error as { retryAfterMs?: unknown }).retryAfterMs !== undefined;
  }
  return !nonRetryableCodes.has(error.code);
}

/** Why a {@link RetryPolicy} stopped retrying before the work succeeded. */
export type RetryExhaustedReason =
  /** Every one of `attemptCountMax` attempts failed. */
  | 'attempts'
  /** The shared retry budget had no retry to give. */
  | 'budget'
  /** The next wait would have ended at or after the deadline. */
  | 'deadline'
  /** The error's retry-after hint asked for a longer wait than `retryAfterMsMax`. */
  | 'retryAfter';

function messageOf(error: unknown): string {
  try {
    if (typeof error === 'object' && error !== null) {
      const message = (error as { message?: unknown }).message;
      if (typeof message === 'string') {
        const name = (error as { name?: unknown }).name;
        return typeof name === 'string' && name !== '' ? `${name}: ${message}` : message;
      }
    }
  } catch {
    // A throwing getter: fall back to describing the value.
  }
  return describeValue(error);
}

/**
 * One failed attempt, as a link of a {@link RetryExhaustedError}'s cause chain: `error` is
 * what the attempt threw, and `cause` is the previous failed attempt (undefined for the
 * first), so `causeChain(exhausted)` from `distkit/core` visits every attempt, newest
 * first.
 */
export class RetryAttemptError extends DistkitError {
  /** The attempt's number: 1 for the first try. */
  readonly attempt: number;
  /** What the attempt threw. */
  readonly error: unknown;

  constructor(attempt: number, error: unknown, previous?: RetryAttemptError) {
    super(
      'RETRY_ATTEMPT_FAILED',
      `Attempt ${attempt} failed: ${messageOf(error)}`,
      previous === undefined ? undefined : { cause: previous },
    );
    this.attempt = attempt;
    this.error = error;
  }
}

/** Brand guard for {@link RetryAttemptError}. */
export const isRetryAttemptError = errorGuard<RetryAttemptError>('RETRY_ATTEMPT_FAILED');

const adviceByReason: Readonly<Record<RetryExhaustedReason, string>> = {
  attempts:
    'the dependency kept failing; fix it, or allow more attempts (attemptCountMax) only ' +
    'if its failures are brief.',
  budget:
    'the retry budget is spent: retries already add their allowed share of the load on ' +
    'this dependency. Wait for it to recover; raise the budget ratio only if it can take ' +
    'more load.',
  deadline:
    'the next retry would start at or after the deadline. Allow more time, or use a ' +
    'shorter backoff.',
  retryAfter:
    'the dependency asked for a longer wait than retryAfterMsMax. Try again later, or raise ' +
    'retryAfterMsMax if waiting that long is acceptable.',
};

/**
 * A {@link RetryPolicy} stopped before the work succeeded, and the last attempt threw.
 *
 * Every failed attempt is kept: `errors` lists what each one threw, oldest first, and the
 * cause chain holds one {@link RetryAttemptError} per failed attempt, newest first, each
 * with its attempt number and its error (`cause` is the last attempt's). Attempts that
 * returned a value rejected by `shouldRetryResult` threw nothing and are not listed; they
 * count in `attemptCount`.
 */
export class RetryExhaustedError extends DistkitError {
  /** Why the policy stopped. */
  readonly reason: RetryExhaustedReason;
  /** How many attempts ran. */
  readonly attemptCount: number;
  /** What each failed attempt threw, oldest first. */
  readonly errors: readonly unknown[];
  /** The cause chain's head: the last failed attempt. */
  declare readonly cause: RetryAttemptError;

  /**
   * @param reason - why the policy stopped.
   * @param attemptCount - how many attempts ran.
   * @param lastFailure - the last failed attempt, linked to the earlier ones by `cause`.
   * @param detail - a sentence appended to the message, with the numbers behind `reason`.
   */
  constructor(
    reason: RetryExhaustedReason,
    attemptCount: number,
    lastFailure: RetryAttemptError,
    detail = '',
  ) {
    const options: DistkitErrorOptions = { cause: lastFailure };
    super(
      'RETRY_EXHAUSTED',
      `Gave up after ${attemptCount} attempt${attemptCount === 1 ? '' : 's'}: ` +
        `${adviceByReason[reason]}${detail === '' ? '' : ` ${detail}`} Last error: ` +
        messageOf(lastFailure.error),
      options,
    );
    this.reason = reason;
    this.attemptCount = attemptCount;
    const errors: unknown[] = [];
    for (let link: unknown = lastFailure; isRetryAttemptError(link); link = link.cause) {
      errors.push(link.error);
    }
    this.errors = errors.reverse();
  }

  /** What the last attempt threw. */
  get lastError(): unknown {
    return this.cause.error;
  }
}

/** Brand guard for {@link RetryExhaustedError}. */
export const isRetryExhaustedError = errorGuard<RetryExhaustedError>('RETRY_EXHAUSTED');

/** Options for {@link RetryPolicy}. */
export interface RetryOptions {
  /** Most attempts in all, the first included, from 1 to 1,000. Default 3. */
  readonly attemptCountMax?: number;
  /**
   * The wait before each retry. Default: exponential from 100 ms, doubling, capped at
   * 10,000 ms, with full jitter.
   */
  readonly backoff?: Backoff;
  /**
   * Whether a thrown error is worth another attempt; `attempt` is the attempt that threw.
   * Default {@link defaultShouldRetryError}. An error it declines rejects the call as it
   * is, unwrapped.
   */
  readonly shouldRetryError?: (error: unknown, attempt: number) => boolean;
  /**
   * Whether a returned value is a failure worth another attempt (an HTTP 503 response,
   * say); `attempt` is the attempt that returned it. Default: no value is retried. When
   * the policy stops on such a value (attempts, budget, deadline), the call resolves with
   * it: a value is never turned into an error.
   */
  readonly shouldRetryResult?: (value: unknown, attempt: number) => boolean;
  /**
   * Reads a retry-after hint from an error, in milliseconds; `undefined` for none.
   * Default {@link retryAfterMsOf}: the error's own `retryAfterMs` property.
   */
  readonly retryAfterMsOf?: (error: unknown) => number | undefined;
  /**
   * The longest retry-after hint the policy honours, in milliseconds (>= 0). A hint is
   * never shortened: a longer one ends the retries at once with a
   * {@link RetryExhaustedError} of reason `'retryAfter'`. Default 10,000.
   */
  readonly retryAfterMsMax?: number;
  /** A budget shared with other policies; each call records a request, each retry spends. */
  readonly budget?: RetryBudgetLike;
  /** Runs the waits between attempts; default the shared `systemScheduler` of `distkit/core`. */
  readonly scheduler?: Scheduler;
  /** Where the backoff's jitter comes from; default a `systemRandom()` of `distkit/core`. */
  readonly random?: Random;
}

/** Payload of {@link RetryPolicy.onRetry}. */
export interface RetryEvent {
  /** The attempt that failed and is about to be retried: 1 after the first try. */
  readonly attempt: number;
  /** The wait before the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** What the attempt threw; undefined when it returned a value `shouldRetryResult` rejected. */
  readonly error: unknown;
  /** The value the attempt returned, when `shouldRetryResult` rejected it; else undefined. */
  readonly result: unknown;
}

/** Payload of {@link RetryPolicy.onGiveUp}. */
export interface RetryGiveUpEvent {
  /** How many attempts ran. */
  readonly attemptCount: number;
  /** Why the policy stopped. */
  readonly reason: RetryExhaustedReason;
  /**
   * The error the call rejects with; undefined when the last attempt returned a value
   * that `shouldRetryResult` rejected, which the call resolves with.
   */
  readonly error: RetryExhaustedError | undefined;
}

/** Payload of {@link RetryPolicy.onSuccess}. */
export interface RetrySuccessEvent {
  /** How many attempts ran. */
  readonly attemptCount: number;
  /** From the call to its resolution, in milliseconds on the scheduler's clock. */
  readonly durationMs: number;
}

/** Payload of {@link RetryPolicy.onFailure}. */
export interface RetryFailureEvent {
  /** How many attempts ran. */
  readonly attemptCount: number;
  /** From the call to its rejection, in milliseconds on the scheduler's clock. */
  readonly durationMs: number;
  /** What the call rejects with. */
  readonly error: unknown;
}

/** A failed attempt whose error is kept for the exhaustion error. */
interface FailedAttempt {
  readonly attempt: number;
  readonly error: unknown;
}

/**
 * Runs the work, and runs it again when it fails, up to `attemptCountMax` attempts in
 * all. Each attempt gets the context `parent.derive({ attempt })`: the caller's signal
 * and deadline with the attempt's number.
 *
 * After a failed attempt, in this order:
 *
 * 1. If the caller's signal has aborted (the caller cancelled, or an outer timeout or
 *    deadline fired), the call rejects with that abort's error at once, whatever the
 *    predicates say.
 * 2. An error that `shouldRetryError` declines rejects the call as it is.
 * 3. After the last attempt the policy gives up (reason `'attempts'`).
 * 4. The wait is the error's retry-after hint if it has one (a hint above
 *    `retryAfterMsMax` gives up, reason `'retryAfter'`), else the backoff's delay.
 * 5. If the wait would end at or after the context's deadline, it gives up now (reason
 *    `'deadline'`) rather than start an attempt that cannot finish.
 * 6. If a budget is set and has no retry left, it gives up (reason `'budget'`).
 * 7. It waits on the scheduler (a zero wait retries at once), and stops waiting at once
 *    if the caller aborts: the call rejects with the abort's error, and neither the
 *    scheduled task nor the abort listener outlives the wait.
 *
 * Giving up after a thrown error rejects with a {@link RetryExhaustedError} that holds
 * every attempt's error; giving up after a value rejected by `shouldRetryResult` resolves
 * with that value.
 *
 * @example
 * ```ts
 * const retry = new RetryPolicy({
 *   attemptCountMax: 4,
 *   backoff: new ExponentialBackoff({ delayMsBase: 50, delayMsMax: 2_000 }),
 *   budget: sharedBudget,
 * });
 * const user = await retry.execute(({ signal }) => loadUser(id, signal), request.signal);
 * ```
 */
export class RetryPolicy implements Policy {
  /** Most attempts in all, the first included. */
  readonly attemptCountMax: number;
  /** The wait before each retry. */
  readonly backoff: Backoff;
  /** The longest retry-after hint honoured, in milliseconds. */
  readonly retryAfterMsMax: number;
  /** The shared budget, if any. */
  readonly budget: RetryBudgetLike | undefined;
  readonly #shouldRetryError: (error: unknown, attempt: number) => boolean;
  readonly #shouldRetryResult: ((value: unknown, attempt: number) => boolean) | undefined;
  readonly #retryAfterMsOf: (error: unknown) => number | undefined;
  readonly #scheduler: Scheduler;
  readonly #random: Random;
  readonly #retrying = new Emitter<RetryEvent>();
  readonly #givingUp = new Emitter<RetryGiveUpEvent>();
  readonly #succeeded = new Emitter<RetrySuccessEvent>();
  readonly #failed = new Emitter<RetryFailureEvent>();

  /** Emitted before each wait for a retry. */
  readonly onRetry: Event<RetryEvent> = this.#retrying.event;
  /** Emitted when the policy stops retrying before the work succeeded. */
  readonly onGiveUp: Event<RetryGiveUpEvent> = this.#givingUp.event;
  /**
   * Emitted when a call resolves. Only calls that began while someone listened to
   * `onSuccess` or `onFailure` are reported: their start time is read only then.
   */
  readonly onSuccess: Event<RetrySuccessEvent> = this.#succeeded.event;
  /** Emitted when a call rejects; reported under the same condition as `onSuccess`. */
  readonly onFailure: Event<RetryFailureEvent> = this.#failed.event;

  constructor(options: RetryOptions = {}) {
    const checked = requireOptions('RetryPolicy options', options);
    this.attemptCountMax = requireInteger(
      'RetryPolicy options.attemptCountMax',
      checked.attemptCountMax ?? 3,
      { min: 1, max: 1_000 },
    );
    const backoff = checked.backoff;
    if (backoff === undefined) {
      this.backoff = new ExponentialBackoff({ delayMsBase: 100, delayMsMax: 10_000 });
    } else if (
      typeof backoff === 'object' &&
      backoff !== null &&
      typeof backoff.delayMs === 'function'
    ) {
      this.backoff = backoff;
    } else {
      throw new InvalidArgumentError(
        'options.backoff',
        `RetryPolicy options.backoff must be a Backoff (an object with a delayMs method); got ${describeValue(backoff)}.`,
      );
    }
    this.#shouldRetryError = requireFunction(
      'RetryPolicy options.shouldRetryError',
      checked.shouldRetryError ?? defaultShouldRetryError,
    );
    this.#shouldRetryResult =
      checked.shouldRetryResult === undefined
        ? undefined
        : requireFunction('RetryPolicy options.shouldRetryResult', checked.shouldRetryResult);
    this.#retryAfterMsOf = requireFunction(
      'RetryPolicy options.retryAfterMsOf',
      checked.retryAfterMsOf ?? retryAfterMsOf,
    );
    this.retryAfterMsMax = requireNumber(
      'RetryPolicy options.retryAfterMsMax',
      checked.retryAfterMsMax ?? 10_000,
      { min: 0 },
    );
    const budget = checked.budget;
    if (
      budget !== undefined &&
      (typeof budget !== 'object' ||
        budget === null ||
        typeof budget.recordRequest !== 'function' ||
        typeof budget.tryAcquireRetry !== 'function')
    ) {
      throw new InvalidArgumentError(
        'options.budget',
        `RetryPolicy options.budget must be a RetryBudget (recordRequest and tryAcquireRetry methods); got ${describeValue(budget)}.`,
      );
    }
    this.budget = budget;
    this.#scheduler = checked.scheduler ?? systemScheduler;
    if (typeof this.#scheduler?.schedule !== 'function') {
      throw new InvalidArgumentError(
        'options.scheduler',
        'RetryPolicy options.scheduler must be a Scheduler from distkit/core.',
      );
    }
    this.#random = checked.random ?? systemRandom();
    if (typeof this.#random?.float !== 'function') {
      throw new InvalidArgumentError(
        'options.random',
        'RetryPolicy options.random must be a Random from distkit/core.',
      );
    }
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    return this[runStep](work, undefined, 0, parent);
  }

  /** @internal */
  [runStep]<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parent: AbortSignal | PolicyContext | undefined,
  ): Promise<T> {
    let parentContext: ExecutionContext;
    if (parent === undefined) {
      // A root made here: nobody else holds it yet, so it cannot have aborted, and the
      // check (a call into the context's parent chain) is skipped on the most common path.
      parentContext = ExecutionContext.root();
    } else {
      parentContext = contextFrom(parent);
      const abortedError = parentContext.abortError();
      if (abortedError !== undefined) {
        return Promise.reject(abortedError);
      }
    }
    const budget = this.budget;
    if (budget !== undefined) {
      budget.recordRequest();
    }
    // A context at attempt 1 already is what derive({ attempt: 1 }) would make: a child
    // that shares the signal and the deadline. Reusing it saves an allocation per call.
    const context =
      parentContext.attempt === 1 ? parentContext : parentContext.derive({ attempt: 1 });
    if (
      this.#shouldRetryResult !== undefined ||
      this.#succeeded.listenerCount !== 0 ||
      this.#failed.listenerCount !== 0
    ) {
      return this.#executeObserved(
        work,
        steps,
        index,
        parentContext,
        context,
        this.#scheduler.clock.nowMs(),
      );
    }
    // The common case: every value is accepted and nobody asks for durations, so a value
    // passes straight through and only a failure costs anything.
    let result: T | PromiseLike<T>;
    try {
      result = runSteps(work, steps, index, context);
    } catch (error) {
      return this.#retry(
        work,
        steps,
        index,
        parentContext,
        true,
        error,
        undefined as T,
        Number.NaN,
      );
    }
    if (result instanceof Promise) {
      return result.then(undefined, (error: unknown) =>
        this.#retry(work, steps, index, parentContext, true, error, undefined as T, Number.NaN),
      );
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(undefined, (error: unknown) =>
        this.#retry(work, steps, index, parentContext, true, error, undefined as T, Number.NaN),
      );
    }
    return Promise.resolve(result);
  }

  /** @internal */
  [enterStep](
    _run: StepRun,
    _layer: number,
    context: ExecutionContext,
  ): ExecutionContext | StepRejection | typeof delegateStep {
    if (
      this.#shouldRetryResult !== undefined ||
      this.#succeeded.listenerCount !== 0 ||
      this.#failed.listenerCount !== 0
    ) {
      return delegateStep;
    }
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return new StepRejection(abortedError);
    }
    const budget = this.budget;
    if (budget !== undefined) {
      budget.recordRequest();
    }
    return context.attempt === 1 ? context : context.derive({ attempt: 1 });
  }

  /** @internal */
  [leaveStep](
    run: StepRun,
    layer: number,
    failed: boolean,
    outcome: unknown,
  ): PromiseLike<unknown> | undefined {
    if (!failed) {
      return undefined;
    }
    return this.#retry(
      run.work,
      run.steps,
      layer + 1,
      run.contextAt(layer),
      true,
      outcome,
      undefined,
      Number.NaN,
    );
  }

  /** The first attempt when values are checked or durations reported. */
  #executeObserved<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parentContext: ExecutionContext,
    context: ExecutionContext,
    startMs: number,
  ): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = runSteps(work, steps, index, context);
    } catch (error) {
      return this.#retry(work, steps, index, parentContext, true, error, undefined as T, startMs);
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => this.#afterValue(work, steps, index, parentContext, value, startMs),
        (error: unknown) =>
          this.#retry(work, steps, index, parentContext, true, error, undefined as T, startMs),
      );
    }
    return this.#afterValue(work, steps, index, parentContext, result, startMs);
  }

  /** The first attempt returned `value`: done, unless `shouldRetryResult` rejects it. */
  #afterValue<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parentContext: ExecutionContext,
    value: T,
    startMs: number,
  ): Promise<T> {
    try {
      if (this.#shouldRetryResult?.(value, 1) === true) {
        return this.#retry(work, steps, index, parentContext, false, undefined, value, startMs);
      }
    } catch (error) {
      return Promise.reject(this.#reportFailure(1, error, startMs));
    }
    this.#reportSuccess(1, startMs);
    return Promise.resolve(value);
  }

  /**
   * The slow path, entered after the first attempt failed (threw, or returned a value that
   * `shouldRetryResult` rejected): decides, waits and runs the further attempts.
   */
  async #retry<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parentContext: ExecutionContext,
    firstThrew: boolean,
    firstError: unknown,
    firstValue: T,
    startMs: number,
  ): Promise<T> {
    let attempt = 1;
    let threw = firstThrew;
    let error = firstError;
    let value = firstValue;
    const failures: FailedAttempt[] = [];
    let previousDelayMs = 0;
    try {
      for (;;) {
        const abortedError = parentContext.abortError();
        if (abortedError !== undefined) {
          throw abortedError;
        }
        if (threw) {
          if (!this.#shouldRetryError(error, attempt)) {
            throw error;
          }
          failures.push({ attempt, error });
        }

        let reason: RetryExhaustedReason | undefined;
        let delayMs = 0;
        let detail = '';
        const hintMs = threw ? checkedHintMs(this.#retryAfterMsOf(error)) : undefined;
        if (attempt >= this.attemptCountMax) {
          reason = 'attempts';
        } else if (hintMs !== undefined && !(hintMs <= this.retryAfterMsMax)) {
          reason = 'retryAfter';
          detail = `The hint was ${hintMs} ms; retryAfterMsMax is ${this.retryAfterMsMax} ms.`;
        } else {
          delayMs =
            hintMs ??
            checkedDelayMs(this.backoff.delayMs(attempt, previousDelayMs, this.#random), attempt);
          const deadline = parentContext.deadline;
          const remainingMs =
            deadline === undefined ? Number.POSITIVE_INFINITY : deadline.remainingMs();
          // Checked before the budget, so that a retry which will not happen spends nothing.
          if (delayMs >= remainingMs) {
            reason = 'deadline';
            detail = `The wait would be ${delayMs} ms; ${remainingMs} ms were left.`;
          } else if (this.budget !== undefined && !this.budget.tryAcquireRetry()) {
            reason = 'budget';
          }
        }
        if (reason !== undefined) {
          return this.#giveUp(attempt, reason, detail, threw, failures, value, startMs);
        }

        if (this.#retrying.listenerCount > 0) {
          this.#retrying.emit({
            attempt,
            delayMs,
            error: threw ? error : undefined,
            result: threw ? undefined : value,
          });
        }
        if (delayMs > 0) {
          await this.#wait(delayMs, parentContext);
        } else {
          const abortedNow = parentContext.abortError();
          if (abortedNow !== undefined) {
            throw abortedNow;
          }
        }

        attempt += 1;
        previousDelayMs = delayMs;
        try {
          value = await runSteps(work, steps, index, parentContext.derive({ attempt }));
        } catch (thrown) {
          threw = true;
          error = thrown;
          continue;
        }
        threw = false;
        error = undefined;
        if (this.#shouldRetryResult?.(value, attempt) !== true) {
          this.#reportSuccess(attempt, startMs);
          return value;
        }
      }
    } catch (rejection) {
      throw this.#reportFailure(attempt, rejection, startMs);
    }
  }

  /**
   * Ends the retries: throws the exhaustion error after a thrown error, or returns the
   * value that `shouldRetryResult` rejected.
   */
  #giveUp<T>(
    attemptCount: number,
    reason: RetryExhaustedReason,
    detail: string,
    threw: boolean,
    failures: readonly FailedAttempt[],
    value: T,
    startMs: number,
  ): T {
    if (!threw) {
      if (this.#givingUp.listenerCount > 0) {
        this.#givingUp.emit({ attemptCount, reason, error: undefined });
      }
      this.#reportSuccess(attemptCount, startMs);
      return value;
    }
    let lastFailure: RetryAttemptError | undefined;
    for (const failure of failures) {
      lastFailure = new RetryAttemptError(failure.attempt, failure.error, lastFailure);
    }
    const exhausted = new RetryExhaustedError(
      reason,
      attemptCount,
      lastFailure as RetryAttemptError,
      detail,
    );
    if (this.#givingUp.listenerCount > 0) {
      this.#givingUp.emit({ attemptCount, reason, error: exhausted });
    }
    throw exhausted;
  }

  /** Waits `delayMs` on the scheduler; rejects with the abort's error if the caller aborts. */
  #wait(delayMs: number, parentContext: ExecutionContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const signal = parentContext.signal;
      if (signal.aborted) {
        reject(parentContext.abortError() ?? abortError(signal));
        return;
      }
      const onAbort = (): void => {
        task.cancel();
        reject(parentContext.abortError() ?? abortError(signal));
      };
      const task = this.#scheduler.schedule(delayMs, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #reportSuccess(attemptCount: number, startMs: number): void {
    if (!Number.isNaN(startMs) && this.#succeeded.listenerCount > 0) {
      this.#succeeded.emit({ attemptCount, durationMs: this.#scheduler.clock.nowMs() - startMs });
    }
  }

  /** Reports a rejection and returns the error to throw. */
  #reportFailure(attemptCount: number, error: unknown, startMs: number): unknown {
    if (!Number.isNaN(startMs) && this.#failed.listenerCount > 0) {
      this.#failed.emit({
        attemptCount,
        durationMs: this.#scheduler.clock.nowMs() - startMs,
        error,
      });
    }
    return error;
  }
}

/** Checks a backoff's delay, so that a faulty custom backoff is named as the culprit. */
function checkedDelayMs(delayMs: unknown, attempt: number): number {
  if (typeof delayMs === 'number' && delayMs >= 0 && delayMs < Number.POSITIVE_INFINITY) {
    return delayMs;
  }
  throw new InvalidArgumentError(
    'options.backoff',
    `RetryPolicy options.backoff returned ${describeValue(delayMs)} after attempt ${attempt}; ` +
      'a backoff must return a finite delay >= 0.',
  );
}

/** Checks a retry-after hint: undefined, or a number >= 0 (Infinity: never retry). */
function checkedHintMs(hintMs: unknown): number | undefined {
  if (hintMs === undefined || (typeof hintMs === 'number' && hintMs >= 0)) {
    return hintMs;
  }
  throw new InvalidArgumentError(
    'options.retryAfterMsOf',
    `RetryPolicy options.retryAfterMsOf returned ${describeValue(hintMs)}; it must return ` +
      'undefined or a delay >= 0.',
  );
}
