// The LoadingCache's limits and lifecycle: load timeouts, refreshes refused by
// loadCountMax, the bound on writes in flight, one loader per shared load, and close().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Loader,
  LoadingCacheLoadFailureEvent,
  LoadingCacheStaleEvent,
  WriteThroughStore,
} from '../../src/cache/loading-cache.js';
import { isLoadingCacheClosedError, isLoadTimeoutError } from '../../src/cache/loading-errors.js';
import { WriteBehindWriter } from '../../src/cache/write-behind.js';
import {
  isAbortedError,
  isInvalidArgumentError,
  isLimitExceededError,
  VirtualScheduler,
} from '../../src/core/index.js';
import { advance, flush, settle, setup, watch } from './loading-support.js';

/** A loader that never settles (an origin that hangs), recording each call's signal. */
function hangingLoader() {
  const signals: AbortSignal[] = [];
  const loader: Loader<string, number> = (_key, { signal }) => {
    signals.push(signal);
    return new Promise<number>(() => {});
  };
  return { loader, signals };
}

/** A write-through store whose writes take `delayMs` of virtual time, with a log. */
function slowStore(scheduler: VirtualScheduler, delayMs: number) {
  const log: string[] = [];
  const after = (entry: string): Promise<void> =>
    new Promise<void>((resolve) => {
      scheduler.schedule(delayMs, () => {
        log.push(entry);
        resolve();
      });
    });
  const store: WriteThroughStore<string, number> = {
    write: (key, value) => after(`${key}=${value}`),
    delete: (key) => after(`-${key}`),
  };
  return { store, log };
}

describe('LoadingCache load timeout', () => {
  it('rejects every caller of a load that never settles, aborts its signal, stores nothing', async () => {
    const { scheduler, cache, loading } = setup({ loader: undefined, loadTimeoutMs: 500 });
    const failures: LoadingCacheLoadFailureEvent<string>[] = [];
    loading.onLoadFailure((event) => failures.push(event));
    const hanging = hangingLoader();
    const first = watch(loading.getOrLoad('a', hanging.loader));
    const second = watch(loading.getOrLoad('a', hanging.loader));
    await advance(scheduler, 499);
    assert.equal(first.settled, false);
    await advance(scheduler, 1);
    assert.ok(isLoadTimeoutError(first.error), `first: ${String(first.error)}`);
    assert.equal(second.error, first.error, 'both callers get the same error');
    assert.equal((first.error as { loadTimeoutMs: number }).loadTimeoutMs, 500);
    assert.equal(hanging.signals.length, 1, 'one shared load');
    assert.equal(hanging.signals[0]?.aborted, true);
    assert.equal(hanging.signals[0]?.reason, first.error);
    assert.equal(cache.size, 0);
    assert.equal(loading.loadingCount, 0);
    assert.equal(loading.stats.loadFailures, 1);
    assert.equal(loading.stats.loadTimeouts, 1);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.durationMs, 500);
    assert.ok(isLoadTimeoutError(failures[0]?.error), 'the event carries the error');
    // The next read starts a new load instead of joining the hung one.
    assert.equal(await loading.getOrLoad('a', () => 3), 3);
    assert.equal(cache.peek('a')?.value, 3);
  });

  it('lets a hung background refresh go after the timeout, so the next stale read refreshes again', async () => {
    let hang = false;
    const startedAtMs: number[] = [];
    const scheduler = new VirtualScheduler();
    const loader: Loader<string, number> = () => {
      startedAtMs.push(scheduler.clock.nowMs());
      return hang ? new Promise<number>(() => {}) : 1;
    };
    const { cache, loading } = setup(
      { loader, staleWhileRevalidateMs: 5_000, loadTimeoutMs: 500 },
      scheduler,
    );
    assert.equal(await loading.get('a'), 1);
    const freshUntilMs = cache.peek('a')?.freshUntilMs;
    hang = true;
    await advance(scheduler, 1_100);
    assert.equal(await loading.get('a'), 1, 'stale value served; a refresh starts');
    await advance(scheduler, 499);
    assert.equal(await loading.get('a'), 1);
    assert.deepEqual(startedAtMs, [0, 1_100], 'the running refresh is joined, not repeated');
    await advance(scheduler, 1);
    assert.equal(await loading.get('a'), 1);
    assert.deepEqual(startedAtMs, [0, 1_100, 1_600], 'a new refresh after the timeout');
    assert.equal(cache.peek('a')?.freshUntilMs, freshUntilMs, 'the entry stayed as it was');
    assert.equal(loading.stats.loadTimeouts, 1);
  });

  it('answers a timed-out read with the stale value within staleIfErrorMs', async () => {
    let hang = false;
    const scheduler = new VirtualScheduler();
    const loader: Loader<string, number> = () => (hang ? new Promise<number>(() => {}) : 1);
    const { loading } = setup({ loader, staleIfErrorMs: 5_000, loadTimeoutMs: 500 }, scheduler);
    const stale: LoadingCacheStaleEvent<string>[] = [];
    loading.onStaleServed((event) => stale.push(event));
    assert.equal(await loading.get('a'), 1);
    hang = true;
    await advance(scheduler, 1_100);
    const read = watch(loading.get('a'));
    await advance(scheduler, 500);
    assert.equal(read.settled, true, 'answered at the timeout');
    assert.equal(read.value, 1);
    assert.deepEqual(stale, [{ key: 'a', window: 'if-error', staleForMs: 600 }]);
    assert.equal(loading.stats.staleIfErrorServed, 1);
    await advance(scheduler, 5_000);
    const late = watch(loading.get('a'));
    await advance(scheduler, 500);
    assert.ok(isLoadTimeoutError(late.error), 'past the window the timeout is the answer');
  });

  it('drops the answer of a load that settles after its timeout', async () => {
    const { scheduler, origin, cache, loading } = setup({ loadTimeoutMs: 500 });
    origin.values.set('a', 1);
    origin.loadDelayMs = 800;
    const loads: unknown[] = [];
    loading.onLoad((event) => loads.push(event));
    const read = watch(loading.get('a'));
    await advance(scheduler, 500);
    assert.ok(isLoadTimeoutError(read.error), `read: ${String(read.error)}`);
    await advance(scheduler, 300);
    assert.equal(origin.loads.length, 1);
    assert.equal(cache.size, 0, 'the late answer was not stored');
    assert.deepEqual(loads, []);
    assert.equal(loading.stats.loadTimeMaxMs, 500);
  });

  it('keeps no timer once a load settles, and none at all with loadTimeoutMs Infinity', async () => {
    const { scheduler, origin, loading } = setup();
    assert.equal(loading.loadTimeoutMs, 10_000, 'the documented default');
    origin.values.set('a', 1);
    origin.loadDelayMs = 100;
    const read = loading.get('a');
    assert.equal(scheduler.pendingCount, 2, "the origin's answer and the load's timeout");
    assert.equal(await settle(scheduler, read), 1);
    assert.equal(scheduler.pendingCount, 0);
    const { scheduler: unbounded, loading: patient } = setup({
      loader: undefined,
      loadTimeoutMs: Number.POSITIVE_INFINITY,
    });
    const hanging = hangingLoader();
    const waiting = watch(patient.getOrLoad('a', hanging.loader));
    assert.equal(unbounded.pendingCount, 0);
    await advance(unbounded, 1e9);
    assert.equal(waiting.settled, false);
  });

  it('rejects a bad loadTimeoutMs with InvalidArgumentError', () => {
    for (const loadTimeoutMs of [0, -1, Number.NaN, '10' as never]) {
      assert.throws(() => setup({ loadTimeoutMs }), isInvalidArgumentError, String(loadTimeoutMs));
    }
  });
});

describe('LoadingCache refresh accounting', () => {
  it('counts only refreshes that started; those loadCountMax refused are counted apart', async () => {
    const { scheduler, origin, loading } = setup({
      loadCountMax: 1,
      staleWhileRevalidateMs: 5_000,
    });
    origin.values.set('a', 1);
    origin.values.set('b', 2);
    assert.equal(await loading.get('a'), 1);
    await advance(scheduler, 1_100);
    origin.loadDelayMs = 100;
    const busy = loading.get('b');
    // 'b' holds the only load slot: the stale read of 'a' is served, its refresh refused.
    assert.equal(await loading.get('a'), 1);
    assert.equal(origin.loadCountOf('a'), 1);
    assert.equal(loading.stats.refreshes, 0);
    assert.equal(loading.stats.refreshesRefused, 1);
    assert.equal(await settle(scheduler, busy), 2);
    assert.equal(await loading.get('a'), 1);
    await settle(scheduler, Promise.resolve());
    assert.equal(loading.stats.refreshes, 1);
    assert.equal(loading.stats.refreshesRefused, 1);
  });
});

describe('LoadingCache load bound', () => {
  it('counts a load whose callers all aborted against loadCountMax until its loader returns', async () => {
    const { scheduler, origin, loading } = setup({ loadCountMax: 1 });
    origin.values.set('a', 1);
    origin.values.set('b', 2);
    // This origin ignores its signal: an abandoned load keeps running for 100 ms.
    origin.loadDelayMs = 100;
    const controller = new AbortController();
    const abandoned = watch(loading.get('a', { signal: controller.signal }));
    controller.abort();
    await flush();
    assert.ok(isAbortedError(abandoned.error), 'the caller left');
    assert.equal(loading.loadingCount, 0, 'no caller waits on a load');
    const other = watch(loading.get('b'));
    await flush();
    assert.ok(isLimitExceededError(other.error), `b: ${String(other.error)}`);
    assert.equal(origin.runningCountMax, 1, 'the origin never saw two loads at once');
    await advance(scheduler, 100);
    assert.equal(await settle(scheduler, loading.get('b')), 2);
  });
});

describe('LoadingCache shared loads', () => {
  it('runs the first caller’s loader for every concurrent caller of a key', async () => {
    const { scheduler, loading } = setup({ loader: undefined });
    const calls: string[] = [];
    const first: Loader<string, number> = () => {
      calls.push('first');
      return new Promise<number>((resolve) => {
        scheduler.schedule(100, () => resolve(1));
      });
    };
    const second: Loader<string, number> = () => {
      calls.push('second');
      return 2;
    };
    const reads = [loading.getOrLoad('k', first), loading.getOrLoad('k', second)];
    assert.deepEqual(await settle(scheduler, Promise.all(reads)), [1, 1]);
    assert.deepEqual(calls, ['first'], 'the second loader never ran');
    // Once the load has ended, a caller's own loader runs again.
    loading.invalidate('k');
    assert.equal(await loading.getOrLoad('k', second), 2);
    assert.deepEqual(calls, ['first', 'second']);
  });
});

describe('LoadingCache write bound', () => {
  it('rejects a write past writeCountMax with LimitExceededError and changes nothing', async () => {
    const scheduler = new VirtualScheduler();
    const through = slowStore(scheduler, 50);
    const { loading } = setup({ writeThrough: through.store, writeCountMax: 2 }, scheduler);
    const first = loading.set('a', 1);
    const second = loading.set('a', 2);
    const third = watch(loading.set('a', 3));
    const other = watch(loading.delete('b'));
    await flush();
    assert.ok(isLimitExceededError(third.error), `third: ${String(third.error)}`);
    assert.ok(isLimitExceededError(other.error), 'the bound covers every key');
    await settle(scheduler, Promise.all([first, second]));
    assert.deepEqual(through.log, ['a=1', 'a=2']);
    assert.equal(loading.peek('a'), 2);
    assert.equal(loading.stats.writeFailures, 0, 'a refused write never reached the store');
    await settle(scheduler, loading.set('a', 3));
    assert.equal(loading.peek('a'), 3);
  });

  it('rejects a bad writeCountMax with InvalidArgumentError', () => {
    for (const writeCountMax of [0, 1.5, Number.NaN]) {
      assert.throws(() => setup({ writeCountMax }), isInvalidArgumentError, String(writeCountMax));
    }
  });
});

describe('LoadingCache.close', () => {
  it('refuses every call afterwards with LoadingCacheClosedError; peek and stats still answer', async () => {
    const { origin, loading } = setup();
    origin.values.set('a', 1);
    assert.equal(await loading.get('a'), 1);
    await loading.close();
    await assert.rejects(loading.get('a'), isLoadingCacheClosedError);
    await assert.rejects(
      loading.getOrLoad('a', () => 2),
      isLoadingCacheClosedError,
    );
    await assert.rejects(loading.set('a', 2), isLoadingCacheClosedError);
    await assert.rejects(loading.delete('a'), isLoadingCacheClosedError);
    await assert.rejects(loading.warm(['a'], { windowMs: 0 }), isLoadingCacheClosedError);
    assert.throws(() => loading.invalidate('a'), isLoadingCacheClosedError);
    assert.equal(loading.peek('a'), 1);
    assert.equal(loading.stats.hits, 0);
    assert.equal(origin.loads.length, 1);
    await loading.close();
  });

  it('aborts the loads in flight: their callers reject, their signals abort, nothing is stored', async () => {
    const { scheduler, origin, cache, loading } = setup({ staleIfErrorMs: 5_000 });
    origin.values.set('a', 1);
    origin.values.set('b', 2);
    assert.equal(await loading.get('a'), 1);
    await advance(scheduler, 1_100);
    origin.loadDelayMs = 100;
    const stale = watch(loading.get('a'));
    const missing = watch(loading.get('b'));
    const signal = origin.lastSignal as AbortSignal;
    await loading.close();
    await flush();
    assert.ok(isLoadingCacheClosedError(missing.error), `b: ${String(missing.error)}`);
    assert.ok(
      isLoadingCacheClosedError(stale.error),
      'a closed cache does not answer from its stale-if-error window',
    );
    assert.equal(signal.aborted, true);
    assert.ok(isLoadingCacheClosedError(signal.reason), 'the signal says why');
    assert.equal(loading.loadingCount, 0);
    await advance(scheduler, 200);
    assert.equal(cache.peek('b'), undefined, 'the load answered after close; not stored');
    assert.equal(scheduler.pendingCount, 0, 'no timeout timer left behind');
    assert.equal(loading.stats.loadFailures, 0, 'loads cut by close are not origin failures');
  });

  it('waits for the writes already accepted, then closes the write-behind writer', async () => {
    const scheduler = new VirtualScheduler();
    const through = slowStore(scheduler, 50);
    const { loading } = setup({ writeThrough: through.store }, scheduler);
    const writing = watch(loading.set('a', 1));
    const closing = watch(loading.close());
    await flush();
    assert.equal(closing.settled, false, 'close waits for the running write');
    await advance(scheduler, 50);
    assert.equal(writing.settled, true);
    assert.equal(writing.error, undefined);
    assert.equal(closing.settled, true);
    assert.deepEqual(through.log, ['a=1']);
    assert.equal(loading.peek('a'), 1, 'the accepted write reached the cache too');
  });

  it('lets a write queued behind a running write of its key reach the write-behind writer', async () => {
    const scheduler = new VirtualScheduler();
    const flushed: string[] = [];
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: (writes) => {
        for (const write of writes) {
          flushed.push(write.kind === 'set' ? `${write.key}=${write.value}` : `-${write.key}`);
        }
      },
      flushIntervalMs: 60_000,
      scheduler,
    });
    const { loading } = setup({ writeBehind: writer }, scheduler);
    const first = loading.set('a', 1);
    const second = loading.set('a', 2);
    await loading.close();
    await first;
    await second;
    assert.deepEqual(flushed, ['a=2']);
    assert.equal(writer.closed, true);
  });

  it('ends running warm-ups with LoadingCacheClosedError', async () => {
    const { scheduler, loading } = setup();
    const warming = watch(loading.warm(['a', 'b', 'c'], { windowMs: 1_000 }));
    await advance(scheduler, 100);
    await loading.close();
    await flush();
    assert.ok(isLoadingCacheClosedError(warming.error), `warm: ${String(warming.error)}`);
    assert.equal(isAbortedError(warming.error), false);
  });
});
