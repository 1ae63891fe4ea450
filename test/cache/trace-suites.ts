/**
 * The hit-ratio suites on the real traces of ../shared/testdata/cache-traces (see
 * trace-files.ts), for a chosen set of traces: traces.test.ts runs them on every trace but
 * cache2k-orm-busy, traces.soak.ts on cache2k-orm-busy (5,000,000 accesses; distkit's LFU
 * alone takes 10 to 20 s on it). These are deterministic results of replaying a fixed
 * sequence, not timings: the policies run on a ManualClock and a SeededRandom.
 *
 * @module
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cache, type CachePolicy } from '../../src/cache/index.js';
import { ManualClock, SeededRandom } from '../../src/core/index.js';
import {
  countDistinct,
  percentOneDecimal,
  type ReferenceRow,
  readTrace,
  referenceRows,
  simulateCache,
  simulateLru,
  simulateOpt,
  type TraceName,
  traceCounts,
  tracesMissing,
} from './trace-files.js';

const policies: readonly CachePolicy[] = ['lru', 'lfu', 'slru', 'arc', 'w-tinylfu'];
const seed = 8;

function rowName(row: ReferenceRow): string {
  return `${row.trace} at ${row.size}`;
}

const memo = new Map<string, number>();

function memoized(key: string, compute: () => number): number {
  let value = memo.get(key);
  if (value === undefined) {
    value = compute();
    memo.set(key, value);
  }
  return value;
}

/** Hits of a distkit cache with `policy` (the default when undefined) on a row. */
function distkitHits(row: ReferenceRow, policy: CachePolicy | undefined): number {
  return memoized(`${policy ?? 'default'} ${row.trace} ${row.size}`, () => {
    const cache = new Cache<number, number>({
      maxEntries: row.size,
      ...(policy === undefined ? {} : { policy }),
      clock: new ManualClock(),
      random: new SeededRandom({ seed }),
    });
    return simulateCache(readTrace(row.trace), cache);
  });
}

function lruHits(row: ReferenceRow): number {
  return memoized(`reference-lru ${row.trace} ${row.size}`, () =>
    simulateLru(readTrace(row.trace), row.size),
  );
}

function optHits(row: ReferenceRow): number {
  return memoized(`reference-opt ${row.trace} ${row.size}`, () =>
    simulateOpt(readTrace(row.trace), row.size),
  );
}

/** Percentage points, unrounded. */
function points(hits: number, row: ReferenceRow): number {
  return (hits / traceCounts[row.trace].accesses) * 100;
}

/**
 * Declares the hit-ratio suites for the reference rows of the traces in `names`; skipped
 * with a message when the shared traces are missing.
 */
export function describeTraceSuites(names: readonly TraceName[]): void {
  const rows = referenceRows.filter((row) => names.includes(row.trace));
  describe('the shared cache traces and their reference table', { skip: tracesMissing }, () => {
    for (const name of names) {
      it(`${name} has the access and distinct-key counts of the table`, () => {
        const keys = readTrace(name);
        assert.equal(keys.length, traceCounts[name].accesses);
        assert.equal(countDistinct(keys), traceCounts[name].distinct);
      });
    }

    for (const row of rows) {
      it(`${rowName(row)}: the reference simulators give LRU ${row.lruPercent}% and OPT ${row.optPercent}%`, () => {
        const accesses = traceCounts[row.trace].accesses;
        assert.equal(percentOneDecimal(lruHits(row), accesses), row.lruPercent);
        assert.equal(percentOneDecimal(optHits(row), accesses), row.optPercent);
        // OPT is optimal among demand caches, LRU is one of them.
        assert.ok(optHits(row) >= lruHits(row));
      });
    }
  });

  describe('distkit LRU reproduces the reference LRU column exactly', {
    skip: tracesMissing,
  }, () => {
    for (const row of rows) {
      it(`${rowName(row)}: ${row.lruPercent}%, the same hit count as an exact LRU`, () => {
        const hits = distkitHits(row, 'lru');
        assert.equal(hits, lruHits(row));
        assert.equal(percentOneDecimal(hits, traceCounts[row.trace].accesses), row.lruPercent);
      });
    }
  });

  describe("the default policy's hit-ratio targets", { skip: tracesMissing }, () => {
    const nearOpt = rows.filter(
      (row) =>
        (row.trace === 'lirs-gli' && row.size === 1000) ||
        (row.trace === 'lirs-loop' && row.size === 512),
    );
    for (const row of nearOpt) {
      it(`${rowName(row)}: within 3 points of OPT (${row.optPercent}%)`, () => {
        const hits = distkitHits(row, undefined);
        const gap = points(optHits(row) - hits, row);
        assert.ok(
          gap <= 3,
          `the default policy hits ${points(hits, row).toFixed(2)}%, ${gap.toFixed(2)} points below OPT`,
        );
      });
    }

    for (const row of rows) {
      it(`${rowName(row)}: no worse than LRU (${row.lruPercent}%) by more than 1 point`, () => {
        const hits = distkitHits(row, undefined);
        const loss = points(lruHits(row) - hits, row);
        assert.ok(
          loss <= 1,
          `the default policy hits ${points(hits, row).toFixed(2)}%, ${loss.toFixed(2)} points below LRU`,
        );
      });
    }
  });

  describe('every policy on every reference row', { skip: tracesMissing }, () => {
    it('reports the table; no policy hits more often than the accesses after each first use', (t) => {
      const lines = [`row: OPT LRU | ${policies.join(' ')}`];
      for (const row of rows) {
        const counts = traceCounts[row.trace];
        const figures = policies.map((policy) => {
          const hits = distkitHits(row, policy);
          // Every first access to a key is a miss, whatever the policy.
          assert.ok(hits >= 0 && hits <= counts.accesses - counts.distinct, `${policy}: ${hits}`);
          return points(hits, row).toFixed(1);
        });
        lines.push(
          `${rowName(row)}: ${row.optPercent.toFixed(1)} ${row.lruPercent.toFixed(1)} | ${figures.join(' ')}`,
        );
      }
      for (const line of lines) {
        t.diagnostic(line);
      }
    });
  });
}
