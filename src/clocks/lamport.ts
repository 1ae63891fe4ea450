/**
 * Lamport clocks: one counter per process that orders events consistently with
 * causality (if a happened before b, a's time is smaller), and, with the node id as a
 * tie-breaker, a total order every node agrees on.
 *
 * @module
 */

import { LimitExceededError, requireInteger, requireString } from '../core/index.js';

/** A Lamport time with the node that produced it: a total order across nodes. */
export interface LamportTimestamp {
  /** The counter value. */
  readonly time: number;
  /** The node that produced it; breaks ties between equal times. */
  readonly node: string;
}

/** Options for {@link LamportClock}. */
export interface LamportClockOptions {
  /** The node this clock belongs to. */
  readonly node: string;
  /** The counter to start from (a value recovered from disk). Default 0. */
  readonly time?: number;
}

/**
 * A Lamport clock. Call {@link LamportClock.tick} for a local event or a send (its
 * result goes into the message), and {@link LamportClock.observe} with the time carried
 * by every message received.
 *
 * @example
 * ```ts
 * const a = new LamportClock({ node: 'a' });
 * const b = new LamportClock({ node: 'b' });
 * const sent = a.tick(); // 1
 * b.observe(sent.time); // 2: after the send
 * ```
 */
export class LamportClock {
  /** The node this clock belongs to. */
  readonly node: string;
  #time: number;

  constructor(options: LamportClockOptions) {
    this.node = requireString('LamportClock options.node', options?.node);
    this.#time = requireInteger('LamportClock options.time', options.time ?? 0, { min: 0 });
  }

  /** The latest time issued or observed. */
  get time(): number {
    return this.#time;
  }

  /** Advances the clock for a local event or a send; returns the event's timestamp. */
  tick(): LamportTimestamp {
    this.#time = this.#next(this.#time);
    return { time: this.#time, node: this.node };
  }

  /**
   * Takes in the time carried by a received message; the receive event gets a time after
   * both. Returns the receive event's timestamp.
   */
  observe(remoteTime: number): LamportTimestamp {
    requireInteger('LamportClock.observe remoteTime', remoteTime, { min: 0 });
    this.#time = this.#next(remoteTime > this.#time ? remoteTime : this.#time);
    return { time: this.#time, node: this.node };
  }

  #next(time: number): number {
    if (time >= Number.MAX_SAFE_INTEGER) {
      throw new LimitExceededError(
        Number.MAX_SAFE_INTEGER,
        'LamportClock: the counter reached 2^53 - 1; a peer is probably sending corrupt times.',
      );
    }
    return time + 1;
  }
}

/** Orders Lamport timestamps: by time, then by node id. Negative, zero or positive. */
export function compareLamportTimestamps(a: LamportTimestamp, b: LamportTimestamp): number {
  if (a.time !== b.time) {
    return a.time < b.time ? -1 : 1;
  }
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}
