/**
 * distkit/partition: consistent-hash ring lookups against the `hashring` package, the
 * lookup cost of every other scheme, and (not timed) the load spread and key movement of
 * each scheme.
 *
 * The ring comparison gives both rings the same shape: 10 nodes with 160 points each
 * (hashring's default is 40 virtual nodes × 4 replicas of an MD5 digest = 160 points per
 * server). Both look up the same 100,000 distinct keys in turn, 1,000 per iteration, so
 * hashring's LRU cache (5,000 entries by default, left on: that is how it is used) misses
 * almost every time, as it would for a real key population larger than the cache.
 *
 * Run with `npm run bench partition`; see bench/README.md for what the figures mean.
 * `hashring` is a devDependency; without it the ring comparison cannot run and the file
 * stops with a message saying so.
 */

import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SeededRandom } from 'distkit/core';
import {
  BoundedLoadRing,
  ConsistentHashRing,
  hashPartition,
  jumpBucket,
  MaglevTable,
  murmur3,
  RendezvousHash,
  xxHash32,
} from 'distkit/partition';
import { runBenchmarks } from './harness.js';

/** The part of hashring's API this file uses (the package ships no types). */
interface HashRingPeer {
  get(key: string): string;
}
type HashRingConstructor = new (servers: readonly string[]) => HashRingPeer;

function loadHashring(): HashRingConstructor {
  try {
    // hashring is CommonJS; require() also honours NODE_PATH, unlike an ESM import.
    return createRequire(import.meta.url)('hashring') as HashRingConstructor;
  } catch (error) {
    console.error(
      'The peer package `hashring` is not installed; add it with `npm install --save-dev hashring@3.2.0`.',
    );
    throw error;
  }
}
const HashRing = loadHashring();

const nodeCount = 10;
const nodes = Array.from({ length: nodeCount }, (_, index) => `10.0.0.${index + 1}:11211`);
const lookupKeyCount = 100_000;
const lookupKeys = Array.from({ length: lookupKeyCount }, (_, index) => `user:${index}:profile`);
const lookupsPerIteration = 1_000;

const ring = new ConsistentHashRing({ nodes, virtualNodeCount: 160 });
const peerRing = new HashRing(nodes);
const rendezvous = new RendezvousHash({ nodes });
const maglev = new MaglevTable({ nodes, tableSize: 65_537 });
const nodeIndex = new Map(nodes.map((node, index) => [node, index]));

/**
 * One iteration: the next 1,000 keys of the 100,000, folded into one number so the JIT
 * cannot drop the lookups. Each case has its own cursor and its own copy of the loop.
 */
function lookupLoop(lookup: (key: string) => number): () => number {
  let cursor = 0;
  return () => {
    let folded = 0;
    for (let index = 0; index < lookupsPerIteration; index += 1) {
      folded = (folded + lookup(lookupKeys[cursor] as string)) | 0;
      cursor = cursor + 1 === lookupKeyCount ? 0 : cursor + 1;
    }
    return folded;
  };
}

// Both rings answer with a node of the list, for every key (checked once, untimed).
for (const key of lookupKeys.slice(0, 1_000)) {
  assert.ok(nodeIndex.has(ring.nodeFor(key)));
  assert.ok(nodeIndex.has(peerRing.get(key)));
}

const lookupUnit = { name: 'lookup', countPerIteration: lookupsPerIteration };

const report = await runBenchmarks({
  module: 'partition',
  comparisons: [
    {
      title: `Ring lookup: ${nodeCount} nodes × 160 points, ${lookupKeyCount.toLocaleString('en')} distinct keys in turn`,
      distkit: {
        name: 'distkit ConsistentHashRing.nodeFor',
        run: lookupLoop((key) => (ring.nodeFor(key) as string).length),
      },
      peers: [
        {
          name: 'hashring get (MD5, 160 points, LRU cache 5,000)',
          run: lookupLoop((key) => peerRing.get(key).length),
        },
      ],
      unit: lookupUnit,
    },
    {
      title: `Rendezvous lookup: ${nodeCount} nodes`,
      distkit: {
        name: 'distkit RendezvousHash.nodeFor',
        run: lookupLoop((key) => rendezvous.nodeFor(key).length),
      },
      peers: [],
      unit: lookupUnit,
    },
    {
      title: `Jump hash lookup: ${nodeCount} buckets`,
      distkit: { name: 'distkit jumpBucket', run: lookupLoop((key) => jumpBucket(key, nodeCount)) },
      peers: [],
      unit: lookupUnit,
    },
    {
      title: `Maglev lookup: ${nodeCount} nodes, M = 65,537`,
      distkit: {
        name: 'distkit MaglevTable.nodeFor',
        run: lookupLoop((key) => maglev.nodeFor(key).length),
      },
      peers: [],
      unit: lookupUnit,
    },
    {
      title: `Hash partitioning: hashKey mod ${nodeCount}`,
      distkit: {
        name: 'distkit hashPartition',
        run: lookupLoop((key) => hashPartition(key, nodeCount)),
      },
      peers: [],
      unit: lookupUnit,
    },
    {
      title: 'MurmurHash3 x86_32 of a short ASCII key (about 15 bytes)',
      distkit: { name: 'distkit murmur3', run: lookupLoop((key) => murmur3(key)) },
      peers: [],
      unit: { name: 'hash', countPerIteration: lookupsPerIteration },
    },
    {
      title: 'xxHash32 of a short ASCII key (about 15 bytes, encoded to UTF-8 first)',
      distkit: { name: 'distkit xxHash32', run: lookupLoop((key) => xxHash32(key)) },
      peers: [],
      unit: { name: 'hash', countPerIteration: lookupsPerIteration },
    },
  ],
});

// ---------------------------------------------------------------------------------------
// Not timed: load spread and key movement, the figures docs/partition.md quotes.

const spreadKeyCount = 1_000_000;
const spreadKeys = Array.from({ length: spreadKeyCount }, (_, index) => `key:${index}`);

/** max load / mean load when `spreadKeys` are placed with `place`. */
function maxOverMean(place: (key: string) => string, keys: readonly string[] = spreadKeys): number {
  const loads = new Map<string, number>();
  for (const key of keys) {
    const node = place(key);
    loads.set(node, (loads.get(node) ?? 0) + 1);
  }
  let max = 0;
  for (const load of loads.values()) {
    max = Math.max(max, load);
  }
  return Number((max / (keys.length / nodeCount)).toFixed(4));
}

const spreadRows: { scheme: string; maxOverMean: number }[] = [];
for (const virtualNodeCount of [16, 64, 160, 256]) {
  const sized = new ConsistentHashRing({ nodes, virtualNodeCount });
  spreadRows.push({
    scheme: `ring, ${virtualNodeCount} virtual nodes`,
    maxOverMean: maxOverMean((key) => sized.nodeFor(key)),
  });
}
spreadRows.push({
  scheme: 'hashring (160 points)',
  maxOverMean: maxOverMean((key) => peerRing.get(key)),
});
spreadRows.push({
  scheme: 'jump',
  maxOverMean: maxOverMean((key) => String(jumpBucket(key, nodeCount))),
});
spreadRows.push({
  scheme: 'rendezvous',
  maxOverMean: maxOverMean((key) => rendezvous.nodeFor(key)),
});
spreadRows.push({
  scheme: 'Maglev (M = 65,537)',
  maxOverMean: maxOverMean((key) => maglev.nodeFor(key)),
});
spreadRows.push({
  scheme: 'hash mod N',
  maxOverMean: maxOverMean((key) => String(hashPartition(key, nodeCount))),
});
for (const balanceFactor of [0.25, 0.1]) {
  const bounded = new BoundedLoadRing({ nodes, balanceFactor });
  spreadRows.push({
    scheme: `bounded-load ring, ε = ${balanceFactor}`,
    maxOverMean: maxOverMean((key) => bounded.place(key)),
  });
}

// A skewed workload: 1,000,000 requests over 10,000 keys with Zipf(1) popularity. Plain
// consistent hashing sends every request for a key to one node; bounded loads cap it.
const zipfRandom = new SeededRandom({ seed: 1 }).fork('zipf');
const skewedKeys = Array.from(
  { length: spreadKeyCount },
  () => `item:${zipfRandom.zipf(10_000, 1)}`,
);
const boundedSkewed = new BoundedLoadRing({ nodes, balanceFactor: 0.25 });
const skewedRows = [
  {
    scheme: 'ring, 160 virtual nodes',
    maxOverMean: maxOverMean((key) => ring.nodeFor(key), skewedKeys),
  },
  { scheme: 'rendezvous', maxOverMean: maxOverMean((key) => rendezvous.nodeFor(key), skewedKeys) },
  {
    scheme: 'bounded-load ring, ε = 0.25',
    maxOverMean: maxOverMean((key) => boundedSkewed.place(key), skewedKeys),
  },
];

console.log(
  `\nLoad spread (max/mean) for ${nodeCount} nodes, ${spreadKeyCount.toLocaleString('en')} distinct keys:`,
);
for (const row of spreadRows) {
  console.log(`  ${row.scheme.padEnd(34)} ${row.maxOverMean.toFixed(3)}`);
}
console.log('\nLoad spread (max/mean) for 1,000,000 Zipf(1) requests over 10,000 keys:');
for (const row of skewedRows) {
  console.log(`  ${row.scheme.padEnd(34)} ${row.maxOverMean.toFixed(3)}`);
}

/** Fraction of 100,000 keys that change node, times the ideal's inverse (1.0 = ideal). */
function movement(
  before: (key: string) => string,
  after: (key: string) => string,
  ideal: number,
): { movedFraction: number; overIdeal: number } {
  const keys = spreadKeys.slice(0, 100_000);
  let moved = 0;
  for (const key of keys) {
    if (before(key) !== after(key)) {
      moved += 1;
    }
  }
  const fraction = moved / keys.length;
  return {
    movedFraction: Number(fraction.toFixed(4)),
    overIdeal: Number((fraction / ideal).toFixed(3)),
  };
}

const joining = '10.0.0.11:11211';
const leaving = nodes[3] as string;
const ringJoined = ring.withNode(joining);
const ringLeft = ring.withoutNode(leaving);
const hrwJoined = rendezvous.withNode(joining);
const hrwLeft = rendezvous.withoutNode(leaving);
const maglevJoined = maglev.withNode(joining);
const maglevLeft = maglev.withoutNode(leaving);
const movementRows = [
  {
    scheme: 'ring, 160 virtual nodes',
    join: movement(
      (key) => ring.nodeFor(key),
      (key) => ringJoined.nodeFor(key),
      1 / 11,
    ),
    leave: movement(
      (key) => ring.nodeFor(key),
      (key) => ringLeft.nodeFor(key),
      1 / 10,
    ),
  },
  {
    scheme: 'rendezvous',
    join: movement(
      (key) => rendezvous.nodeFor(key),
      (key) => hrwJoined.nodeFor(key),
      1 / 11,
    ),
    leave: movement(
      (key) => rendezvous.nodeFor(key),
      (key) => hrwLeft.nodeFor(key),
      1 / 10,
    ),
  },
  {
    scheme: 'Maglev (M = 65,537)',
    join: movement(
      (key) => maglev.nodeFor(key),
      (key) => maglevJoined.nodeFor(key),
      1 / 11,
    ),
    leave: movement(
      (key) => maglev.nodeFor(key),
      (key) => maglevLeft.nodeFor(key),
      1 / 10,
    ),
  },
  {
    scheme: 'jump (last bucket added/removed)',
    join: movement(
      (key) => String(jumpBucket(key, 10)),
      (key) => String(jumpBucket(key, 11)),
      1 / 11,
    ),
    leave: movement(
      (key) => String(jumpBucket(key, 10)),
      (key) => String(jumpBucket(key, 9)),
      1 / 10,
    ),
  },
  {
    scheme: 'hash mod N',
    join: movement(
      (key) => String(hashPartition(key, 10)),
      (key) => String(hashPartition(key, 11)),
      1 / 11,
    ),
    leave: movement(
      (key) => String(hashPartition(key, 10)),
      (key) => String(hashPartition(key, 9)),
      1 / 10,
    ),
  },
];
console.log(
  '\nKey movement, 100,000 keys, 10 nodes (fraction moved; 1.0x = the ideal 1/11 or 1/10):',
);
for (const row of movementRows) {
  console.log(
    `  ${row.scheme.padEnd(34)} join ${row.join.movedFraction.toFixed(4)} (${row.join.overIdeal}x)   leave ${row.leave.movedFraction.toFixed(4)} (${row.leave.overIdeal}x)`,
  );
}

const ringComparison = report.comparisons[0];
const ringRatio = ringComparison?.ratios[0]?.distkitOverPeer;
console.log(`\nRing lookups: distkit / hashring = ${ringRatio}x`);

// The harness has written the results file; add the untimed figures to it.
const resultsPath = new URL('./results/partition.json', import.meta.url);
const written = JSON.parse(readFileSync(resultsPath, 'utf8')) as Record<string, unknown>;
written['loadSpread'] = {
  note: `max load / mean load over ${nodeCount} nodes; distinct keys: ${spreadKeyCount} keys key:0 … key:${spreadKeyCount - 1}; skewed: ${spreadKeyCount} requests, Zipf(1) over 10,000 keys (SeededRandom seed 1, fork 'zipf').`,
  distinctKeys: spreadRows,
  zipfRequests: skewedRows,
};
written['movement'] = {
  note: 'Fraction of 100,000 keys whose node changes when an 11th node joins or node 4 of 10 leaves; overIdeal = fraction / (1/11) or / (1/10).',
  rows: movementRows,
};
writeFileSync(resultsPath, `${JSON.stringify(written, null, 2)}\n`);
