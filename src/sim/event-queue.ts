/**
 * The simulator's single event queue: a binary min-heap ordered by (time, sequence).
 * The sequence is a counter the simulation hands out as it schedules, so two events due
 * at the same instant run in the order they were scheduled, on every engine, every run.
 *
 * Internal to `src/sim`.
 *
 * @module
 */

import { assert } from '../core/index.js';

/**
 * Something that happens at one instant of simulated time. Subclasses say what
 * ({@link SimEvent.run}); the queue only orders them.
 */
export abstract class SimEvent {
  /** When it happens, in simulated milliseconds. */
  timeMs = 0;
  /** Tie-breaker: the order in which events due at the same instant were scheduled. */
  sequence = 0;
  /** Slot in the heap's array; -1 while not queued. */
  slot = -1;

  /** Does what the event stands for. Called once, with simulated time set to `timeMs`. */
  abstract run(): void;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence);
}

/** Min-heap of {@link SimEvent} by (timeMs, sequence) with O(log n) removal. */
export class SimEventQueue {
  readonly #events: SimEvent[] = [];

  get size(): number {
    return this.#events.length;
  }

  peek(): SimEvent | undefined {
    return this.#events[0];
  }

  push(event: SimEvent): void {
    assert(event.slot === -1, 'an event is queued at most once at a time');
    const slot = this.#events.length;
    this.#events.push(event);
    event.slot = slot;
    this.#placeUpFrom(slot);
  }

  /** Removes and returns the earliest event. */
  pop(): SimEvent | undefined {
    const events = this.#events;
    const first = events[0];
    if (first === undefined) {
      return undefined;
    }
    const last = events.pop() as SimEvent;
    first.slot = -1;
    if (last !== first) {
      this.#placeDown(last, 0);
    }
    return first;
  }

  /** Removes `event` if it is queued; returns whether it was. */
  remove(event: SimEvent): boolean {
    const slot = event.slot;
    if (slot < 0) {
      return false;
    }
    const events = this.#events;
    assert(events[slot] === event, 'a queued event knows its slot');
    const last = events.pop() as SimEvent;
    event.slot = -1;
    if (last !== event) {
      const parent = slot > 0 ? (events[(slot - 1) >> 1] as SimEvent) : undefined;
      if (parent !== undefined && before(last, parent)) {
        events[slot] = last;
        last.slot = slot;
        this.#placeUpFrom(slot);
      } else {
        this.#placeDown(last, slot);
      }
    }
    return true;
  }

  /** Removes every event. */
  clear(): void {
    for (const event of this.#events) {
      event.slot = -1;
    }
    this.#events.length = 0;
  }

  #placeUpFrom(startSlot: number): void {
    const events = this.#events;
    const event = events[startSlot] as SimEvent;
    let slot = startSlot;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = events[parentSlot] as SimEvent;
      if (!before(event, parent)) {
        break;
      }
      events[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    events[slot] = event;
    event.slot = slot;
  }

  /** Puts `event` at `startSlot` and sifts it down to where it belongs. */
  #placeDown(event: SimEvent, startSlot: number): void {
    const events = this.#events;
    const count = events.length;
    let slot = startSlot;
    for (;;) {
      const leftSlot = 2 * slot + 1;
      if (leftSlot >= count) {
        break;
      }
      const rightSlot = leftSlot + 1;
      let childSlot = leftSlot;
      let child = events[leftSlot] as SimEvent;
      if (rightSlot < count) {
        const right = events[rightSlot] as SimEvent;
        if (before(right, child)) {
          childSlot = rightSlot;
          child = right;
        }
      }
      if (!before(child, event)) {
        break;
      }
      events[slot] = child;
      child.slot = slot;
      slot = childSlot;
    }
    events[slot] = event;
    event.slot = slot;
  }
}
