/**
 * The heart of the simulator, shared by the nodes, the network and the public
 * `Simulation`: simulated time, the single event queue, the sequence that breaks ties,
 * the trace and the counters. Also the simulated {@link Scheduler}s handed to nodes and
 * to the harness.
 *
 * Internal to `src/sim`: the public surface is `Simulation`.
 *
 * @module
 */

import {
  type Clock,
  checkScheduleArguments,
  checkScheduleAtArguments,
  type ScheduledTask,
  type Scheduler,
  type SeededRandom,
} from '../core/index.js';
import { SimEvent, SimEventQueue } from './event-queue.js';
import { Trace, type TraceOptions } from './trace.js';

/** Trace record kinds; folded into the trace hash, so never renumber them. */
export const TraceKind = {
  deliver: 1,
  drop: 2,
  timer: 3,
  crash: 4,
  start: 5,
  pause: 6,
  resume: 7,
  record: 8,
  task: 9,
  duplicate: 10,
  fault: 11,
} as const;

/** Counters the kernel keeps; read through `Simulation.statistics`. */
export interface KernelCounters {
  eventCount: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  messagesDuplicated: number;
  timersFired: number;
}

/** A clock whose readings the kernel can turn back into simulated (true) time. */
export interface SimClock extends Clock {
  /** The simulated time at which this clock will read `clockMs`. */
  trueTimeAt(clockMs: number): number;
}

/** What a {@link SimScheduler} asks of the node it belongs to, if any. */
export interface TimerOwner {
  /**
   * Decides the fate of a timer that fell due: `'run'`, `'stash'` (the owner is paused
   * and took the event to replay later) or `'discard'` (the owner crashed since).
   */
  admitTimer(event: TimerEvent, incarnation: number): 'run' | 'stash' | 'discard';
}

/** The shared state of one simulation. */
export class Kernel {
  readonly queue = new SimEventQueue();
  readonly trace: Trace;
  readonly counters: KernelCounters = {
    eventCount: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    timersFired: 0,
  };
  /** Simulated time in milliseconds: the instant of the event running now. */
  nowMs = 0;
  #sequence = 0;

  constructor(
    readonly seed: number,
    readonly random: SeededRandom,
    readonly wallEpochMs: number,
    traceOptions: TraceOptions,
  ) {
    this.trace = new Trace(traceOptions);
  }

  /** Queues `event` at `timeMs` (never before now) behind every event already due then. */
  enqueue(event: SimEvent, timeMs: number): void {
    event.timeMs = timeMs > this.nowMs ? timeMs : this.nowMs;
    event.sequence = this.#sequence;
    this.#sequence += 1;
    this.queue.push(event);
  }
}

/** The simulation's own clock: true simulated time, wall time from a fixed epoch. */
export class KernelClock implements SimClock {
  constructor(readonly kernel: Kernel) {}

  nowMs(): number {
    return this.kernel.nowMs;
  }

  wallMs(): number {
    return this.kernel.wallEpochMs + this.kernel.nowMs;
  }

  trueTimeAt(clockMs: number): number {
    return clockMs;
  }
}

/** A timer of a {@link SimScheduler}: queued event and the handle its caller holds. */
export class TimerEvent extends SimEvent implements ScheduledTask {
  #state: 'waiting' | 'done' = 'waiting';

  constructor(
    readonly scheduler: SimScheduler,
    readonly dueMs: number,
    readonly callback: () => void,
  ) {
    super();
  }

  get pending(): boolean {
    return this.#state === 'waiting';
  }

  cancel(): boolean {
    if (this.#state !== 'waiting') {
      return false;
    }
    this.#state = 'done';
    this.scheduler.forget(this);
    return true;
  }

  /** Marks the timer run or discarded; returns false when it was cancelled before. */
  settle(): boolean {
    if (this.#state !== 'waiting') {
      return false;
    }
    this.#state = 'done';
    return true;
  }

  run(): void {
    this.scheduler.fire(this);
  }
}

/**
 * A {@link Scheduler} in simulated time, measured on `clock` (a node's own, possibly
 * drifting clock, or the simulation's). A node's scheduler belongs to one incarnation:
 * after a crash its timers never run, and while the node is paused they wait.
 */
export class SimScheduler implements Scheduler {
  #pendingCount = 0;

  constructor(
    readonly kernel: Kernel,
    readonly clock: SimClock,
    readonly owner: TimerOwner | undefined,
    readonly incarnation: number,
    /** Who the timers belong to in the trace: the node's index plus one, 0 for none. */
    readonly traceId: number,
  ) {}

  get pendingCount(): number {
    return this.#pendingCount;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTask {
    checkScheduleArguments(delayMs, callback);
    return this.#add(this.clock.nowMs() + delayMs, callback);
  }

  scheduleAt(dueMs: number, callback: () => void): ScheduledTask {
    checkScheduleAtArguments(dueMs, callback);
    return this.#add(dueMs, callback);
  }

  #add(dueMs: number, callback: () => void): TimerEvent {
    const event = new TimerEvent(this, dueMs, callback);
    this.#pendingCount += 1;
    this.kernel.enqueue(event, this.clock.trueTimeAt(dueMs));
    return event;
  }

  /** A timer was cancelled: take it out of the queue (a stashed one is skipped later). */
  forget(event: TimerEvent): void {
    this.#pendingCount -= 1;
    this.kernel.queue.remove(event);
  }

  fire(event: TimerEvent): void {
    if (!event.pending) {
      return;
    }
    const fate = this.owner?.admitTimer(event, this.incarnation) ?? 'run';
    if (fate === 'stash') {
      return;
    }
    event.settle();
    this.#pendingCount -= 1;
    if (fate === 'discard') {
      return;
    }
    const kernel = this.kernel;
    kernel.counters.timersFired += 1;
    const hash = kernel.trace.hash;
    hash.word(TraceKind.timer);
    hash.word(this.traceId);
    hash.number(kernel.nowMs);
    if (kernel.trace.keepsLines) {
      kernel.trace.line(`${kernel.nowMs.toFixed(3)} timer #${this.traceId}`);
    }
    event.callback();
  }
}
