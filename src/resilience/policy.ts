/**
 * The shape every resilience policy shares, and the context that flows through a chain
 * of them.
 *
 * A policy runs a unit of work, `execute(work, parent)`, and hands the work a
 * {@link PolicyContext}: the attempt number, the cancellation signal and the deadline.
 * Policies compose by running the next policy as their work and passing their context on
 * as its parent (see `pipeline`).
 *
 * The context is cheap on the success path: a context creates an `AbortController`, and
 * the rest of what aborting needs, only when someone reads its `signal` or aborts it, and
 * a context that cannot abort on its own (a retry attempt, say) hands out its parent's
 * signal instead of making one.
 *
 * @module
 */

import {
  AbortedError,
  abortError,
  type Clock,
  Deadline,
  type DistkitErrorLike,
  deadlineOf,
  InvalidArgumentError,
  isDistkitError,
} from '../core/index.js';

/** What a policy tells the work it runs. */
export interface PolicyContext {
  /**
   * Aborts when the caller cancels, a timeout or deadline passes, or a hedged attempt
   * loses. Created on first read, so work that never reads it pays nothing for it.
   */
  readonly signal: AbortSignal;
  /** 1 for the first try; a retry policy counts up from there. */
  readonly attempt: number;
  /** The earliest deadline that bounds this work, inherited ones included. */
  readonly deadline: Deadline | undefined;
}

/** The work a policy runs. */
export type PolicyWork<T> = (context: PolicyContext) => T | PromiseLike<T>;

/**
 * A resilience policy. `parent` is the caller's `AbortSignal` or, inside a pipeline, the
 * context of the policy outside this one.
 *
 * Invalid arguments (a `parent` that is neither) throw `InvalidArgumentError` at the call
 * site, as a programming error; everything that happens to the work, and every rejection
 * by the policy, arrives through the returned promise.
 */
export interface Policy {
  /** Runs `work` under this policy; settles as the work does, or with the policy's error. */
  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T>;
}

/**
 * The key of the method through which a pipeline runs one of distkit's policies without a
 * closure per call: `policy[runStep](work, steps, index, parent)` runs the policy with,
 * as its work, the rest of the pipeline from `steps[index]` (see {@link runSteps}), or
 * `work` itself when `steps` is undefined.
 *
 * @internal
 */
export const runStep: unique symbol = Symbol('distkit.resilience.runStep');

/** A policy that a pipeline can run through {@link runStep}. @internal */
export interface StepPolicy extends Policy {
  [runStep]<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parent: AbortSignal | PolicyContext | undefined,
  ): Promise<T>;
}

/**
 * The keys of the methods through which a pipeline runs one of distkit's policies without
 * a promise of its own: `policy[enterStep](run, layer, context)` admits a call
 * synchronously and returns the context for the layers inside it, a
 * {@link StepRejection} when it turns the call away, or {@link delegateStep} when it
 * cannot decide synchronously (a bulkhead that must queue, a retry that checks values);
 * `policy[leaveStep](run, layer, failed, outcome)` is told how the layers inside it ended,
 * once, and returns `undefined` to pass that outcome outwards unchanged or a promise of
 * the outcome that replaces it (a retry's further attempts). See `pipeline-run.ts`.
 *
 * @internal
 */
export const enterStep: unique symbol = Symbol('distkit.resilience.enterStep');
/** See {@link enterStep}. @internal */
export const leaveStep: unique symbol = Symbol('distkit.resilience.leaveStep');
/** Returned by `[enterStep]` to run this layer and those inside it through {@link runStep}. @internal */
export const delegateStep: unique symbol = Symbol('distkit.resilience.delegateStep');

/**
 * Set to true on a policy that may fail a call before the work settles (a timeout), so
 * that a pipeline run makes a promise it can settle by hand.
 *
 * @internal
 */
export const settlesEarly: unique symbol = Symbol('distkit.resilience.settlesEarly');

/** A layer of a pipeline turned a call away while admitting it. @internal */
export class StepRejection {
  constructor(readonly error: unknown) {}
}

/** What a pipeline's layer sees of the call it runs in. @internal */
export interface StepRun {
  /** The work, and the pipeline's steps: a retry runs its further attempts through them. */
  readonly work: PolicyWork<unknown>;
  readonly steps: readonly StepPolicy[];
  /** The context the layer `layer` was entered with. */
  contextAt(layer: number): ExecutionContext;
  /** A value the layer keeps between entering and leaving (a generation, a timer). */
  datumAt(layer: number): unknown;
  setDatumAt(layer: number, datum: unknown): void;
  /**
   * A timeout at `layer` gives up: the layers outside it leave with `error` at once, and
   * the outcome of the layers inside it, when it comes, stops at `layer`.
   */
  failAt(layer: number, error: unknown): void;
}

/** A policy that a pipeline can run through {@link enterStep} and {@link leaveStep}. @internal */
export interface FusedStepPolicy extends StepPolicy {
  readonly [settlesEarly]?: boolean;
  [enterStep](
    run: StepRun,
    layer: number,
    context: ExecutionContext,
  ): ExecutionContext | StepRejection | typeof delegateStep;
  [leaveStep](
    run: StepRun,
    layer: number,
    failed: boolean,
    outcome: unknown,
  ): PromiseLike<unknown> | undefined;
}

/** Whether a step of a pipeline can be entered and left without a promise of its own. @internal */
export function isFusedStep(step: StepPolicy): step is FusedStepPolicy {
  return (
    !(step instanceof ForeignStep) &&
    typeof (step as Partial<FusedStepPolicy>)[enterStep] === 'function' &&
    typeof (step as Partial<FusedStepPolicy>)[leaveStep] === 'function'
  );
}

/**
 * Whether `policy` runs through {@link runStep}: true when the class that defines its
 * `execute` also defines `[runStep]`, so that a subclass or an instance that overrides
 * `execute` is still called through its `execute`. Checked once, when a pipeline is built.
 */
function isStepPolicy(policy: Policy): policy is StepPolicy {
  let owner: object | null = policy;
  while (owner !== null && !Object.hasOwn(owner, 'execute')) {
    owner = Object.getPrototypeOf(owner) as object | null;
  }
  return owner !== null && Object.hasOwn(owner, runStep);
}

/** Runs a policy of another library as a step, with a closure per call as its work. */
class ForeignStep implements StepPolicy {
  readonly #policy: Policy;

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  execute<T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    return this.#policy.execute(work, parent);
  }

  [runStep]<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    parent: AbortSignal | PolicyContext | undefined,
  ): Promise<T> {
    return this.#policy.execute((context) => runSteps(work, steps, index, context), parent);
  }
}

/** `policy` as a step of a pipeline. @internal */
export function stepOf(policy: Policy): StepPolicy {
  return isStepPolicy(policy) ? policy : new ForeignStep(policy);
}

/**
 * Whether the step that `runSteps(work, steps, index, ...)` runs, `steps[index - 1]`, was
 * called by another of distkit's policies rather than by the caller of the pipeline or by
 * a policy of another library. Such a policy always attaches handlers to the promise the
 * step returns (or passes it up after attaching its own), so the step may return a promise
 * it watches through a reaction of its own without hiding an unhandled rejection.
 *
 * @internal
 */
export function innerStepOf(steps: readonly StepPolicy[] | undefined, index: number): boolean {
  return steps !== undefined && index >= 2 && !(steps[index - 2] instanceof ForeignStep);
}

/**
 * Runs `work` under the steps `steps[index..]`, outermost first, or runs `work` itself
 * when none are left (`steps` undefined: a policy called on its own).
 *
 * @internal
 */
export function runSteps<T>(
  work: PolicyWork<T>,
  steps: readonly StepPolicy[] | undefined,
  index: number,
  context: PolicyContext,
): T | PromiseLike<T> {
  if (steps === undefined || index >= steps.length) {
    return work(context);
  }
  return (steps[index] as StepPolicy)[runStep](work, steps, index + 1, context);
}

/** What {@link ExecutionContext.derive} may change in a child context. */
export interface DeriveOptions {
  /** The child's attempt number; default the parent's. */
  readonly attempt?: number;
  /** The child's deadline; default the parent's. Pass the earlier of the two. */
  readonly deadline?: Deadline | undefined;
  /**
   * Whether the child can abort on its own through {@link ExecutionContext.abort} (a
   * timeout, a losing hedge). A child that cannot shares its parent's signal.
   */
  readonly abortable?: boolean;
}

/** What an {@link ExecutionContext} knows about aborting, once it has made a signal or aborted. */
class AbortState {
  controller: AbortController | undefined = undefined;
  aborted = false;
  abortReason: unknown = undefined;
  /** The parent signal the context listens to, and its listener, while it listens. */
  listenedSignal: AbortSignal | undefined = undefined;
  onParentAbort: (() => void) | undefined = undefined;
}

/**
 * The {@link PolicyContext} that distkit's policies pass along. Policies that write their
 * own policies build on it: `contextFrom(parent)` at the start of `execute`, `derive` for
 * a child, `abort` to cancel a child, `release` when the child's work has settled.
 */
export class ExecutionContext implements PolicyContext {
  readonly attempt: number;
  readonly #parent: ExecutionContext | undefined;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #abortable: boolean;
  /** The deadline as an object, made on first read of `deadline` when only its instant is known. */
  #deadline: Deadline | undefined;
  #deadlineClock: Clock | undefined;
  #deadlineAtMs: number;
  /**
   * Made when the context first makes its signal or aborts, which most never do: a context
   * on the success path is then only what it tells the work.
   */
  #abortState: AbortState | undefined;

  private constructor(
    parent: ExecutionContext | undefined,
    callerSignal: AbortSignal | undefined,
    attempt: number,
    abortable: boolean,
    deadline: Deadline | undefined,
    deadlineClock: Clock | undefined,
    deadlineAtMs: number,
  ) {
    this.#parent = parent;
    this.#callerSignal = callerSignal;
    this.attempt = attempt;
    this.#abortable = abortable;
    this.#deadline = deadline;
    this.#deadlineClock = deadlineClock;
    this.#deadlineAtMs = deadlineAtMs;
  }

  /** The outermost context of a call, on the caller's signal if there is one. */
  static root(callerSignal?: AbortSignal, deadline?: Deadline): ExecutionContext {
    return new ExecutionContext(
      undefined,
      callerSignal,
      1,
      callerSignal === undefined,
      deadline,
      deadline?.clock,
      deadline === undefined ? Number.NaN : deadline.atMs,
    );
  }

  /**
   * An abortable outermost context with a deadline at `deadlineAtMs` on `clock`, for a
   * policy called with no parent: one object where a root and a child would be two.
   */
  static rootWithDeadline(clock: Clock, deadlineAtMs: number): ExecutionContext {
    return new ExecutionContext(undefined, undefined, 1, true, undefined, clock, deadlineAtMs);
  }

  /** A child context; see {@link DeriveOptions}. */
  derive(options: DeriveOptions): ExecutionContext {
    if ('deadline' in options) {
      const deadline = options.deadline;
      return new ExecutionContext(
        this,
        undefined,
        options.attempt ?? this.attempt,
        options.abortable ?? false,
        deadline,
        deadline?.clock,
        deadline === undefined ? Number.NaN : deadline.atMs,
      );
    }
    return new ExecutionContext(
      this,
      undefined,
      options.attempt ?? this.attempt,
      options.abortable ?? false,
      this.#deadline,
      this.#deadlineClock,
      this.#deadlineAtMs,
    );
  }

  /**
   * An abortable child whose deadline is the instant `deadlineAtMs` on `clock`; the
   * `Deadline` object is made only if someone reads it. For policies on a hot path.
   */
  deriveWithDeadline(clock: Clock, deadlineAtMs: number): ExecutionContext {
    return new ExecutionContext(
      this,
      undefined,
      this.attempt,
      true,
      undefined,
      clock,
      deadlineAtMs,
    );
  }

  get deadline(): Deadline | undefined {
    if (this.#deadline === undefined && this.#deadlineClock !== undefined) {
      this.#deadline = Deadline.atMs(this.#deadlineClock, this.#deadlineAtMs);
    }
    return this.#deadline;
  }

  /**
   * The deadline's instant if it is measured on `clock`, otherwise +Infinity (no deadline,
   * or one on another clock). Reads no clock and makes no object.
   */
  deadlineAtMsOn(clock: Clock): number {
    return this.#deadlineClock === clock ? this.#deadlineAtMs : Number.POSITIVE_INFINITY;
  }

  /** True once this context or one of its ancestors has aborted; never creates a signal. */
  get aborted(): boolean {
    for (let context: ExecutionContext | undefined = this; context; context = context.#parent) {
      if (context.#abortState?.aborted === true || context.#callerSignal?.aborted === true) {
        return true;
      }
    }
    return false;
  }

  /** The error an aborted context stands for (see `abortError` in core); undefined if not aborted. */
  abortError(): DistkitErrorLike | undefined {
    // A root on no signal that has not aborted, the common case of a policy called on its
    // own, answers without the walk: a small body the compiler inlines into its callers.
    if (
      this.#parent === undefined &&
      this.#callerSignal === undefined &&
      this.#abortState === undefined
    ) {
      return undefined;
    }
    return this.#abortErrorOfChain();
  }

  #abortErrorOfChain(): DistkitErrorLike | undefined {
    for (let context: ExecutionContext | undefined = this; context; context = context.#parent) {
      const state = context.#abortState;
      if (state?.aborted === true) {
        return abortErrorOfReason(state.abortReason);
      }
      const callerSignal = context.#callerSignal;
      if (callerSignal?.aborted === true) {
        return abortError(callerSignal);
      }
    }
    return undefined;
  }

  get signal(): AbortSignal {
    if (this.#callerSignal !== undefined) {
      return this.#callerSignal;
    }
    if (!this.#abortable) {
      return (this.#parent as ExecutionContext).signal;
    }
    let state = this.#abortState;
    if (state === undefined) {
      state = new AbortState();
      this.#abortState = state;
    }
    if (state.controller === undefined) {
      const controller = new AbortController();
      state.controller = controller;
      if (state.aborted) {
        controller.abort(state.abortReason);
      } else if (this.#parent !== undefined) {
        const parentSignal = this.#parent.signal;
        if (parentSignal.aborted) {
          controller.abort(parentSignal.reason);
        } else {
          const listening = state;
          const onParentAbort = (): void => {
            listening.listenedSignal = undefined;
            listening.onParentAbort = undefined;
            controller.abort(parentSignal.reason);
          };
          parentSignal.addEventListener('abort', onParentAbort, { once: true });
          state.listenedSignal = parentSignal;
          state.onParentAbort = onParentAbort;
        }
      }
    }
    return state.controller.signal;
  }

  /** Aborts this context (only an abortable one) and its descendants' signals. */
  abort(reason: unknown): void {
    if (!this.#abortable) {
      return;
    }
    let state = this.#abortState;
    if (state === undefined) {
      state = new AbortState();
      this.#abortState = state;
    } else if (state.aborted) {
      return;
    }
    state.aborted = true;
    state.abortReason = reason;
    this.release();
    state.controller?.abort(reason);
  }

  /** Stops listening to the parent's signal; call when the work under this context settles. */
  release(): void {
    const state = this.#abortState;
    if (state === undefined) {
      return;
    }
    const listened = state.listenedSignal;
    if (listened !== undefined) {
      listened.removeEventListener('abort', state.onParentAbort as () => void);
      state.listenedSignal = undefined;
      state.onParentAbort = undefined;
    }
  }
}

function abortErrorOfReason(reason: unknown): DistkitErrorLike {
  return isDistkitError(reason) ? reason : new AbortedError(undefined, { cause: reason });
}

function isAbortSignal(value: object): value is AbortSignal {
  return (
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    !('attempt' in value)
  );
}

/**
 * The context a policy's `execute` starts from: the parent context itself when it is one
 * of distkit's, a root context on the caller's signal, or a root context carrying a
 * foreign {@link PolicyContext}'s signal, attempt and deadline.
 */
export function contextFrom(parent: AbortSignal | PolicyContext | undefined): ExecutionContext {
  if (parent === undefined) {
    return ExecutionContext.root();
  }
  if (parent instanceof ExecutionContext) {
    return parent;
  }
  if (typeof parent === 'object' && parent !== null) {
    if (isAbortSignal(parent)) {
      return ExecutionContext.root(parent, deadlineOf(parent));
    }
    if (typeof (parent as PolicyContext).attempt === 'number') {
      const foreign = parent as PolicyContext;
      return ExecutionContext.root(foreign.signal, foreign.deadline).derive({
        attempt: foreign.attempt,
      });
    }
  }
  throw new InvalidArgumentError(
    'parent',
    'Policy.execute parent must be an AbortSignal, a PolicyContext or undefined.',
  );
}
