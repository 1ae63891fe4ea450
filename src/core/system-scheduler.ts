/**
 * The real {@link Scheduler}: every task lives in one heap, and one platform timer is
 * armed for the earliest of them. Ten thousand pending deadlines cost one `setTimeout`,
 * and cancelling one costs a heap removal, not a `clearTimeout`.
 *
 * @module
 */

import type { Clock } from './clock.js';
import {
  checkScheduleArguments,
  checkScheduleAtArguments,
  type ScheduledTask,
  type Scheduler,
} from './scheduler.js';
import { systemClock } from './system-clock.js';
import { HeapTask, TaskHeap, type TaskOwner } from './task-heap.js';
import { requireBoolean } from './validate.js';

/** The longest delay `setTimeout` accepts, in milliseconds: 2^31 - 1, about 24.8 days. */
const platformDelayMsMax = 2_147_483_647;

/** Options for {@link SystemScheduler}. */
export interface SystemSchedulerOptions {
  /**
   * Whether pending tasks keep the Node.js process alive, as a plain `setTimeout` does.
   * Default true. With false the platform timer is `unref()`ed.
   */
  readonly keepProcessAlive?: boolean;
}

/**
 * A scheduler on real time (`performance.now()`), multiplexing every task over a single
 * platform timer.
 *
 * Tasks run in (due time, scheduling order). A task scheduled while others run, even with
 * delay 0, waits for the next timer turn, so self-rescheduling work cannot starve the
 * event loop. A task that throws does not stop the others: its error is rethrown from a
 * microtask, where it surfaces as an uncaught exception exactly as it would from
 * `setTimeout`.
 *
 * @example
 * ```ts
 * const scheduler = new SystemScheduler();
 * const task = scheduler.schedule(1_000, () => console.log('one second later'));
 * task.cancel();
 * ```
 */
export class SystemScheduler implements Scheduler, TaskOwner {
  readonly clock: Clock = systemClock;
  readonly #heap = new TaskHeap();
  readonly #keepProcessAlive: boolean;
  #sequence = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Due time the platform timer is armed for; meaningful only while `#timer` is set. */
  #armedDueMs = 0;
  /** Whether the platform timer is ref()ed, holding the process open. */
  #timerHoldsProcess = false;
  /** Whether an end-of-turn check that unref()s an idle timer is queued. */
  #idleCheckPending = false;

  constructor(options: SystemSchedulerOptions = {}) {
    this.#keepProcessAlive = requireBoolean(
      'SystemScheduler options.keepProcessAlive',
      options.keepProcessAlive ?? true,
    );
  }

  get pendingCount(): number {
    return this.#heap.size;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTask {
    checkScheduleArguments(delayMs, callback);
    return this.#push(this.clock.nowMs() + delayMs, callback);
  }

  scheduleAt(dueMs: number, callback: () => void): ScheduledTask {
    checkScheduleAtArguments(dueMs, callback);
    return this.#push(dueMs, callback);
  }

  #push(dueMs: number, callback: () => void): HeapTask {
    const task = new HeapTask(dueMs, this.#sequence, callback, this);
    this.#sequence += 1;
    this.#heap.push(task);
    if (this.#timer === undefined || task.dueMs < this.#armedDueMs) {
      this.#arm(task.dueMs);
    } else if (!this.#timerHoldsProcess && this.#keepProcessAlive) {
      this.#timer.ref();
      this.#timerHoldsProcess = true;
    }
    return task;
  }

  cancelTask(task: HeapTask): boolean {
    const removed = this.#heap.remove(task);
    // An idle scheduler must not hold the process open, but clearing the platform timer
    // here would cost a clearTimeout and a setTimeout for every call that schedules and
    // cancels one timeout, and even unref() and ref() are a native call each. So the
    // timer stays armed and ref()ed until the end of the current event-loop turn: if the
    // heap is still empty then, it is unref()ed (one check per turn, however many calls
    // the turn made). When it fires with nothing due it does nothing. When tasks remain, a
    // timer armed for a cancelled task simply fires early and re-arms.
    if (removed && this.#heap.size === 0 && this.#timerHoldsProcess && !this.#idleCheckPending) {
      this.#idleCheckPending = true;
      setImmediate(this.#idleCheck);
    }
    return removed;
  }

  /** Cancels every pending task and releases the platform timer. */
  cancelAll(): void {
    this.#heap.clear();
    this.#disarm();
  }

  #arm(dueMs: number): void {
    this.#disarm();
    // setTimeout takes at most 2^31 - 1 ms; beyond that Node.js warns and fires after 1 ms.
    // A timer armed for the limit fires early, finds nothing due and re-arms.
    const delayMs = Math.min(
      platformDelayMsMax,
      Math.max(1, Math.ceil(dueMs - this.clock.nowMs())),
    );
    this.#armedDueMs = dueMs;
    this.#timer = setTimeout(this.#fire, delayMs);
    this.#timerHoldsProcess = this.#keepProcessAlive;
    if (!this.#keepProcessAlive) {
      this.#timer.unref();
    }
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#timerHoldsProcess = false;
  }

  readonly #idleCheck = (): void => {
    this.#idleCheckPending = false;
    if (this.#heap.size === 0 && this.#timer !== undefined && this.#timerHoldsProcess) {
      this.#timer.unref();
      this.#timerHoldsProcess = false;
    }
  };

  readonly #fire = (): void => {
    // The timer is spent: callbacks below that cancel the last task must not touch it.
    this.#timer = undefined;
    this.#timerHoldsProcess = false;
    const nowMs = this.clock.nowMs();
    const sequenceEnd = this.#sequence;
    for (let task = this.#heap.peek(); task !== undefined; task = this.#heap.peek()) {
      if (task.dueMs > nowMs || task.sequence >= sequenceEnd) {
        break;
      }
      this.#heap.remove(task);
      try {
        task.callback();
      } catch (error) {
        // Rethrown after this turn, one microtask per error so that none is lost; the
        // tasks still due in this turn run first.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    const next = this.#heap.peek();
    // Callbacks may have armed the timer for a task of their own that is due later than
    // the earliest one left over.
    if (next !== undefined && (this.#timer === undefined || next.dueMs < this.#armedDueMs)) {
      this.#arm(next.dueMs);
    }
  };
}

/**
 * The shared {@link SystemScheduler}: the default of every distkit component that takes
 * a `scheduler` option, so that all of their timers ride on one platform timer.
 */
export const systemScheduler: SystemScheduler = new SystemScheduler();
