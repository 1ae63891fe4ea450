/**
 * Single flight per key: while a load for a key is running, further callers for that key
 * join it instead of starting their own. A thousand requests that miss the same hot key
 * at once (a cache stampede) cause one load of the origin, not a thousand.
 *
 * Cancellation is per caller. Each caller passes its own `AbortSignal`; an abort rejects
 * that caller alone. The shared load runs with a signal of its own that aborts only when
 * every caller has gone, so one impatient client cannot cancel the work the others wait
 * for, and work nobody waits for any more is cancelled.
 *
 * A flight ends when its load settles: a value is handed to the callers and forgotten (a
 * single flight is not a cache), and an error is handed to the callers and forgotten too,
 * so the next call loads again rather than repeat a stale failure.
 *
 * @module
 */

import {
  AbortedError,
  abortError,
  LimitExceededError,
  requireFunction,
  requireInteger,
  requireOptionalSignal,
  requireOptions,
} from '../core/index.js';

/** Options for {@link SingleFlight}. */
export interface SingleFlightOptions {
  /**
   * Most keys with a load in flight at once; a call for one more key rejects with
   * `LimitExceededError` (from `distkit/core`) and starts nothing. Default 100,000.
   */
  readonly flightCountMax?: number;
  /**
   * Most callers waiting on one key's load at once; one more rejects with
   * `LimitExceededError`. Default 1,000,000.
   */
  readonly callerCountMax?: number;
}

/** Options of one {@link SingleFlight.run} call. */
export interface SingleFlightCallOptions {
  /** Cancels this caller's wait; the shared load goes on while other callers wait. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * The load a flight runs. `signal` aborts when every caller waiting for it has aborted;
 * its reason is an `AbortedError`.
 */
export type SingleFlightLoad<V> = (signal: AbortSignal) => V | PromiseLike<V>;

/** One caller waiting on a flight: a node of the flight's doubly linked caller list. */
class Caller<V> {
  previous: Caller<V> | undefined;
  next: Caller<V> | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly resolve: (value: V) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}

/** One load in progress and the callers waiting on it. */
class Flight<V> {
  head: Caller<V> | undefined;
  tail: Caller<V> | undefined;
  callerCount = 0;
  settled = false;
  readonly controller = new AbortController();

  add(caller: Caller<V>): void {
    caller.previous = this.tail;
    if (this.tail === undefined) {
      this.head = caller;
    } else {
      this.tail.next = caller;
    }
    this.tail = caller;
    this.callerCount += 1;
  }

  remove(caller: Caller<V>): void {
    if (caller.previous === undefined) {
      this.head = caller.next;
    } else {
      caller.previous.next = caller.next;
    }
    if (caller.next === undefined) {
      this.tail = caller.previous;
    } else {
      caller.next.previous = caller.previous;
    }
    caller.previous = undefined;
    caller.next = undefined;
    this.callerCount -= 1;
  }
}

/**
 * Runs at most one load per key at a time and shares its outcome with every caller that
 * asked for the key meanwhile.
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string, User>();
 * // Concurrent calls for 'user:42' share one fetch; each keeps its own signal.
 * const user = await flights.run('user:42', (signal) => fetchUser(42, signal), {
 *   signal: request.signal,
 * });
 * ```
 */
export class SingleFlight<K, V> {
  /** Most keys with a load in flight at once. */
  readonly flightCountMax: number;
  /** Most callers waiting on one key's load at once. */
  readonly callerCountMax: number;
  readonly #flights = new Map<K, Flight<V>>();
  #loadCount = 0;
  #joinCount = 0;

  constructor(options: SingleFlightOptions = {}) {
    const checked = requireOptions('SingleFlight options', options);
    this.flightCountMax = requireInteger(
      'SingleFlight options.flightCountMax',
      checked.flightCountMax ?? 100_000,
      { min: 1 },
    );
    this.callerCountMax = requireInteger(
      'SingleFlight options.callerCountMax',
      checked.callerCountMax ?? 1_000_000,
      { min: 1 },
    );
  }

  /** Keys with a load in flight. */
  get flightCount(): number {
    return this.#flights.size;
  }

  /** Loads started since construction. */
  get loadCount(): number {
    return this.#loadCount;
  }

  /** Calls that joined a load another call had started. */
  get joinCount(): number {
    return this.#joinCount;
  }

  /** True while a load for `key` is in flight. */
  has(key: K): boolean {
    return this.#flights.has(key);
  }

  /** How many callers wait on `key`'s load; 0 when none is in flight. */
  callerCountOf(key: K): number {
    return this.#flights.get(key)?.callerCount ?? 0;
  }

  /**
   * Resolves with the outcome of `key`'s load: the one in flight if there is one (and
   * `load` is not called), else a new one started now with `load`. Rejects with the
   * abort's error (an `AbortedError`, or the signal's reason when that is a distkit error
   * such as a `DeadlineExceededError`) when `options.signal` aborts first; the load goes
   * on for the other callers, and is aborted when none is left.
   *
   * A load that throws or rejects rejects every caller waiting on it with that error, and
   * is forgotten: the next call starts a new load.
   */
  run(key: K, load: SingleFlightLoad<V>, options?: SingleFlightCallOptions): Promise<V> {
    if (typeof load !== 'function') {
      requireFunction('SingleFlight.run load', load);
    }
    const signal =
      options === undefined
        ? undefined
        : requireOptionalSignal(
            'SingleFlight.run options.signal',
            requireOptions('SingleFlight.run options', options).signal,
          );
    if (signal?.aborted === true) {
      return Promise.reject(abortError(signal));
    }
    let flight = this.#flights.get(key);
    if (flight !== undefined) {
      if (flight.callerCount >= this.callerCountMax) {
        return Promise.reject(
          new LimitExceededError(
            this.callerCountMax,
            `${this.callerCountMax} callers already wait on this key's load; raise ` +
              'callerCountMax or shed some of the callers.',
          ),
        );
      }
      this.#joinCount += 1;
      return this.#wait(key, flight, signal);
    }
    if (this.#flights.size >= this.flightCountMax) {
      return Promise.reject(
        new LimitExceededError(
          this.flightCountMax,
          `${this.flightCountMax} keys already have a load in flight; raise flightCountMax ` +
            'if the origin can take more concurrent loads, or shed load.',
        ),
      );
    }
    flight = new Flight<V>();
    this.#flights.set(key, flight);
    this.#loadCount += 1;
    // The caller joins before the load starts, so a load that settles synchronously
    // still finds it.
    const waiting = this.#wait(key, flight, signal);
    this.#start(key, flight, load);
    return waiting;
  }

  #wait(key: K, flight: Flight<V>, signal: AbortSignal | undefined): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const caller = new Caller<V>(resolve, reject, signal);
      flight.add(caller);
      if (signal !== undefined) {
        const onAbort = (): void => {
          caller.onAbort = undefined;
          flight.remove(caller);
          reject(abortError(signal));
          if (flight.callerCount === 0 && !flight.settled) {
            this.#abandon(key, flight);
          }
        };
        caller.onAbort = onAbort;
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Every caller of `flight` has gone: cancel the load and forget the flight. */
  #abandon(key: K, flight: Flight<V>): void {
    flight.settled = true;
    if (this.#flights.get(key) === flight) {
      this.#flights.delete(key);
    }
    flight.controller.abort(
      new AbortedError('Every caller waiting for this load cancelled; nobody needs it any more.'),
    );
  }

  #start(key: K, flight: Flight<V>, load: SingleFlightLoad<V>): void {
    let result: V | PromiseLike<V>;
    try {
      result = load(flight.controller.signal);
    } catch (error) {
      this.#settle(key, flight, false, error);
      return;
    }
    if (
      result !== null &&
      (typeof result === 'object' || typeof result === 'function') &&
      typeof (result as PromiseLike<V>).then === 'function'
    ) {
      Promise.resolve(result).then(
        (value) => this.#settle(key, flight, true, value),
        (error: unknown) => this.#settle(key, flight, false, error),
      );
    } else {
      this.#settle(key, flight, true, result);
    }
  }

  #settle(key: K, flight: Flight<V>, fulfilled: boolean, outcome: unknown): void {
    if (this.#flights.get(key) === flight) {
      this.#flights.delete(key);
    }
    if (flight.settled) {
      // Every caller aborted before the load settled; nobody is left to tell.
      return;
    }
    flight.settled = true;
    for (let caller = flight.head; caller !== undefined; ) {
      const next = caller.next;
      if (caller.onAbort !== undefined) {
        (caller.signal as AbortSignal).removeEventListener('abort', caller.onAbort);
        caller.onAbort = undefined;
      }
      caller.previous = undefined;
      caller.next = undefined;
      if (fulfilled) {
        caller.resolve(outcome as V);
      } else {
        caller.reject(outcome);
      }
      caller = next;
    }
    flight.head = undefined;
    flight.tail = undefined;
    flight.callerCount = 0;
  }
}
