/**
 * The platform's clocks behind the {@link Clock} port. One of the few files allowed to
 * read real time (see `docs/architecture.md`, rule 2).
 *
 * @module
 */

import type { Clock } from './clock.js';

/**
 * The real clock: `performance.now()` for monotonic time, `Date.now()` for wall-clock
 * time. Stateless; share the {@link systemClock} instance.
 */
export class SystemClock implements Clock {
  nowMs(): number {
    return performance.now();
  }

  wallMs(): number {
    return Date.now();
  }
}

/** The shared {@link SystemClock}. */
export const systemClock: Clock = new SystemClock();
