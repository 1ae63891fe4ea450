import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operation } from '../../src/check/index.js';
import {
  checkConsistency,
  lostWrites,
  percentile,
  staleReads,
  timeSeries,
} from '../../src/lab/index.js';

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

  it('consistency verdicts: a stale read is sequential and causal but not linearizable; a reader seeing two writes of one writer out of order is neither', () => {
    /** An operation of client `process` (sessions are process % 2 here). */
    const op = (process: number, fields: Partial<Operation>): Operation =>
      ({ process, status: 'ok', ...fields }) as Operation;
    const linearizable = [
      op(0, { kind: 'write', key: 'k', input: 1, invokeTime: 0, returnTime: 10 }),
      op(1, { kind: 'read', key: 'k', output: 1, invokeTime: 20, returnTime: 30 }),
    ];
    const fine = checkConsistency(linearizable, 2);
    assert.deepEqual(
      [fine.consistency.linearizable, fine.consistency.sequential, fine.consistency.causal],
      ['ok', 'ok', 'ok'],
    );

    // Client 1 reads nothing after client 0's write completed: ordering the read first
    // explains it, so only real time is broken.
    const stale = [
      op(0, { kind: 'write', key: 'k', input: 1, invokeTime: 0, returnTime: 10 }),
      op(1, { kind: 'read', key: 'k', output: null, invokeTime: 20, returnTime: 30 }),
    ];
    const staleVerdicts = checkConsistency(stale, 2);
    assert.deepEqual(
      [
        staleVerdicts.consistency.linearizable,
        staleVerdicts.consistency.sequential,
        staleVerdicts.consistency.causal,
      ],
      ['violation', 'ok', 'ok'],
    );

    // Client 0 writes 1 then 2; client 1 reads 2 then 1: no order keeps both programs, and
    // the second read goes against the causal order 1 -> 2 that the first read revealed.
    const reordered = [
      op(0, { kind: 'write', key: 'k', input: 1, invokeTime: 0, returnTime: 10 }),
      op(0, { kind: 'write', key: 'k', input: 2, invokeTime: 20, returnTime: 30 }),
      op(1, { kind: 'read', key: 'k', output: 2, invokeTime: 40, returnTime: 50 }),
      op(1, { kind: 'read', key: 'k', output: 1, invokeTime: 60, returnTime: 70 }),
    ];
    const broken = checkConsistency(reordered, 2);
    assert.deepEqual(
      [broken.consistency.linearizable, broken.consistency.sequential, broken.consistency.causal],
      ['violation', 'violation', 'violation'],
    );
    assert.ok(broken.anomalies.some((anomaly) => anomaly.kind === 'not-causal'));

    // With causality out of the picture (a budget of one step), the search alone decides
    // nothing: the verdict is unknown, never a guess.
    const undecided = checkConsistency(stale, 2, { sequentialStepCountMax: 1 });
    assert.equal(undecided.consistency.sequential, 'unknown');
  });
});
