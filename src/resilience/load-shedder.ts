/**
 * Load shedding with priority classes: when a service has more work than it can do, it
 * refuses the least important work first, early and cheaply, so that the important work
 * keeps a short queue.
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
  InvalidArgumentError,
  requireInteger,
  requireNumber,
  requireOptions,
  requireString,
  type ScheduledTask,
  type Scheduler,
  systemScheduler,
} from '../core/index.js';
import {
  contextFrom,
  type ExecutionContext,
  type Policy,
  type PolicyContext,
  type PolicyWork,
} from './policy.js';
import { holdUntilSettled } from './settle.js';

/**
 * Why a call was shed:
 * - `queue-full`: every slot was busy and the queue was full of calls of the same or a
 *   higher priority;
 * - `evicted`: the call was waiting and a call of a higher priority took its place in the
 *   full queue;
 * - `overloaded`: the queueing delay stayed above its target, and calls of this priority
 *   are shed until it recovers (see {@link LoadShedder}).
 */
export type LoadShedReason = 'queue-full' | 'evicted' | 'overloaded';

const reasonTexts: Readonly<Record<LoadShedReason, string>> = {
  'queue-full':
    'every slot is busy and the queue is full of calls of the same or a higher priority',
  evicted: 'it waited for a slot and a call of a higher priority took its place in the queue',
  overloaded:
    'the queueing delay stayed above its target, so calls of this priority are shed until ' +
    'it recovers',
};

/** A {@link LoadShedder} refused a call, or evicted it from its queue. */
export class LoadShedError extends DistkitError {
  /** The priority class of the refused call. */
  readonly priority: string;
  /** Why it was refused. */
  readonly reason: LoadShedReason;

  constructor(priority: string, reason: LoadShedReason, options?: DistkitErrorOptions) {
    super(
      'LOAD_SHED',
      `A '${priority}' call was shed: ${reasonTexts[reason]}. Retry it later with backoff, ` +
        'or send it with a higher priority if it matters more.',
      options,
    );
    this.priority = priority;
    this.reason = reason;
  }
}

/** Brand guard for {@link LoadShedError}. */
export const isLoadShedError = errorGuard<LoadShedError>('LOAD_SHED');

/** Options for {@link LoadShedder}. */
export interface LoadShedderOptions<P extends string> {
  /**
   * The priority classes, highest first, for example `['critical', 'normal', 'background']`
   * (1 to 32 distinct non-empty names).
   */
  readonly priorities: readonly P[];
  /** Most calls running at once, of all classes together (integer >= 1). */
  readonly concurrencyMax: number;
  /**
   * Most calls waiting for a slot, of all classes together (integer >= 0). When the queue
   * is full, a newcomer evicts the oldest waiting call of the lowest class below its own,
   * or is rejected if there is none.
   */
  readonly queueCountMax: number;
  /**
   * The queueing delay to keep below, in milliseconds (>= 0): the age of the oldest
   * waiting call. Without it the shedder sheds only on a full queue.
   */
  readonly queueDelayMsTarget?: number;
  /**
   * How long, in milliseconds (> 0), the queueing delay must stay above
   * `queueDelayMsTarget` before one more class is shed, and at or below it before one
   * class is let back in. Default 100. Only with `queueDelayMsTarget`.
   */
  readonly queueDelayIntervalMs?: number;
  /** Measures queueing delay and runs its checks; default the shared `systemScheduler`. */
  readonly scheduler?: Scheduler;
}

/** Payload of {@link LoadShedder.onShed}. */
export interface LoadShedEvent<P extends string = string> {
  /** The class of the shed call. */
  readonly priority: P;
  /** Why it was shed. */
  readonly reason: LoadShedReason;
}

/** Payload of {@link LoadShedder.onLevelChange}. */
export interface LoadShedLevelEvent<P extends string = string> {
  /** The new shed level: how many of the lowest classes are shed. */
  readonly level: number;
  /** The level before. */
  readonly previousLevel: number;
  /** The classes now shed, highest first (the last `level` priorities). */
  readonly shedPriorities: readonly P[];
  /** The queueing delay when the level changed, in milliseconds. */
  readonly queueDelayMs: number;
}

/** The {@link Policy} of one priority class; see {@link LoadShedder.policy}. */
export interface PriorityPolicy<P extends string = string> extends Policy {
  /** The class every call through this policy belongs to. */
  readonly priority: P;
}

/**
 * A waiting call: a node of two doubly linked lists, its class's line (served first in,
 * first out) and the arrival line of all classes (whose head is the oldest waiting call,
 * the one that sets the queueing delay). It is its own abort listener (`handleEvent`).
 */
class Waiter {
  classPrevious: Waiter | undefined;
  classNext: Waiter | undefined;
  agePrevious: Waiter | undefined;
  ageNext: Waiter | undefined;
  linked = false;
  signal: AbortSignal | undefined;
  deadlineTask: ScheduledTask | undefined;

  constructor(
    readonly core: ShedderCore<string>,
    readonly classIndex: number,
    readonly context: ExecutionContext,
    readonly admit: () => void,
    readonly reject: (error: unknown) => void,
    readonly enqueuedAtMs: number,
  ) {}

  handleEvent(): void {
    const error = this.context.abortError() ?? abortError(this.signal as AbortSignal);
    this.core.leave(this, error);
  }
}

/** The shedder's state and algorithm; {@link LoadShedder} is its public face. */
class ShedderCore<P extends string> {
  readonly priorities: readonly P[];
  readonly concurrencyMax: number;
  readonly queueCountMax: number;
  readonly queueDelayMsTarget: number | undefined;
  readonly queueDelayIntervalMs: number;
  readonly scheduler: Scheduler;
  readonly shed = new Emitter<LoadShedEvent<P>>();
  readonly levelChanged = new Emitter<LoadShedLevelEvent<P>>();

  inflightCount = 0;
  queuedCount = 0;
  level = 0;
  readonly #levelMax: number;
  readonly #classHeads: (Waiter | undefined)[];
  readonly #classTails: (Waiter | undefined)[];
  readonly classSizes: number[];
  /** Bit i is set while class i has waiting calls. */
  #occupiedMask = 0;
  ageHead: Waiter | undefined;
  #ageTail: Waiter | undefined;

  // The delay controller; see LoadShedder's documentation for the rule it implements.
  /** From this instant on the queueing delay is above target (given the same oldest call). */
  #aboveFromMs = Number.POSITIVE_INFINITY;
  /** Start of the current stretch at or below target, once an above stretch has ended. */
  #belowFromMs = Number.NEGATIVE_INFINITY;
  /** When the level last changed. */
  #levelChangedAtMs = Number.NEGATIVE_INFINITY;
  #timer: ScheduledTask | undefined;

  constructor(options: LoadShedderOptions<P>) {
    const checked = requireOptions('LoadShedder options', options);
    const priorities = checked.priorities;
    if (!Array.isArray(priorities) || priorities.length < 1 || priorities.length > 32) {
      throw new InvalidArgumentError(
        'LoadShedder options.priorities',
        'LoadShedder options.priorities must be an array of 1 to 32 class names, highest first.',
      );
    }
    priorities.forEach((priority: unknown, index) => {
      requireString(`LoadShedder options.priorities[${index}]`, priority);
      if (priorities.indexOf(priority as P) !== index) {
        throw new InvalidArgumentError(
          `LoadShedder options.priorities[${index}]`,
          `LoadShedder options.priorities lists '${String(priority)}' twice; name each class once.`,
        );
      }
    });
    this.priorities = Object.freeze([...priorities]);
    this.concurrencyMax = requireInteger(
      'LoadShedder options.concurrencyMax',
      checked.concurrencyMax,
      { min: 1 },
    );
    this.queueCountMax = requireInteger(
      'LoadShedder options.queueCountMax',
      checked.queueCountMax,
      { min: 0 },
    );
    this.queueDelayMsTarget =
      checked.queueDelayMsTarget === undefined
        ? undefined
        : requireNumber('LoadShedder options.queueDelayMsTarget', checked.queueDelayMsTarget, {
            min: 0,
          });
    this.queueDelayIntervalMs = requireNumber(
      'LoadShedder options.queueDelayIntervalMs',
      checked.queueDelayIntervalMs ?? 100,
      { min: Number.MIN_VALUE },
    );
    this.scheduler = checked.scheduler ?? systemScheduler;
    this.#levelMax = priorities.length - 1;
    this.#classHeads = new Array<Waiter | undefined>(priorities.length).fill(undefined);
    this.#classTails = new Array<Waiter | undefined>(priorities.length).fill(undefined);
    this.classSizes = new Array<number>(priorities.length).fill(0);
  }

  execute<T>(
    classIndex: number,
    work: PolicyWork<T>,
    parent: AbortSignal | PolicyContext | undefined,
  ): Promise<T> {
    const parentContext = contextFrom(parent);
    const abortedError = parentContext.abortError();
    if (abortedError !== undefined) {
      return Promise.reject(abortedError);
    }
    if (this.inflightCount < this.concurrencyMax) {
      this.inflightCount += 1;
      return this.#run(work, parentContext);
    }
    return this.#wait(classIndex, work, parentContext);
  }

  #run<T>(work: PolicyWork<T>, context: ExecutionContext): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = work(context);
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    return holdUntilSettled(result, this.#onSettled);
  }

  readonly #onSettled = (): void => {
    this.#release();
  };

  #wait<T>(classIndex: number, work: PolicyWork<T>, context: ExecutionContext): Promise<T> {
    if (classIndex > this.#levelMax - this.level) {
      return Promise.reject(this.#shedError(classIndex, 'overloaded'));
    }
    const clock = this.scheduler.clock;
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
    if (this.queuedCount >= this.queueCountMax) {
      const lowest = this.#occupiedMask === 0 ? -1 : 31 - Math.clz32(this.#occupiedMask);
      if (lowest <= classIndex) {
        return Promise.reject(this.#shedError(classIndex, 'queue-full'));
      }
      this.#evict(this.#classHeads[lowest] as Waiter, 'evicted');
    }
    const admitted = new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(
        this as unknown as ShedderCore<string>,
        classIndex,
        context,
        resolve,
        reject,
        nowMs,
      );
      this.#push(waiter, nowMs);
      const signal = context.signal;
      waiter.signal = signal;
      signal.addEventListener('abort', waiter, { once: true });
      if (deadlineAtMs !== Number.POSITIVE_INFINITY) {
        waiter.deadlineTask = this.scheduler.scheduleAt(deadlineAtMs, () => {
          waiter.deadlineTask = undefined;
          this.leave(waiter, expiredError(deadlineAtMs));
        });
      }
    });
    // As in the bulkhead: the work starts from a promise callback, never from #release,
    // so a line of synchronous works cannot grow the stack.
    return admitted.then(() => {
      const abortedError = context.abortError();
      if (abortedError !== undefined) {
        this.#release();
        throw abortedError;
      }
      return this.#run(work, context);
    });
  }

  /** Hands a freed slot to the oldest call of the highest waiting class, or frees it. */
  #release(): void {
    const mask = this.#occupiedMask;
    if (mask !== 0 && this.inflightCount <= this.concurrencyMax) {
      // The lowest set bit is the highest-priority class with a waiting call.
      const waiter = this.#classHeads[31 - Math.clz32(mask & -mask)] as Waiter;
      this.#unlink(waiter);
      waiter.admit();
    } else {
      this.inflightCount -= 1;
    }
  }

  /** Takes a waiting call out of the queue and rejects it with `error`. */
  leave(waiter: Waiter, error: unknown): void {
    if (waiter.linked) {
      this.#unlink(waiter);
      waiter.reject(error);
    }
  }

  #evict(waiter: Waiter, reason: LoadShedReason): void {
    this.leave(waiter, this.#shedError(waiter.classIndex, reason));
  }

  #shedError(classIndex: number, reason: LoadShedReason): LoadShedError {
    const priority = this.priorities[classIndex] as P;
    if (this.shed.listenerCount > 0) {
      this.shed.emit({ priority, reason });
    }
    return new LoadShedError(priority, reason);
  }

  #push(waiter: Waiter, nowMs: number): void {
    const index = waiter.classIndex;
    const classTail = this.#classTails[index];
    waiter.classPrevious = classTail;
    if (classTail === undefined) {
      this.#classHeads[index] = waiter;
      this.#occupiedMask |= 1 << index;
    } else {
      classTail.classNext = waiter;
    }
    this.#classTails[index] = waiter;
    this.classSizes[index] = (this.classSizes[index] as number) + 1;
    const ageTail = this.#ageTail;
    waiter.agePrevious = ageTail;
    if (ageTail === undefined) {
      this.ageHead = waiter;
    } else {
      ageTail.ageNext = waiter;
    }
    this.#ageTail = waiter;
    waiter.linked = true;
    this.queuedCount += 1;
    if (ageTail === undefined) {
      this.#oldestChanged(nowMs);
    }
  }

  /** Unlinks `waiter` from both lines and drops its abort listener and deadline task. */
  #unlink(waiter: Waiter): void {
    const index = waiter.classIndex;
    if (waiter.classPrevious === undefined) {
      this.#classHeads[index] = waiter.classNext;
    } else {
      waiter.classPrevious.classNext = waiter.classNext;
    }
    if (waiter.classNext === undefined) {
      this.#classTails[index] = waiter.classPrevious;
    } else {
      waiter.classNext.classPrevious = waiter.classPrevious;
    }
    this.classSizes[index] = (this.classSizes[index] as number) - 1;
    if (this.#classHeads[index] === undefined) {
      this.#occupiedMask &= ~(1 << index);
    }
    const wasOldest = waiter.agePrevious === undefined;
    if (wasOldest) {
      this.ageHead = waiter.ageNext;
    } else {
      (waiter.agePrevious as Waiter).ageNext = waiter.ageNext;
    }
    if (waiter.ageNext === undefined) {
      this.#ageTail = waiter.agePrevious;
    } else {
      waiter.ageNext.agePrevious = waiter.agePrevious;
    }
    waiter.classPrevious = undefined;
    waiter.classNext = undefined;
    waiter.agePrevious = undefined;
    waiter.ageNext = undefined;
    waiter.linked = false;
    this.queuedCount -= 1;
    waiter.signal?.removeEventListener('abort', waiter);
    waiter.signal = undefined;
    waiter.deadlineTask?.cancel();
    waiter.deadlineTask = undefined;
    if (wasOldest && this.queueDelayMsTarget !== undefined) {
      this.#oldestChanged(this.scheduler.clock.nowMs());
    }
  }

  queueDelayMs(nowMs: number): number {
    return this.ageHead === undefined ? 0 : nowMs - this.ageHead.enqueuedAtMs;
  }

  // The delay controller. The queueing delay d(t) = t - (arrival of the oldest waiting
  // call) rises at one millisecond per millisecond and only ever drops when the oldest
  // call leaves, so the instant it crosses the target is known in advance: no polling,
  // just one task at the next instant the level can change.

  #oldestChanged(nowMs: number): void {
    const target = this.queueDelayMsTarget;
    if (target === undefined) {
      return;
    }
    const oldest = this.ageHead;
    const crossMs = oldest === undefined ? Number.POSITIVE_INFINITY : oldest.enqueuedAtMs + target;
    const wasAbove = this.#aboveFromMs < nowMs;
    // A younger oldest call that is itself above target continues the stretch above.
    if (!(wasAbove && crossMs < nowMs)) {
      if (wasAbove) {
        this.#belowFromMs = nowMs;
      }
      this.#aboveFromMs = crossMs;
    }
    this.#plan(nowMs);
  }

  /** The next instant the level may change, given no arrival or departure before it. */
  #nextStepMs(nowMs: number): number {
    const intervalMs = this.queueDelayIntervalMs;
    const changedAtMs = this.#levelChangedAtMs;
    const up =
      this.level < this.#levelMax
        ? Math.max(this.#aboveFromMs, changedAtMs) + intervalMs
        : Number.POSITIVE_INFINITY;
    if (this.#aboveFromMs < nowMs) {
      return up;
    }
    const downAtMs = Math.max(this.#belowFromMs, changedAtMs) + intervalMs;
    // A step down needs the whole interval at or below target: before the next crossing.
    const down =
      this.level > 0 && downAtMs <= this.#aboveFromMs ? downAtMs : Number.POSITIVE_INFINITY;
    return Math.min(up, down);
  }

  #plan(nowMs: number): void {
    const nextMs = this.#nextStepMs(nowMs);
    const timer = this.#timer;
    if (nextMs === Number.POSITIVE_INFINITY) {
      if (timer !== undefined) {
        timer.cancel();
        this.#timer = undefined;
      }
      return;
    }
    // An earlier task re-plans when it runs; only a later one must be moved forward.
    if (timer !== undefined) {
      if (timer.dueMs <= nextMs) {
        return;
      }
      timer.cancel();
    }
    this.#timer = this.scheduler.scheduleAt(nextMs, this.#onTimer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    const nowMs = this.scheduler.clock.nowMs();
    const intervalMs = this.queueDelayIntervalMs;
    const changedAtMs = this.#levelChangedAtMs;
    if (this.#aboveFromMs < nowMs) {
      if (
        this.level < this.#levelMax &&
        nowMs >= Math.max(this.#aboveFromMs, changedAtMs) + intervalMs
      ) {
        this.#setLevel(this.level + 1, nowMs);
      }
    } else if (this.level > 0 && nowMs >= Math.max(this.#belowFromMs, changedAtMs) + intervalMs) {
      this.#setLevel(this.level - 1, nowMs);
    }
    this.#plan(nowMs);
  };

  #setLevel(level: number, nowMs: number): void {
    const previousLevel = this.level;
    this.level = level;
    this.#levelChangedAtMs = nowMs;
    if (this.levelChanged.listenerCount > 0) {
      this.levelChanged.emit({
        level,
        previousLevel,
        shedPriorities: this.priorities.slice(this.priorities.length - level),
        queueDelayMs: this.queueDelayMs(nowMs),
      });
    }
    if (level > previousLevel) {
      const index = this.priorities.length - level;
      for (let waiter = this.#classHeads[index]; waiter !== undefined; ) {
        const next = waiter.classNext;
        this.#evict(waiter, 'overloaded');
        waiter = next;
      }
    }
  }
}

/**
 * Sheds load by priority class. Calls run under one concurrency limit, wait in one bounded
 * queue, and are refused with {@link LoadShedError} lowest class first:
 *
 * 1. A call that finds a free slot runs at once (no clock reading, no timer).
 * 2. Otherwise it waits. Freed slots go to the highest class with waiting calls, oldest
 *    call first within a class. (Under sustained load the lowest classes wait longest;
 *    rules 3 and 4 shed them instead of letting them starve unseen.)
 * 3. With the queue full (`queueCountMax`), a newcomer evicts the oldest waiting call of
 *    the lowest class below its own (`evicted`), or is refused if no such call waits
 *    (`queue-full`).
 * 4. With `queueDelayMsTarget` set, a controller watches the queueing delay: the age of
 *    the oldest waiting call, on the scheduler's clock. The **shed level** (0 at first)
 *    rises by one each time the delay has stayed above the target for a whole
 *    `queueDelayIntervalMs` since the later of the stretch's start and the last level
 *    change, and falls by one each time it has stayed at or below the target for as long.
 *    At level k the k lowest classes are shed: their waiting calls are evicted when the
 *    level rises, and their new calls are refused unless a slot is free (`overloaded`).
 *    The highest class is never shed by the controller.
 *
 * Rule 4 is CoDel's idea (a standing queue, not a burst, is what to act on), made
 * deterministic: one scheduler task waits for the next instant the level can change.
 *
 * Waiting calls leave at once when their signal aborts, or at their context's deadline
 * with {@link DeadlineExceededError}; their listener and task are removed either way.
 *
 * @example
 * ```ts
 * const shedder = new LoadShedder({
 *   priorities: ['critical', 'normal', 'background'],
 *   concurrencyMax: 32,
 *   queueCountMax: 256,
 *   queueDelayMsTarget: 20,
 *   queueDelayIntervalMs: 200,
 * });
 * const checkout = shedder.policy('critical');
 * await checkout.execute(({ signal }) => placeOrder(order, signal));
 * ```
 */
export class LoadShedder<const P extends string = string> {
  readonly #core: ShedderCore<P>;
  readonly #policies: readonly PriorityPolicy<P>[];
  readonly #indexByPriority: ReadonlyMap<string, number>;

  /** Emitted when a call is refused or evicted. */
  readonly onShed: Event<LoadShedEvent<P>>;
  /** Emitted when the shed level changes. */
  readonly onLevelChange: Event<LoadShedLevelEvent<P>>;

  constructor(options: LoadShedderOptions<P>) {
    const core = new ShedderCore<P>(options);
    this.#core = core;
    this.onShed = core.shed.event;
    this.onLevelChange = core.levelChanged.event;
    this.#indexByPriority = new Map(core.priorities.map((priority, index) => [priority, index]));
    this.#policies = core.priorities.map(
      (priority, index): PriorityPolicy<P> => ({
        priority,
        execute: <T>(work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> =>
          core.execute(index, work, parent),
      }),
    );
  }

  /** The priority classes, highest first. */
  get priorities(): readonly P[] {
    return this.#core.priorities;
  }

  /** Most calls running at once. */
  get concurrencyMax(): number {
    return this.#core.concurrencyMax;
  }

  /** Most calls waiting at once. */
  get queueCountMax(): number {
    return this.#core.queueCountMax;
  }

  /** Calls running now. */
  get inflightCount(): number {
    return this.#core.inflightCount;
  }

  /** Calls waiting now, of all classes. */
  get queuedCount(): number {
    return this.#core.queuedCount;
  }

  /** How many of the lowest classes are shed now (0 to `priorities.length - 1`). */
  get shedLevel(): number {
    return this.#core.level;
  }

  /** The classes shed now, highest first. */
  get shedPriorities(): readonly P[] {
    const priorities = this.#core.priorities;
    return priorities.slice(priorities.length - this.#core.level);
  }

  /** Calls of `priority` waiting now. */
  queuedCountOf(priority: P): number {
    return this.#core.classSizes[this.#indexOf(priority)] as number;
  }

  /** The age of the oldest waiting call in milliseconds; 0 when none waits. */
  queueDelayMs(): number {
    return this.#core.queueDelayMs(this.#core.scheduler.clock.nowMs());
  }

  /** The policy that runs calls of `priority`; the same object on every call. */
  policy(priority: P): PriorityPolicy<P> {
    return this.#policies[this.#indexOf(priority)] as PriorityPolicy<P>;
  }

  /**
   * Runs `work` as a call of `priority`; the same as `policy(priority).execute(...)`. An
   * unknown priority throws `InvalidArgumentError` at the call site, as a programming error.
   */
  execute<T>(priority: P, work: PolicyWork<T>, parent?: AbortSignal | PolicyContext): Promise<T> {
    return this.#core.execute(this.#indexOf(priority), work, parent);
  }

  #indexOf(priority: P): number {
    const index = this.#indexByPriority.get(priority);
    if (index === undefined) {
      throw new InvalidArgumentError(
        'priority',
        `'${String(priority)}' is not a priority of this load shedder; use one of ` +
          `${this.#core.priorities.map((name) => `'${name}'`).join(', ')}.`,
      );
    }
    return index;
  }
}

function expiredError(deadlineMs: number): DeadlineExceededError {
  return new DeadlineExceededError(
    deadlineMs,
    'The deadline passed while the call waited for a slot of the load shedder; allow more ' +
      'time, or send the call with a higher priority.',
  );
}
