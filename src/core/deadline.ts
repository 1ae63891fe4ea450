/**
 * Deadlines and cancellation. A {@link Deadline} is an absolute instant on a
 * {@link Clock}; {@link linkSignal} turns a deadline, a timeout and a parent
 * `AbortSignal` into one child signal that aborts at the earliest of them, and
 * {@link deadlineOf} lets nested work read the deadline it inherited, so a call gets
 * `min(own timeout, parent's remaining time)`.
 *
 * Every link is released by {@link SignalScope.dispose}: the parent's listener is
 * removed and the timer cancelled, so a long-lived parent signal does not collect
 * listeners from finished work.
 *
 * @module
 */

import type { Clock } from './clock.js';
import { DeadlineExceededError, InvalidArgumentError } from './errors.js';
import type { ScheduledTask, Scheduler } from './scheduler.js';
import { requireNumber, requireOptionalSignal, requireOptions } from './validate.js';

/** An absolute instant on a clock by which some work must finish. */
export class Deadline {
  /** The clock the deadline is measured on. */
  readonly clock: Clock;
  /** The instant, in milliseconds on {@link Deadline.clock}. */
  readonly atMs: number;

  private constructor(clock: Clock, atMs: number) {
    this.clock = clock;
    this.atMs = atMs;
  }

  /** The deadline `timeoutMs` (>= 0) from now. */
  static afterMs(clock: Clock, timeoutMs: number): Deadline {
    requireNumber('Deadline.afterMs timeoutMs', timeoutMs, { min: 0 });
    return new Deadline(clock, clock.nowMs() + timeoutMs);
  }

  /** The deadline at `atMs` on `clock`. */
  static atMs(clock: Clock, atMs: number): Deadline {
    requireNumber('Deadline.atMs atMs', atMs);
    return new Deadline(clock, atMs);
  }

  /** Milliseconds left, never below 0. */
  remainingMs(): number {
    return Math.max(0, this.atMs - this.clock.nowMs());
  }

  /** True once the clock has reached the deadline. */
  isExpired(): boolean {
    return this.clock.nowMs() >= this.atMs;
  }

  /** The earlier of this deadline and `timeoutMs` from now. */
  withinMs(timeoutMs: number): Deadline {
    return this.earliest(Deadline.afterMs(this.clock, timeoutMs));
  }

  /** The earlier of this deadline and `other` (this one when `other` is undefined). */
  earliest(other: Deadline | undefined): Deadline {
    return other !== undefined && other.atMs < this.atMs ? other : this;
  }

  /**
   * A signal that aborts at this deadline or when `parentSignal` aborts, whichever comes
   * first. Dispose the scope when the work ends.
   */
  scope(options: {
    readonly scheduler: Scheduler;
    readonly parentSignal?: AbortSignal;
  }): SignalScope {
    return linkSignal({ ...options, deadline: this });
  }
}

/** A child `AbortSignal` and the means to release it. */
export interface SignalScope {
  /** Aborts at the deadline (reason: {@link DeadlineExceededError}) or with the parent. */
  readonly signal: AbortSignal;
  /** The deadline the signal aborts at, inherited ones included; undefined for none. */
  readonly deadline: Deadline | undefined;
  /**
   * Releases the parent's listener and the timer. Call it when the work ends, whether it
   * succeeded or not; calling it again does nothing. It does not abort the signal.
   */
  dispose(): void;
}

/** Options for {@link linkSignal}. */
export interface LinkSignalOptions {
  /** Measures the deadline and runs its timer. */
  readonly scheduler: Scheduler;
  /** The caller's signal; the child aborts with it, with the same reason. */
  readonly parentSignal?: AbortSignal | undefined;
  /** An absolute deadline, on `scheduler.clock`. */
  readonly deadline?: Deadline | undefined;
  /** A timeout from now, in milliseconds (>= 0). */
  readonly timeoutMs?: number | undefined;
}

const deadlineBySignal = new WeakMap<AbortSignal, Deadline>();

/**
 * The deadline a signal made by {@link linkSignal} aborts at, so that nested work can
 * bound its own timeout by the time its caller has left.
 */
export function deadlineOf(signal: AbortSignal | undefined): Deadline | undefined {
  return signal === undefined ? undefined : deadlineBySignal.get(signal);
}

/**
 * Makes a child signal that aborts at the earliest of `deadline`, `timeoutMs` from now
 * and the parent's own deadline (see {@link deadlineOf}), or as soon as `parentSignal`
 * aborts. The child aborts at the deadline `deadlineOf` reports for it even if the
 * parent's scope is disposed first.
 *
 * @example
 * ```ts
 * const scope = linkSignal({ scheduler, parentSignal: request.signal, timeoutMs: 500 });
 * try {
 *   await fetch(url, { signal: scope.signal });
 * } finally {
 *   scope.dispose();
 * }
 * ```
 */
export function linkSignal(options: LinkSignalOptions): SignalScope {
  const checked = requireOptions('linkSignal options', options);
  const scheduler = checked.scheduler;
  if (
    typeof scheduler !== 'object' ||
    scheduler === null ||
    typeof scheduler.schedule !== 'function'
  ) {
    throw new InvalidArgumentError('options.scheduler', 'linkSignal needs options.scheduler.');
  }
  const parentSignal = requireOptionalSignal(
    'linkSignal options.parentSignal',
    checked.parentSignal,
  );
  let own = checked.deadline;
  if (own !== undefined && (!(own instanceof Deadline) || own.clock !== scheduler.clock)) {
    throw new InvalidArgumentError(
      'options.deadline',
      'linkSignal options.deadline must be a Deadline on options.scheduler.clock.',
    );
  }
  if (checked.timeoutMs !== undefined) {
    // Checked here so that the error names the option the caller passed.
    requireNumber('linkSignal options.timeoutMs', checked.timeoutMs, { min: 0 });
    const fromTimeout = Deadline.afterMs(scheduler.clock, checked.timeoutMs);
    own = fromTimeout.earliest(own);
  }
  let inherited = deadlineOf(parentSignal);
  if (inherited !== undefined && inherited.clock !== scheduler.clock) {
    inherited = undefined;
  }
  return new LinkedSignalScope(scheduler, parentSignal, own, inherited);
}

class LinkedSignalScope implements SignalScope {
  readonly #controller = new AbortController();
  readonly #parentSignal: AbortSignal | undefined;
  readonly deadline: Deadline | undefined;
  #timer: ScheduledTask | undefined;
  #listening = false;

  constructor(
    scheduler: Scheduler,
    parentSignal: AbortSignal | undefined,
    own: Deadline | undefined,
    inherited: Deadline | undefined,
  ) {
    this.#parentSignal = parentSignal;
    this.deadline = own === undefined ? inherited : own.earliest(inherited);
    if (this.deadline !== undefined) {
      deadlineBySignal.set(this.#controller.signal, this.deadline);
    }
    if (parentSignal?.aborted) {
      this.#controller.abort(parentSignal.reason);
      return;
    }
    if (this.deadline?.isExpired()) {
      this.#controller.abort(new DeadlineExceededError(this.deadline.atMs));
      return;
    }
    // The child keeps a timer even when the parent's deadline is the binding one: the
    // parent's scope may be disposed (its timer cancelled) while this child's work goes on,
    // and the child must still abort at the deadline that deadlineOf() reports for it.
    if (this.deadline !== undefined) {
      this.#timer = scheduler.schedule(this.deadline.remainingMs(), this.#onDeadline);
    }
    if (parentSignal !== undefined) {
      parentSignal.addEventListener('abort', this.#onParentAbort, { once: true });
      this.#listening = true;
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  dispose(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#listening) {
      this.#listening = false;
      this.#parentSignal?.removeEventListener('abort', this.#onParentAbort);
    }
  }

  readonly #onParentAbort = (): void => {
    this.#listening = false;
    this.dispose();
    this.#controller.abort(this.#parentSignal?.reason);
  };

  readonly #onDeadline = (): void => {
    this.#timer = undefined;
    this.dispose();
    const atMs = this.deadline?.atMs ?? Number.NaN;
    this.#controller.abort(new DeadlineExceededError(atMs));
  };
}
