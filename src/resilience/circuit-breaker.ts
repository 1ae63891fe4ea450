/**
 * The circuit breaker: stops calling a dependency that keeps failing, so callers fail
 * fast instead of waiting on it and the dependency gets room to recover; after a break it
 * lets a few probe calls through and closes again when they succeed.
 *
 * States:
 *
 * - `closed`: calls pass; the strategy (see `breaker-strategies`) watches their outcomes
 *   and opens the breaker when its threshold is reached.
 * - `open`: calls are rejected with {@link BreakerOpenError} until the break duration has
 *   passed; the first call after that turns the breaker half-open and becomes a probe.
 * - `half-open`: up to `halfOpenProbeCountMax` probe calls pass, the rest are rejected.
 *   One failed probe re-opens the breaker; when all of them have succeeded it closes.
 *   When they have not all succeeded within `halfOpenWaitMsMax` it re-opens.
 * - `isolated`: opened by hand with `isolate()`; every call is rejected until `reset()`.
 *
 * The closed-state success path attaches one `then` to the work's promise and makes no
 * timer, no `AbortController` and (without a caller signal) no closure per call; it reads
 * no clock unless a slow-call threshold, a time window or an outcome listener needs the
 * time. Rejections are made without a stack trace, to keep failing fast cheap.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  Emitter,
  type Event,
  errorGuard,
  InvalidArgumentError,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptions,
  requireString,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import {
  type BreakerStrategy,
  type BreakerStrategyOptions,
  type BreakerStrategySnapshot,
  type BreakReason,
  createBreakerStrategy,
} from './breaker-strategies.js';
import {
  contextFrom,
  delegateStep,
  type ExecutionContext,
  enterStep,
  innerStepOf,
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
import { isThenable } from './timeout.js';

/** The state of a circuit breaker; see the module comment. */
export type CircuitBreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** The states in which a breaker rejects calls. */
export type CircuitBreakerRejectingState = Exclude<CircuitBreakerState, 'closed'>;

/**
 * A circuit breaker rejected a call without running it. `retryAfterMs` says when it will
 * next let a call through, as a hint for retry policies: for `open`, the time until it
 * probes; for `half-open` (all probe slots taken), the time until the probes must have
 * decided; for `isolated`, undefined (only `reset()` lets calls through).
 */
export class BreakerOpenError extends DistkitError {
  /** The state the breaker was in. */
  readonly state: CircuitBreakerRejectingState;
  /** Milliseconds until the breaker next lets a call through; undefined while isolated. */
  readonly retryAfterMs: number | undefined;
  /** The breaker's `name` option, if it had one. */
  readonly breakerName: string | undefined;

  constructor(
    state: CircuitBreakerRejectingState,
    retryAfterMs: number | undefined,
    breakerName?: string,
    options?: DistkitErrorOptions,
  ) {
    super('BREAKER_OPEN', rejectionMessage(state, retryAfterMs, breakerName), options);
    this.state = state;
    this.retryAfterMs = retryAfterMs;
    this.breakerName = breakerName;
  }
}

function rejectionMessage(
  state: CircuitBreakerRejectingState,
  retryAfterMs: number | undefined,
  breakerName: string | undefined,
): string {
  const subject =
    breakerName === undefined ? 'The circuit breaker' : `Circuit breaker '${breakerName}'`;
  if (state === 'open') {
    return (
      `${subject} is open after repeated failures and will let a probe call through in ` +
      `${Math.ceil(retryAfterMs ?? 0)} ms; fail fast or use a fallback until then.`
    );
  }
  if (state === 'half-open') {
    return (
      `${subject} is half-open and all its probe calls are in flight; it decides within ` +
      `${Math.ceil(retryAfterMs ?? 0)} ms. Fail fast or use a fallback until then.`
    );
  }
  return `${subject} was isolated by hand; calls fail until someone calls reset() on it.`;
}

/** Whether this engine lets {@link rejectionOf} switch stack capture off (V8 does). */
const stackTraceLimitWritable =
  Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * Makes a rejection without a stack trace. Capturing one costs more than everything else
 * a rejection does, and an open breaker rejects in bursts, on the path whose whole point
 * is to fail fast; the error's state and breaker name say where it came from.
 */
function rejectionOf(
  state: CircuitBreakerRejectingState,
  retryAfterMs: number | undefined,
  breakerName: string | undefined,
): BreakerOpenError {
  if (!stackTraceLimitWritable) {
    return new BreakerOpenError(state, retryAfterMs, breakerName);
  }
  const errorConstructor = Error as unknown as { stackTraceLimit: number };
  const stackTraceLimit = errorConstructor.stackTraceLimit;
  errorConstructor.stackTraceLimit = 0;
  try {
    return new BreakerOpenError(state, retryAfterMs, breakerName);
  } finally {
    errorConstructor.stackTraceLimit = stackTraceLimit;
  }
}

/** Brand guard for {@link BreakerOpenError}. */
export const isBreakerOpenError = errorGuard<BreakerOpenError>('BREAKER_OPEN');

/**
 * A breaker's state as plain data, from {@link CircuitBreakerPolicy.toJSON}; pass it as
 * `initialState` to restore the breaker, in this process or another.
 *
 * Monotonic clocks of two processes have unrelated origins, so the break is stored as the
 * time it had left (`breakRemainingMs`) plus the wall-clock time of the snapshot
 * (`savedAtWallMs`). Restoring subtracts the wall-clock time that has passed since, never
 * less than 0 and never more than what was left: a wall clock stepped backwards cannot
 * lengthen the break.
 */
export interface CircuitBreakerSnapshot {
  /** The format version; 1. */
  readonly version: 1;
  /** The state. A `half-open` breaker restores as open with its break over. */
  readonly state: CircuitBreakerState;
  /** Wall-clock time of the snapshot, in milliseconds since the Unix epoch. */
  readonly savedAtWallMs: number;
  /** While open: milliseconds until the next probe. Otherwise 0. */
  readonly breakRemainingMs: number;
  /** How many times in a row the breaker has opened without closing: the break backoff. */
  readonly consecutiveOpenCount: number;
  /** The strategy's history (empty unless closed). */
  readonly strategy: BreakerStrategySnapshot;
}

/** Options for {@link CircuitBreakerPolicy}. */
export interface CircuitBreakerOptions {
  /** When the closed breaker opens: consecutive failures, a count window or a time window. */
  readonly strategy: BreakerStrategyOptions;
  /** How long the breaker stays open before it probes, in milliseconds (> 0). */
  readonly breakDurationMs: number;
  /**
   * Each time the breaker re-opens without having closed (a failed probe), the break is
   * multiplied by this (>= 1), up to `breakDurationMsMax`. Default 1: no backoff.
   */
  readonly breakDurationMultiplier?: number;
  /** The longest break, in milliseconds (>= breakDurationMs). Default the larger of breakDurationMs and 5 minutes. */
  readonly breakDurationMsMax?: number;
  /**
   * How many probe calls the half-open breaker lets through (an integer from 1 to
   * 1,000); it closes when all of them have succeeded. Default 1.
   */
  readonly halfOpenProbeCountMax?: number;
  /**
   * The longest the breaker stays half-open, in milliseconds (> 0): if the probes have
   * not all succeeded by then (a probe hangs), it re-opens and ignores their outcomes.
   * Default 60,000.
   */
  readonly halfOpenWaitMsMax?: number;
  /**
   * A call that takes this long or longer, in milliseconds (> 0), is slow. Required when
   * the strategy has a `slowCallRateThreshold`; without one the breaker never reads the
   * clock for durations unless an outcome listener is subscribed.
   */
  readonly slowCallDurationMs?: number;
  /**
   * Whether an error counts as a failure of the dependency. An error it rejects counts as
   * a success (the dependency answered; think of a 404). Default: every error. Errors
   * from calls whose caller cancelled them are never counted, whatever this says. If it
   * throws, the call counts as a failure and what it threw surfaces as an uncaught
   * exception (the caller still receives the work's own error).
   */
  readonly isFailure?: (error: unknown) => boolean;
  /**
   * Whether a value the work returned counts as a failure (an HTTP 503 response, say).
   * The caller still receives the value. Default: no value is a failure. If it throws,
   * the call counts as a failure and what it threw surfaces as an uncaught exception.
   */
  readonly isResultFailure?: (value: unknown) => boolean;
  /** Named in rejection messages and in {@link BreakerOpenError.breakerName}. */
  readonly name?: string;
  /** Restores a state saved with {@link CircuitBreakerPolicy.toJSON}. */
  readonly initialState?: CircuitBreakerSnapshot;
  /** Its clock times breaks and calls and it runs the half-open timer; default `systemScheduler`. */
  readonly scheduler?: Scheduler;
}

/** Payload of {@link CircuitBreakerPolicy.onBreak}. */
export interface BreakEvent {
  /** Why the breaker opened. */
  readonly reason: BreakReason;
  /** How long it stays open before probing; undefined when isolated. */
  readonly breakDurationMs: number | undefined;
}

/** Payload of {@link CircuitBreakerPolicy.onReset}. */
export interface ResetEvent {
  /** True for `reset()`, false when the probes succeeded. */
  readonly manual: boolean;
}

/** Payload of {@link CircuitBreakerPolicy.onStateChange}. */
export interface StateChangeEvent {
  /** The state before. */
  readonly from: CircuitBreakerState;
  /** The state after. */
  readonly to: CircuitBreakerState;
}

/** Payload of {@link CircuitBreakerPolicy.onSuccess}. */
export interface CallSuccessEvent {
  /** How long the call took, in milliseconds. */
  readonly durationMs: number;
  /** Whether it took `slowCallDurationMs` or longer. */
  readonly slow: boolean;
}

/** Payload of {@link CircuitBreakerPolicy.onFailure}. */
export interface CallFailureEvent {
  /** How long the call took, in milliseconds. */
  readonly durationMs: number;
  /** Whether it took `slowCallDurationMs` or longer. */
  readonly slow: boolean;
  /** The error, or the value that `isResultFailure` judged a failure. */
  readonly error: unknown;
}

const closed = 0;
const open = 1;
const halfOpen = 2;
const isolated = 3;
type StateCode = typeof closed | typeof open | typeof halfOpen | typeof isolated;
const stateNames: readonly CircuitBreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

const probeCountMaxLimit = 1_000;
const defaultHalfOpenWaitMsMax = 60_000;
const defaultBreakDurationMsMax = 300_000;

function everyErrorIsFailure(): boolean {
  return true;
}

/**
 * Surfaces what a user predicate threw as an uncaught exception, from a microtask, as
 * core's `Emitter` does with a listener's: the breaker's bookkeeping must go on, and the
 * caller should get the work's own outcome, not a bug of the predicate in its place.
 */
function reportLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * A circuit breaker; see the module comment for its states.
 *
 * Outcomes are recorded only for calls that started in the current state period: a call
 * that started before the breaker opened, closed, re-opened or was reset does not count
 * when it settles, so stale results cannot close or open the breaker.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreakerPolicy({
 *   strategy: { kind: 'count-window', windowCallCount: 20, failureRateThreshold: 0.5 },
 *   breakDurationMs: 10_000,
 * });
 * const user = await breaker.execute(({ signal }) => loadUser(id, signal));
 * ```
 */
export class CircuitBreakerPolicy implements Policy {
  /** The `name` option, if any. */
  readonly name: string | undefined;
  readonly #scheduler: Scheduler;
  readonly #strategy: BreakerStrategy;
  readonly #breakDurationMs: number;
  readonly #breakDurationMultiplier: number;
  readonly #breakDurationMsMax: number;
  readonly #probeCountMax: number;
  readonly #halfOpenWaitMsMax: number;
  readonly #slowCallDurationMs: number | undefined;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #isResultFailure: ((value: unknown) => boolean) | undefined;

  #state: StateCode = closed;
  /** Bumped on every state change; calls carry the generation they started in. */
  #generation = 0;
  /** While open: when the next call may probe. While half-open: when the probes must have decided. */
  #untilMs = 0;
  #consecutiveOpenCount = 0;
  #probeInFlightCount = 0;
  #probeSuccessCount = 0;
  #halfOpenTask: ScheduledTask | undefined;
  #lastFailureMs: number | undefined;
  /** Settle untimed calls of the current generation without a closure per call. */
  #valueHandler: (value: unknown) => unknown;
  #errorHandler: (error: unknown) => never;

  readonly #broke = new Emitter<BreakEvent>();
  readonly #halfOpened = new Emitter<void>();
  readonly #closed = new Emitter<ResetEvent>();
  readonly #stateChanged = new Emitter<StateChangeEvent>();
  readonly #rejected = new Emitter<BreakerOpenError>();
  readonly #succeeded = new Emitter<CallSuccessEvent>();
  readonly #failed = new Emitter<CallFailureEvent>();

  /** Emitted when the breaker opens or is isolated. */
  readonly onBreak: Event<BreakEvent> = this.#broke.event;
  /** Emitted when the breaker turns half-open, just before its first probe runs. */
  readonly onHalfOpen: Event<void> = this.#halfOpened.event;
  /** Emitted when the breaker closes, after successful probes or by `reset()`. */
  readonly onReset: Event<ResetEvent> = this.#closed.event;
  /** Emitted on every state change, after the more specific event. */
  readonly onStateChange: Event<StateChangeEvent> = this.#stateChanged.event;
  /** Emitted with each rejection, before the caller receives it. */
  readonly onReject: Event<BreakerOpenError> = this.#rejected.event;
  /**
   * Emitted for each recorded success among the calls that started while someone listened
   * to this or {@link CircuitBreakerPolicy.onFailure} (or while `slowCallDurationMs` is
   * set): only those calls read the clock twice to measure their duration.
   */
  readonly onSuccess: Event<CallSuccessEvent> = this.#succeeded.event;
  /** Emitted for each recorded failure; see {@link CircuitBreakerPolicy.onSuccess}. */
  readonly onFailure: Event<CallFailureEvent> = this.#failed.event;

  constructor(options: CircuitBreakerOptions) {
    const checked = requireOptions('CircuitBreakerPolicy options', options);
    this.name =
      checked.name === undefined
        ? undefined
        : requireString('CircuitBreakerPolicy options.name', checked.name);
    this.#scheduler = checked.scheduler ?? systemScheduler;
    if (checked.strategy === undefined) {
      throw new InvalidArgumentError(
        'options.strategy',
        'CircuitBreakerPolicy options.strategy is required: for example ' +
          "{ kind: 'consecutive-failures', failureCountThreshold: 5 }.",
      );
    }
    this.#strategy = createBreakerStrategy(checked.strategy);
    this.#breakDurationMs = requireNumber(
      'CircuitBreakerPolicy options.breakDurationMs',
      checked.breakDurationMs,
      { min: Number.MIN_VALUE },
    );
    this.#breakDurationMultiplier = requireNumber(
      'CircuitBreakerPolicy options.breakDurationMultiplier',
      checked.breakDurationMultiplier ?? 1,
      { min: 1 },
    );
    this.#breakDurationMsMax = requireNumber(
      'CircuitBreakerPolicy options.breakDurationMsMax',
      checked.breakDurationMsMax ?? Math.max(this.#breakDurationMs, defaultBreakDurationMsMax),
      { min: this.#breakDurationMs },
    );
    this.#probeCountMax = requireInteger(
      'CircuitBreakerPolicy options.halfOpenProbeCountMax',
      checked.halfOpenProbeCountMax ?? 1,
      { min: 1, max: probeCountMaxLimit },
    );
    this.#halfOpenWaitMsMax = requireNumber(
      'CircuitBreakerPolicy options.halfOpenWaitMsMax',
      checked.halfOpenWaitMsMax ?? defaultHalfOpenWaitMsMax,
      { min: Number.MIN_VALUE },
    );
    this.#slowCallDurationMs =
      checked.slowCallDurationMs === undefined
        ? undefined
        : requireNumber(
            'CircuitBreakerPolicy options.slowCallDurationMs',
            checked.slowCallDurationMs,
            { min: Number.MIN_VALUE },
          );
    if (this.#strategy.watchesSlowCalls && this.#slowCallDurationMs === undefined) {
      throw new InvalidArgumentError(
        'options.slowCallDurationMs',
        'CircuitBreakerPolicy options.slowCallDurationMs is required when the strategy has a ' +
          'slowCallRateThreshold: it says how long a call must take to count as slow.',
      );
    }
    this.#isFailure =
      checked.isFailure === undefined
        ? everyErrorIsFailure
        : requireFunction('CircuitBreakerPolicy options.isFailure', checked.isFailure);
    this.#isResultFailure =
      checked.isResultFailure === undefined
        ? undefined
        : requireFunction('CircuitBreakerPolicy options.isResultFailure', checked.isResultFailure);
    this.#valueHandler = this.#makeValueHandler(0);
    this.#errorHandler = this.#makeErrorHandler(0);
    if (checked.initialState !== undefined) {
      this.#restore(checked.initialState);
    }
  }

  /**
   * The current state. An open breaker whose break is over still reads `open` until a
   * call arrives and becomes its probe.
   */
  get state(): CircuitBreakerState {
    return stateNames[this.#state] as CircuitBreakerState;
  }

  /**
   * Milliseconds since the last recorded failure while closed; `Infinity` when there was
   * none since the breaker last closed. A registry uses it to pick breakers to evict.
   */
  get sinceLastFailureMs(): number {
    const lastFailureMs = this.#lastFailureMs;
    return lastFailureMs === undefined
      ? Number.POSITIVE_INFINITY
      : this.#scheduler.clock.nowMs() - lastFailureMs;
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
    const context = contextFrom(parent);
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    if (this.#state !== closed) {
      const rejection = this.#admit();
      if (rejection !== undefined) {
        this.#rejected.emit(rejection);
        return Promise.reject(rejection);
      }
    }
    const generation = this.#generation;
    const timed =
      this.#slowCallDurationMs !== undefined ||
      this.#succeeded.listenerCount !== 0 ||
      this.#failed.listenerCount !== 0;
    const startMs = timed ? this.#scheduler.clock.nowMs() : Number.NaN;
    let result: T | PromiseLike<T>;
    try {
      result = runSteps(work, steps, index, context);
    } catch (error) {
      this.#settleError(generation, startMs, context, error);
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      this.#settleValue(generation, startMs, result);
      return Promise.resolve(result);
    }
    const promise = Promise.resolve(result);
    if (!timed && parent === undefined) {
      // Nobody can abort a context this breaker made itself, so the caller-abort check
      // is moot, and one pair of handlers serves every such call of this generation.
      return promise.then(this.#valueHandler as (value: T) => T, this.#errorHandler);
    }
    if (innerStepOf(steps, index)) {
      // Inside a pipeline, below another of distkit's policies, which attaches its own
      // handlers to what this returns: the breaker records the outcome from a reaction of
      // its own, registered first, and passes the inner promise on as it is, which saves
      // the outer policy a promise hop. The reaction swallows nothing that would
      // otherwise surface: the promise it watches is the one returned.
      promise.then(
        timed ? (value) => this.#settleValue(generation, startMs, value) : this.#valueHandler,
        (error: unknown) => this.#settleError(generation, startMs, context, error),
      );
      return promise;
    }
    return promise.then(
      (value) => {
        this.#settleValue(generation, startMs, value);
        return value;
      },
      (error: unknown) => {
        this.#settleError(generation, startMs, context, error);
        throw error;
      },
    );
  }

  /** @internal */
  [enterStep](
    run: StepRun,
    layer: number,
    context: ExecutionContext,
  ): ExecutionContext | StepRejection | typeof delegateStep {
    if (
      this.#slowCallDurationMs !== undefined ||
      this.#succeeded.listenerCount !== 0 ||
      this.#failed.listenerCount !== 0
    ) {
      // Timed calls keep a start time: the general path has room for it.
      return delegateStep;
    }
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return new StepRejection(abortedError);
    }
    if (this.#state !== closed) {
      const rejection = this.#admit();
      if (rejection !== undefined) {
        this.#rejected.emit(rejection);
        return new StepRejection(rejection);
      }
    }
    run.setDatumAt(layer, this.#generation);
    return context;
  }

  /** @internal */
  [leaveStep](run: StepRun, layer: number, failed: boolean, outcome: unknown): undefined {
    const generation = run.datumAt(layer) as number;
    if (failed) {
      this.#settleError(generation, Number.NaN, run.contextAt(layer), outcome);
    } else {
      this.#settleValue(generation, Number.NaN, outcome);
    }
    return undefined;
  }

  /** Rejects every call until {@link CircuitBreakerPolicy.reset}. */
  isolate(): void {
    if (this.#state === isolated) {
      return;
    }
    const from = this.#state;
    this.#enter(isolated);
    this.#broke.emit({ reason: { kind: 'isolated' }, breakDurationMs: undefined });
    this.#emitStateChange(from, isolated);
  }

  /**
   * Closes the breaker and forgets its history and break backoff, whatever its state.
   * Calls that started before the reset do not count when they settle.
   */
  reset(): void {
    const from = this.#state;
    this.#close();
    if (from !== closed) {
      this.#closed.emit({ manual: true });
      this.#emitStateChange(from, closed);
    }
  }

  /** The breaker's state as plain data; see {@link CircuitBreakerSnapshot}. */
  toJSON(): CircuitBreakerSnapshot {
    const clock = this.#scheduler.clock;
    const nowMs = clock.nowMs();
    return {
      version: 1,
      state: this.state,
      savedAtWallMs: clock.wallMs(),
      breakRemainingMs: this.#state === open ? Math.max(0, this.#untilMs - nowMs) : 0,
      consecutiveOpenCount: this.#consecutiveOpenCount,
      strategy: this.#strategy.toJSON(nowMs),
    };
  }

  /** Lets a call through a breaker that is not closed, or returns why not. */
  #admit(): BreakerOpenError | undefined {
    const state = this.#state;
    if (state === isolated) {
      return rejectionOf('isolated', undefined, this.name);
    }
    const nowMs = this.#scheduler.clock.nowMs();
    if (state === open) {
      if (nowMs < this.#untilMs) {
        return rejectionOf('open', this.#untilMs - nowMs, this.name);
      }
      this.#enterHalfOpen(nowMs);
      // A listener of onHalfOpen may have reset or isolated the breaker.
      if (this.#state !== halfOpen) {
        return this.#state === closed ? undefined : rejectionOf('isolated', undefined, this.name);
      }
    }
    if (this.#probeInFlightCount + this.#probeSuccessCount < this.#probeCountMax) {
      this.#probeInFlightCount += 1;
      return undefined;
    }
    return rejectionOf('half-open', Math.max(0, this.#untilMs - nowMs), this.name);
  }

  #makeValueHandler(generation: number): (value: unknown) => unknown {
    return (value) => {
      this.#settleValue(generation, Number.NaN, value);
      return value;
    };
  }

  #makeErrorHandler(generation: number): (error: unknown) => never {
    return (error) => {
      this.#settleError(generation, Number.NaN, undefined, error);
      throw error;
    };
  }

  /** Records a call that returned `value`. */
  #settleValue(generation: number, startMs: number, value: unknown): void {
    const isResultFailure = this.#isResultFailure;
    let failed = false;
    if (isResultFailure !== undefined) {
      try {
        failed = isResultFailure(value) === true;
      } catch (predicateError) {
        failed = true;
        reportLater(predicateError);
      }
    }
    this.#settle(generation, startMs, failed, failed ? value : undefined, false);
  }

  /** Records a call that failed with `error`. */
  #settleError(
    generation: number,
    startMs: number,
    context: ExecutionContext | undefined,
    error: unknown,
  ): void {
    // A call its caller cancelled says nothing about the dependency's health.
    if (context?.aborted === true) {
      this.#settle(generation, startMs, false, error, true);
      return;
    }
    let failed = true;
    try {
      failed = this.#isFailure(error) === true;
    } catch (predicateError) {
      reportLater(predicateError);
    }
    this.#settle(generation, startMs, failed, error, false);
  }

  #settle(
    generation: number,
    startMs: number,
    failed: boolean,
    error: unknown,
    ignored: boolean,
  ): void {
    if (generation !== this.#generation) {
      return;
    }
    const state = this.#state;
    if (ignored) {
      if (state === halfOpen) {
        this.#probeInFlightCount -= 1;
      }
      return;
    }
    let nowMs = Number.NaN;
    let slow = false;
    if (!Number.isNaN(startMs)) {
      nowMs = this.#scheduler.clock.nowMs();
      const durationMs = nowMs - startMs;
      const slowCallDurationMs = this.#slowCallDurationMs;
      slow = slowCallDurationMs !== undefined && durationMs >= slowCallDurationMs;
      if (failed) {
        this.#failed.emit({ durationMs, slow, error });
      } else {
        this.#succeeded.emit({ durationMs, slow });
      }
      // A listener may have isolated or reset the breaker.
      if (generation !== this.#generation) {
        return;
      }
    } else if (failed || state !== closed || this.#strategy.needsTime) {
      nowMs = this.#scheduler.clock.nowMs();
    }
    if (failed) {
      this.#lastFailureMs = nowMs;
    }
    if (state === closed) {
      const reason = this.#strategy.record(failed, slow, nowMs);
      if (reason !== undefined) {
        // A success can open the breaker too, by filling the window to minimumCallCount;
        // the clock may not have been read for it yet.
        this.#open(reason, Number.isNaN(nowMs) ? this.#scheduler.clock.nowMs() : nowMs);
      }
      return;
    }
    // Half-open: only probes run in this state.
    this.#probeInFlightCount -= 1;
    if (failed || (slow && this.#strategy.watchesSlowCalls)) {
      this.#open({ kind: 'probe-failed' }, nowMs);
      return;
    }
    this.#probeSuccessCount += 1;
    if (this.#probeSuccessCount >= this.#probeCountMax) {
      this.#close();
      this.#closed.emit({ manual: false });
      this.#emitStateChange(halfOpen, closed);
    }
  }

  /** Changes state: a new generation, so calls of the previous state no longer count. */
  #enter(state: StateCode): void {
    this.#state = state;
    const generation = this.#generation + 1;
    this.#generation = generation;
    this.#valueHandler = this.#makeValueHandler(generation);
    this.#errorHandler = this.#makeErrorHandler(generation);
    this.#probeInFlightCount = 0;
    this.#probeSuccessCount = 0;
    const task = this.#halfOpenTask;
    if (task !== undefined) {
      this.#halfOpenTask = undefined;
      task.cancel();
    }
  }

  #open(reason: BreakReason, nowMs: number): void {
    const from = this.#state;
    const breakDurationMs = Math.min(
      this.#breakDurationMsMax,
      this.#breakDurationMs * this.#breakDurationMultiplier ** this.#consecutiveOpenCount,
    );
    this.#consecutiveOpenCount += 1;
    this.#enter(open);
    this.#untilMs = nowMs + breakDurationMs;
    this.#strategy.clear();
    this.#broke.emit({ reason, breakDurationMs });
    this.#emitStateChange(from, open);
  }

  #enterHalfOpen(nowMs: number): void {
    this.#enter(halfOpen);
    const generation = this.#generation;
    this.#untilMs = nowMs + this.#halfOpenWaitMsMax;
    this.#halfOpenTask = this.#scheduler.schedule(this.#halfOpenWaitMsMax, () => {
      this.#halfOpenTask = undefined;
      if (this.#generation === generation) {
        this.#open({ kind: 'probe-timeout' }, this.#scheduler.clock.nowMs());
      }
    });
    this.#halfOpened.emit();
    this.#emitStateChange(open, halfOpen);
  }

  #close(): void {
    this.#enter(closed);
    this.#strategy.clear();
    this.#consecutiveOpenCount = 0;
    this.#lastFailureMs = undefined;
  }

  #emitStateChange(from: StateCode, to: StateCode): void {
    if (this.#stateChanged.listenerCount !== 0) {
      this.#stateChanged.emit({
        from: stateNames[from] as CircuitBreakerState,
        to: stateNames[to] as CircuitBreakerState,
      });
    }
  }

  #restore(snapshot: CircuitBreakerSnapshot): void {
    const name = 'CircuitBreakerPolicy options.initialState';
    const checked = requireOptions(name, snapshot);
    requireInteger(`${name}.version`, checked.version, { min: 1, max: 1 });
    const state = requireOneOf(`${name}.state`, checked.state, [
      'closed',
      'open',
      'half-open',
      'isolated',
    ]);
    const savedAtWallMs = requireNumber(`${name}.savedAtWallMs`, checked.savedAtWallMs);
    const breakRemainingMs = requireNumber(`${name}.breakRemainingMs`, checked.breakRemainingMs, {
      min: 0,
    });
    const consecutiveOpenCount = requireInteger(
      `${name}.consecutiveOpenCount`,
      checked.consecutiveOpenCount,
      { min: 0 },
    );
    const strategy = requireOptions(`${name}.strategy`, checked.strategy);
    const clock = this.#scheduler.clock;
    const nowMs = clock.nowMs();
    const elapsedMs = Math.max(0, clock.wallMs() - savedAtWallMs);
    if (state === 'closed') {
      this.#strategy.restore(strategy, nowMs, elapsedMs);
      return;
    }
    if (state === 'isolated') {
      this.#enter(isolated);
      return;
    }
    // An open or half-open breaker restores as open; the probes of a half-open one ran in
    // the old process, so its break is over and the next call probes.
    this.#enter(open);
    this.#consecutiveOpenCount = Math.max(1, consecutiveOpenCount);
    const remainingMs = state === 'open' ? Math.max(0, breakRemainingMs - elapsedMs) : 0;
    this.#untilMs = nowMs + remainingMs;
  }
}
