/**
 * Write-behind (write-back): a write is acknowledged as soon as it is queued, and reaches
 * the backing store later, in batches. Writes to one key coalesce: only the newest waiting
 * write of each key is kept, so a key updated a hundred times between flushes costs one
 * store write. Batches leave when `batchSizeMax` writes wait or `flushIntervalMs` after the
 * first write of a quiet period; a failed batch is retried through a `distkit/resilience`
 * policy and, if it still fails, stays queued for the next flush.
 *
 * What a crash loses. The queue is a port, {@link WriteBehindQueue}. With the default
 * {@link InMemoryWriteBehindQueue}, every write that was acknowledged but not yet flushed
 * is lost if the process dies (a crash, a kill, an exit without `close()`): the caller was
 * told "done" and the store never sees it. Use write-through when no acknowledged write may
 * be lost, or back the writer with a durable queue, which then gives at-least-once
 * delivery: a batch the store accepted but the queue had not yet marked done is written
 * again after a restart.
 *
 * @module
 */

import {
  AbortedError,
  abortError,
  DistkitError,
  type DistkitErrorOptions,
  describeValue,
  Emitter,
  type Event,
  errorGuard,
  InvalidArgumentError,
  type Random,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOptionalSignal,
  requireOptions,
  type ScheduledTask,
  type Scheduler,
  systemRandom,
  systemScheduler,
} from '../core/index.js';
import { type Policy, RetryPolicy } from '../resilience/index.js';

/** One waiting write: a new value for a key, or the key's removal. */
export type PendingWrite<K, V> =
  | { readonly kind: 'set'; readonly key: K; readonly value: V }
  | { readonly kind: 'delete'; readonly key: K };

/**
 * The port that holds waiting writes. The writer calls it from one flush at a time, so an
 * implementation needs no locking of its own against the writer.
 *
 * `size` and `get` are synchronous, and must reflect a `put` or `acknowledge` as soon as it
 * is called (before a returned promise settles), because the writer checks the bound and
 * serves reads from them. A durable implementation keeps an in-memory index of its keys
 * for that, and loads it when it opens.
 */
export interface WriteBehindQueue<K, V> {
  /** Keys with a waiting write (one per key). */
  readonly size: number;
  /** The waiting write of `key`, or undefined. */
  get(key: K): PendingWrite<K, V> | undefined;
  /**
   * Stores `write`. A waiting write of the same key is replaced, and the new one keeps its
   * place in line, so a key written often still leaves with its first write's batch. A
   * durable queue settles the returned promise once the write would survive a crash.
   */
  put(write: PendingWrite<K, V>): void | PromiseLike<void>;
  /** The oldest waiting writes, at most `countMax`, oldest first; they stay in the queue. */
  peek(
    countMax: number,
  ): readonly PendingWrite<K, V>[] | PromiseLike<readonly PendingWrite<K, V>[]>;
  /**
   * Removes `writes` (returned by `peek`) once the store has them. A write that a newer
   * write of its key replaced since the `peek` stays: only the write itself is removed.
   */
  acknowledge(writes: readonly PendingWrite<K, V>[]): void | PromiseLike<void>;
}

/**
 * The default {@link WriteBehindQueue}: a `Map` in memory. Nothing survives the process;
 * see the module notes for what a crash loses.
 */
export class InMemoryWriteBehindQueue<K, V> implements WriteBehindQueue<K, V> {
  readonly #writes = new Map<K, PendingWrite<K, V>>();

  get size(): number {
    return this.#writes.size;
  }

  get(key: K): PendingWrite<K, V> | undefined {
    return this.#writes.get(key);
  }

  put(write: PendingWrite<K, V>): void {
    // Map.set on a present key keeps the key's insertion position.
    this.#writes.set(write.key, write);
  }

  peek(countMax: number): readonly PendingWrite<K, V>[] {
    const batch: PendingWrite<K, V>[] = [];
    for (const write of this.#writes.values()) {
      if (batch.length >= countMax) {
        break;
      }
      batch.push(write);
    }
    return batch;
  }

  acknowledge(writes: readonly PendingWrite<K, V>[]): void {
    for (const write of writes) {
      if (this.#writes.get(write.key) === write) {
        this.#writes.delete(write.key);
      }
    }
  }
}

/**
 * The writer's queue holds `pendingCountMax` keys already; the write was not queued.
 * Write-behind rejects rather than waits, so a caller sees backpressure at once: slow down,
 * `flush()` and try again, or write through instead.
 */
export class WriteBehindFullError extends DistkitError {
  /** The bound that was reached. */
  readonly pendingCountMax: number;

  constructor(pendingCountMax: number, options?: DistkitErrorOptions) {
    super(
      'CACHE_WRITE_BEHIND_FULL',
      `The write-behind queue holds its limit of ${pendingCountMax} waiting keys, so the ` +
        'store is slower than the writes (or failing); slow the writers down, flush and ' +
        'retry, or raise pendingCountMax.',
      options,
    );
    this.pendingCountMax = pendingCountMax;
  }
}

/** Brand guard for {@link WriteBehindFullError}. */
export const isWriteBehindFullError = errorGuard<WriteBehindFullError>('CACHE_WRITE_BEHIND_FULL');

/** The writer was closed; it takes no more writes. */
export class WriteBehindClosedError extends DistkitError {
  constructor(options?: DistkitErrorOptions) {
    super(
      'CACHE_WRITE_BEHIND_CLOSED',
      'The write-behind writer is closed and takes no more writes; write to the store ' +
        'directly or open a new writer.',
      options,
    );
  }
}

/** Brand guard for {@link WriteBehindClosedError}. */
export const isWriteBehindClosedError = errorGuard<WriteBehindClosedError>(
  'CACHE_WRITE_BEHIND_CLOSED',
);

/**
 * Writes one batch to the backing store. Called with at most `batchSizeMax` writes, at
 * most one key each; the order across keys is not the order they were written in. It may
 * be called again with the same batch (a retry, or a restart with a durable queue), so it
 * must be idempotent, which setting and deleting values by key are.
 */
export type WriteBehindBatchWriter<K, V> = (
  writes: readonly PendingWrite<K, V>[],
  signal: AbortSignal,
) => void | PromiseLike<void>;

/** Options for {@link WriteBehindWriter}. */
export interface WriteBehindOptions<K, V> {
  /** Writes a batch to the backing store (required). */
  readonly writeBatch: WriteBehindBatchWriter<K, V>;
  /** Holds the waiting writes. Default a new {@link InMemoryWriteBehindQueue}. */
  readonly queue?: WriteBehindQueue<K, V>;
  /**
   * Most keys with a waiting write; a write of one more key rejects with
   * {@link WriteBehindFullError}. A write of a key already waiting replaces it and always
   * fits. Default 10,000.
   */
  readonly pendingCountMax?: number;
  /** Most writes per batch, and the queue length that starts a flush at once. Default 100. */
  readonly batchSizeMax?: number;
  /**
   * Longest wait, in milliseconds, from a write to the flush that takes it, when fewer
   * than `batchSizeMax` writes wait (> 0). Also the wait before a failed flush is tried
   * again. Default 1,000.
   */
  readonly flushIntervalMs?: number;
  /**
   * Runs each batch write; a failure that outlives it fails the flush and leaves the batch
   * queued. Default a `RetryPolicy` of `distkit/resilience` with 3 attempts and its
   * default backoff, on `scheduler` and `random`.
   */
  readonly retry?: Policy;
  /** Runs the flush timer (one at a time, never one per write); default `systemScheduler`. */
  readonly scheduler?: Scheduler;
  /** Jitter for the default retry policy's backoff; default a `systemRandom()`. */
  readonly random?: Random;
}

/** Payload of {@link WriteBehindWriter.onFlush}: a batch the store accepted. */
export interface WriteBehindFlushEvent {
  /** Writes in the batch. */
  readonly writeCount: number;
  /** From the batch's first attempt to its acknowledgement, on the scheduler's clock. */
  readonly durationMs: number;
}

/** Payload of {@link WriteBehindWriter.onFlushFailure}: a batch that stays queued. */
export interface WriteBehindFlushFailureEvent {
  /** Writes in the batch. */
  readonly writeCount: number;
  /** What the retry policy rejected with. */
  readonly error: unknown;
}

/** Counters of a {@link WriteBehindWriter}, since construction. */
export interface WriteBehindStats {
  /** Writes queued (set or delete), replacements included. */
  readonly queuedCount: number;
  /** Writes that replaced a waiting write of the same key. */
  readonly coalescedCount: number;
  /** Writes rejected because the queue was full. */
  readonly rejectedCount: number;
  /** Writes the store accepted. */
  readonly flushedCount: number;
  /** Batches the store accepted. */
  readonly batchCount: number;
  /** Batches that failed after the retry policy gave up. */
  readonly failedBatchCount: number;
}

/** Options of {@link WriteBehindWriter.close}. */
export interface WriteBehindCloseOptions {
  /**
   * Stops the final flush when aborted: the batch in flight is aborted and the writes still
   * queued stay in the queue (lost, with the in-memory queue).
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A write-behind writer: queues writes, coalesces them per key and writes them to the
 * backing store in batches. Read the module notes on what a crash loses.
 *
 * @example
 * ```ts
 * const writer = new WriteBehindWriter<string, number>({
 *   writeBatch: async (writes) => {
 *     await database.apply(writes);
 *   },
 *   batchSizeMax: 500,
 *   flushIntervalMs: 200,
 * });
 * await writer.set('views:home', 1_024); // queued: acknowledged, not yet stored
 * await writer.close(); // flushes what waits
 * ```
 */
export class WriteBehindWriter<K, V> {
  /** Most keys with a waiting write. */
  readonly pendingCountMax: number;
  /** Most writes per batch. */
  readonly batchSizeMax: number;
  /** Longest wait from a write to its flush when the batch does not fill. */
  readonly flushIntervalMs: number;
  readonly #writeBatch: WriteBehindBatchWriter<K, V>;
  readonly #queue: WriteBehindQueue<K, V>;
  readonly #retry: Policy;
  readonly #scheduler: Scheduler;
  readonly #flushed = new Emitter<WriteBehindFlushEvent>();
  readonly #failed = new Emitter<WriteBehindFlushFailureEvent>();
  /** Aborts the batch in flight when a close is abandoned. */
  readonly #closing = new AbortController();
  #timer: ScheduledTask | undefined;
  #cycle: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #queuedCount = 0;
  #coalescedCount = 0;
  #rejectedCount = 0;
  #flushedCount = 0;
  #batchCount = 0;
  #failedBatchCount = 0;

  /** Emitted when the store accepted a batch. */
  readonly onFlush: Event<WriteBehindFlushEvent> = this.#flushed.event;
  /** Emitted when a batch failed after its retries; its writes stay queued. */
  readonly onFlushFailure: Event<WriteBehindFlushFailureEvent> = this.#failed.event;

  constructor(options: WriteBehindOptions<K, V>) {
    const checked = requireOptions('WriteBehindWriter options', options);
    this.#writeBatch = requireFunction('WriteBehindWriter options.writeBatch', checked.writeBatch);
    this.pendingCountMax = requireInteger(
      'WriteBehindWriter options.pendingCountMax',
      checked.pendingCountMax ?? 10_000,
      { min: 1 },
    );
    this.batchSizeMax = requireInteger(
      'WriteBehindWriter options.batchSizeMax',
      checked.batchSizeMax ?? 100,
      { min: 1 },
    );
    this.flushIntervalMs = requireNumber(
      'WriteBehindWriter options.flushIntervalMs',
      checked.flushIntervalMs ?? 1_000,
      { min: Number.MIN_VALUE },
    );
    const queue = checked.queue ?? new InMemoryWriteBehindQueue<K, V>();
    if (
      typeof queue !== 'object' ||
      queue === null ||
      typeof queue.get !== 'function' ||
      typeof queue.put !== 'function' ||
      typeof queue.peek !== 'function' ||
      typeof queue.acknowledge !== 'function'
    ) {
      throw new InvalidArgumentError(
        'options.queue',
        'WriteBehindWriter options.queue must be a WriteBehindQueue (size, get, put, peek and ' +
          `acknowledge); got ${describeValue(queue)}.`,
      );
    }
    this.#queue = queue;
    const scheduler = checked.scheduler ?? systemScheduler;
    if (typeof scheduler?.schedule !== 'function') {
      throw new InvalidArgumentError(
        'options.scheduler',
        'WriteBehindWriter options.scheduler must be a Scheduler from distkit/core.',
      );
    }
    this.#scheduler = scheduler;
    const retry =
      checked.retry ??
      new RetryPolicy({ scheduler, random: checked.random ?? systemRandom(), attemptCountMax: 3 });
    if (typeof retry?.execute !== 'function') {
      throw new InvalidArgumentError(
        'options.retry',
        'WriteBehindWriter options.retry must be a Policy from distkit/resilience (an ' +
          `execute method); got ${describeValue(retry)}.`,
      );
    }
    this.#retry = retry;
  }

  /** Keys with a waiting write. */
  get pendingCount(): number {
    return this.#queue.size;
  }

  /** True once {@link WriteBehindWriter.close} was called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** The counters since construction. */
  get stats(): WriteBehindStats {
    return {
      queuedCount: this.#queuedCount,
      coalescedCount: this.#coalescedCount,
      rejectedCount: this.#rejectedCount,
      flushedCount: this.#flushedCount,
      batchCount: this.#batchCount,
      failedBatchCount: this.#failedBatchCount,
    };
  }

  /**
   * The write waiting for `key`, or undefined: a reader that misses its cache checks here
   * first, so it reads its own unflushed writes instead of the store's older value.
   */
  pending(key: K): PendingWrite<K, V> | undefined {
    return this.#queue.get(key);
  }

  /**
   * Queues `value` for `key`. Resolves once queued (acknowledged, not yet stored); rejects
   * with {@link WriteBehindFullError} when the queue is full and with
   * {@link WriteBehindClosedError} after `close()`. `undefined` is not a value: it throws
   * `InvalidArgumentError` (use {@link WriteBehindWriter.delete}).
   */
  set(key: K, value: V): Promise<void> {
    if (value === undefined) {
      throw new InvalidArgumentError(
        'value',
        'WriteBehindWriter.set value must not be undefined; delete the key instead.',
      );
    }
    return this.#put({ kind: 'set', key, value });
  }

  /** Queues the removal of `key`; settles as {@link WriteBehindWriter.set} does. */
  delete(key: K): Promise<void> {
    return this.#put({ kind: 'delete', key });
  }

  #put(write: PendingWrite<K, V>): Promise<void> {
    if (this.#closed !== undefined) {
      return Promise.reject(new WriteBehindClosedError());
    }
    const queue = this.#queue;
    const replacing = queue.get(write.key) !== undefined;
    if (!replacing && queue.size >= this.pendingCountMax) {
      this.#rejectedCount += 1;
      return Promise.reject(new WriteBehindFullError(this.pendingCountMax));
    }
    let stored: void | PromiseLike<void>;
    try {
      stored = queue.put(write);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#queuedCount += 1;
    if (replacing) {
      this.#coalescedCount += 1;
    }
    if (this.#cycle === undefined) {
      if (queue.size >= this.batchSizeMax) {
        this.#startCycle();
      } else if (this.#timer === undefined) {
        this.#timer = this.#scheduler.schedule(this.flushIntervalMs, this.#onTimer);
      }
    }
    return stored === undefined ? Promise.resolve() : Promise.resolve(stored);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#cycle === undefined) {
      this.#startCycle();
    }
  };

  /**
   * Writes everything waiting, batch by batch, and resolves when the queue is empty (or
   * joins the flush already running). Rejects with the retry policy's error when a batch
   * fails after its retries; that batch and the ones after it stay queued, and the writer
   * tries again `flushIntervalMs` later.
   */
  flush(): Promise<void> {
    return this.#cycle ?? this.#startCycle();
  }

  /**
   * Takes no more writes, then flushes everything waiting. Resolves when the queue is
   * empty; rejects like {@link WriteBehindWriter.flush}, or with the abort's error when
   * `options.signal` aborts first (the writes still queued stay there). Calling it again
   * returns the first call's promise.
   */
  close(options?: WriteBehindCloseOptions): Promise<void> {
    if (this.#closed !== undefined) {
      return this.#closed;
    }
    const signal = requireOptionalSignal(
      'WriteBehindWriter.close options.signal',
      requireOptions('WriteBehindWriter.close options', options).signal,
    );
    this.#timer?.cancel();
    this.#timer = undefined;
    const drained = this.#drainForClose();
    if (signal === undefined) {
      this.#closed = drained;
    } else {
      this.#closed = new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.#closing.abort(new AbortedError('The write-behind close was abandoned.'));
          reject(abortError(signal));
        };
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        drained.then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(error);
          },
        );
      });
    }
    return this.#closed;
  }

  /** Flushes until the queue is empty, waiting out a cycle that was already running. */
  async #drainForClose(): Promise<void> {
    if (this.#cycle !== undefined) {
      await this.#cycle;
    }
    if (this.#queue.size > 0) {
      await this.flush();
    }
  }

  #startCycle(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    const cycle = this.#runCycle().then(
      () => this.#endCycle(false),
      (error: unknown) => {
        this.#endCycle(true);
        throw error;
      },
    );
    this.#cycle = cycle;
    // A cycle started by the timer or a full batch has no caller: its failure is reported
    // through onFlushFailure and must not surface as an unhandled rejection.
    cycle.catch(() => {});
    return cycle;
  }

  async #runCycle(): Promise<void> {
    const queue = this.#queue;
    const clock = this.#scheduler.clock;
    while (queue.size > 0) {
      if (this.#closing.signal.aborted) {
        throw abortError(this.#closing.signal);
      }
      const batch = await queue.peek(this.batchSizeMax);
      if (batch.length === 0) {
        break;
      }
      const startMs = clock.nowMs();
      try {
        await this.#retry.execute(
          ({ signal }) => this.#writeBatch(batch, signal),
          this.#closing.signal,
        );
      } catch (error) {
        this.#failedBatchCount += 1;
        if (this.#failed.listenerCount > 0) {
          this.#failed.emit({ writeCount: batch.length, error });
        }
        throw error;
      }
      await queue.acknowledge(batch);
      this.#batchCount += 1;
      this.#flushedCount += batch.length;
      if (this.#flushed.listenerCount > 0) {
        this.#flushed.emit({ writeCount: batch.length, durationMs: clock.nowMs() - startMs });
      }
    }
  }

  /**
   * Plans the next flush for writes that arrived as the cycle ended: after a failure,
   * `flushIntervalMs` later (never a hot loop against a failing store); after a success,
   * as a new write would.
   */
  #endCycle(failed: boolean): void {
    this.#cycle = undefined;
    const size = this.#queue.size;
    if (size === 0 || this.#closed !== undefined || this.#timer !== undefined) {
      return;
    }
    if (!failed && size >= this.batchSizeMax) {
      this.#startCycle();
    } else {
      this.#timer = this.#scheduler.schedule(this.flushIntervalMs, this.#onTimer);
    }
  }
}
