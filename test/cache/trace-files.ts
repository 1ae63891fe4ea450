/**
 * The real cache access traces in `../shared/testdata/cache-traces/` (relative to the
 * repository root; never copied in), their reference rows, and two obviously correct
 * simulators to check them against: an exact LRU and Belady's optimal policy (OPT).
 *
 * Shared by `test/cache/traces.test.ts` and `bench/cache.bench.ts`. Run it directly to
 * print the LRU and OPT columns next to the reference table:
 *
 *     npx tsx test/cache/trace-files.ts
 *
 * @module
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The repository root: two folders above this file. */
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the traces live: `../shared/testdata/cache-traces` from the repository root. */
export const tracesFolder = resolve(repositoryRoot, '..', 'shared', 'testdata', 'cache-traces');

/**
 * `false` when the traces folder exists; otherwise the reason to skip, for
 * `describe(..., { skip: tracesMissing })`.
 */
export const tracesMissing: string | false = existsSync(tracesFolder)
  ? false
  : `shared cache traces not found at ${tracesFolder}; the hit-ratio cases need them`;

/** The names of the shared traces, as in their file names. */
export const traceNames = [
  'lirs-gli',
  'lirs-loop',
  'lirs-multi2',
  'lirs-sprite',
  'lirs-2_pools',
  'cache2k-web07',
  'cache2k-orm-busy',
] as const;

/** One of {@link traceNames}. */
export type TraceName = (typeof traceNames)[number];

/** The size of a trace, from the reference table. */
export interface TraceCounts {
  /** How many accesses the trace holds. */
  readonly accesses: number;
  /** How many distinct keys it accesses. */
  readonly distinct: number;
}

/** Access and distinct-key counts of every trace, from the reference table. */
export const traceCounts: Readonly<Record<TraceName, TraceCounts>> = {
  'lirs-gli': { accesses: 6_015, distinct: 2_529 },
  'lirs-loop': { accesses: 505_500, distinct: 1_011 },
  'lirs-multi2': { accesses: 26_311, distinct: 5_684 },
  'lirs-sprite': { accesses: 133_996, distinct: 7_075 },
  'lirs-2_pools': { accesses: 100_000, distinct: 9_939 },
  'cache2k-web07': { accesses: 76_118, distinct: 20_484 },
  'cache2k-orm-busy': { accesses: 5_000_000, distinct: 76_349 },
};

/** One row of the reference table: a trace at one cache size. */
export interface ReferenceRow {
  readonly trace: TraceName;
  /** Cache capacity in entries. */
  readonly size: number;
  /** Hit ratio of an exact LRU, in percent, to one decimal. */
  readonly lruPercent: number;
  /** Hit ratio of Belady's optimal policy, in percent, to one decimal. */
  readonly optPercent: number;
}

/**
 * The reference rows of `../shared/testdata/README.md`, section "cache-traces", computed
 * independently of distkit. An exact LRU reproduces the LRU column to the decimal.
 */
export const referenceRows: readonly ReferenceRow[] = [
  { trace: 'lirs-gli', size: 1000, lruPercent: 11.2, optPercent: 53.1 },
  { trace: 'lirs-gli', size: 2000, lruPercent: 57.4, optPercent: 58.0 },
  { trace: 'lirs-loop', size: 512, lruPercent: 0.0, optPercent: 50.5 },
  { trace: 'lirs-multi2', size: 1000, lruPercent: 47.8, optPercent: 62.2 },
  { trace: 'lirs-multi2', size: 2000, lruPercent: 49.0, optPercent: 74.6 },
  { trace: 'lirs-sprite', size: 100, lruPercent: 21.6, optPercent: 50.8 },
  { trace: 'lirs-2_pools', size: 500, lruPercent: 51.1, optPercent: 62.8 },
  { trace: 'cache2k-web07', size: 1000, lruPercent: 50.4, optPercent: 63.6 },
  { trace: 'cache2k-orm-busy', size: 5000, lruPercent: 85.5, optPercent: 91.4 },
];

const decoded = new Map<TraceName, Int32Array>();

/**
 * The keys of a trace in access order. Decoded once per process and kept in memory; do
 * not modify the array. Throws when the file is missing or malformed, or when `xz` is
 * not installed for a `cache2k-*` trace.
 */
export function readTrace(name: TraceName): Int32Array {
  let keys = decoded.get(name);
  if (keys === undefined) {
    if (!traceNames.includes(name)) {
      throw new Error(`unknown cache trace '${name}'; known: ${traceNames.join(', ')}`);
    }
    keys = name.startsWith('lirs-') ? readLirsTrace(name) : readCache2kTrace(name);
    decoded.set(name, keys);
  }
  return keys;
}

/** gzipped text, one key per line ending in `\r\n`; blank lines and `*` lines skipped. */
function readLirsTrace(name: TraceName): Int32Array {
  const path = join(tracesFolder, `${name}.trace.gz`);
  const text = gunzipSync(readFileSync(path)).toString('latin1');
  const lines = text.split('\n');
  const keys = new Int32Array(lines.length);
  let count = 0;
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] as string).trim();
    if (line === '' || line === '*') {
      continue;
    }
    const key = Number(line);
    if (!Number.isInteger(key) || key < -(2 ** 31) || key >= 2 ** 31) {
      throw new Error(`${path}, line ${index + 1}: '${line}' is not a 32-bit integer key`);
    }
    keys[count] = key;
    count += 1;
  }
  return keys.slice(0, count);
}

/** xz-compressed 32-bit big-endian signed integers, decoded by the `xz` command. */
function readCache2kTrace(name: TraceName): Int32Array {
  const path = join(tracesFolder, `${name}.trace.xz`);
  if (!existsSync(path)) {
    throw new Error(`cache trace not found: ${path}`);
  }
  let bytes: Buffer;
  try {
    bytes = execFileSync('xz', ['-dc', path], { maxBuffer: 1 << 30 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `reading ${path} needs the xz command (Node.js has no xz decoder); install xz-utils`,
      );
    }
    throw new Error(`xz -dc ${path} failed: ${(error as Error).message}`);
  }
  if (bytes.length % 4 !== 0) {
    throw new Error(`${path}: ${bytes.length} bytes is not a whole number of 32-bit keys`);
  }
  const keys = new Int32Array(bytes.length / 4);
  for (let index = 0; index < keys.length; index += 1) {
    keys[index] = bytes.readInt32BE(index * 4);
  }
  return keys;
}

/** How many distinct keys `keys` holds. */
export function countDistinct(keys: Int32Array): number {
  return new Set(keys).size;
}

/** The hit ratio in percent, rounded to one decimal as the reference table prints it. */
export function percentOneDecimal(hits: number, accesses: number): number {
  return Number(((hits / accesses) * 100).toFixed(1));
}

/**
 * Hits of an exact LRU cache of `capacity` entries over `keys`, the obvious way: a Map in
 * recency order (a hit deletes and re-inserts the key; a miss inserts it and, when the
 * cache is over capacity, drops the first key, the least recently used).
 */
export function simulateLru(keys: Int32Array, capacity: number): number {
  const cache = new Map<number, true>();
  let hits = 0;
  for (const key of keys) {
    if (cache.delete(key)) {
      hits += 1;
    } else if (cache.size === capacity) {
      cache.delete(cache.keys().next().value as number);
    }
    cache.set(key, true);
  }
  return hits;
}

/** The part of a cache the trace replay uses: distkit's `Cache` and lru-cache both fit. */
export interface TraceCache {
  /** The value cached for `key`, or `undefined` on a miss; counts as a use. */
  get(key: number): unknown;
  /** Stores `value` for `key`, evicting if the cache is full. */
  set(key: number, value: number): unknown;
}

/**
 * Replays `keys` against `cache` as a demand cache (get; on a miss, set) and returns the
 * number of hits.
 */
export function simulateCache(keys: Int32Array, cache: TraceCache): number {
  let hits = 0;
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index] as number;
    if (cache.get(key) === undefined) {
      cache.set(key, key);
    } else {
      hits += 1;
    }
  }
  return hits;
}

/**
 * For every access, the index of the next access to the same key, or `keys.length` when
 * there is none.
 */
export function nextUseIndices(keys: Int32Array): Int32Array {
  const next = new Int32Array(keys.length);
  const seen = new Map<number, number>();
  for (let index = keys.length - 1; index >= 0; index -= 1) {
    const key = keys[index] as number;
    next[index] = seen.get(key) ?? keys.length;
    seen.set(key, index);
  }
  return next;
}

/**
 * Hits of Belady's optimal policy with a cache of `capacity` entries over `keys`: every
 * miss is admitted, and when the cache is full the entry whose next use lies furthest in
 * the future is evicted. The cached entries sit in a binary max-heap ordered by next use,
 * with each key's heap slot tracked so a hit can move its entry in place: O(n log c).
 */
export function simulateOpt(keys: Int32Array, capacity: number): number {
  const next = nextUseIndices(keys);
  // Dense ids for the keys, so the slot of each key fits in a typed array.
  const ids = new Map<number, number>();
  for (const key of keys) {
    if (!ids.has(key)) {
      ids.set(key, ids.size);
    }
  }
  const slotOf = new Int32Array(ids.size).fill(-1);
  const heapId = new Int32Array(capacity);
  const heapNext = new Int32Array(capacity);
  let size = 0;

  const place = (slot: number, id: number, nextUse: number): void => {
    heapId[slot] = id;
    heapNext[slot] = nextUse;
    slotOf[id] = slot;
  };
  const siftUp = (start: number): void => {
    let slot = start;
    const id = heapId[slot] as number;
    const nextUse = heapNext[slot] as number;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if ((heapNext[parent] as number) >= nextUse) {
        break;
      }
      place(slot, heapId[parent] as number, heapNext[parent] as number);
      slot = parent;
    }
    place(slot, id, nextUse);
  };
  const siftDown = (start: number): void => {
    let slot = start;
    const id = heapId[slot] as number;
    const nextUse = heapNext[slot] as number;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= size) {
        break;
      }
      const right = left + 1;
      const child =
        right < size && (heapNext[right] as number) > (heapNext[left] as number) ? right : left;
      if ((heapNext[child] as number) <= nextUse) {
        break;
      }
      place(slot, heapId[child] as number, heapNext[child] as number);
      slot = child;
    }
    place(slot, id, nextUse);
  };

  let hits = 0;
  for (let index = 0; index < keys.length; index += 1) {
    const id = ids.get(keys[index] as number) as number;
    const nextUse = next[index] as number;
    const slot = slotOf[id] as number;
    if (slot >= 0) {
      // A hit: the entry's next use was this access; it moves later, so up the max-heap.
      hits += 1;
      heapNext[slot] = nextUse;
      siftUp(slot);
      continue;
    }
    if (size === capacity) {
      // Evict the root, the entry used furthest in the future (or never again).
      slotOf[heapId[0] as number] = -1;
      size -= 1;
      if (size > 0) {
        place(0, heapId[size] as number, heapNext[size] as number);
        siftDown(0);
      }
    }
    place(size, id, nextUse);
    size += 1;
    siftUp(size - 1);
  }
  return hits;
}

function printTable(): void {
  console.log('trace             accesses  distinct  size   LRU   ref  OPT   ref');
  let mismatches = 0;
  const checked = new Set<TraceName>();
  for (const row of referenceRows) {
    const keys = readTrace(row.trace);
    const counts = traceCounts[row.trace];
    if (!checked.has(row.trace)) {
      checked.add(row.trace);
      const distinct = countDistinct(keys);
      if (keys.length !== counts.accesses || distinct !== counts.distinct) {
        mismatches += 1;
        console.log(
          `  ${row.trace}: ${keys.length} accesses, ${distinct} distinct; the table says ` +
            `${counts.accesses} and ${counts.distinct}`,
        );
      }
    }
    const lru = percentOneDecimal(simulateLru(keys, row.size), keys.length);
    const opt = percentOneDecimal(simulateOpt(keys, row.size), keys.length);
    if (lru !== row.lruPercent || opt !== row.optPercent) {
      mismatches += 1;
    }
    console.log(
      `${row.trace.padEnd(17)} ${String(keys.length).padStart(8)}  ${String(counts.distinct).padStart(8)}  ` +
        `${String(row.size).padStart(4)}  ${lru.toFixed(1).padStart(4)}  ${row.lruPercent.toFixed(1).padStart(4)}` +
        `  ${opt.toFixed(1).padStart(4)}  ${row.optPercent.toFixed(1).padStart(4)}`,
    );
  }
  console.log(mismatches === 0 ? 'every figure matches' : `${mismatches} mismatches`);
  process.exitCode = mismatches === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable();
}
