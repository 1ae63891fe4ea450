/**
 * Time as distkit sees it. Nothing outside `src/core`'s system implementations and the
 * driver layers reads the platform's clocks; everything else is handed a {@link Clock},
 * so a test or a simulation decides what time it is.
 *
 * @module
 */

import { requireNumber } from './validate.js';

/** A source of time. */
export interface Clock {
  /**
   * Monotonic time in milliseconds since an arbitrary origin. Never decreases; use it to
   * measure durations and to set deadlines.
   */
  nowMs(): number;
  /**
   * Wall-clock time in milliseconds since the Unix epoch. May jump forwards or backwards
   * (NTP, an operator); use it only to label events for people or to talk to systems
   * that speak wall-clock time.
   */
  wallMs(): number;
}

/** Options for {@link ManualClock}. */
export interface ManualClockOptions {
  /** Starting monotonic time. Default 0. */
  readonly nowMs?: number;
  /** Starting wall-clock time. Default 0 (the Unix epoch). */
  readonly wallMs?: number;
}

/**
 * A clock whose time moves only when told. Advancing it moves both readings by the same
 * amount; {@link ManualClock.setWallMs} makes the wall clock jump alone, as NTP might.
 *
 * A {@link ManualClock} runs no callbacks. To run scheduled work as time passes, advance
 * a `VirtualScheduler` built on this clock instead.
 *
 * @example
 * ```ts
 * const clock = new ManualClock({ nowMs: 0, wallMs: Date.UTC(2026, 0, 1) });
 * clock.advanceMs(250);
 * clock.nowMs(); // 250
 * ```
 */
export class ManualClock implements Clock {
  #nowMs: number;
  #wallOffsetMs: number;

  constructor(options: ManualClockOptions = {}) {
    this.#nowMs = requireNumber('ManualClock options.nowMs', options.nowMs ?? 0);
    const wallMs = requireNumber('ManualClock options.wallMs', options.wallMs ?? 0);
    this.#wallOffsetMs = wallMs - this.#nowMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  wallMs(): number {
    return this.#nowMs + this.#wallOffsetMs;
  }

  /** Moves time forwards by `deltaMs` (>= 0). */
  advanceMs(deltaMs: number): void {
    requireNumber('ManualClock.advanceMs deltaMs', deltaMs, { min: 0 });
    this.#nowMs += deltaMs;
  }

  /** Moves time forwards to `nowMs`; time never goes back, so an earlier value is an error. */
  advanceToMs(nowMs: number): void {
    requireNumber('ManualClock.advanceToMs nowMs', nowMs, { min: this.#nowMs });
    this.#nowMs = nowMs;
  }

  /** Sets the wall clock alone, leaving monotonic time as it is (a clock step). */
  setWallMs(wallMs: number): void {
    requireNumber('ManualClock.setWallMs wallMs', wallMs);
    this.#wallOffsetMs = wallMs - this.#nowMs;
  }
}
