/**
 * The shape every resilience policy shares, and the context that flows through a chain
 * of them.
 *
 * A policy runs a unit of work, `execute(work, parent)`, and hands the work a
 * {@link PolicyContext}: the attempt number, the cancellation signal and the deadline.
 * Policies compose by running the next policy as their work and passing their context on
 * as its parent (see `pipeline`).
 *
 * The context is cheap on the success path: a context creates an `AbortController` only
 * when someone reads its `signal`, and a context that cannot abort on its own (a retry
 * attempt, say) hands out its parent's signal instead of making one.
 *
 * @module
 */

import {
  AbortedError,
  abortError,
  type Deadline,
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

/**
 * The {@link PolicyContext} that distkit's policies pass along. Policies that write their
 * own policies build on it: `contextFrom(parent)` at the start of `execute`, `derive` for
 * a child, `abort` to cancel a child, `release` when the child's work has settled.
 */
export class ExecutionContext implements PolicyContext {
  readonly attempt: number;
  readonly deadline: Deadline | undefined;
  readonly #parent: ExecutionContext | undefined;
  readonly #callerSignal: AbortSignal | undefined;
  readonly #abortable: boolean;
  #controller: AbortController | undefined;
  #aborted = false;
  #abortReason: unknown;
  /** The parent signal this context listens to, while it listens. */
  #listenedSignal: AbortSignal | undefined;

  private constructor(
    parent: ExecutionContext | undefined,
    callerSignal: AbortSignal | undefined,
    attempt: number,
    deadline: Deadline | undefined,
    abortable: boolean,
  ) {
    this.#parent = parent;
    this.#callerSignal = callerSignal;
    this.attempt = attempt;
    this.deadline = deadline;
    this.#abortable = abortable;
  }

  /** The outermost context of a call, on the caller's signal if there is one. */
  static root(callerSignal?: AbortSignal, deadline?: Deadline): ExecutionContext {
    return new ExecutionContext(undefined, callerSignal, 1, deadline, callerSignal === undefined);
  }

  /** A child context; see {@link DeriveOptions}. */
  derive(options: DeriveOptions): ExecutionContext {
    return new ExecutionContext(
      this,
      undefined,
      options.attempt ?? this.attempt,
      'deadline' in options ? options.deadline : this.deadline,
      options.abortable ?? false,
    );
  }

  /** True once this context or one of its ancestors has aborted; never creates a signal. */
  get aborted(): boolean {
    for (let context: ExecutionContext | undefined = this; context; context = context.#parent) {
      if (context.#aborted || context.#callerSignal?.aborted) {
        return true;
      }
    }
    return false;
  }

  /** The error an aborted context stands for (see `abortError` in core); undefined if not aborted. */
  abortError(): DistkitErrorLike | undefined {
    for (let context: ExecutionContext | undefined = this; context; context = context.#parent) {
      if (context.#aborted) {
        return abortErrorOfReason(context.#abortReason);
      }
      const callerSignal = context.#callerSignal;
      if (callerSignal?.aborted) {
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
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) {
        this.#controller.abort(this.#abortReason);
      } else if (this.#parent !== undefined) {
        const parentSignal = this.#parent.signal;
        if (parentSignal.aborted) {
          this.#controller.abort(parentSignal.reason);
        } else {
          parentSignal.addEventListener('abort', this.#onParentAbort, { once: true });
          this.#listenedSignal = parentSignal;
        }
      }
    }
    return this.#controller.signal;
  }

  /** Aborts this context (only an abortable one) and its descendants' signals. */
  abort(reason: unknown): void {
    if (!this.#abortable || this.#aborted) {
      return;
    }
    this.#aborted = true;
    this.#abortReason = reason;
    this.release();
    this.#controller?.abort(reason);
  }

  /** Stops listening to the parent's signal; call when the work under this context settles. */
  release(): void {
    const listened = this.#listenedSignal;
    if (listened !== undefined) {
      this.#listenedSignal = undefined;
      listened.removeEventListener('abort', this.#onParentAbort);
    }
  }

  readonly #onParentAbort = (): void => {
    this.#listenedSignal = undefined;
    this.#controller?.abort((this.#parent as ExecutionContext).signal.reason);
  };
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
