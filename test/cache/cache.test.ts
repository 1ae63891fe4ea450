import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  Cache,
  type CacheOptions,
  type CachePolicy,
  type CacheRemoval,
  EntryTooHeavyError,
  isEntryTooHeavyError,
} from '../../src/cache/index.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';

const policies: readonly CachePolicy[] = ['lru', 'lfu', 'slru', 'arc', 'w-tinylfu'];

function recorder<K, V>(cache: Cache<K, V>): CacheRemoval<K, V>[] {
  const seen: CacheRemoval<K, V>[] = [];
  cache.removed((removal) => seen.push(removal));
  return seen;
}

describe('Cache options', () => {
  const bad: [string, unknown][] = [
    ['no bound', {}],
    ['both bounds', { maxEntries: 10, maxWeight: 10 }],
    ['zero entries', { maxEntries: 0 }],
    ['negative entries', { maxEntries: -1 }],
    ['fractional entries', { maxEntries: 1.5 }],
    ['zero weight', { maxWeight: 0 }],
    ['NaN weight', { maxWeight: Number.NaN }],
    ['infinite weight', { maxWeight: Number.POSITIVE_INFINITY }],
    ['weigh without maxWeight', { maxEntries: 10, weigh: () => 1 }],
    ['weigh not a function', { maxWeight: 10, weigh: 3 }],
    ['unknown policy', { maxEntries: 10, policy: 'fifo' }],
    ['NaN ttl', { maxEntries: 10, ttlMs: Number.NaN }],
    ['zero ttl', { maxEntries: 10, ttlMs: 0 }],
    ['negative ttl', { maxEntries: 10, ttlMs: -5 }],
    ['jitter of 1', { maxEntries: 10, ttlMs: 10, ttlJitter: 1 }],
    ['negative jitter', { maxEntries: 10, ttlMs: 10, ttlJitter: -0.1 }],
    ['window fraction over 1', { maxEntries: 10, windowFraction: 1.5 }],
    ['protected fraction NaN', { maxEntries: 10, protectedFraction: Number.NaN }],
    ['adaptive not boolean', { maxEntries: 10, adaptiveWindow: 'yes' }],
    ['a bus without subscribe', { maxEntries: 10, invalidation: { bus: { publish() {} } } }],
    ['not an object', 5],
  ];
  for (const [name, options] of bad) {
    it(`rejects ${name} with InvalidArgumentError`, () => {
      assert.throws(
        () => new Cache(options as CacheOptions<string, number>),
        (error) => isInvalidArgumentError(error) && error.message.length > 20,
      );
    });
  }

  it('uses W-TinyLFU by default and reports its bound', () => {
    const cache = new Cache<string, number>({ maxEntries: 3 });
    assert.equal(cache.policy, 'w-tinylfu');
    assert.equal(cache.capacity, 3);
    assert.equal(cache.weighted, false);
  });
});

describe('Cache reads and writes', () => {
  for (const policy of policies) {
    it(`${policy}: get, peek, has, delete, size; never more than maxEntries`, () => {
      const cache = new Cache<string, number>({ maxEntries: 4, policy });
      cache.set('a', 1).set('b', 2);
      assert.equal(cache.get('a'), 1);
      assert.equal(cache.peek('b'), 2);
      assert.equal(cache.has('b'), true);
      assert.equal(cache.get('zz'), undefined);
      assert.equal(cache.size, 2);
      cache.set('a', 10);
      assert.equal(cache.get('a'), 10);
      assert.equal(cache.size, 2);
      assert.equal(cache.delete('a'), true);
      assert.equal(cache.delete('a'), false);
      assert.equal(cache.has('a'), false);
      for (let key = 0; key < 50; key += 1) {
        cache.set(`k${key}`, key);
        assert.ok(cache.size <= 4);
      }
      assert.equal(cache.size, 4);
      assert.equal(cache.weight, 4);
    });
  }

  it('refuses undefined as a value, and leaves the cache unchanged', () => {
    const cache = new Cache<string, number | undefined>({ maxEntries: 2 });
    cache.set('a', 1);
    assert.throws(
      () => cache.set('a', undefined),
      (error) =>
        isInvalidArgumentError(error) && /returns undefined for a miss/.test(error.message),
    );
    assert.equal(cache.get('a'), 1);
    cache.set('b', null as unknown as number);
    assert.equal(cache.get('b'), null);
  });

  it('peek and has neither count as a use nor as a hit or miss', () => {
    const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
    cache.set('a', 1).set('b', 2);
    cache.peek('a');
    cache.has('a');
    cache.peek('missing');
    cache.set('c', 3);
    assert.equal(cache.has('a'), false, 'a stayed least recently used');
    assert.deepEqual([cache.stats().hits, cache.stats().misses], [0, 0]);
  });

  it('a get makes the entry most recently used (lru)', () => {
    const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
    cache.set('a', 1).set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    assert.deepEqual([...cache.keys()].sort(), ['a', 'c']);
  });

  it('keys, values, entries and iteration list the live entries', () => {
    const cache = new Cache<string, number>({ maxEntries: 5 });
    cache.set('a', 1).set('b', 2);
    assert.deepEqual(
      new Map(cache.entries()),
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    assert.deepEqual(
      new Map(cache),
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    assert.deepEqual([...cache.values()].sort(), [1, 2]);
  });

  it('clear removes everything (reason cleared) and the cache works afterwards', () => {
    for (const policy of policies) {
      const cache = new Cache<number, number>({ maxEntries: 3, policy });
      const removals = recorder(cache);
      cache.set(1, 1).set(2, 2);
      cache.clear();
      assert.equal(cache.size, 0);
      assert.deepEqual(
        removals.map((removal) => removal.reason),
        ['cleared', 'cleared'],
      );
      for (let key = 0; key < 20; key += 1) {
        cache.set(key, key);
      }
      assert.equal(cache.size, 3);
      assert.equal(cache.stats().removals.cleared, 2);
    }
  });
});

describe('Cache weights', () => {
  it('holds the total weight within maxWeight for every policy, over random writes', () => {
    for (const policy of policies) {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              key: fc.integer({ min: 0, max: 30 }),
              weight: fc.integer({ min: 1, max: 10 }),
              remove: fc.boolean(),
            }),
            { maxLength: 200 },
          ),
          (writes) => {
            const cache = new Cache<number, number>({ maxWeight: 25, policy });
            const weights = new Map<number, number>();
            cache.removed(({ key, reason }) => {
              if (reason !== 'replaced') {
                weights.delete(key);
              }
            });
            for (const { key, weight, remove } of writes) {
              if (remove) {
                cache.delete(key);
              } else {
                cache.set(key, weight, { weight });
                if (cache.has(key)) {
                  weights.set(key, weight);
                }
              }
              const total = [...weights.values()].reduce((sum, value) => sum + value, 0);
              assert.ok(cache.weight <= 25);
              assert.equal(cache.weight, total);
              assert.equal(cache.size, weights.size);
            }
          },
        ),
        { numRuns: 100 },
      );
    }
  });

  it('weighs entries with weigh() unless set gives a weight', () => {
    const cache = new Cache<string, string>({
      maxWeight: 10,
      weigh: (_key, value) => value.length,
      policy: 'lru',
    });
    cache.set('a', 'xxxx').set('b', 'yyyy');
    assert.equal(cache.weight, 8);
    cache.set('c', 'z', { weight: 3 });
    assert.equal(cache.weight, 7, 'a (4) was evicted to fit c (3)');
    assert.equal(cache.has('a'), false);
  });

  it('grows past its first slot arrays when many light entries fit', () => {
    const cache = new Cache<number, number>({ maxWeight: 1_000, policy: 'arc' });
    for (let key = 0; key < 500; key += 1) {
      cache.set(key, key, { weight: 1 });
    }
    assert.equal(cache.size, 500);
    assert.equal(cache.get(499), 499);
  });

  it('refuses weights that are not finite positive numbers, or larger than maxWeight', () => {
    const cache = new Cache<string, number>({ maxWeight: 10 });
    cache.set('kept', 1, { weight: 2 });
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => cache.set('a', 1, { weight }), isInvalidArgumentError);
    }
    assert.throws(
      () => cache.set('a', 1, { weight: 11 }),
      (error) =>
        isEntryTooHeavyError(error) &&
        error instanceof EntryTooHeavyError &&
        error.weight === 11 &&
        error.weightMax === 10,
    );
    const weighed = new Cache<string, number>({ maxWeight: 10, weigh: () => Number.NaN });
    assert.throws(() => weighed.set('a', 1), isInvalidArgumentError);
    assert.deepEqual([...cache.keys()], ['kept']);
    assert.equal(cache.weight, 2);
    const counted = new Cache<string, number>({ maxEntries: 10 });
    assert.throws(() => counted.set('a', 1, { weight: 2 }), isInvalidArgumentError);
  });
});

describe('Cache expiry (virtual time)', () => {
  it('never returns an entry at or after its expiry time', () => {
    const clock = new ManualClock();
    const cache = new Cache<string, number>({ maxEntries: 10, ttlMs: 100, clock });
    const removals = recorder(cache);
    cache.set('a', 1);
    clock.advanceMs(99);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.ttlMsOf('a'), 1);
    clock.advanceMs(1);
    assert.equal(cache.peek('a'), undefined);
    assert.equal(cache.has('a'), false);
    assert.equal(cache.get('a'), undefined);
    assert.deepEqual(removals, [{ key: 'a', value: 1, reason: 'expired' }]);
    assert.deepEqual([cache.stats().hits, cache.stats().misses], [1, 1]);
  });

  it('takes a TTL per entry, Infinity for one that never expires', () => {
    const clock = new ManualClock();
    const cache = new Cache<string, number>({ maxEntries: 10, ttlMs: 100, clock });
    cache.set('short', 1, { ttlMs: 10 }).set('forever', 2, { ttlMs: Number.POSITIVE_INFINITY });
    cache.set('default', 3);
    clock.advanceMs(50);
    assert.deepEqual([...cache.keys()].sort(), ['default', 'forever']);
    clock.advanceMs(1_000_000);
    assert.deepEqual([...cache.keys()], ['forever']);
    assert.equal(cache.ttlMsOf('forever'), Number.POSITIVE_INFINITY);
    for (const ttlMs of [0, -1, Number.NaN]) {
      assert.throws(() => cache.set('x', 1, { ttlMs }), isInvalidArgumentError);
    }
  });

  it('a cache without a default TTL accepts TTLs per entry', () => {
    const clock = new ManualClock();
    const cache = new Cache<string, number>({ maxEntries: 10, clock, policy: 'slru' });
    cache.set('a', 1).set('b', 2, { ttlMs: 5 });
    clock.advanceMs(5);
    assert.deepEqual([...cache.keys()], ['a']);
    cache.set('a', 3, { ttlMs: 5 });
    clock.advanceMs(5);
    assert.equal(cache.get('a'), undefined);
  });

  it('draws jittered TTLs uniformly within ±ttlJitter, reproducibly from the seed', () => {
    const draw = (seed: number) => {
      const clock = new ManualClock();
      const cache = new Cache<number, number>({
        maxEntries: 2_000,
        ttlMs: 1_000,
        ttlJitter: 0.1,
        clock,
        random: new SeededRandom({ seed }),
      });
      const ttls: number[] = [];
      for (let key = 0; key < 1_000; key += 1) {
        cache.set(key, key);
        ttls.push(cache.ttlMsOf(key) as number);
      }
      return ttls;
    };
    const ttls = draw(7);
    assert.deepEqual(ttls, draw(7));
    assert.ok(ttls.every((ttl) => ttl >= 900 && ttl <= 1_100));
    assert.ok(Math.min(...ttls) < 910 && Math.max(...ttls) > 1_090);
    assert.ok(ttls.filter((ttl) => ttl < 1_000).length > 400);
    assert.ok(ttls.filter((ttl) => ttl > 1_000).length > 400);
  });

  it('purgeExpired removes exactly the expired entries and says how many', () => {
    const clock = new ManualClock();
    const cache = new Cache<number, number>({ maxEntries: 100, clock, policy: 'lfu' });
    for (let key = 0; key < 30; key += 1) {
      cache.set(key, key, { ttlMs: key < 10 ? 5 : 50 });
    }
    clock.advanceMs(10);
    assert.equal(cache.purgeExpired(), 10);
    assert.equal(cache.size, 20);
    assert.equal(cache.purgeExpired(), 0);
    assert.equal(cache.stats().removals.expired, 10);
  });

  it('writes sweep expired entries without any read or timer', () => {
    const clock = new ManualClock();
    const cache = new Cache<number, number>({ maxEntries: 1_000, ttlMs: 10, clock });
    for (let key = 0; key < 100; key += 1) {
      cache.set(key, key);
    }
    clock.advanceMs(10);
    for (let key = 1_000; key < 1_060; key += 1) {
      cache.set(key, key, { ttlMs: Number.POSITIVE_INFINITY });
    }
    assert.equal(cache.stats().removals.expired, 100, 'two per write, 60 writes');
    assert.equal(cache.size, 60);
  });

  it('behaves like a map with expiry times under random operations and clock moves', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...policies),
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('set' as const),
              key: fc.integer({ min: 0, max: 9 }),
              ttlMs: fc.integer({ min: 1, max: 20 }),
            }),
            fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 9 }) }),
            fc.record({
              kind: fc.constant('advance' as const),
              ms: fc.integer({ min: 0, max: 8 }),
            }),
            fc.record({ kind: fc.constant('purge' as const) }),
          ),
          { maxLength: 150 },
        ),
        (policy, ops) => {
          const clock = new ManualClock();
          // Large enough that nothing is evicted: only expiry removes entries.
          const cache = new Cache<number, number>({ maxEntries: 10, policy, clock });
          const model = new Map<number, { value: number; expiresAtMs: number }>();
          let value = 0;
          for (const op of ops) {
            if (op.kind === 'set') {
              value += 1;
              cache.set(op.key, value, { ttlMs: op.ttlMs });
              model.set(op.key, { value, expiresAtMs: clock.nowMs() + op.ttlMs });
            } else if (op.kind === 'get') {
              const entry = model.get(op.key);
              const expected =
                entry !== undefined && entry.expiresAtMs > clock.nowMs() ? entry.value : undefined;
              assert.equal(cache.get(op.key), expected);
            } else if (op.kind === 'advance') {
              clock.advanceMs(op.ms);
            } else {
              cache.purgeExpired();
              const live = [...model].filter(([, entry]) => entry.expiresAtMs > clock.nowMs());
              assert.equal(cache.size, live.length);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Cache invalidation by tag and prefix', () => {
  it('invalidateTag removes the entries stored with the tag (reason invalidated)', () => {
    const cache = new Cache<string, number>({ maxEntries: 10 });
    const removals = recorder(cache);
    cache.set('user:1', 1, { tags: ['users', 'team:a'] });
    cache.set('user:2', 2, { tags: ['users'] });
    cache.set('team:a', 3, { tags: ['team:a'] });
    assert.equal(cache.invalidateTag('team:a'), 2);
    assert.deepEqual([...cache.keys()], ['user:2']);
    assert.deepEqual(
      removals.map((removal) => [removal.key, removal.reason]),
      [
        ['user:1', 'invalidated'],
        ['team:a', 'invalidated'],
      ],
    );
    assert.equal(cache.invalidateTag('team:a'), 0);
    assert.equal(cache.invalidateTag('nobody'), 0);
    assert.throws(() => cache.invalidateTag(''), isInvalidArgumentError);
    assert.throws(() => cache.set('x', 1, { tags: [''] }), isInvalidArgumentError);
  });

  it('a new value replaces the tags of the old one; evicted entries leave their tags', () => {
    const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
    cache.set('a', 1, { tags: ['t'] });
    cache.set('a', 2, { tags: ['u'] });
    assert.equal(cache.invalidateTag('t'), 0);
    cache
      .set('b', 1, { tags: ['v'] })
      .set('c', 1)
      .set('d', 1);
    assert.equal(cache.invalidateTag('v'), 0);
    assert.equal(cache.invalidateTag('u'), 0, 'a was evicted');
  });

  it('invalidatePrefix removes string keys with the prefix', () => {
    const cache = new Cache<string | number, number>({ maxEntries: 10 });
    cache.set('user:1', 1).set('user:2', 2).set('users', 3).set('order:1', 4).set(7, 5);
    assert.equal(cache.invalidatePrefix('user:'), 2);
    assert.deepEqual([...cache.keys()].sort(), [7, 'order:1', 'users']);
    assert.equal(cache.invalidatePrefix(''), 2, 'every string key');
    assert.deepEqual([...cache.keys()], [7]);
  });
});

describe('Cache statistics and events', () => {
  it('counts hits, misses, inserts, updates and removals by reason', () => {
    const clock = new ManualClock();
    const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru', clock });
    cache.set('a', 1).set('b', 2);
    cache.get('a');
    cache.get('x');
    cache.set('a', 3);
    cache.set('c', 4);
    cache.delete('a');
    cache.set('d', 5, { ttlMs: 1 });
    clock.advanceMs(1);
    cache.get('d');
    const stats = cache.stats();
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 2);
    assert.equal(stats.hitRatio, 1 / 3);
    assert.equal(stats.inserts, 4);
    assert.equal(stats.updates, 1);
    assert.deepEqual(stats.removals, {
      capacity: 1,
      rejected: 0,
      expired: 1,
      invalidated: 0,
      replaced: 1,
      deleted: 1,
      cleared: 0,
    });
    assert.equal(stats.evictions, 1);
    assert.equal(stats.size, 1);
    cache.resetStats();
    assert.deepEqual([cache.stats().hits, cache.stats().removals.capacity], [0, 0]);
    assert.equal(cache.stats().hitRatio, 0);
  });

  it('reports the old value of a replaced entry and stops reporting once disposed', () => {
    const cache = new Cache<string, number>({ maxEntries: 2 });
    const removals: CacheRemoval<string, number>[] = [];
    const subscription = cache.removed((removal) => removals.push(removal));
    cache.set('a', 1).set('a', 2);
    subscription.dispose();
    cache.set('a', 3);
    assert.deepEqual(removals, [{ key: 'a', value: 1, reason: 'replaced' }]);
  });
});
