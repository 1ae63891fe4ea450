import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { BloomFilter } from '../../src/cache/bloom-filter.js';
import {
  LoadingCache,
  type LoadingCacheLoadEvent,
  type LoadingCacheLoadFailureEvent,
  type LoadingCacheStaleEvent,
} from '../../src/cache/loading-cache.js';
import {
  isAbortedError,
  isInvalidArgumentError,
  isLimitExceededError,
} from '../../src/core/index.js';
import { advance, flush, loadingPolicies, settle, setup, setupWith } from './loading-support.js';

// The core behaviours (stampede, stale-while-revalidate, stale-if-error, negative caching,
// Bloom filter) run over an LRU Cache and over W-TinyLFU, the Cache's default policy.
for (const policy of loadingPolicies) {
  const setup = setupWith(policy);

  describe(`LoadingCache reads (${policy} Cache)`, () => {
    it('cache-aside: loads a miss once, then serves it from the cache until it goes stale', async () => {
      const { scheduler, origin, loading } = setup({ loader: undefined });
      origin.values.set('a', 1);
      origin.loadDelayMs = 30;
      assert.equal(await settle(scheduler, loading.getOrLoad('a', origin.loader)), 1);
      assert.equal(scheduler.clock.nowMs(), 30);
      assert.equal(await loading.getOrLoad('a', origin.loader), 1);
      await advance(scheduler, 999);
      assert.equal(await loading.getOrLoad('a', origin.loader), 1);
      assert.equal(origin.loadCountOf('a'), 1);
      await advance(scheduler, 1);
      // Fresh until 30 + 1,000: now stale, and with no stale window the read waits for a load.
      origin.values.set('a', 2);
      assert.equal(await settle(scheduler, loading.getOrLoad('a', origin.loader)), 2);
      assert.equal(origin.loadCountOf('a'), 2);
      const stats = loading.stats;
      assert.equal(stats.hits, 2);
      assert.equal(stats.misses, 2);
      assert.equal(stats.loads, 2);
      assert.equal(stats.loadTimeTotalMs, 60);
      assert.equal(stats.loadTimeMaxMs, 30);
      assert.equal(loading.peek('a'), 2);
    });

    it('read-through: get uses the loader bound at construction, and needs one', async () => {
      const { origin, loading } = setup();
      origin.values.set('a', 5);
      assert.equal(await loading.get('a'), 5);
      const { loading: unbound } = setup({ loader: undefined });
      assert.throws(() => unbound.get('a'), isInvalidArgumentError);
    });

    it('serves 1,000 concurrent misses of one key with exactly one load', async () => {
      const { scheduler, origin, loading } = setup();
      origin.values.set('hot', 42);
      origin.loadDelayMs = 50;
      const reads = Array.from({ length: 1_000 }, () => loading.get('hot'));
      assert.equal(loading.loadingCount, 1);
      const values = await settle(scheduler, Promise.all(reads));
      assert.ok(values.every((value) => value === 42));
      assert.equal(origin.loads.length, 1);
      assert.equal(loading.stats.loads, 1);
      assert.equal(loading.stats.misses, 1_000);
    });

    it("rejects only the aborting caller; the others get the shared load's value", async () => {
      const { scheduler, origin, loading } = setup();
      origin.values.set('a', 1);
      origin.loadDelayMs = 100;
      const controller = new AbortController();
      const impatient = loading.get('a', { signal: controller.signal });
      const patient = loading.get('a');
      const impatientOutcome = impatient.then(undefined, (error: unknown) => error);
      controller.abort();
      assert.ok(isAbortedError(await impatientOutcome));
      assert.equal(await settle(scheduler, patient), 1);
      assert.equal(origin.loads.length, 1);
      assert.equal(origin.lastSignal?.aborted, false);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
      await assert.rejects(loading.get('b', { signal: AbortSignal.abort() }), isAbortedError);
    });

    it("aborts the load's signal when its only caller aborts", async () => {
      const { scheduler, origin, loading, cache } = setup();
      origin.values.set('a', 1);
      origin.loadDelayMs = 100;
      const controller = new AbortController();
      const outcome = loading
        .get('a', { signal: controller.signal })
        .then(undefined, (error: unknown) => error);
      controller.abort();
      assert.ok(isAbortedError(await outcome));
      assert.equal(origin.lastSignal?.aborted, true);
      assert.equal(loading.loadingCount, 0, 'a new read would start a new load');
      await advance(scheduler, 100);
      // This origin ignores the signal and answers anyway: a real answer, so it is kept.
      assert.equal(cache.peek('a')?.value, 1);
    });

    it('spreads fresh times over ttlMs * (1 +- ttlJitter)', async () => {
      const { scheduler, origin, cache, loading } = setup({ ttlJitter: 0.2 });
      const keys = Array.from({ length: 200 }, (_, index) => `k${index}`);
      for (const key of keys) {
        origin.values.set(key, 1);
      }
      await Promise.all(keys.map((key) => loading.get(key)));
      const freshUntil = keys.map((key) => cache.peek(key)?.freshUntilMs as number);
      assert.ok(freshUntil.every((ms) => ms >= 800 && ms <= 1_200));
      const early = freshUntil.filter((ms) => ms < 1_000).length;
      assert.ok(early > 70 && early < 130, `${early} of 200 below the mean`);
      assert.ok(new Set(freshUntil).size > 190, 'fresh times differ');
      // The avalanche this prevents: at 1,000 ms without jitter all 200 would miss together.
      await advance(scheduler, 1_000);
      const origins = origin.loads.length;
      await Promise.all(keys.map((key) => loading.get(key)));
      const reloaded = origin.loads.length - origins;
      assert.ok(reloaded > 70 && reloaded < 130, `${reloaded} reloaded at the mean TTL`);
    });

    it('never caches a loader failure: the next read loads again', async () => {
      const { origin, loading, cache } = setup();
      origin.values.set('a', 1);
      origin.failing = true;
      await assert.rejects(loading.get('a'), /origin failed for a/);
      assert.equal(cache.size, 0);
      origin.failing = false;
      assert.equal(await loading.get('a'), 1);
      assert.equal(origin.loads.length, 2);
      assert.equal(loading.stats.loadFailures, 1);
    });

    it('treats a loader that throws synchronously as a failed load', async () => {
      const { loading, cache } = setup({ loader: undefined });
      const failure = new Error('bad key');
      await assert.rejects(
        loading.getOrLoad('a', () => {
          throw failure;
        }),
        (error) => error === failure,
      );
      assert.equal(cache.size, 0);
      assert.equal(loading.stats.loadFailures, 1);
      assert.equal(loading.loadingCount, 0);
    });

    it('keeps values forever with ttlMs Infinity, and never refreshes them early', async () => {
      const { scheduler, origin, loading, cache } = setup({
        ttlMs: Number.POSITIVE_INFINITY,
        earlyRefreshBeta: 1,
        staleWhileRevalidateMs: 100,
      });
      origin.values.set('a', 1);
      await loading.get('a');
      assert.equal(cache.ttlMsOf('a'), Number.POSITIVE_INFINITY);
      await advance(scheduler, 1e9);
      assert.equal(await loading.get('a'), 1);
      assert.equal(origin.loads.length, 1);
      assert.equal(loading.stats.earlyRefreshes, 0);
    });

    it('keeps the entry its hard TTL: fresh time plus the longer stale window', async () => {
      const { cache, origin, loading } = setup({
        staleWhileRevalidateMs: 300,
        staleIfErrorMs: 5_000,
      });
      origin.values.set('a', 1);
      await loading.get('a');
      assert.equal(cache.ttlMsOf('a'), 6_000);
    });
  });

  describe(`LoadingCache stale-while-revalidate (${policy} Cache)`, () => {
    it('serves a stale value at once within the window while one background refresh runs', async () => {
      const { scheduler, origin, loading } = setup({ staleWhileRevalidateMs: 500 });
      const stale: LoadingCacheStaleEvent<string>[] = [];
      loading.onStaleServed((event) => stale.push(event));
      origin.values.set('a', 1);
      await loading.get('a');
      origin.values.set('a', 2);
      origin.loadDelayMs = 100;
      await advance(scheduler, 1_200);
      // 200 ms stale: inside the window. Three reads, one refresh.
      assert.equal(await loading.get('a'), 1);
      assert.equal(await loading.get('a'), 1);
      assert.equal(await loading.get('a'), 1);
      assert.equal(origin.loadCountOf('a'), 2);
      assert.deepEqual(stale[0], { key: 'a', window: 'while-revalidate', staleForMs: 200 });
      await advance(scheduler, 100);
      assert.equal(await loading.get('a'), 2, 'the refresh replaced the value');
      assert.equal(loading.stats.staleWhileRevalidateServed, 3);
      assert.equal(loading.stats.refreshes, 1);
      assert.equal(origin.loadCountOf('a'), 2);
    });

    it('waits for a load once the window has passed', async () => {
      const { scheduler, origin, loading } = setup({ staleWhileRevalidateMs: 500 });
      origin.values.set('a', 1);
      await loading.get('a');
      origin.values.set('a', 2);
      await advance(scheduler, 1_500);
      assert.equal(await loading.get('a'), 2);
      assert.equal(loading.stats.staleWhileRevalidateServed, 0);
    });

    it('keeps the stale entry when the background refresh fails, and reports the failure', async () => {
      const { scheduler, origin, loading } = setup({ staleWhileRevalidateMs: 500 });
      const failures: LoadingCacheLoadFailureEvent<string>[] = [];
      loading.onLoadFailure((event) => failures.push(event));
      origin.values.set('a', 1);
      await loading.get('a');
      await advance(scheduler, 1_100);
      origin.failing = true;
      assert.equal(await loading.get('a'), 1);
      await flush();
      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.cause, 'stale');
      assert.equal(loading.peek('a'), 1, 'the failed refresh did not poison the entry');
      assert.equal(await loading.get('a'), 1, 'still served within the window');
    });
  });

  describe(`LoadingCache stale-if-error (${policy} Cache)`, () => {
    it('answers with the stale value when the load fails within the window', async () => {
      const { scheduler, origin, loading } = setup({ staleIfErrorMs: 2_000 });
      const stale: LoadingCacheStaleEvent<string>[] = [];
      loading.onStaleServed((event) => stale.push(event));
      origin.values.set('a', 1);
      await loading.get('a');
      origin.failing = true;
      await advance(scheduler, 2_500);
      assert.equal(await loading.get('a'), 1);
      assert.deepEqual(stale, [{ key: 'a', window: 'if-error', staleForMs: 1_500 }]);
      assert.equal(loading.stats.staleIfErrorServed, 1);
      assert.equal(loading.stats.loadFailures, 1);
    });

    it('rethrows once the window has passed, and when there is no stale value', async () => {
      const { scheduler, origin, loading } = setup({ staleIfErrorMs: 2_000 });
      origin.values.set('a', 1);
      await loading.get('a');
      origin.failing = true;
      await assert.rejects(loading.get('b'), /origin failed for b/);
      await advance(scheduler, 3_000);
      await assert.rejects(loading.get('a'), /origin failed for a/);
    });

    it("does not hide the caller's own abort behind a stale value", async () => {
      const { scheduler, origin, loading } = setup({ staleIfErrorMs: 2_000 });
      origin.values.set('a', 1);
      await loading.get('a');
      await advance(scheduler, 1_500);
      origin.loadDelayMs = 100;
      const controller = new AbortController();
      const outcome = loading
        .get('a', { signal: controller.signal })
        .then(undefined, (error: unknown) => error);
      controller.abort();
      assert.ok(isAbortedError(await outcome));
    });
  });

  describe(`LoadingCache penetration (${policy} Cache)`, () => {
    it('caches "not found" for negativeTtlMs', async () => {
      const { scheduler, origin, loading } = setup({ negativeTtlMs: 200 });
      assert.equal(await loading.get('missing'), undefined);
      assert.equal(await loading.get('missing'), undefined);
      assert.equal(origin.loadCountOf('missing'), 1);
      assert.equal(loading.stats.negativeHits, 1);
      await advance(scheduler, 200);
      origin.values.set('missing', 3);
      assert.equal(await loading.get('missing'), 3);
      assert.equal(origin.loadCountOf('missing'), 2);
    });

    it('does not cache "not found" without negativeTtlMs', async () => {
      const { origin, loading, cache } = setup();
      assert.equal(await loading.get('missing'), undefined);
      assert.equal(await loading.get('missing'), undefined);
      assert.equal(origin.loadCountOf('missing'), 2);
      assert.equal(cache.size, 0);
    });

    it('answers keys the Bloom filter rules out without a load; set adds its key', async () => {
      const bloomFilter = new BloomFilter({ expectedItems: 1_000, falsePositiveRate: 0.001 });
      const { origin, loading } = setup({ bloomFilter });
      for (let id = 0; id < 100; id += 1) {
        origin.values.set(`user:${id}`, id);
        bloomFilter.add(`user:${id}`);
      }
      assert.equal(await loading.get('user:7'), 7);
      let rejected = 0;
      for (let id = 1_000; id < 2_000; id += 1) {
        assert.equal(await loading.get(`user:${id}`), undefined);
      }
      rejected = loading.stats.bloomRejections;
      // 1,000 absent keys at a 0.1% false-positive rate: nearly all answered without a load.
      assert.ok(rejected >= 995, `${rejected} rejected`);
      assert.equal(origin.loads.length, 1 + (1_000 - rejected));
      await loading.set('user:5000', 5_000);
      loading.invalidate('user:5000');
      origin.values.set('user:5000', 5_000);
      assert.equal(await loading.get('user:5000'), 5_000, 'a written key passes the filter');
      assert.throws(() => loading.get({} as never as string), isInvalidArgumentError);
      await assert.doesNotReject(loading.get('user:1'));
    });
  });
}

describe('LoadingCache early refresh (XFetch)', () => {
  it('refreshes a hot entry before it goes stale, so reads never wait after the first', async () => {
    const { scheduler, origin, loading } = setup({ earlyRefreshBeta: 1 });
    origin.values.set('hot', 1);
    origin.loadDelayMs = 100;
    await settle(scheduler, loading.get('hot'));
    const loads: LoadingCacheLoadEvent<string>[] = [];
    loading.onLoad((event) => loads.push(event));
    // A read every 5 ms for 5 s of virtual time: five TTLs.
    for (let step = 0; step < 1_000; step += 1) {
      await advance(scheduler, 5);
      const read = loading.get('hot');
      assert.equal(await read, 1);
    }
    const stats = loading.stats;
    assert.equal(stats.misses, 1, 'only the first read waited for a load');
    assert.ok(stats.earlyRefreshes >= 5, `${stats.earlyRefreshes} early refreshes`);
    assert.ok(loads.every((event) => event.cause === 'early'));
    assert.equal(stats.loadTimeMaxMs, 100);
  });

  it('with beta 0 (the default) never refreshes early: a read at expiry waits', async () => {
    const { scheduler, origin, loading } = setup();
    origin.values.set('hot', 1);
    origin.loadDelayMs = 100;
    await settle(scheduler, loading.get('hot'));
    for (let step = 0; step < 300; step += 1) {
      await advance(scheduler, 5);
      await settle(scheduler, loading.get('hot'));
    }
    assert.equal(loading.stats.earlyRefreshes, 0);
    assert.ok(loading.stats.misses >= 2);
  });
});

describe('LoadingCache bounds and options', () => {
  it('bounds the keys loading at once', async () => {
    const { scheduler, origin, loading } = setup({ loadCountMax: 2 });
    origin.loadDelayMs = 10;
    const first = loading.get('a');
    const second = loading.get('b');
    await assert.rejects(loading.get('c'), isLimitExceededError);
    await settle(scheduler, Promise.all([first, second]));
    assert.equal(await settle(scheduler, loading.get('c')), undefined);
  });

  it('rejects bad options with InvalidArgumentError', () => {
    const { cache } = setup();
    const bad: unknown[] = [
      undefined,
      { ttlMs: 1_000 },
      { cache: {}, ttlMs: 1_000 },
      { cache },
      { cache, ttlMs: 0 },
      { cache, ttlMs: Number.NaN },
      { cache, ttlMs: 1_000, ttlJitter: 1 },
      { cache, ttlMs: 1_000, ttlJitter: -0.1 },
      { cache, ttlMs: 1_000, staleWhileRevalidateMs: -1 },
      { cache, ttlMs: 1_000, staleIfErrorMs: Number.POSITIVE_INFINITY },
      { cache, ttlMs: 1_000, negativeTtlMs: Number.NaN },
      { cache, ttlMs: 1_000, earlyRefreshBeta: -1 },
      { cache, ttlMs: 1_000, loader: 5 },
      { cache, ttlMs: 1_000, bloomFilter: {} },
      { cache, ttlMs: 1_000, writeThrough: { write() {} } },
      { cache, ttlMs: 1_000, writeBehind: {} },
      { cache, ttlMs: 1_000, loadCountMax: 0 },
      { cache, ttlMs: 1_000, scheduler: {} },
      { cache, ttlMs: 1_000, random: {} },
    ];
    for (const options of bad) {
      assert.throws(
        () => new LoadingCache(options as never),
        isInvalidArgumentError,
        JSON.stringify(options),
      );
    }
    const { loading } = setup();
    assert.throws(() => loading.getOrLoad('a', 'loader' as never), isInvalidArgumentError);
    assert.throws(() => loading.get('a', { signal: 1 as never }), isInvalidArgumentError);
    assert.throws(() => loading.set('a', undefined as never), isInvalidArgumentError);
  });
});
