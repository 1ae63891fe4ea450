/**
 * The bulkhead policy: at most `concurrencyMax` calls run at once, at most `queueCountMax`
 * more wait for a slot in arrival order, and any further call is rejected at once with a
 * typed error, so one slow dependency cannot take every request of a service with it.
 *
 * @module
 */

import {
  abortError,
  DeadlineExceededError,
  DistkitError,
  type DistkitErrorOptions,
  Emitter,
  type Event,
  errorGuard,
  requireInteger,
  requireOptions,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import {
  contextFrom,
  delegateStep,
  type ExecutionContext,
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
import { holdUntilSettled } from './settle.js';

/** {@link BulkheadPolicy} had no free slot and no room left in its queue. */
export class BulkheadRejectedError extends DistkitError {
  /** The concurrency limit in force when the call was rejected. */
  readonly concurrencyMax: number;
  /** The queue bound in force when the call was rejected. */
  readonly queueCountMax: number;

  constructor(concurrencyMax: number, queueCountMax: number, options?: DistkitErrorOptions) {
    super(
      'BULKHEAD_REJECTED',
      `All ${concurrencyMax} slots of the bulkhead are busy and ${queueCountMax} calls already ` +
        'wait for one; shed this call or retry it later, or raise concurrencyMax or ' +
        'queueCountMax if the dependency can take more.',
      options,
    );
    this.concurrencyMax = concurrencyMax;
    this.queueCountMax = queueCountMax;
  }
}

/** Brand guard for {@link BulkheadRejectedError}. */
export const isBulkheadRejectedError = errorGuard<BulkheadRejectedError>('BULKHEAD_REJECTED');

/** Options for {@link BulkheadPolicy}. */
export interface BulkheadOptions {
  /** Most calls running at once (integer >= 1). */
  readonly concurrencyMax: number;
  /**
   * Most calls waiting for a slot (integer >= 0); one more is rejected with
   * {@link BulkheadRejectedError}. Default 0: reject at once when every slot is busy.
   */
  readonly queueCountMax?: number;
  /**
   * Measures waits and ends them at their deadline; default the shared `systemScheduler`
   * of `distkit/core`. Only waiting calls use it: a call that finds a free slot never
   * touches the clock.
   */
  readonly scheduler?: Scheduler;
}

/** Payload of {@link BulkheadPolicy.onReject}. */
export interface BulkheadRejectEvent {
  /** Calls running when this one was rejected. */
  readonly inflightCount: number;
  /** Calls waiting when this one was rejected. */
  readonly queuedCount: number;
}

/** Payload of {@link BulkheadPolicy.onQueued}. */
export interface BulkheadQueuedEvent {
  /** Calls waiting, this one included. */
  readonly queuedCount: number;
}

/** How a waiting call left the queue; see {@link BulkheadDequeuedEvent}. */
export type BulkheadDequeueOutcome = 'admitted' | 'aborted' | 'expired';

/** Payload of {@link BulkheadPolicy.onDequeued}. */
export interface BulkheadDequeuedEvent {
  /** `admitted`: it got a slot; `aborted`: its signal aborted; `expired`: its deadline passed. */
  readonly outcome: BulkheadDequeueOutcome;
  /** How long it waited, in milliseconds on the scheduler's clock. */
  readonly waitMs: number;
  /** Calls still waiting. */
  readonly queuedCount: number;
}

/**
 * A call waiting for a slot: a node of the queue's doubly linked list, so that a waiter
 * whose signal aborts leaves in O(1) from anywhere in the line. It is also the abort
 * listener itself (`handleEvent`), which spares a closure per waiter.
 */
class Waiter {
  previous: Waiter | undefined;
  next: Waiter | undefined;
  linked = false;
  signal: AbortSignal | undefined;
  deadlineTask: ScheduledTask | undefined;

  constructor(
    readonly queue: WaitQueue,
    readonly context: ExecutionContext,
    readonly admit: () => void,
    readonly reject: (error: unknown) => void,
    readonly enqueuedAtMs: number,
  ) {}

  handleEvent(): void {
    const error = this.context.abortError() ?? abortError(this.signal as AbortSignal);
    this.queue.leave(this, 'aborted', error);
  }
}

/** The waiting line of one bulkhead: FIFO, bounded by its owner. */
class WaitQueue {
  head: Waiter | undefined;
  tail: Waiter | undefined;
  size = 0;
  readonly #dequeued: Emitter<BulkheadDequeuedEvent>;
  readonly #scheduler: Scheduler;

  constructor(dequeued: Emitter<BulkheadDequeuedEvent>, scheduler: Scheduler) {
    this.#dequeued = dequeued;
    this.#scheduler = scheduler;
  }

  push(waiter: Waiter): void {
    waiter.previous = this.tail;
    if (this.tail === undefined) {
      this.head = waiter;
    } else {
      this.tail.next = waiter;
    }
    this.tail = waiter;
    waiter.linked = true;
    this.size += 1;
  }

  /** Unlinks `waiter` and drops its abort listener and deadline task; false if not queued. */
  unlink(waiter: Waiter): boolean {
    if (!waiter.linked) {
      return false;
    }
    if (waiter.previous === undefined) {
      this.head = waiter.next;
    } else {
      waiter.previous.next = waiter.next;
    }
    if (waiter.next === undefined) {
      this.tail = waiter.previous;
    } else {
      waiter.next.previous = waiter.previous;
    }
    waiter.previous = undefined;
    waiter.next = undefined;
    waiter.linked = false;
    this.size -= 1;
    waiter.signal?.removeEventListener('abort', waiter);
    waiter.signal = undefined;
    waiter.deadlineTask?.cancel();
    waiter.deadlineTask = undefined;
    return true;
  }

  /** Takes `waiter` out of the line without a slot and rejects it with `error`. */
  leave(waiter: Waiter, outcome: BulkheadDequeueOutcome, error: unknown): void {
    if (this.unlink(waiter)) {
      this.emitDequeued(waiter, outcome);
      waiter.reject(error);
    }
  }

  emitDequeued(waiter: Waiter, outcome: BulkheadDequeueOutcome): void {
    if (this.#dequeued.listenerCount > 0) {
      this.#dequeued.emit({
        outcome,
        waitMs: this.#scheduler.clock.nowMs() - waiter.enqueuedAtMs,
        queuedCount: this.size,
      });
    }
  }
}

/**
 * Limits how many calls run at once.
 *
 * - A call that finds a free slot runs at once, on the caller's context: no waiter, no
 *   timer and no clock reading.
 * - Otherwise it waits in a first-in first-out queue of at most `queueCountMax` calls;
 *   each freed slot goes to the longest-waiting call, so no call starves.
 * - With the queue full, the call is rejected at once with {@link BulkheadRejectedError}.
 * - A waiting call whose signal aborts leaves the queue at once and rejects with the
 *   signal's error; one whose context has a deadline leaves when the deadline passes, with
 *   {@link DeadlineExceededError}: time spent waiting counts against the deadline. Either
 *   way its abort listener and deadline task are removed as soon as it leaves or gets a
 *   slot.
 * - A slot is held until the work settles, successfully or not. When the work returns a
 *   native promise, `execute` returns that same promise, and the slot is already free
 *   when the caller's `await` resumes.
 *
 * Place it innermost in a pipeline, inside the timeout, so that the timeout bounds the wait
 * too: `pipeline(retry, breaker, timeout, bulkhead)`.
 *
 * @example
 * ```ts
 * const bulkhead = new BulkheadPolicy({ concurrencyMax: 10, queueCountMax: 50 });
 * const report = await bulkhead.execute(({ signal }) => renderReport(id, signal));
 * ```
 */
export class BulkheadPolicy implements Policy {
  /** The queue bound. */
  readonly queueCountMax: number;
  #concurrencyMax: number;
  #inflightCount = 0;
  readonly #scheduler: Scheduler;
  readonly #rejected = new Emitter<BulkheadRejectEvent>();
  readonly #queued = new Emitter<BulkheadQueuedEvent>();
  readonly #dequeued = new Emitter<BulkheadDequeuedEvent>();
  readonly #queue: WaitQueue;

  /** Emitted when a call is rejected because the slots and the queue are full. */
  readonly onReject: Event<BulkheadRejectEvent> = this.#rejected.event;
  /** Emitted when a call starts to wait for a slot. */
  readonly onQueued: Event<BulkheadQueuedEvent> = this.#queued.event;
  /** Emitted when a waiting call leaves the queue, with a slot or without. */
  readonly onDequeued: Event<BulkheadDequeuedEvent> = this.#dequeued.event;

  constructor(options: BulkheadOptions) {
    const checked = requireOptions('BulkheadPolicy options', options);
    this.#concurrencyMax = requireInteger(
      'BulkheadPolicy options.concurrencyMax',
      checked.concurrencyMax,
      { min: 1 },
    );
    this.queueCountMax = requireInteger(
      'BulkheadPolicy options.queueCountMax',
      checked.queueCountMax ?? 0,
      { min: 0 },
    );
    this.#scheduler = checked.scheduler ?? systemScheduler;
    this.#queue = new WaitQueue(this.#dequeued, this.#scheduler);
  }

  /** Most calls running at once; see {@link BulkheadPolicy.setConcurrencyMax}. */
  get concurrencyMax(): number {
    return this.#concurrencyMax;
  }

  /** Calls running now (holding a slot). */
  get inflightCount(): number {
    return this.#inflightCount;
  }

  /** Calls waiting for a slot now. */
  get queuedCount(): number {
    return this.#queue.size;
  }

  /**
   * Changes the concurrency limit (integer >= 1). Raising it admits waiting calls at once;
   * lowering it lets the calls already running finish, and admits no one until fewer than
   * the new limit run.
   */
  setConcurrencyMax(concurrencyMax: number): void {
    this.#concurrencyMax = requireInteger('BulkheadPolicy concurrencyMax', concurrencyMax, {
      min: 1,
    });
    const queue = this.#queue;
    while (queue.head !== undefined && this.#inflightCount < this.#concurrencyMax) {
      this.#inflightCount += 1;
      this.#admit(queue.head);
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
    const parentContext = contextFrom(parent);
    const abortedError = parentContext.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    if (this.#inflightCount < this.#concurrencyMax) {
      this.#inflightCount += 1;
      return this.#run(work, steps, index, parentContext);
    }
    return this.#wait(work, steps, index, parentContext);
  }

  /** @internal */
  [enterStep](
    _run: StepRun,
    _layer: number,
    context: ExecutionContext,
  ): ExecutionContext | StepRejection | typeof delegateStep {
    const abortedError = context.abortError();
    if (abortedError !== undefined) {
      return new StepRejection(abortedError);
    }
    if (this.#inflightCount < this.#concurrencyMax) {
      this.#inflightCount += 1;
      return context;
    }
    // No free slot: wait (or be rejected) on the general path.
    return delegateStep;
  }

  /** @internal */
  [leaveStep](): undefined {
    this.#release();
    return undefined;
  }

  /** Runs `work` in a slot already counted, and frees the slot when the work settles. */
  #run<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    context: ExecutionContext,
  ): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = runSteps(work, steps, index, context);
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return holdUntilSettled(result, this.#onSettled);
  }

  readonly #onSettled = (): void => {
    this.#release();
  };

  #wait<T>(
    work: PolicyWork<T>,
    steps: readonly StepPolicy[] | undefined,
    index: number,
    context: ExecutionContext,
  ): Promise<T> {
    const queue = this.#queue;
    if (queue.size >= this.queueCountMax) {
      if (this.#rejected.listenerCount > 0) {
        this.#rejected.emit({ inflightCount: this.#inflightCount, queuedCount: queue.size });
      }
      return Promise.reject(new BulkheadRejectedError(this.#concurrencyMax, this.queueCountMax));
    }
    const clock = this.#scheduler.clock;
    const nowMs = clock.nowMs();
    let deadlineAtMs = context.deadlineAtMsOn(clock);
    if (deadlineAtMs === Number.POSITIVE_INFINITY) {
      // A deadline on another clock, if any: carry its remaining time over to ours.
      const foreign = context.deadline;
      if (foreign !== undefined) {
        deadlineAtMs = nowMs + foreign.remainingMs();
      }
    }
    if (nowMs >= deadlineAtMs) {
      return Promise.reject(expiredError(deadlineAtMs));
    }
    const admitted = new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(queue, context, resolve, reject, nowMs);
      queue.push(waiter);
      const signal = context.signal;
      waiter.signal = signal;
      signal.addEventListener('abort', waiter, { once: true });
      if (deadlineAtMs !== Number.POSITIVE_INFINITY) {
        waiter.deadlineTask = this.#scheduler.scheduleAt(deadlineAtMs, () => {
          waiter.deadlineTask = undefined;
          queue.leave(waiter, 'expired', expiredError(deadlineAtMs));
        });
      }
    });
    if (this.#queued.listenerCount > 0) {
      this.#queued.emit({ queuedCount: queue.size });
    }
    // The work starts from a promise callback, not from inside #release: a chain of
    // synchronous works handing slots to each other must not grow the stack.
    return admitted.then(() => {
      const abortedError = context.abortError();
      if (abortedError !== undefined) {
        this.#release();
        throw abortedError;
      }
      return this.#run(work, steps, index, context);
    });
  }

  /** Hands a freed slot to the longest-waiting call, or returns it to the pool. */
  #release(): void {
    const head = this.#queue.head;
    if (head !== undefined && this.#inflightCount <= this.#concurrencyMax) {
      this.#admit(head);
    } else {
      this.#inflightCount -= 1;
    }
  }

  /** Gives `waiter` the slot already counted for it. */
  #admit(waiter: Waiter): void {
    this.#queue.unlink(waiter);
    this.#queue.emitDequeued(waiter, 'admitted');
    waiter.admit();
  }
}

function expiredError(deadlineMs: number): DeadlineExceededError {
  return new DeadlineExceededError(
    deadlineMs,
    'The deadline passed while the call waited for a bulkhead slot; allow more time, ' +
      'raise concurrencyMax, or shed load before it queues.',
  );
}
