/**
 * Deferred work. Everything in distkit that waits (a retry's backoff, a timeout, a
 * breaker's half-open probe) asks a {@link Scheduler}; nothing calls `setTimeout` itself.
 * The {@link VirtualScheduler} runs that work in virtual time for tests and simulations;
 * `SystemScheduler` runs it in real time over a single platform timer.
 *
 * @module
 */

import { type Clock, ManualClock } from './clock.js';
import { LimitExceededError } from './errors.js';
import { HeapTask, TaskHeap, type TaskOwner } from './task-heap.js';
import { requireFunction, requireInteger, requireNumber } from './validate.js';

/** A callback waiting to run; the handle {@link Scheduler.schedule} returns. */
export interface ScheduledTask {
  /** When the task is due, in milliseconds on the scheduler's clock. */
  readonly dueMs: number;
  /** True until the task runs or is cancelled. */
  readonly pending: boolean;
  /** Cancels the task; returns false when it had already run or been cancelled. */
  cancel(): boolean;
}

/** Runs callbacks after a delay measured on {@link Scheduler.clock}. */
export interface Scheduler {
  /** The clock that delays are measured on. */
  readonly clock: Clock;
  /** How many tasks are waiting to run. */
  readonly pendingCount: number;
  /**
   * Runs `callback` once, `delayMs` (>= 0) milliseconds from now. Tasks due at the same
   * time run in the order they were scheduled.
   */
  schedule(delayMs: number, callback: () => void): ScheduledTask;
  /**
   * Runs `callback` once at `dueMs` on {@link Scheduler.clock} (at the next opportunity if
   * that has passed). Saves a clock read for a caller that already knows the instant.
   */
  scheduleAt(dueMs: number, callback: () => void): ScheduledTask;
}

/** Checks the arguments of {@link Scheduler.schedule}; shared by the implementations. */
export function checkScheduleArguments(delayMs: unknown, callback: unknown): void {
  if (typeof delayMs !== 'number' || !(delayMs >= 0 && delayMs < Number.POSITIVE_INFINITY)) {
    requireNumber('Scheduler.schedule delayMs', delayMs, { min: 0 });
  }
  if (typeof callback !== 'function') {
    requireFunction('Scheduler.schedule callback', callback);
  }
}

/** Checks the arguments of {@link Scheduler.scheduleAt}; shared by the implementations. */
export function checkScheduleAtArguments(dueMs: unknown, callback: unknown): void {
  if (typeof dueMs !== 'number' || !Number.isFinite(dueMs)) {
    requireNumber('Scheduler.scheduleAt dueMs', dueMs);
  }
  if (typeof callback !== 'function') {
    requireFunction('Scheduler.scheduleAt callback', callback);
  }
}

/** Options for {@link VirtualScheduler}. */
export interface VirtualSchedulerOptions {
  /** The clock to advance. Default: a new {@link ManualClock} at time 0. */
  readonly clock?: ManualClock;
  /**
   * Most callbacks one call to `advanceMs`, `advanceToMs` or `runAll` may run before it
   * stops with {@link LimitExceededError}: a guard against work that reschedules itself
   * forever at the same instant. Default 10,000,000.
   */
  readonly runCountMax?: number;
}

/**
 * A scheduler whose time moves only when advanced. Advancing runs every task that falls
 * due on the way, in (due time, scheduling order), with the clock set to each task's due
 * time while it runs. A task that throws stops the advance and the error propagates to
 * the caller; tasks not yet run stay queued.
 *
 * @example
 * ```ts
 * const scheduler = new VirtualScheduler();
 * scheduler.schedule(100, () => console.log('at', scheduler.clock.nowMs()));
 * scheduler.advanceMs(150); // prints "at 100"; the clock then reads 150
 * ```
 */
export class VirtualScheduler implements Scheduler, TaskOwner {
  readonly clock: ManualClock;
  readonly #heap = new TaskHeap();
  readonly #runCountMax: number;
  #sequence = 0;

  constructor(options: VirtualSchedulerOptions = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.#runCountMax = requireInteger(
      'VirtualScheduler options.runCountMax',
      options.runCountMax ?? 10_000_000,
      { min: 1 },
    );
  }

  get pendingCount(): number {
    return this.#heap.size;
  }

  /** Due time of the earliest waiting task, or `undefined` when none waits. */
  nextDueMs(): number | undefined {
    return this.#heap.peek()?.dueMs;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTask {
    checkScheduleArguments(delayMs, callback);
    return this.#push(this.clock.nowMs() + delayMs, callback);
  }

  scheduleAt(dueMs: number, callback: () => void): ScheduledTask {
    checkScheduleAtArguments(dueMs, callback);
    return this.#push(Math.max(dueMs, this.clock.nowMs()), callback);
  }

  #push(dueMs: number, callback: () => void): HeapTask {
    const task = new HeapTask(dueMs, this.#sequence, callback, this);
    this.#sequence += 1;
    this.#heap.push(task);
    return task;
  }

  cancelTask(task: HeapTask): boolean {
    return this.#heap.remove(task);
  }

  /** Advances time by `deltaMs`, running every task due by then; returns how many ran. */
  advanceMs(deltaMs: number): number {
    requireNumber('VirtualScheduler.advanceMs deltaMs', deltaMs, { min: 0 });
    return this.advanceToMs(this.clock.nowMs() + deltaMs);
  }

  /** Advances time to `targetMs`, running every task due by then; returns how many ran. */
  advanceToMs(targetMs: number): number {
    requireNumber('VirtualScheduler.advanceToMs targetMs', targetMs, { min: this.clock.nowMs() });
    let runCount = 0;
    for (let task = this.#heap.peek(); task !== undefined && task.dueMs <= targetMs; ) {
      this.#runTask(task, runCount);
      runCount += 1;
      task = this.#heap.peek();
    }
    this.clock.advanceToMs(targetMs);
    return runCount;
  }

  /** Jumps to the earliest waiting task and runs it alone; returns false when none waits. */
  runNext(): boolean {
    const task = this.#heap.peek();
    if (task === undefined) {
      return false;
    }
    this.#runTask(task, 0);
    return true;
  }

  /** Runs tasks, jumping time forwards, until none waits; returns how many ran. */
  runAll(): number {
    let runCount = 0;
    for (let task = this.#heap.peek(); task !== undefined; task = this.#heap.peek()) {
      this.#runTask(task, runCount);
      runCount += 1;
    }
    return runCount;
  }

  #runTask(task: HeapTask, runCount: number): void {
    if (runCount >= this.#runCountMax) {
      throw new LimitExceededError(
        this.#runCountMax,
        `VirtualScheduler ran ${this.#runCountMax} tasks in one advance; some work probably ` +
          'reschedules itself without end. Raise options.runCountMax if the work is real.',
      );
    }
    this.#heap.remove(task);
    if (task.dueMs > this.clock.nowMs()) {
      this.clock.advanceToMs(task.dueMs);
    }
    task.callback();
  }
}
