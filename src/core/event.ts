/**
 * Typed events. A component exposes an {@link Event} (a function that subscribes a
 * listener and returns a {@link Disposable}) and keeps the {@link Emitter} to itself.
 *
 * Emitting with no listeners allocates nothing and costs one comparison, so hot paths
 * such as every call through a resilience policy can emit freely.
 *
 * @module
 */

import { LimitExceededError } from './errors.js';
import { requireFunction, requireInteger } from './validate.js';

/** Something that holds a resource until disposed. Disposing twice does nothing. */
export interface Disposable {
  dispose(): void;
}

/** Receives an event's values. */
export type Listener<T> = (value: T) => void;

/** Subscribes `listener`; dispose the result to unsubscribe. */
export type Event<T> = (listener: Listener<T>) => Disposable;

/** Options for {@link Emitter}. */
export interface EmitterOptions {
  /** Most listeners at once; one more is rejected with {@link LimitExceededError}. Default 1,000. */
  readonly listenerCountMax?: number;
  /**
   * Called with what a listener threw. Default: rethrow it from a microtask, where it
   * surfaces as an uncaught exception, so that one faulty listener neither hides nor
   * interrupts the emitter's caller or the other listeners.
   */
  readonly onListenerError?: (error: unknown) => void;
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * One subscription. Listeners are held through these so that a function subscribed twice
 * is two entries, and disposing one removes that entry, not the first match.
 */
interface Subscription<T> {
  readonly listener: Listener<T>;
}

const noSubscriptions: readonly Subscription<unknown>[] = [];

/**
 * The owner's side of an {@link Event}.
 *
 * Listeners live in a copy-on-write array: subscribing and unsubscribing copy it,
 * emitting iterates it as it is. A listener added during an emit first hears the next
 * one; a listener removed during an emit still hears the current one.
 *
 * @example
 * ```ts
 * const changed = new Emitter<number>();
 * const subscription = changed.event((value) => console.log('changed to', value));
 * changed.emit(3); // prints "changed to 3"
 * subscription.dispose();
 * ```
 */
export class Emitter<T> {
  #subscriptions: readonly Subscription<T>[] = noSubscriptions as readonly Subscription<T>[];
  readonly #listenerCountMax: number;
  readonly #onListenerError: (error: unknown) => void;

  constructor(options: EmitterOptions = {}) {
    this.#listenerCountMax = requireInteger(
      'Emitter options.listenerCountMax',
      options.listenerCountMax ?? 1_000,
      { min: 1 },
    );
    this.#onListenerError = requireFunction(
      'Emitter options.onListenerError',
      options.onListenerError ?? rethrowLater,
    );
  }

  /** How many listeners are subscribed. */
  get listenerCount(): number {
    return this.#subscriptions.length;
  }

  /** The subscribe function to hand out. */
  readonly event: Event<T> = (listener: Listener<T>): Disposable => {
    requireFunction('Event listener', listener);
    if (this.#subscriptions.length >= this.#listenerCountMax) {
      throw new LimitExceededError(
        this.#listenerCountMax,
        `This event already has ${this.#listenerCountMax} listeners; dispose the ones no ` +
          'longer needed (a leak is likely) or raise listenerCountMax.',
      );
    }
    const subscription: Subscription<T> = { listener };
    this.#subscriptions = [...this.#subscriptions, subscription];
    let subscribed = true;
    return {
      dispose: () => {
        if (subscribed) {
          subscribed = false;
          this.#remove(subscription);
        }
      },
    };
  };

  /** Calls every listener with `value`, in subscription order. */
  emit(value: T): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions.length === 0) {
      return;
    }
    for (let index = 0; index < subscriptions.length; index += 1) {
      const listener = (subscriptions[index] as Subscription<T>).listener;
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  #remove(subscription: Subscription<T>): void {
    const index = this.#subscriptions.indexOf(subscription);
    if (index >= 0) {
      const next = this.#subscriptions.slice();
      next.splice(index, 1);
      this.#subscriptions =
        next.length === 0 ? (noSubscriptions as readonly Subscription<T>[]) : next;
    }
  }
}
