// Shared fixture of the loading-cache tests: a LoadingCache over a real Cache, an origin
// whose loads take virtual time, and helpers to let promises and virtual time run.
import { Cache, type CachePolicy } from '../../src/cache/cache.js';
import {
  type Loader,
  LoadingCache,
  type LoadingCacheEntry,
  type LoadingCacheOptions,
} from '../../src/cache/loading-cache.js';
import { SeededRandom, VirtualScheduler } from '../../src/core/index.js';

/** Lets every pending promise continuation run; no virtual time passes. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Advances virtual time by `deltaMs`, one due task at a time, letting promises run between. */
export async function advance(scheduler: VirtualScheduler, deltaMs: number): Promise<void> {
  const targetMs = scheduler.clock.nowMs() + deltaMs;
  await flush();
  for (;;) {
    const dueMs = scheduler.nextDueMs();
    if (dueMs === undefined || dueMs > targetMs) {
      break;
    }
    scheduler.advanceToMs(dueMs);
    await flush();
  }
  scheduler.advanceToMs(targetMs);
  await flush();
}

/** Settles `promise` while running virtual time, one task at a time. */
export async function settle<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => {});
  await flush();
  while (!done && scheduler.runNext()) {
    await flush();
  }
  return watched;
}

/** An origin of numbers with a load time, failure switch and a log of loads. */
export class Origin {
  readonly values = new Map<string, number>();
  /** Each load: the key and the virtual time it started. */
  readonly loads: { key: string; atMs: number }[] = [];
  loadDelayMs = 0;
  failing = false;
  /** Loads running now, and the most that ran at once. */
  runningCount = 0;
  runningCountMax = 0;
  /** The signal of the last load started. */
  lastSignal: AbortSignal | undefined;

  constructor(readonly scheduler: VirtualScheduler) {}

  readonly loader: Loader<string, number> = (key, { signal }) => {
    this.loads.push({ key, atMs: this.scheduler.clock.nowMs() });
    this.lastSignal = signal;
    // The origin reads its value when the load starts; the answer arrives loadDelayMs later.
    const failing = this.failing;
    const value = this.values.get(key);
    const answer = (): number | undefined => {
      if (failing) {
        throw new Error(`origin failed for ${key}`);
      }
      return value;
    };
    if (this.loadDelayMs === 0) {
      return answer();
    }
    this.runningCount += 1;
    this.runningCountMax = Math.max(this.runningCountMax, this.runningCount);
    return new Promise<number | undefined>((resolve, reject) => {
      this.scheduler.schedule(this.loadDelayMs, () => {
        this.runningCount -= 1;
        try {
          resolve(answer());
        } catch (error) {
          reject(error);
        }
      });
    });
  };

  loadCountOf(key: string): number {
    return this.loads.filter((load) => load.key === key).length;
  }
}

/** Options of {@link setup}: any LoadingCache option, `undefined` to leave one out. */
export type SetupOptions = {
  readonly [P in keyof LoadingCacheOptions<string, number>]?:
    | LoadingCacheOptions<string, number>[P]
    | undefined;
};

/**
 * The Cache policies the core LoadingCache behaviours are run over: LRU and W-TinyLFU (the
 * Cache's default), whose admission filter could refuse an entry the loading layer stores.
 */
export const loadingPolicies: readonly CachePolicy[] = ['lru', 'w-tinylfu'];

/** A loading cache over a real Cache of `policy` (default LRU) on a virtual scheduler, and its origin. */
export function setup(
  options: SetupOptions = {},
  scheduler = new VirtualScheduler(),
  policy: CachePolicy = 'lru',
) {
  const cache = new Cache<string, LoadingCacheEntry<number>>({
    maxEntries: 1_000,
    policy,
    clock: scheduler.clock,
    random: new SeededRandom({ seed: 11 }),
  });
  const origin = new Origin(scheduler);
  const loading = new LoadingCache<string, number>({
    cache,
    loader: origin.loader,
    ttlMs: 1_000,
    scheduler,
    random: new SeededRandom({ seed: 7 }),
    ...options,
  } as LoadingCacheOptions<string, number>);
  return { scheduler, cache, origin, loading };
}

/** {@link setup} bound to one Cache policy, for suites run over each of {@link loadingPolicies}. */
export function setupWith(policy: CachePolicy): typeof setup {
  return (options = {}, scheduler = new VirtualScheduler()) => setup(options, scheduler, policy);
}

/** The outcome of a promise, filled in when it settles; read it after letting time run. */
export interface Watched<T> {
  settled: boolean;
  value: T | undefined;
  error: unknown;
}

/** Watches `promise` without awaiting it (a test can then check it has not settled yet). */
export function watch<T>(promise: Promise<T>): Watched<T> {
  const watched: Watched<T> = { settled: false, value: undefined, error: undefined };
  promise.then(
    (value) => {
      watched.settled = true;
      watched.value = value;
    },
    (error: unknown) => {
      watched.settled = true;
      watched.error = error;
    },
  );
  return watched;
}
