import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';
import {
  GeoPlacement,
  hashPartition,
  InMemoryShardMapStore,
  isNoAllowedRegionError,
  isStaleShardMapError,
  NoAllowedRegionError,
  prefixResidency,
  ShardMap,
  StaleShardMapError,
  saltedKey,
  saltedKeys,
  scatterGather,
  timeBucketKey,
  timeBucketKeys,
} from '../../src/partition/index.js';

describe('ShardMap and InMemoryShardMapStore', () => {
  const initial = new ShardMap({
    shards: { s1: 'node-a', s2: 'node-b' },
    keys: { 'tenant:acme': 's1', 'tenant:globex': 's2' },
  });

  it('routes keys through the directory and detects stale maps with a typed error', () => {
    assert.deepEqual(initial.route('tenant:acme', 0), { shardId: 's1', nodeId: 'node-a' });
    assert.equal(initial.route('tenant:unknown', 0), undefined);
    const next = initial.withChanges({ placeShards: { s1: 'node-c' } });
    assert.equal(next.version, 1);
    assert.deepEqual(next.route('tenant:acme', 1), { shardId: 's1', nodeId: 'node-c' });
    assert.throws(
      () => next.route('tenant:acme', 0),
      (error: unknown) =>
        isStaleShardMapError(error) &&
        error.requestVersion === 0 &&
        error.currentVersion === 1 &&
        error.code === 'STALE_SHARD_MAP',
    );
    assert.ok(new StaleShardMapError(1, 2) instanceof Error);
    assert.throws(
      () => initial.route('tenant:acme', 5),
      isInvalidArgumentError,
      'a version from the future',
    );
    assert.equal(initial.version, 0, 'withChanges does not touch the old map');
    assert.equal(initial.nodeOfShard('s1'), 'node-a');
  });

  it('compare-and-set installs only the next version', async () => {
    const store = new InMemoryShardMapStore(initial);
    const base = await store.read();
    const first = base.withChanges({ assignKeys: { 'tenant:initech': 's2' } });
    const second = base.withChanges({ unassignKeys: ['tenant:acme'] });
    assert.deepEqual(await store.compareAndSet(first), { ok: true, map: first });
    const conflict = await store.compareAndSet(second);
    assert.equal(conflict.ok, false);
    assert.equal(conflict.ok ? undefined : conflict.current, first);
    assert.equal(store.current.lookup('tenant:initech')?.nodeId, 'node-b');
    assert.equal(
      store.current.lookup('tenant:acme')?.nodeId,
      'node-a',
      'the losing edit did not apply',
    );
    await assert.rejects(store.compareAndSet({} as ShardMap), isInvalidArgumentError);
  });

  it('moves a shard and removes an emptied one; refuses changes that would corrupt the map', () => {
    const moved = initial.withChanges({
      placeShards: { s3: 'node-c' },
      assignKeys: { 'tenant:globex': 's3' },
      removeShards: ['s2'],
    });
    assert.deepEqual(moved.shards(), { s1: 'node-a', s3: 'node-c' });
    assert.deepEqual(moved.keys(), { 'tenant:acme': 's1', 'tenant:globex': 's3' });
    const refused: Parameters<ShardMap['withChanges']>[0][] = [
      { assignKeys: { 'tenant:x': 'nope' } },
      { removeShards: ['s1'] },
      { removeShards: ['nope'] },
      { unassignKeys: ['tenant:none'] },
      { placeShards: { s9: '' } },
      { assignKeys: { '\ud800': 's1' } },
    ];
    for (const changes of refused) {
      assert.throws(
        () => initial.withChanges(changes),
        isInvalidArgumentError,
        JSON.stringify(changes),
      );
    }
    assert.throws(
      () => new ShardMap({ shards: { s1: 'a' }, keys: { k: 's2' } }),
      isInvalidArgumentError,
    );
    assert.throws(() => new ShardMap({ shards: [] as never }), isInvalidArgumentError);
    assert.throws(() => new ShardMap({ shards: {}, version: -1 }), isInvalidArgumentError);
    assert.deepEqual(initial.keys(), { 'tenant:acme': 's1', 'tenant:globex': 's2' });
  });
});

describe('GeoPlacement: residency rules are never violated', () => {
  const regions = ['eu-west', 'eu-central', 'us-east', 'ap-south'];

  it('holds for random layouts, rules and keys (property)', () => {
    const layouts = fc.array(
      fc.record({ region: fc.constantFrom(...regions), weight: fc.constantFrom(0.5, 1, 3) }),
      { minLength: 1, maxLength: 12 },
    );
    const rules = fc.array(fc.subarray(regions, { minLength: 0, maxLength: 3 }), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(
        layouts,
        rules,
        fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 60 }),
        (layout, ruleList, keys) => {
          const nodes = layout.map((node, index) => ({ id: `n${index}`, ...node }));
          const allowedOf = (key: string): readonly string[] =>
            ruleList[hashPartition(key, ruleList.length)] ?? [];
          const geo = new GeoPlacement({ nodes, residencyOf: allowedOf });
          for (const key of keys) {
            const allowed = allowedOf(key);
            const eligible = nodes.filter((node) => allowed.includes(node.region));
            if (eligible.length === 0) {
              assert.throws(
                () => geo.nodeFor(key),
                (error: unknown) => isNoAllowedRegionError(error) && error.key === key,
              );
              continue;
            }
            const node = geo.nodeFor(key);
            assert.ok(
              allowed.includes(geo.regionOf(node) as string),
              `${key} placed in ${geo.regionOf(node)}`,
            );
            const replicas = geo.replicasFor(key, eligible.length);
            assert.equal(new Set(replicas).size, eligible.length);
            assert.equal(replicas[0], node);
            for (const replica of replicas) {
              assert.ok(allowed.includes(geo.regionOf(replica) as string));
            }
            const regionsUsed = new Set(
              replicas
                .slice(0, new Set(eligible.map((n) => n.region)).size)
                .map((r) => geo.regionOf(r)),
            );
            assert.equal(
              regionsUsed.size,
              new Set(eligible.map((n) => n.region)).size,
              'one per allowed region first',
            );
          }
        },
      ),
    );
  });

  it('adding a node in one region moves only keys allowed there, onto it', () => {
    const nodes = [
      { id: 'fra-1', region: 'eu-central' },
      { id: 'dub-1', region: 'eu-west' },
      { id: 'iad-1', region: 'us-east' },
    ];
    const residencyOf = prefixResidency(
      [
        { prefix: 'eu:', regions: ['eu-central', 'eu-west'] },
        { prefix: 'eu:de:', regions: ['eu-central'] },
      ],
      ['us-east'],
    );
    const before = new GeoPlacement({ nodes, residencyOf });
    const after = new GeoPlacement({
      nodes: [...nodes, { id: 'dub-2', region: 'eu-west' }],
      residencyOf,
    });
    const keys = Array.from(
      { length: 3_000 },
      (_, index) => ['eu:', 'eu:de:', 'us:'][index % 3] + String(index),
    );
    for (const key of keys) {
      if (before.nodeFor(key) !== after.nodeFor(key)) {
        assert.equal(after.nodeFor(key), 'dub-2');
        assert.ok(key.startsWith('eu:') && !key.startsWith('eu:de:'));
      }
    }
    assert.equal(before.nodeFor('eu:de:9'), 'fra-1', 'the longest prefix wins');
    assert.deepEqual(before.allowedRegionsOf('jp:1'), ['us-east']);
  });

  it('rejects bad nodes and bad rules with typed errors', () => {
    const residencyOf = (): readonly string[] => ['mars'];
    assert.throws(() => new GeoPlacement({ nodes: [], residencyOf }), isInvalidArgumentError);
    assert.throws(
      () => new GeoPlacement({ nodes: [{ id: 'a' } as never], residencyOf }),
      isInvalidArgumentError,
    );
    assert.throws(
      () => new GeoPlacement({ nodes: [{ id: 'a', region: 'r', weight: 0 }], residencyOf }),
      isInvalidArgumentError,
    );
    assert.throws(
      () =>
        new GeoPlacement({
          nodes: [
            { id: 'a', region: 'r' },
            { id: 'a', region: 's' },
          ],
          residencyOf,
        }),
      isInvalidArgumentError,
    );
    const geo = new GeoPlacement({ nodes: [{ id: 'a', region: 'earth' }], residencyOf });
    assert.throws(
      () => geo.nodeFor('k'),
      (error: unknown) => error instanceof NoAllowedRegionError,
    );
    const broken = new GeoPlacement({
      nodes: [{ id: 'a', region: 'earth' }],
      residencyOf: () => 'earth' as never,
    });
    assert.throws(() => broken.nodeFor('k'), isInvalidArgumentError);
    const two = new GeoPlacement({
      nodes: [
        { id: 'a', region: 'earth' },
        { id: 'b', region: 'moon' },
      ],
      residencyOf: () => ['earth'],
    });
    assert.throws(() => two.replicasFor('k', 2), isInvalidArgumentError);
  });
});

describe('hot-key mitigation', () => {
  it('salts keys, writes to one salt and gathers them all', async () => {
    assert.deepEqual(saltedKeys('likes', 3), ['likes#0', 'likes#1', 'likes#2']);
    assert.equal(saltedKey('likes', 3, 1), 'likes#1');
    const random = new SeededRandom({ seed: 7 });
    const store = new Map<string, number>();
    for (let write = 0; write < 3_000; write += 1) {
      const part = saltedKey('likes', 3, random);
      store.set(part, (store.get(part) ?? 0) + 1);
    }
    assert.equal(store.size, 3);
    for (const count of store.values()) {
      assert.ok(count > 900, 'writes spread over the salts');
    }
    const total = await scatterGather(
      'likes',
      3,
      async (part) => store.get(part) ?? 0,
      (parts) => parts.reduce((sum, part) => sum + part, 0),
    );
    assert.equal(total, 3_000);
    const order = await scatterGather(
      'k',
      4,
      (part) => part,
      (parts) => parts.join(','),
    );
    assert.equal(order, 'k#0,k#1,k#2,k#3');
    assert.throws(() => saltedKeys('k', 0), isInvalidArgumentError);
    assert.throws(() => saltedKeys('k', 1_025), isInvalidArgumentError);
    assert.throws(() => saltedKey('k', 3, 3), isInvalidArgumentError);
    assert.throws(() => saltedKey('k', 3, 'x' as never), isInvalidArgumentError);
    await assert.rejects(
      scatterGather('k', 2, 'x' as never, (parts) => parts),
      isInvalidArgumentError,
    );
  });

  it('buckets time', () => {
    assert.equal(timeBucketKey('sensor:7', 1_700_000_123_456, 3_600_000), 'sensor:7@1699999200000');
    assert.equal(timeBucketKey('s', -1, 10), 's@-10');
    assert.deepEqual(timeBucketKeys('s', 5, 25, 10), ['s@0', 's@10', 's@20']);
    assert.deepEqual(timeBucketKeys('s', 10, 30, 10), ['s@10', 's@20']);
    assert.deepEqual(timeBucketKeys('s', 10, 10, 10), []);
    assert.throws(() => timeBucketKey('s', Number.NaN, 10), isInvalidArgumentError);
    assert.throws(() => timeBucketKey('s', 1, 0), isInvalidArgumentError);
    assert.throws(() => timeBucketKeys('s', 10, 5, 10), isInvalidArgumentError);
    assert.throws(() => timeBucketKeys('s', 0, 1e9, 1), isInvalidArgumentError);
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.integer({ min: 1, max: 1e7 }),
        (timestampMs, bucketMs) => {
          const key = timeBucketKey('k', timestampMs, bucketMs);
          const start = Number(key.slice(2));
          assert.ok(start <= timestampMs && timestampMs < start + bucketMs);
          assert.deepEqual(timeBucketKeys('k', timestampMs, timestampMs + 1, bucketMs), [key]);
        },
      ),
    );
  });
});
