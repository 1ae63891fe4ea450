import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operation } from '../../src/check/index.js';
import { lostWrites, percentile, staleReads, timeSeries } from '../../src/lab/index.js';

let nextProcess = 0;
function write(key: string, value: number, invokeTime: number, returnTime?: number): Operation {
  nextProcess += 1;
  return {
    process: nextProcess,
    kind: 'write',
    key,
    input: value,
    invokeTime,
    ...(returnTime === undefined ? { status: 'unknown' } : { status: 'ok', returnTime }),
  };
}
function read(
  key: string,
  output: number | null,
  invokeTime: number,
  returnTime: number,
): Operation {
  nextProcess += 1;
  return { process: nextProcess, kind: 'read', key, output, invokeTime, returnTime, status: 'ok' };
}

describe('lab measures', () => {
  it('a stale read returns a value replaced before the read began; overlapping writes never make one', () => {
    const w1 = write('k', 1, 0, 10);
    const w2 = write('k', 2, 20, 30);
    const fresh = read('k', 2, 40, 45);
    const stale = read('k', 1, 50, 55);
    const staleNull = read('k', null, 60, 65);
    const overlapping = write('k', 3, 25, 70);
    const raced = read('k', 2, 66, 68); // w3 still running: 2 is not replaced yet
    const found = staleReads([w1, w2, fresh, stale, staleNull, overlapping, raced]);
    assert.deepEqual(
      found.map((entry) => entry.read),
      [stale, staleNull],
    );
    assert.equal(found[0]?.replacedBy, w2);
  });

  it('a lost write is acknowledged and the key went back past it; an overwrite by an overlapping write is not lost', () => {
    const old = write('k', 1, 0, 10);
    const lost = write('k', 2, 20, 30);
    const kept = write('j', 3, 0, 10);
    const a = write('m', 4, 0, 50);
    const b = write('m', 5, 10, 40); // overlaps a; a survives
    const later = write('n', 6, 0, 10);
    const newer = write('n', 7, 20, 30); // began after `later` completed and survives
    const held = new Map([
      ['k', new Set(['1'])],
      ['j', new Set(['3'])],
      ['m', new Set(['4'])],
      ['n', new Set(['7'])],
    ]);
    const result = lostWrites([old, lost, kept, a, b, later, newer], held);
    assert.deepEqual(result.lost, [lost]);
    assert.deepEqual(result.overwritten, [b]);
  });

  it('percentiles by nearest rank, and a time series by invocation time', () => {
    assert.equal(percentile([], 0.5), undefined);
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
    assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
    const series = timeSeries(
      [write('k', 1, 5, 15), write('k', 2, 150), read('k', 1, 160, 190)],
      300,
      100,
    );
    assert.deepEqual(
      series.map((bucket) => [bucket.startMs, bucket.ok, bucket.failed, bucket.latencyP50Ms]),
      [
        [0, 1, 0, 10],
        [100, 1, 1, 30],
        [200, 0, 0, undefined],
      ],
    );
  });
});
