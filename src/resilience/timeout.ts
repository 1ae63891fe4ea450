/**
 * The timeout policy: bounds how long the caller waits, aborts the work's signal when the
 * time is up, and passes its deadline down so nested calls get
 * `min(own timeout, parent's remaining time)`.
 *
 * @module
 */

import {
  DeadlineExceededError,
  Emitter,
  type Event,
  requireNumber,
  requireOptions,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import {
  contextFrom,
  type delegateStep,
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
  settlesEarly,
} from './policy.js';

/** Options for {@link TimeoutPolicy}. */
export interface TimeoutOptions {
  /** How long the work may take, in milliseconds (> 0). */
  readonly timeoutMs: number;
  /** Runs the timers; default the shared `systemScheduler` of `distkit/core`. */
  readonly scheduler?: Scheduler;
}

/** Payload of {@link TimeoutPolicy.onTimeout}. */
export interface TimeoutEvent {
  /** The time the work was given, in milliseconds: the policy's own or what its caller had left. */
  readonly timeoutMs: number;
  /** The attempt that timed out. */
  readonly attempt: number;
}

/**
 * Gives up waiting after `timeoutMs`, or at the caller's deadline if that comes first.
 *
 * When the time is up the returned promise rejects with {@link DeadlineExceededError} at
 * once, and the work's `context.signal` aborts with the same error, so work that honours
 * its signal stops too. Work that ignores its signal runs on unobserved; its eventual
 * result is dropped.
 *
 * No timer per call: every pending timeout is a task on the shared scheduler, which keeps
 * one platform timer for all of them. The work's `AbortController` is made only if the
 * work reads `context.signal`.
 *
 * @example
 * ```ts
 * const timeout = new TimeoutPolicy({ timeoutMs: 500 });
 * const body = await timeout.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * ```
 */
export class TimeoutPolicy implements Policy {
  /** The configured timeout in milliseconds. */
  readonly timeoutMs: number;
  readonly #scheduler: Scheduler;
  readonly #timedOut = new Emitter<TimeoutEvent>();

  /** Emitted when a call times out. */
  readonly onTimeout: Event<TimeoutEvent> = this.#timedOut.event;

  constructor(options: TimeoutOptions) {
    const checked = requireOptions('TimeoutPolicy options', options);
    this.timeoutMs = requireNumber('TimeoutPolicy options.timeoutMs', checked.timeoutMs, {
      min: Number.MIN_VALUE,
    });
    this.#scheduler = checked.scheduler ?? systemScheduler;
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
    const parentContext = parent === undefined ? undefined : contextFrom(parent);
    const abortedError = parentContext?.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    const scheduler = this.#scheduler;
    const clock = scheduler.clock;
    const nowMs = clock.nowMs();
    const ownAtMs = nowMs + this.timeoutMs;
    const atMs =
      parentContext === undefined
        ? ownAtMs
        : Math.min(ownAtMs, parentContext.deadlineAtMsOn(clock));
    if (atMs <= nowMs) {
      return Promise.reject(new DeadlineExceededError(atMs));
    }
    const context =
      parentContext === undefined
        ? ExecutionContext.rootWithDeadline(clock, atMs)
        : parentContext.deriveWithDeadline(clock, atMs);
    const timedOut = this.#timedOut;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = scheduler.scheduleAt(atMs, () => {
        settled = true;
        const timeoutMs = atMs - nowMs;
        const error = timeoutError(atMs, timeoutMs);
        context.abort(error);
        timedOut.emit({ timeoutMs, attempt: context.attempt });
        reject(error);
      });
      const onValue = (value: T): void => {
        if (!settled) {
          settled = true;
          timer.cancel();
          context.release();
          resolve(value);
        }
      };
      const onError = (error: unknown): void => {
        if (!settled) {
          settled = true;
          timer.cancel();
          context.release();
          reject(error);
        }
      };
      let result: T | PromiseLike<T>;
      try {
        result = runSteps(work, steps, index, context);
      } catch (error) {
        onError(error);
        return;
      }
      if (isThenable(result)) {
        result.then(onValue, onError);
      } else {
        onValue(result);
      }
    });
  }

  /** A timeout fails a call before its work settles. @internal */
  get [settlesEarly](): boolean {
    return true;
  }

  /** @internal */
  [enterStep](
    run: StepRun,
    layer: number,
    parentContext: ExecutionContext,
  ): ExecutionContext | StepRejection | typeof delegateStep {
    const abortedError = parentContext.abortError();
    if (abortedError !== undefined) {
      return new StepRejection(abortedError);
    }
    const scheduler = this.#scheduler;
    const clock = scheduler.clock;
    const nowMs = clock.nowMs();
    const atMs = Math.min(nowMs + this.timeoutMs, parentContext.deadlineAtMsOn(clock));
    if (atMs <= nowMs) {
      return new StepRejection(new DeadlineExceededError(atMs));
    }
    const context = parentContext.deriveWithDeadline(clock, atMs);
    const timedOut = this.#timedOut;
    run.setDatumAt(
      layer,
      scheduler.scheduleAt(atMs, () => {
        const timeoutMs = atMs - nowMs;
        const error = timeoutError(atMs, timeoutMs);
        context.abort(error);
        timedOut.emit({ timeoutMs, attempt: context.attempt });
        run.failAt(layer, error);
      }),
    );
    return context;
  }

  /** @internal */
  [leaveStep](run: StepRun, layer: number): undefined {
    (run.datumAt(layer) as ScheduledTask).cancel();
    run.contextAt(layer + 1).release();
    return undefined;
  }
}

function timeoutError(atMs: number, timeoutMs: number): DeadlineExceededError {
  return new DeadlineExceededError(
    atMs,
    `The work did not finish within ${timeoutMs} ms; it was aborted. Allow more time ` +
      'or make the work faster.',
  );
}

/** True for a promise or any object with a `then` method. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
