import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { isLoadingCacheClosedError } from '../../src/cache/loading-errors.js';
import { isAbortedError, isInvalidArgumentError } from '../../src/core/index.js';
import { advance, settle, setup } from './loading-support.js';

const keysOf = (count: number): string[] =>
  Array.from({ length: count }, (_, index) => `k${index}`);

describe('LoadingCache.warm', () => {
  it('spreads the loads over the window, one jittered start per slot', async () => {
    const { scheduler, origin, loading } = setup();
    const keys = keysOf(100);
    for (const key of keys.slice(0, 90)) {
      origin.values.set(key, 1);
    }
    const result = await settle(scheduler, loading.warm(keys, { windowMs: 1_000 }));
    assert.deepEqual(result, {
      loadedCount: 90,
      notFoundCount: 10,
      skippedCount: 0,
      failedCount: 0,
    });
    assert.equal(origin.loads.length, 100);
    origin.loads.forEach((load, index) => {
      assert.equal(load.key, `k${index}`, 'keys start in order');
      assert.ok(
        load.atMs >= index * 10 && load.atMs < (index + 1) * 10,
        `${load.key} at ${load.atMs}`,
      );
    });
    const offsets = new Set(origin.loads.map((load, index) => Math.floor(load.atMs - index * 10)));
    assert.ok(offsets.size >= 8, 'the starts are jittered within their slots');
    assert.equal(loading.peek('k5'), 1);
  });

  it('runs at most concurrencyMax loads at once', async () => {
    const { scheduler, origin, loading } = setup();
    origin.loadDelayMs = 50;
    const keys = keysOf(20);
    for (const key of keys) {
      origin.values.set(key, 1);
    }
    const result = await settle(scheduler, loading.warm(keys, { windowMs: 0, concurrencyMax: 3 }));
    assert.equal(result.loadedCount, 20);
    assert.equal(origin.runningCountMax, 3);
    // Seven rounds of at most three 50 ms loads.
    assert.equal(scheduler.clock.nowMs(), 350);
  });

  it('skips keys that are fresh and counts failures without throwing', async () => {
    const { scheduler, origin, loading } = setup();
    origin.values.set('fresh', 1);
    await loading.get('fresh');
    origin.values.set('later', 2);
    origin.failing = true;
    const failing = loading.warm(['bad'], { windowMs: 100 });
    const failed = await settle(scheduler, failing);
    assert.deepEqual(failed, { loadedCount: 0, notFoundCount: 0, skippedCount: 0, failedCount: 1 });
    assert.equal(loading.peek('bad'), undefined);
    origin.failing = false;
    const result = await settle(scheduler, loading.warm(['fresh', 'later'], { windowMs: 100 }));
    assert.deepEqual(result, { loadedCount: 1, notFoundCount: 0, skippedCount: 1, failedCount: 0 });
    assert.equal(origin.loadCountOf('fresh'), 1);
    const empty = await loading.warm([], { windowMs: 100 });
    assert.deepEqual(empty, { loadedCount: 0, notFoundCount: 0, skippedCount: 0, failedCount: 0 });
  });

  it('stops when its signal aborts: no further loads, the running one aborted', async () => {
    const { scheduler, origin, loading } = setup();
    // 100 ms slots and 150 ms loads, one at a time: at 240 ms the first or the second load
    // runs, and the loads due after it wait.
    origin.loadDelayMs = 150;
    const keys = keysOf(10);
    const controller = new AbortController();
    const outcome = loading
      .warm(keys, { windowMs: 1_000, concurrencyMax: 1, signal: controller.signal })
      .then(undefined, (error: unknown) => error);
    await advance(scheduler, 240);
    const startedBefore = origin.loads.length;
    assert.ok(startedBefore === 1 || startedBefore === 2, `${startedBefore} started`);
    assert.equal(origin.runningCount, 1);
    controller.abort();
    assert.ok(isAbortedError(await outcome));
    assert.equal(origin.lastSignal?.aborted, true);
    await advance(scheduler, 2_000);
    assert.equal(origin.loads.length, startedBefore, 'no load starts after the abort');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    await assert.rejects(
      loading.warm(keys, { windowMs: 10, signal: AbortSignal.abort() }),
      isAbortedError,
    );
  });

  it('is cancelled by close()', async () => {
    const { scheduler, origin, loading } = setup();
    const outcome = loading
      .warm(keysOf(10), { windowMs: 1_000 })
      .then(undefined, (error: unknown) => error);
    await advance(scheduler, 150);
    await loading.close();
    assert.ok(isLoadingCacheClosedError(await outcome), 'the warm-up ends with the close');
    const started = origin.loads.length;
    await advance(scheduler, 1_000);
    assert.equal(origin.loads.length, started);
    await assert.rejects(loading.warm(['a'], { windowMs: 0 }), isLoadingCacheClosedError);
  });

  it('uses options.loader when given, and needs a loader', async () => {
    const { scheduler, loading } = setup({ loader: undefined });
    assert.throws(() => loading.warm(['a'], { windowMs: 0 }), isInvalidArgumentError);
    const result = await settle(
      scheduler,
      loading.warm(['a'], { windowMs: 0, loader: (key) => key.length }),
    );
    assert.equal(result.loadedCount, 1);
    assert.equal(loading.peek('a'), 1);
  });

  it('rejects bad options with InvalidArgumentError', () => {
    const { loading } = setup();
    const bad: unknown[] = [
      undefined,
      {},
      { windowMs: -1 },
      { windowMs: Number.NaN },
      { windowMs: 10, concurrencyMax: 0 },
      { windowMs: 10, loader: 'x' },
      { windowMs: 10, signal: {} },
    ];
    for (const options of bad) {
      assert.throws(() => loading.warm(['a'], options as never), isInvalidArgumentError);
    }
    assert.throws(() => loading.warm(5 as never, { windowMs: 0 }), isInvalidArgumentError);
  });
});
