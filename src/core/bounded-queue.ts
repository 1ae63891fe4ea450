/**
 * An async producer/consumer queue with a fixed capacity: the backpressure primitive.
 *
 * @module
 */

import {
  abortError,
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  LimitExceededError,
} from './errors.js';
import { requireInteger, requireOptionalSignal } from './validate.js';

/** {@link BoundedQueue.offer} found the queue full. */
export class QueueFullError extends DistkitError {
  /** The queue's capacity. */
  readonly capacity: number;

  constructor(capacity: number, options?: DistkitErrorOptions) {
    super(
      'QUEUE_FULL',
      `The queue holds its capacity of ${capacity} items; wait with put(), shed the item, ` +
        'or raise the capacity.',
      options,
    );
    this.capacity = capacity;
  }
}

/** Brand guard for {@link QueueFullError}. */
export const isQueueFullError = errorGuard<QueueFullError>('QUEUE_FULL');

/** The queue was closed: no more items go in, and none are left to take. */
export class QueueClosedError extends DistkitError {
  constructor(message?: string, options?: DistkitErrorOptions) {
    super('QUEUE_CLOSED', message ?? 'The queue is closed.', options);
  }
}

/** Brand guard for {@link QueueClosedError}. */
export const isQueueClosedError = errorGuard<QueueClosedError>('QUEUE_CLOSED');

/** Options for {@link BoundedQueue}. */
export interface BoundedQueueOptions {
  /** Most items held at once (required, >= 1). */
  readonly capacity: number;
  /**
   * Most producers waiting in `put` at once; one more is rejected with
   * {@link LimitExceededError}. Default 10,000.
   */
  readonly putWaiterCountMax?: number;
  /**
   * Most consumers waiting in `take` at once; one more is rejected with
   * {@link LimitExceededError}. Default 10,000.
   */
  readonly takeWaiterCountMax?: number;
}

/** Options for a waiting call. */
export interface WaitOptions {
  /** Stops waiting when aborted; the call rejects with the signal's error. */
  readonly signal?: AbortSignal | undefined;
}

/** A waiting producer or consumer: a node of a doubly linked list, removable in O(1). */
class Waiter<T> {
  previous: Waiter<T> | undefined;
  next: Waiter<T> | undefined;
  linked = false;
  onAbort: (() => void) | undefined;

  constructor(
    readonly item: T | undefined,
    readonly resolve: (value: T) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}

class WaiterList<T> {
  #head: Waiter<T> | undefined;
  #tail: Waiter<T> | undefined;
  size = 0;

  push(waiter: Waiter<T>): void {
    waiter.previous = this.#tail;
    waiter.next = undefined;
    if (this.#tail === undefined) {
      this.#head = waiter;
    } else {
      this.#tail.next = waiter;
    }
    this.#tail = waiter;
    waiter.linked = true;
    this.size += 1;
  }

  shift(): Waiter<T> | undefined {
    const waiter = this.#head;
    if (waiter !== undefined) {
      this.remove(waiter);
    }
    return waiter;
  }

  remove(waiter: Waiter<T>): void {
    if (!waiter.linked) {
      return;
    }
    if (waiter.previous === undefined) {
      this.#head = waiter.next;
    } else {
      waiter.previous.next = waiter.next;
    }
    if (waiter.next === undefined) {
      this.#tail = waiter.previous;
    } else {
      waiter.next.previous = waiter.previous;
    }
    waiter.previous = undefined;
    waiter.next = undefined;
    waiter.linked = false;
    this.size -= 1;
  }
}

/**
 * A first-in first-out queue of at most `capacity` items, for async producers and
 * consumers.
 *
 * - `put` waits while the queue is full (backpressure); `offer` throws
 *   {@link QueueFullError} at once instead.
 * - `take` waits while the queue is empty; `poll` returns `undefined` at once instead.
 * - Waiting producers and consumers are served in arrival order, so none starves.
 * - An aborted `put` or `take` leaves the queue at once and rejects with the signal's
 *   error; its abort listener is removed as soon as the call settles either way.
 * - `close()` rejects waiting producers with {@link QueueClosedError}; consumers drain the
 *   items left and then get {@link QueueClosedError} (an async iteration simply ends).
 *
 * @example
 * ```ts
 * const queue = new BoundedQueue<string>({ capacity: 100 });
 * await queue.put('job-1'); // waits while 100 items are queued
 * const job = await queue.take();
 * queue.close();
 * for await (const rest of queue) console.log(rest); // drains, then ends
 * ```
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  /** Most items held at once. */
  readonly capacity: number;
  readonly #putWaiterCountMax: number;
  readonly #takeWaiterCountMax: number;
  /** Ring buffer of held items. */
  readonly #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #closed = false;
  readonly #putters = new WaiterList<T>();
  readonly #takers = new WaiterList<T>();

  constructor(options: BoundedQueueOptions) {
    this.capacity = requireInteger('BoundedQueue options.capacity', options?.capacity, {
      min: 1,
      max: 2 ** 32 - 1,
    });
    this.#putWaiterCountMax = requireInteger(
      'BoundedQueue options.putWaiterCountMax',
      options.putWaiterCountMax ?? 10_000,
      { min: 0 },
    );
    this.#takeWaiterCountMax = requireInteger(
      'BoundedQueue options.takeWaiterCountMax',
      options.takeWaiterCountMax ?? 10_000,
      { min: 0 },
    );
    this.#items = new Array<T | undefined>(this.capacity);
  }

  /** Items held now. */
  get size(): number {
    return this.#size;
  }

  /** True after {@link BoundedQueue.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Producers waiting in `put`. */
  get waitingPutCount(): number {
    return this.#putters.size;
  }

  /** Consumers waiting in `take`. */
  get waitingTakeCount(): number {
    return this.#takers.size;
  }

  /**
   * Adds `item` at once, or throws {@link QueueFullError} when the queue is full (or
   * {@link QueueClosedError} when closed).
   */
  offer(item: T): void {
    this.#throwIfClosed();
    if (!this.#tryPut(item)) {
      throw new QueueFullError(this.capacity);
    }
  }

  /** Adds `item`, waiting while the queue is full. */
  put(item: T, options: WaitOptions = {}): Promise<void> {
    try {
      const signal = requireOptionalSignal('BoundedQueue.put options.signal', options.signal);
      this.#throwIfClosed();
      if (signal?.aborted) {
        throw abortError(signal);
      }
      if (this.#tryPut(item)) {
        return Promise.resolve();
      }
      if (this.#putters.size >= this.#putWaiterCountMax) {
        throw new LimitExceededError(
          this.#putWaiterCountMax,
          `${this.#putWaiterCountMax} producers already wait on this full queue; ` +
            'shed load or raise putWaiterCountMax.',
        );
      }
      return new Promise<void>((resolve, reject) => {
        this.#enqueue(this.#putters, new Waiter<T>(item, () => resolve(), reject, signal));
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes and returns the oldest item at once, or `undefined` when empty. */
  poll(): T | undefined {
    return this.#size === 0 ? undefined : this.#removeHead();
  }

  /**
   * Removes and returns the oldest item, waiting while the queue is empty. Rejects with
   * {@link QueueClosedError} once the queue is closed and drained.
   */
  take(options: WaitOptions = {}): Promise<T> {
    try {
      const signal = requireOptionalSignal('BoundedQueue.take options.signal', options.signal);
      if (signal?.aborted) {
        throw abortError(signal);
      }
      if (this.#size > 0) {
        return Promise.resolve(this.#removeHead());
      }
      if (this.#closed) {
        throw new QueueClosedError('The queue is closed and drained.');
      }
      if (this.#takers.size >= this.#takeWaiterCountMax) {
        throw new LimitExceededError(
          this.#takeWaiterCountMax,
          `${this.#takeWaiterCountMax} consumers already wait on this empty queue; ` +
            'raise takeWaiterCountMax.',
        );
      }
      return new Promise<T>((resolve, reject) => {
        this.#enqueue(this.#takers, new Waiter<T>(undefined, resolve, reject, signal));
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes the queue: `put` and `offer` fail from now on, waiting producers are rejected
   * with {@link QueueClosedError}, held items can still be taken, and waiting consumers
   * are rejected once nothing is left. Closing twice does nothing.
   */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    for (let waiter = this.#putters.shift(); waiter !== undefined; waiter = this.#putters.shift()) {
      this.#settle(waiter);
      waiter.reject(new QueueClosedError('The queue was closed while this put waited.'));
    }
    // Consumers wait only while the queue is empty, so all of them are now done.
    for (let waiter = this.#takers.shift(); waiter !== undefined; waiter = this.#takers.shift()) {
      this.#settle(waiter);
      waiter.reject(new QueueClosedError('The queue was closed while this take waited.'));
    }
  }

  /** Takes items until the queue is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let item: T;
      try {
        item = await this.take();
      } catch (error) {
        if (isQueueClosedError(error)) {
          return;
        }
        throw error;
      }
      yield item;
    }
  }

  #throwIfClosed(): void {
    if (this.#closed) {
      throw new QueueClosedError('The queue is closed; nothing more can be put.');
    }
  }

  /** Hands `item` to a waiting consumer or stores it; false when full. */
  #tryPut(item: T): boolean {
    const taker = this.#takers.shift();
    if (taker !== undefined) {
      this.#settle(taker);
      taker.resolve(item);
      return true;
    }
    if (this.#size >= this.capacity) {
      return false;
    }
    this.#items[(this.#head + this.#size) % this.capacity] = item;
    this.#size += 1;
    return true;
  }

  #removeHead(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size -= 1;
    // A slot freed: the longest-waiting producer fills it.
    const putter = this.#putters.shift();
    if (putter !== undefined) {
      this.#settle(putter);
      this.#items[(this.#head + this.#size) % this.capacity] = putter.item;
      this.#size += 1;
      putter.resolve(undefined as T);
    }
    return item;
  }

  #enqueue(list: WaiterList<T>, waiter: Waiter<T>): void {
    list.push(waiter);
    const signal = waiter.signal;
    if (signal !== undefined) {
      waiter.onAbort = () => {
        waiter.onAbort = undefined;
        list.remove(waiter);
        waiter.reject(abortError(signal));
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
  }

  /** Detaches a waiter's abort listener before it is resolved or rejected. */
  #settle(waiter: Waiter<T>): void {
    if (waiter.onAbort !== undefined) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = undefined;
    }
  }
}
