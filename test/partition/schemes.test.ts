import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isInvalidArgumentError, isLimitExceededError } from '../../src/core/index.js';
import {
  BoundedLoadRing,
  ConsistentHashRing,
  hashKey,
  hashPartition,
  jumpBucket,
  jumpBucketOfUint64,
  MaglevTable,
  type NodeInput,
  RendezvousHash,
} from '../../src/partition/index.js';
import { loadByNode, nodeIds, sampleKeys, spread } from './helpers.js';

const keys = sampleKeys(50_000);
const nodes = nodeIds(10);

/** The paper's reference JumpConsistentHash, in BigInt, to check the 32-bit-limb version. */
function referenceJump(key: bigint, bucketCount: number): number {
  let state = key;
  let bucket = -1n;
  let next = 0n;
  while (next < BigInt(bucketCount)) {
    bucket = next;
    state = (state * 2_862_933_555_777_941_757n + 1n) & 0xffff_ffff_ffff_ffffn;
    next = BigInt(Math.floor(Number(bucket + 1n) * (2 ** 31 / Number((state >> 33n) + 1n))));
  }
  return Number(bucket);
}

const badNodeLists: unknown[] = [
  undefined,
  [],
  'a',
  ['a', 'a'],
  [''],
  [42],
  [{ id: 'a', weight: 0 }],
  [{ id: 'a', weight: -1 }],
  [{ id: 'a', weight: Number.NaN }],
  [{ id: 'a', weight: Number.POSITIVE_INFINITY }],
  [{ id: 'a', zone: '' }],
  [{ id: '\ud800' }],
  [{ weight: 1 }],
  [null],
];

describe('bad input: every scheme rejects it with InvalidArgumentError naming the option', () => {
  const builders: [string, (nodes: unknown) => unknown][] = [
    ['ring', (list) => new ConsistentHashRing({ nodes: list as NodeInput[] })],
    ['rendezvous', (list) => new RendezvousHash({ nodes: list as NodeInput[] })],
    ['maglev', (list) => new MaglevTable({ nodes: list as NodeInput[], tableSize: 251 })],
    ['bounded', (list) => new BoundedLoadRing({ nodes: list as NodeInput[] })],
  ];
  for (const [name, build] of builders) {
    it(`${name}: empty, duplicate, zero or negative weights, malformed ids`, () => {
      for (const list of badNodeLists) {
        assert.throws(
          () => build(list),
          (error: unknown) =>
            isInvalidArgumentError(error) && error.argument.startsWith('options.nodes'),
          `${name} accepted ${JSON.stringify(list)}`,
        );
      }
    });
  }

  it('rejects bad options and keys, and leaves the structure usable', () => {
    const ring = new ConsistentHashRing({ nodes });
    assert.throws(
      () => new ConsistentHashRing({ nodes, virtualNodeCount: 0 }),
      isInvalidArgumentError,
    );
    assert.throws(() => ring.nodeFor(7 as unknown as string), isInvalidArgumentError);
    assert.throws(() => ring.nodeFor('\udfff'), isInvalidArgumentError);
    assert.throws(() => ring.replicasFor('k', 11), isInvalidArgumentError);
    assert.throws(() => ring.replicasFor('k', 0), isInvalidArgumentError);
    assert.throws(() => ring.withNode('node-1'), isInvalidArgumentError);
    assert.throws(() => ring.withoutNode('nope'), isInvalidArgumentError);
    assert.throws(() => new MaglevTable({ nodes, tableSize: 100 }), isInvalidArgumentError);
    assert.throws(() => new MaglevTable({ nodes, tableSize: 7 }), isInvalidArgumentError);
    assert.throws(() => new BoundedLoadRing({ nodes, balanceFactor: 0 }), isInvalidArgumentError);
    assert.throws(() => hashPartition('k', 0), isInvalidArgumentError);
    assert.throws(() => jumpBucket('k', 0), isInvalidArgumentError);
    assert.throws(() => jumpBucketOfUint64(-1, 0, 3), isInvalidArgumentError);
    assert.equal(ring.nodeFor('k'), ring.nodeFor('k'));
    assert.throws(
      () =>
        new ConsistentHashRing({ nodes: [{ id: 'a', weight: 1_000_000 }], virtualNodeCount: 160 }),
      isInvalidArgumentError,
    );
  });
});

describe('hashPartition', () => {
  it('is hashKey mod N and even', () => {
    assert.equal(hashPartition('user:1', 7), hashKey('user:1') % 7);
    const loads = loadByNode(keys, (key) => String(hashPartition(key, 10)));
    assert.ok(spread(loads, 10) < 1.05);
  });
});

describe('ConsistentHashRing', () => {
  it('is deterministic and independent of the node order', () => {
    const ring = new ConsistentHashRing({ nodes });
    const reversed = new ConsistentHashRing({ nodes: [...nodes].reverse() });
    for (const key of keys.slice(0, 2_000)) {
      assert.equal(ring.nodeFor(key), reversed.nodeFor(key));
    }
  });

  it('balances better with more virtual nodes', () => {
    const spreads = [16, 64, 256].map((virtualNodeCount) => {
      const ring = new ConsistentHashRing({ nodes, virtualNodeCount });
      return spread(
        loadByNode(keys, (key) => ring.nodeFor(key)),
        nodes.length,
      );
    });
    assert.ok((spreads[2] as number) < 1.15, `256 virtual nodes: spread ${spreads[2]}`);
    assert.ok((spreads[0] as number) > (spreads[2] as number));
  });

  it('gives nodes keys in proportion to their weights', () => {
    const ring = new ConsistentHashRing({
      nodes: [
        { id: 'small', weight: 1 },
        { id: 'big', weight: 3 },
      ],
      virtualNodeCount: 256,
    });
    const loads = loadByNode(keys, (key) => ring.nodeFor(key));
    const bigShare = (loads.get('big') ?? 0) / keys.length;
    assert.ok(Math.abs(bigShare - 0.75) < 0.04, `big got ${bigShare}`);
  });

  it('ownership() covers the hash space once and agrees with nodeForHash', () => {
    const ring = new ConsistentHashRing({ nodes, virtualNodeCount: 8 });
    const ranges = ring.ownership();
    assert.equal(ranges[0]?.firstHash, 0);
    assert.equal(ranges.at(-1)?.lastHash, 0xffff_ffff);
    for (let index = 1; index < ranges.length; index += 1) {
      assert.equal(ranges[index]?.firstHash, (ranges[index - 1]?.lastHash as number) + 1);
      assert.notEqual(ranges[index]?.owner, ranges[index - 1]?.owner, 'adjacent arcs merged');
    }
    for (const range of ranges) {
      assert.equal(ring.nodeForHash(range.firstHash), range.owner);
      assert.equal(ring.nodeForHash(range.lastHash), range.owner);
    }
    for (const key of keys.slice(0, 500)) {
      assert.equal(ring.nodeFor(key), ring.nodeForHash(hashKey(key)));
    }
  });

  it('nodeForHash (prefix index + binary search) agrees with the arcs listed by ownership() (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 200 }),
        (nodeCount, virtualNodeCount, hashes) => {
          const ring = new ConsistentHashRing({ nodes: nodeIds(nodeCount), virtualNodeCount });
          const ranges = ring.ownership();
          for (const hash of [
            0,
            0xffff_ffff,
            ...hashes,
            ...ranges.flatMap((range) => [range.firstHash, range.lastHash]),
          ]) {
            const range = ranges.find(
              (candidate) => candidate.firstHash <= hash && hash <= candidate.lastHash,
            );
            assert.equal(ring.nodeForHash(hash), range?.owner);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('replicasFor: distinct nodes, owner first, stable prefix as the count grows', () => {
    const ring = new ConsistentHashRing({ nodes });
    for (const key of keys.slice(0, 300)) {
      const three = ring.replicasFor(key, 3);
      assert.equal(new Set(three).size, 3);
      assert.equal(three[0], ring.nodeFor(key));
      assert.deepEqual(ring.replicasFor(key, 5).slice(0, 3), three);
      assert.equal(new Set(ring.replicasFor(key, 10)).size, 10);
    }
  });

  it('replicasFor with spreadZones: one per zone first, then the rest', () => {
    const zoned = nodes.map((id, index) => ({ id, zone: `zone-${index % 3}` }));
    for (const layout of [
      new ConsistentHashRing({ nodes: zoned }),
      new RendezvousHash({ nodes: zoned }),
    ]) {
      for (const key of keys.slice(0, 300)) {
        const zoneOf = (id: string): string => `zone-${Number(id.slice(5)) % 3}`;
        const three = layout.replicasFor(key, 3, { spreadZones: true });
        assert.equal(new Set(three.map(zoneOf)).size, 3, `${key}: ${three}`);
        assert.equal(three[0], layout.nodeFor(key), 'the owner stays first');
        const five = layout.replicasFor(key, 5, { spreadZones: true });
        assert.equal(new Set(five).size, 5);
        assert.deepEqual(five.slice(0, 3), three);
      }
    }
  });
});

describe('RendezvousHash', () => {
  it('balances and honours weights', () => {
    const hrw = new RendezvousHash({ nodes });
    assert.ok(
      spread(
        loadByNode(keys, (key) => hrw.nodeFor(key)),
        10,
      ) < 1.05,
    );
    const weighted = new RendezvousHash({ nodes: ['a', 'b', { id: 'c', weight: 2 }] });
    const loads = loadByNode(keys, (key) => weighted.nodeFor(key));
    assert.ok(Math.abs((loads.get('c') ?? 0) / keys.length - 0.5) < 0.02);
  });

  it('replicasFor is the score order: the owner first, and without the owner the rest shift up', () => {
    const hrw = new RendezvousHash({ nodes });
    for (const key of keys.slice(0, 300)) {
      const order = hrw.replicasFor(key, 10);
      assert.equal(order[0], hrw.nodeFor(key));
      const without = hrw.withoutNode(order[0] as string);
      assert.equal(
        without.nodeFor(key),
        order[1],
        'a leaving node hands each key to its second choice',
      );
    }
  });
});

describe('jumpBucket', () => {
  it('equals the reference algorithm (BigInt) on random 64-bit keys and bucket counts', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
        fc.integer({ min: 1, max: 100_000 }),
        (key, bucketCount) => {
          const high = Number(key >> 32n);
          const low = Number(key & 0xffff_ffffn);
          assert.equal(jumpBucketOfUint64(high, low, bucketCount), referenceJump(key, bucketCount));
        },
      ),
    );
  });

  it('known values of small keys', () => {
    // Every key lands in bucket 0 of 1, and buckets stay in range.
    for (let key = 0; key < 1_000; key += 1) {
      assert.equal(jumpBucketOfUint64(0, key, 1), 0);
      const bucket = jumpBucketOfUint64(0, key, 1_000);
      assert.ok(bucket >= 0 && bucket < 1_000);
      assert.equal(bucket, referenceJump(BigInt(key), 1_000));
    }
  });

  it('is even over string keys', () => {
    assert.ok(
      spread(
        loadByNode(keys, (key) => String(jumpBucket(key, 10))),
        10,
      ) < 1.05,
    );
  });
});

describe('MaglevTable', () => {
  it('gives every node M/N slots, give or take one, and keys follow', () => {
    const maglev = new MaglevTable({ nodes });
    const counts = maglev.slotCounts();
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, String(counts));
    assert.ok(
      spread(
        loadByNode(keys, (key) => maglev.nodeFor(key)),
        10,
      ) < 1.05,
    );
  });

  it('gives weighted nodes slots in proportion', () => {
    const maglev = new MaglevTable({
      nodes: [
        { id: 'a', weight: 1 },
        { id: 'b', weight: 3 },
      ],
      tableSize: 10_007,
    });
    const [a, b] = maglev.slotCounts() as [number, number];
    assert.ok(Math.abs(b / (a + b) - 0.75) < 0.001, `${a} ${b}`);
  });

  it('works with a table as small as the node count', () => {
    const maglev = new MaglevTable({ nodes: ['a', 'b', 'c'], tableSize: 3 });
    assert.deepEqual(maglev.slotCounts(), [1, 1, 1]);
  });
});

describe('BoundedLoadRing', () => {
  it('never lets a node exceed ceil((1 + ε) × mean), even with every key the same', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0.05, max: 2, noNaN: true }),
        fc.array(fc.oneof(fc.constant('hot'), fc.string({ maxLength: 6 })), {
          minLength: 1,
          maxLength: 400,
        }),
        (nodeCount, balanceFactor, items) => {
          const ring = new BoundedLoadRing({
            nodes: nodeIds(nodeCount),
            balanceFactor,
            virtualNodeCount: 20,
          });
          items.forEach((key, index) => {
            ring.place(key);
            const bound = Math.ceil(((1 + balanceFactor) * (index + 1)) / nodeCount);
            for (const load of ring.loads()) {
              assert.ok(load <= bound, `load ${load} above ${bound}`);
            }
          });
          assert.equal(ring.itemCount, items.length);
        },
      ),
    );
  });

  it('with weights, caps each node at ceil((1 + ε) × items × its weight share)', () => {
    const ring = new BoundedLoadRing({
      nodes: [
        { id: 'small', weight: 1 },
        { id: 'big', weight: 3 },
      ],
      balanceFactor: 0.1,
    });
    for (let index = 0; index < 2_000; index += 1) {
      ring.place(index % 2 === 0 ? 'hot' : `key:${index}`);
      const itemCount = index + 1;
      assert.ok(ring.loadOf('small') <= Math.ceil(1.1 * itemCount * 0.25));
      assert.ok(ring.loadOf('big') <= Math.ceil(1.1 * itemCount * 0.75));
    }
    assert.equal(ring.capacityOf('big'), Math.ceil(1.1 * 2_001 * 0.75));
  });

  it('places a key on its ring owner while that node has room', () => {
    const ring = new ConsistentHashRing({ nodes });
    const bounded = new BoundedLoadRing({ nodes, balanceFactor: 0.25 });
    for (const key of keys.slice(0, 100)) {
      assert.equal(bounded.peek(key), ring.nodeFor(key));
    }
  });

  it('release frees capacity and rejects releases of empty or unknown nodes', () => {
    const ring = new BoundedLoadRing({ nodes: ['a', 'b'], itemCountMax: 2 });
    const first = ring.place('x');
    ring.place('y');
    assert.throws(() => ring.place('z'), isLimitExceededError);
    ring.release(first);
    assert.equal(ring.itemCount, 1);
    assert.throws(() => ring.release('c'), isInvalidArgumentError);
    ring.release(ring.loadOf('a') > 0 ? 'a' : 'b');
    assert.throws(() => ring.release('a'), isInvalidArgumentError);
    assert.deepEqual(ring.loads(), [0, 0]);
  });
});
