/**
 * The two kinds of failure in distkit.
 *
 * - A bug: `assert()` throws {@link AssertionError}. Nobody catches it; it means the
 *   program is wrong and must stop.
 * - An expected failure (a timeout, a full queue, bad input): a {@link DistkitError} with
 *   a stable string `code`, a message that says what to do, and an optional `cause`.
 *
 * Recognise errors with the brand guards (`isDistkitError`, `isQueueFullError`, ...),
 * never with `instanceof`: two copies of distkit in one program (a library and an
 * application each depending on it) have different classes but share the brand, which
 * lives in the global symbol registry.
 *
 * @module
 */

const distkitErrorBrand: unique symbol = Symbol.for('distkit.error') as never;
const assertionErrorBrand: unique symbol = Symbol.for('distkit.assertion') as never;

/** Options every distkit error constructor accepts. */
export interface DistkitErrorOptions {
  /** The error that led to this one; kept on `error.cause`. */
  readonly cause?: unknown;
}

/**
 * Base class of every expected failure in distkit. `code` is stable across versions and
 * safe to branch on; `message` is for people and may change.
 */
export class DistkitError extends Error {
  /** Stable machine-readable identifier, for example `'QUEUE_FULL'`. */
  readonly code: string;
  /** Brand that survives duplicated package copies; see {@link isDistkitError}. */
  declare readonly [distkitErrorBrand]: true;

  constructor(code: string, message: string, options?: DistkitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

// The brand lives on the prototype: every instance and subclass has it without a
// property definition per error, which matters for errors made in bursts (an open
// breaker rejecting every call).
Object.defineProperty(DistkitError.prototype, distkitErrorBrand, { value: true });

/** Shape of any distkit error, from this copy of the package or another. */
export interface DistkitErrorLike extends Error {
  readonly code: string;
}

/** True when `value` is a distkit error from any copy of the package. */
export function isDistkitError(value: unknown): value is DistkitErrorLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [distkitErrorBrand]?: unknown })[distkitErrorBrand] === true &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

/** True when `value` is a distkit error with the given `code`. */
export function hasErrorCode(value: unknown, code: string): value is DistkitErrorLike {
  return isDistkitError(value) && value.code === code;
}

/**
 * Makes a brand guard for one error code. Modules use it to export `isXError` guards
 * that work across package copies.
 *
 * @example
 * ```ts
 * export const isBreakerOpenError = errorGuard<BreakerOpenError>('BREAKER_OPEN');
 * ```
 */
export function errorGuard<T extends DistkitErrorLike>(
  code: string,
): (value: unknown) => value is T {
  return (value: unknown): value is T => hasErrorCode(value, code);
}

/**
 * Walks an error's `cause` chain, starting with the error itself. Each link is yielded
 * once: the walk stops when a cause repeats an earlier link (a cyclic chain), and after
 * `depthMax` links in any case.
 */
export function* causeChain(error: unknown, depthMax = 64): Generator<unknown> {
  const seen = new Set<object>();
  let current: unknown = error;
  for (let depth = 0; depth < depthMax && current !== undefined; depth += 1) {
    yield current;
    if (typeof current !== 'object' || current === null || !('cause' in current)) {
      return;
    }
    seen.add(current);
    current = (current as { cause?: unknown }).cause;
    if (typeof current === 'object' && current !== null && seen.has(current)) {
      return;
    }
  }
}

/**
 * Thrown by {@link assert} when an invariant does not hold: a bug in distkit or in the
 * code that calls it. Not a {@link DistkitError}, so handlers of expected failures do not
 * swallow it.
 */
export class AssertionError extends Error {
  /** Always `'ASSERTION_FAILED'`. */
  readonly code = 'ASSERTION_FAILED';
  declare readonly [assertionErrorBrand]: true;

  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

Object.defineProperty(AssertionError.prototype, assertionErrorBrand, { value: true });

/** True when `value` is a distkit {@link AssertionError} from any copy of the package. */
export function isAssertionError(value: unknown): value is AssertionError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [assertionErrorBrand]?: unknown })[assertionErrorBrand] === true
  );
}

/**
 * Checks an invariant. Use it for conditions that only a bug can break, never for input
 * that a caller may get wrong (validate that and throw {@link InvalidArgumentError}).
 *
 * @param condition - what must be true.
 * @param message - why it must be true; a function is only called on failure.
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'function' ? message() : message);
  }
}

/** An option or argument is missing, of the wrong type, or out of range. */
export class InvalidArgumentError extends DistkitError {
  /** The name of the offending argument, for example `'options.capacity'`. */
  readonly argument: string;

  constructor(argument: string, message: string, options?: DistkitErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
    this.argument = argument;
  }
}

/** Brand guard for {@link InvalidArgumentError}. */
export const isInvalidArgumentError = errorGuard<InvalidArgumentError>('INVALID_ARGUMENT');

/** A deadline or timeout passed before the work finished. */
export class DeadlineExceededError extends DistkitError {
  /** The deadline, in milliseconds on the clock that measured it. */
  readonly deadlineMs: number;

  constructor(deadlineMs: number, message?: string, options?: DistkitErrorOptions) {
    super(
      'DEADLINE_EXCEEDED',
      message ??
        `The deadline (${deadlineMs} ms on its clock) passed before the work finished; ` +
          'allow more time or do less work per call.',
      options,
    );
    this.deadlineMs = deadlineMs;
  }
}

/** Brand guard for {@link DeadlineExceededError}. */
export const isDeadlineExceededError = errorGuard<DeadlineExceededError>('DEADLINE_EXCEEDED');

/** The caller cancelled the operation through its `AbortSignal`. */
export class AbortedError extends DistkitError {
  constructor(message?: string, options?: DistkitErrorOptions) {
    super('ABORTED', message ?? 'The operation was cancelled by its AbortSignal.', options);
  }
}

/** Brand guard for {@link AbortedError}. */
export const isAbortedError = errorGuard<AbortedError>('ABORTED');

/**
 * A bounded resource is full: a queue, a waiter list, a registry. Distkit never grows
 * past a limit; it rejects with this error instead.
 */
export class LimitExceededError extends DistkitError {
  /** The limit that was reached. */
  readonly limit: number;

  constructor(limit: number, message: string, options?: DistkitErrorOptions) {
    super('LIMIT_EXCEEDED', message, options);
    this.limit = limit;
  }
}

/** Brand guard for {@link LimitExceededError}. */
export const isLimitExceededError = errorGuard<LimitExceededError>('LIMIT_EXCEEDED');

/**
 * The error an aborted signal stands for: its reason when that is a distkit error (for
 * example the {@link DeadlineExceededError} of a deadline), otherwise an
 * {@link AbortedError} whose cause is the reason.
 */
export function abortError(signal: AbortSignal): DistkitErrorLike {
  const reason: unknown = signal.reason;
  if (isDistkitError(reason)) {
    return reason;
  }
  return new AbortedError(undefined, { cause: reason });
}
