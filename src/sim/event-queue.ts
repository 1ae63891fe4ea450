/**
 * The simulator's single event queue, ordered by (time, sequence).
 * The sequence is a counter the simulation hands out as it schedules, so two events due
 * at the same instant run in the order they were scheduled, on every engine, every run.
 *
 * Internal to `src/sim`.
 *
 * @module
 */

import { type HeapEntry, IndexedHeap } from '../core/index.js';

/**
 * Something that happens at one instant of simulated time. Subclasses say what
 * ({@link SimEvent.run}); the queue only orders them.
 */
export abstract class SimEvent implements HeapEntry {
  /** When it happens, in simulated milliseconds. */
  timeMs = 0;
  /** Tie-breaker: the order in which events due at the same instant were scheduled. */
  sequence = 0;
  /** Slot in the heap's array; -1 while not queued. */
  slot = -1;

  /** Does what the event stands for. Called once, with simulated time set to `timeMs`. */
  abstract run(): void;
}

/** The simulator's event queue: a min-heap of {@link SimEvent} by (timeMs, sequence). */
export class SimEventQueue extends IndexedHeap<SimEvent> {
  before(a: SimEvent, b: SimEvent): boolean {
    return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence);
  }
}
