/**
 * Staggered warm-up for {@link LoadingCache}: loads a list of keys ahead of traffic, one
 * jittered start per slot of the window and a bounded number at once, so that a cold
 * start does not send the whole key set to the origin in one burst.
 *
 * @module
 */

import { abortError, type Random, type ScheduledTask, type Scheduler } from '../core/index.js';
import type { Loader, LoadingCache, LoadingCacheWarmResult } from './loading-cache.js';

/** Most keys one warm-up takes. @internal */
export const warmKeyCountMax = 1_000_000;

/**
 * What a warm-up needs from its {@link LoadingCache}.
 *
 * @internal
 */
export interface WarmUpAccess<K, V> {
  /** Runs the staggered starts. */
  readonly scheduler: Scheduler;
  /** Draws each start's place in its slot. */
  readonly random: Random;
  /** The cache's running warm-ups, which `close()` cancels. */
  readonly warmups: Set<AbortController>;
  /** Whether `key` holds a fresh entry (then it is skipped). */
  isFresh(key: K): boolean;
  /** Loads `key` through the cache's single flight and stores the result. */
  load(key: K, loader: Loader<K, V>, signal: AbortSignal): Promise<unknown>;
}

/**
 * One staggered warm-up: a slot per key, jittered starts, bounded concurrency.
 *
 * @internal
 */
export class WarmUp<K, V> {
  readonly #access: WarmUpAccess<K, V>;
  readonly #keys: readonly K[];
  readonly #loader: Loader<K, V>;
  readonly #windowMs: number;
  readonly #concurrencyMax: number;
  readonly #outerSignal: AbortSignal | undefined;
  readonly #controller = new AbortController();
  readonly #tasks: ScheduledTask[] = [];
  /** Keys due but waiting for a free load slot, in due order. */
  readonly #ready: K[] = [];
  #readyHead = 0;
  #running = 0;
  #handled = 0;
  #loadedCount = 0;
  #notFoundCount = 0;
  #skippedCount = 0;
  #failedCount = 0;
  #resolve: ((result: LoadingCacheWarmResult) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(
    access: WarmUpAccess<K, V>,
    keys: readonly K[],
    loader: Loader<K, V>,
    windowMs: number,
    concurrencyMax: number,
    signal: AbortSignal | undefined,
  ) {
    this.#access = access;
    this.#keys = keys;
    this.#loader = loader;
    this.#windowMs = windowMs;
    this.#concurrencyMax = concurrencyMax;
    this.#outerSignal = signal;
  }

  run(): Promise<LoadingCacheWarmResult> {
    return new Promise<LoadingCacheWarmResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const outer = this.#outerSignal;
      if (outer?.aborted === true) {
        reject(abortError(outer));
        return;
      }
      outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
      this.#controller.signal.addEventListener('abort', this.#onAbort, { once: true });
      this.#access.warmups.add(this.#controller);
      const count = this.#keys.length;
      if (count === 0) {
        this.#finish();
        return;
      }
      const slotMs = this.#windowMs / count;
      const { scheduler, random } = this.#access;
      for (let index = 0; index < count; index += 1) {
        const key = this.#keys[index] as K;
        const delayMs = slotMs === 0 ? 0 : (index + random.float()) * slotMs;
        this.#tasks.push(scheduler.schedule(delayMs, () => this.#due(key)));
      }
    });
  }

  readonly #onOuterAbort = (): void => {
    this.#controller.abort((this.#outerSignal as AbortSignal).reason);
  };

  readonly #onAbort = (): void => {
    for (const task of this.#tasks) {
      task.cancel();
    }
    this.#cleanUp();
    const reject = this.#reject;
    this.#resolve = undefined;
    this.#reject = undefined;
    reject?.(abortError(this.#controller.signal));
  };

  #due(key: K): void {
    if (this.#running >= this.#concurrencyMax) {
      this.#ready.push(key);
      return;
    }
    this.#start(key);
  }

  #start(key: K): void {
    if (this.#access.isFresh(key)) {
      this.#skippedCount += 1;
      this.#handledOne();
      return;
    }
    this.#running += 1;
    this.#access.load(key, this.#loader, this.#controller.signal).then(
      (value) => {
        if (value === undefined) {
          this.#notFoundCount += 1;
        } else {
          this.#loadedCount += 1;
        }
        this.#loadEnded();
      },
      () => {
        this.#failedCount += 1;
        this.#loadEnded();
      },
    );
  }

  #loadEnded(): void {
    this.#running -= 1;
    this.#handledOne();
    // Start the keys that waited for this slot; skipped keys free their slot at once.
    while (
      this.#resolve !== undefined &&
      this.#running < this.#concurrencyMax &&
      this.#readyHead < this.#ready.length
    ) {
      const next = this.#ready[this.#readyHead] as K;
      this.#readyHead += 1;
      this.#start(next);
    }
  }

  #handledOne(): void {
    this.#handled += 1;
    if (this.#handled === this.#keys.length) {
      this.#finish();
    }
  }

  #finish(): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      return;
    }
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#cleanUp();
    resolve({
      loadedCount: this.#loadedCount,
      notFoundCount: this.#notFoundCount,
      skippedCount: this.#skippedCount,
      failedCount: this.#failedCount,
    });
  }

  #cleanUp(): void {
    this.#outerSignal?.removeEventListener('abort', this.#onOuterAbort);
    this.#controller.signal.removeEventListener('abort', this.#onAbort);
    this.#access.warmups.delete(this.#controller);
  }
}
