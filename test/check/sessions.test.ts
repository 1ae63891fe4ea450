import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkBoundedStaleness,
  checkConvergence,
  checkMonotonicReads,
  checkMonotonicWrites,
  checkReadYourWrites,
  checkSessionGuarantees,
  checkWritesFollowReads,
  isSessionHistoryError,
  type SessionCheckResult,
  type SessionOperation,
} from '../../src/check/index.js';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';

/** A completed write of `value` to `key` by process `process` over [start, end]. */
function put(process: number, key: string, value: string, start: number, end: number) {
  return {
    process,
    kind: 'put',
    key,
    input: value,
    invokeTime: start,
    returnTime: end,
    status: 'ok' as const,
  };
}

/** A completed read of `key` returning `value` ('' for absent). */
function get(process: number, key: string, value: string, start: number, end: number) {
  return {
    process,
    kind: 'get',
    key,
    output: value,
    invokeTime: start,
    returnTime: end,
    status: 'ok' as const,
  };
}

function violation(result: SessionCheckResult) {
  assert.equal(result.verdict, 'violation', 'expected a violation');
  if (result.verdict !== 'violation') {
    throw new Error('unreachable');
  }
  return result;
}

describe('read-your-writes', () => {
  it('accepts a session that reads its own write', () => {
    const history = [put(1, 'x', 'a', 0, 1), get(1, 'x', 'a', 2, 3), get(2, 'x', '', 2, 3)];
    assert.equal(checkReadYourWrites(history).verdict, 'ok');
  });
  it('accepts a read of a newer write by another session', () => {
    const history = [put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 3), get(1, 'x', 'b', 4, 5)];
    assert.equal(checkReadYourWrites(history).verdict, 'ok');
  });
  it('catches a stale read after a completed write in the same session', () => {
    const history = [put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(1, 'x', 'a', 4, 5)];
    const result = violation(checkReadYourWrites(history));
    const first = result.violations[0];
    assert.equal(first?.session, 1);
    assert.equal(first?.key, 'x');
    assert.equal(first?.guarantee, 'read-your-writes');
    assert.deepEqual(
      first?.operations.map((operation) => operation.invokeTime),
      [0, 2, 4],
    );
    assert.match(result.message, /read-your-writes broken in session 1/);
  });
  it('catches a read of the initial value after the session wrote', () => {
    const history = [put(1, 'x', 'a', 0, 1), get(1, 'x', '', 2, 3)];
    assert.match(violation(checkReadYourWrites(history)).message, /initial value/);
  });
  it('uses an explicit session field instead of the process', () => {
    const history: SessionOperation[] = [
      { ...put(1, 'x', 'a', 0, 1), session: 's' },
      { ...get(2, 'x', '', 2, 3), session: 's' },
    ];
    assert.equal(violation(checkReadYourWrites(history)).violations[0]?.session, 's');
    assert.equal(checkReadYourWrites(history.map(({ session, ...rest }) => rest)).verdict, 'ok');
  });
});

describe('monotonic reads', () => {
  it('accepts reads that move forward, and concurrent writes read in either order', () => {
    const history = [
      put(1, 'x', 'a', 0, 10),
      put(2, 'x', 'b', 0, 10),
      get(3, 'x', 'b', 1, 2),
      get(3, 'x', 'a', 3, 4),
      get(3, 'x', 'b', 5, 6),
    ];
    assert.equal(checkMonotonicReads(history).verdict, 'ok');
  });
  it('catches a read going back in time', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(1, 'x', 'b', 2, 3),
      get(2, 'x', 'b', 4, 5),
      get(2, 'x', 'a', 6, 7),
    ];
    const result = violation(checkMonotonicReads(history));
    assert.equal(result.violations[0]?.session, 2);
    assert.match(result.message, /went back in time/);
    // Session 2 wrote nothing: read-your-writes has nothing to say.
    assert.equal(checkReadYourWrites(history).verdict, 'ok');
  });
});

describe('monotonic writes', () => {
  it('accepts writes seen in session order', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(1, 'y', 'b', 2, 3),
      get(2, 'y', 'b', 4, 5),
      get(2, 'x', 'a', 6, 7),
    ];
    assert.equal(checkMonotonicWrites(history).verdict, 'ok');
  });
  it('catches a reordered write on one key', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(1, 'x', 'b', 2, 3),
      get(2, 'x', 'b', 4, 5),
      get(2, 'x', 'a', 6, 7),
    ];
    const result = violation(checkMonotonicWrites(history));
    assert.match(result.message, /monotonic writes broken, seen by session 2/);
  });
  it('catches a later write visible without the earlier one on another key', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(1, 'y', 'b', 2, 3),
      get(2, 'y', 'b', 4, 5),
      get(2, 'x', '', 6, 7),
    ];
    const result = violation(checkMonotonicWrites(history));
    assert.equal(result.violations[0]?.key, 'x');
    assert.equal(result.violations[0]?.operations.length, 4);
  });
});

describe('writes-follow-reads', () => {
  it('accepts a write seen together with what its writer had read', () => {
    const history = [
      put(1, 'q', 'question', 0, 1),
      get(2, 'q', 'question', 2, 3),
      put(2, 'r', 'answer', 4, 5),
      get(3, 'r', 'answer', 6, 7),
      get(3, 'q', 'question', 8, 9),
    ];
    assert.equal(checkWritesFollowReads(history).verdict, 'ok');
  });
  it('catches a causality inversion: the answer visible without the question', () => {
    const history = [
      put(1, 'q', 'question', 0, 1),
      get(2, 'q', 'question', 2, 3),
      put(2, 'r', 'answer', 4, 5),
      get(3, 'r', 'answer', 6, 7),
      get(3, 'q', '', 8, 9),
    ];
    const result = violation(checkWritesFollowReads(history));
    assert.match(result.message, /causality inversion/);
    // No session wrote two values, so monotonic writes holds.
    assert.equal(checkMonotonicWrites(history).verdict, 'ok');
  });
});

describe('bounded staleness', () => {
  const history = [
    put(1, 'x', 'a', 0, 1),
    put(1, 'x', 'b', 10, 11),
    put(1, 'x', 'c', 20, 21),
    get(2, 'x', 'a', 25, 26),
  ];
  it('by time: accepts a read within the bound and catches one beyond it', () => {
    assert.equal(checkBoundedStaleness(history, { staleMsMax: 15 }).verdict, 'ok');
    const result = violation(checkBoundedStaleness(history, { staleMsMax: 5 }));
    assert.match(result.message, /completed at 11/);
  });
  it('by versions: accepts two missed versions with a bound of two, not of one', () => {
    assert.equal(checkBoundedStaleness(history, { versionCountMax: 2 }).verdict, 'ok');
    const result = violation(checkBoundedStaleness(history, { versionCountMax: 1 }));
    assert.match(result.message, /missing 2 newer writes/);
  });
  it('rejects a history whose writes of one key overlap', () => {
    const overlapping = [put(1, 'x', 'a', 0, 5), put(2, 'x', 'b', 3, 8)];
    assert.throws(
      () => checkBoundedStaleness(overlapping, { staleMsMax: 1 }),
      (error) => isSessionHistoryError(error) && error.problem === 'ineligible-history',
    );
  });
  it('validates its options', () => {
    assert.throws(() => checkBoundedStaleness(history, {}), isInvalidArgumentError);
    assert.throws(
      () => checkBoundedStaleness(history, null as unknown as { staleMsMax: number }),
      isInvalidArgumentError,
    );
    assert.throws(() => checkBoundedStaleness(history, { staleMsMax: -1 }), isInvalidArgumentError);
    assert.throws(
      () => checkBoundedStaleness(history, { versionCountMax: 0.5 }),
      isInvalidArgumentError,
    );
  });
});

describe('convergence after quiescence', () => {
  it('accepts agreeing reads after the settle interval, whatever came before', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'b', 0, 2),
      get(3, 'x', 'a', 3, 4),
      get(1, 'x', 'b', 12, 13),
      get(3, 'x', 'b', 14, 15),
    ];
    assert.equal(checkConvergence(history, { settleMs: 10 }).verdict, 'ok');
  });
  it('catches replicas that never agree (a lost write)', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'b', 0, 2),
      get(1, 'x', 'a', 12, 13),
      get(3, 'x', 'b', 14, 15),
    ];
    const result = violation(checkConvergence(history, { settleMs: 10 }));
    assert.match(result.message, /no convergence on key "x"/);
    assert.throws(() => checkConvergence(history, { settleMs: -1 }), isInvalidArgumentError);
    assert.throws(
      () => checkConvergence(history, undefined as unknown as { settleMs: number }),
      isInvalidArgumentError,
    );
  });
});

describe('preconditions', () => {
  it('rejects a value written twice to one key', () => {
    const history = [put(1, 'x', 'a', 0, 1), put(2, 'x', 'a', 2, 3)];
    assert.throws(
      () => checkReadYourWrites(history),
      (error) => isSessionHistoryError(error) && error.problem === 'duplicate-value',
    );
    // The same value on two keys is fine.
    assert.equal(
      checkReadYourWrites([put(1, 'x', 'a', 0, 1), put(2, 'y', 'a', 2, 3)]).verdict,
      'ok',
    );
  });
  it('rejects a read of a value nobody wrote, and kinds it cannot judge', () => {
    assert.throws(
      () => checkMonotonicReads([get(1, 'x', 'z', 0, 1)]),
      (error) => isSessionHistoryError(error) && error.problem === 'unexplained-read',
    );
    assert.throws(
      () =>
        checkMonotonicReads([
          { process: 1, kind: 'cas', input: [1, 2], invokeTime: 0, returnTime: 1, status: 'ok' },
        ]),
      (error) => isSessionHistoryError(error) && error.problem === 'unsupported-kind',
    );
  });
  it('validates violationCountMax and keeps at most that many violations', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      get(1, 'x', '', 2, 3),
      get(1, 'x', '', 4, 5),
      get(1, 'x', '', 6, 7),
    ];
    const result = violation(checkReadYourWrites(history, { violationCountMax: 2 }));
    assert.equal(result.violations.length, 2);
    assert.equal(result.violationCount, 3);
    assert.throws(
      () => checkReadYourWrites(history, { violationCountMax: 0 }),
      isInvalidArgumentError,
    );
  });
});

/**
 * Clients on a single-copy key-value store: every operation takes effect at one instant
 * inside its interval, so the history is linearizable by construction and must satisfy
 * every session guarantee. Values are unique per key. Some writes end with an unknown
 * outcome (the client crashed and issues nothing more); they took effect, or not.
 */
function singleCopyHistory(
  seed: number,
  processCount: number,
  operationCount: number,
  singleWriter = false,
) {
  const random = new SeededRandom({ seed });
  const keys = ['x', 'y'];
  const freeAt = Array.from({ length: processCount }, () => random.integer(0, 5));
  const crashed = new Set<number>();
  const planned: {
    operation: { -readonly [K in keyof SessionOperation]: SessionOperation[K] };
    effectTime: number;
    takesEffect: boolean;
  }[] = [];
  for (let count = 0; count < operationCount; count += 1) {
    const process = random.integer(0, processCount - 1);
    if (crashed.has(process)) {
      continue;
    }
    const randomKey = keys[random.integer(0, keys.length - 1)] as string;
    const invokeTime = (freeAt[process] as number) + random.integer(0, 3);
    const returnTime = invokeTime + random.integer(1, 12);
    const effectTime = invokeTime + (returnTime - invokeTime) * (0.01 + 0.98 * random.float());
    freeAt[process] = returnTime + 1;
    // With one writer per key, process 0 writes only x and process 1 only y.
    const isWrite = singleWriter
      ? process < keys.length && random.float() < 0.5
      : random.float() < 0.5;
    const key = isWrite && singleWriter ? (keys[process] as string) : randomKey;
    const operation: (typeof planned)[number]['operation'] = isWrite
      ? { process, kind: 'put', key, input: `v${count}`, invokeTime, returnTime, status: 'ok' }
      : { process, kind: 'get', key, invokeTime, returnTime, status: 'ok' };
    let takesEffect = true;
    if (isWrite && random.float() < 0.1) {
      operation.status = 'unknown';
      delete operation.returnTime;
      crashed.add(process);
      takesEffect = random.float() < 0.5;
    }
    planned.push({ operation, effectTime, takesEffect });
  }
  const state = new Map<string, string>();
  for (const step of [...planned].sort((left, right) => left.effectTime - right.effectTime)) {
    const key = step.operation.key as string;
    if (!step.takesEffect) {
      continue;
    }
    if (step.operation.kind === 'put') {
      state.set(key, step.operation.input as string);
    } else {
      step.operation.output = state.get(key) ?? '';
    }
  }
  return { history: planned.map((step) => step.operation), crashed };
}

const simulation = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  processCount: fc.integer({ min: 1, max: 5 }),
  operationCount: fc.integer({ min: 1, max: 40 }),
});

describe('session guarantee properties', () => {
  it('a single-copy store under random concurrency satisfies every session guarantee', () => {
    fc.assert(
      fc.property(simulation, ({ seed, processCount, operationCount }) => {
        const { history } = singleCopyHistory(seed, processCount, operationCount);
        const results = checkSessionGuarantees(history);
        for (const result of Object.values(results)) {
          assert.equal(result.verdict, 'ok', `seed ${seed}: ${JSON.stringify(result)}`);
        }
      }),
    );
  });

  it('a single-copy store converges once writes stop (settleMs 0)', () => {
    fc.assert(
      fc.property(simulation, ({ seed, processCount, operationCount }) => {
        const { history } = singleCopyHistory(seed, processCount, operationCount);
        assert.equal(checkConvergence(history, { settleMs: 0 }).verdict, 'ok', `seed ${seed}`);
      }),
    );
  });

  it('a single-copy store with one writer per key is never stale (bounds of 0)', () => {
    fc.assert(
      fc.property(simulation, ({ seed, processCount, operationCount }) => {
        const { history } = singleCopyHistory(seed, processCount, operationCount, true);
        const result = checkBoundedStaleness(history, { staleMsMax: 0, versionCountMax: 0 });
        assert.equal(result.verdict, 'ok', `seed ${seed}: ${JSON.stringify(result)}`);
      }),
    );
  });

  it('one injected stale read is caught by read-your-writes or monotonic reads', () => {
    fc.assert(
      fc.property(simulation, ({ seed, processCount, operationCount }) => {
        const { history, crashed } = singleCopyHistory(seed, processCount, operationCount);
        // A live session that wrote a key, or read a written value of it.
        const source = history.find(
          (operation) =>
            !crashed.has(operation.process as number) &&
            operation.status === 'ok' &&
            (operation.kind === 'put' || (operation.kind === 'get' && operation.output !== '')),
        );
        fc.pre(source !== undefined);
        if (source === undefined) {
          return;
        }
        const session = history.filter((operation) => operation.process === source.process);
        const end = Math.max(...session.map((operation) => operation.returnTime as number));
        const stale = get(source.process as number, source.key as string, '', end + 1, end + 2);
        const injected = [...history, stale];
        const wrote = session.some(
          (operation) => operation.kind === 'put' && operation.key === source.key,
        );
        const caught = wrote ? checkReadYourWrites(injected) : checkMonotonicReads(injected);
        const found = violation(caught).violations[0];
        assert.equal(found?.session, source.process, `seed ${seed}`);
        assert.equal(found?.operations.at(-1), stale, `seed ${seed}`);
      }),
    );
  });
});
