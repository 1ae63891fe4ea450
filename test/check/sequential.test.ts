import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CheckResult,
  casRegisterModel,
  checkLinearizability,
  checkSequentialConsistency,
  counterModel,
  kvModel,
  type Model,
  type Operation,
  registerModel,
  type SessionOperation,
  setModel,
} from '../../src/check/index.js';
import { isInvalidArgumentError, ManualClock, SeededRandom } from '../../src/core/index.js';

type Process = number | string;

/** An operation that completed ok between `invokeTime` and `returnTime`. */
function ok(
  process: Process,
  kind: string,
  invokeTime: number,
  returnTime: number,
  fields: { input?: unknown; output?: unknown; key?: string; session?: Process } = {},
): SessionOperation {
  return { process, kind, invokeTime, returnTime, status: 'ok', ...fields };
}

/** An operation whose outcome is unknown. */
function unknown(
  process: Process,
  kind: string,
  invokeTime: number,
  fields: { input?: unknown; key?: string } = {},
): Operation {
  return { process, kind, invokeTime, status: 'unknown', ...fields };
}

function explanationOf(result: CheckResult) {
  assert.equal(result.verdict, 'violation', 'expected a violation');
  if (result.verdict !== 'violation') {
    throw new Error('unreachable');
  }
  return result.explanation;
}

/** Process 0 writes 1 then 2; process 1 reads `first` then `second`, long after. */
function twoWritesTwoReads(first: unknown, second: unknown): Operation[] {
  return [
    ok(0, 'write', 0, 1, { input: 1 }),
    ok(0, 'write', 2, 3, { input: 2 }),
    ok(1, 'read', 10, 11, { output: first }),
    ok(1, 'read', 12, 13, { output: second }),
  ];
}

describe('checkSequentialConsistency on each model', () => {
  it('register: accepts stale reads in program order, rejects a read going back in time', () => {
    assert.equal(checkSequentialConsistency(registerModel(), []).verdict, 'ok');
    assert.equal(
      checkSequentialConsistency(registerModel(), twoWritesTwoReads(1, 2)).verdict,
      'ok',
    );
    assert.equal(
      checkSequentialConsistency(registerModel(), twoWritesTwoReads(null, 1)).verdict,
      'ok',
    );
    const history = twoWritesTwoReads(2, 1);
    const explanation = explanationOf(checkSequentialConsistency(registerModel(), history));
    assert.equal(explanation.key, undefined);
    assert.equal(explanation.blocking, history[3]);
    assert.deepEqual(explanation.unplaced, [history[3]]);
    assert.deepEqual(explanation.candidates, [{ operation: history[3], legal: false }]);
    assert.equal(explanation.stateAfterLinearized, '2');
    assert.match(explanation.message, /not sequentially consistent for the register model/);
    assert.match(explanation.message, /places 3 of 4 operations/);
    assert.match(explanation.message, /process 1: read -> 1: impossible from this state/);
  });

  it('cas-register: accepts a late cas, rejects a lost update', () => {
    const late = [
      ok(0, 'write', 0, 1, { input: 0 }),
      ok(0, 'write', 2, 3, { input: 5 }),
      // Starts after the register held 5, but may take effect between the two writes.
      ok(1, 'cas', 10, 11, { input: [0, 1] }),
      ok(1, 'read', 12, 13, { output: 1 }),
    ];
    assert.equal(checkLinearizability(casRegisterModel(), late).verdict, 'violation');
    assert.equal(checkSequentialConsistency(casRegisterModel(), late).verdict, 'ok');
    const lostUpdate = [
      ok(0, 'write', 0, 1, { input: 0 }),
      ok(1, 'cas', 2, 3, { input: [0, 1] }),
      ok(2, 'cas', 2, 3, { input: [0, 2] }),
    ];
    const explanation = explanationOf(checkSequentialConsistency(casRegisterModel(), lostUpdate));
    assert.equal(explanation.unplaced.length, 1);
    assert.match(explanation.message, /cas-register/);
  });

  it('kv: accepts keys that each process touches alone, checked per part', () => {
    const history = [
      ok('a', 'put', 0, 1, { key: 'x', input: '1' }),
      ok('b', 'get', 5, 6, { key: 'x', output: '' }),
      ok('c', 'append', 0, 1, { key: 'y', input: 'p' }),
      ok('d', 'get', 5, 6, { key: 'y', output: 'p' }),
    ];
    const result = checkSequentialConsistency(kvModel(), history);
    assert.equal(result.verdict, 'ok');
    assert.equal(result.partitionCount, 2);
    assert.equal(checkLinearizability(kvModel(), history).verdict, 'violation');
  });

  it('kv: rejects a process that misses its own append', () => {
    const history = [
      ok('a', 'append', 0, 1, { key: 'x', input: 'p' }),
      ok('a', 'get', 2, 3, { key: 'x', output: '' }),
    ];
    const explanation = explanationOf(checkSequentialConsistency(kvModel(), history));
    assert.equal(explanation.key, 'x');
    assert.match(explanation.message, /^key "x": not sequentially consistent for the kv model/);
  });

  it('counter: accepts a stale read, rejects a read of more than was added', () => {
    const stale = [ok(0, 'add', 0, 1, { input: 1 }), ok(1, 'read', 5, 6, { output: 0 })];
    assert.equal(checkSequentialConsistency(counterModel(), stale).verdict, 'ok');
    assert.equal(checkLinearizability(counterModel(), stale).verdict, 'violation');
    const tooMuch = [ok(0, 'add', 0, 1, { input: 1 }), ok(1, 'read', 5, 6, { output: 2 })];
    assert.equal(checkSequentialConsistency(counterModel(), tooMuch).verdict, 'violation');
  });

  it('set: accepts a reader that lags, rejects a reader that sees a removal undone', () => {
    const lagging = [
      ok(0, 'add', 0, 1, { input: 'a' }),
      ok(0, 'remove', 2, 3, { input: 'a' }),
      ok(1, 'read', 5, 6, { output: ['a'] }),
      ok(1, 'read', 7, 8, { output: [] }),
    ];
    assert.equal(checkSequentialConsistency(setModel(), lagging).verdict, 'ok');
    const undone = [
      ok(0, 'add', 0, 1, { input: 'a' }),
      ok(0, 'remove', 2, 3, { input: 'a' }),
      ok(1, 'read', 5, 6, { output: ['a'] }),
      ok(1, 'read', 7, 8, { output: [] }),
      ok(1, 'read', 9, 10, { output: ['a'] }),
    ];
    assert.equal(checkSequentialConsistency(setModel(), undone).verdict, 'violation');
  });
});

describe('sequential consistency against linearizability', () => {
  it('accepts a stale read that linearizability rejects', () => {
    const history = [
      ok(0, 'write', 0, 1, { input: 1 }),
      ok(0, 'write', 2, 3, { input: 2 }),
      ok(1, 'read', 4, 5, { output: 1 }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'violation');
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'ok');
  });

  it('is not local: each key alone is sequentially consistent, the two together are not', () => {
    // A: x = 1, then y reads nil; B: y = 1, then x reads nil. Each key alone has an
    // order (the read of nil first), but both together need x = 1 before A's read of y,
    // y = 1 after it, and so x = 1 before B's read of x, which read nil.
    const history = [
      ok('A', 'put', 0, 1, { key: 'x', input: '1' }),
      ok('A', 'get', 2, 3, { key: 'y', output: '' }),
      ok('B', 'put', 0, 1, { key: 'y', input: '1' }),
      ok('B', 'get', 2, 3, { key: 'x', output: '' }),
    ];
    for (const key of ['x', 'y']) {
      const alone = history.filter((operation) => operation.key === key);
      assert.equal(checkSequentialConsistency(kvModel(), alone).verdict, 'ok', key);
    }
    const whole = checkSequentialConsistency(kvModel(), history);
    assert.equal(whole.partitionCount, 1);
    const explanation = explanationOf(whole);
    assert.equal(explanation.key, undefined);
    assert.match(explanation.message, /^keys "x", "y" \(connected by the processes/);
    assert.equal(
      checkSequentialConsistency(kvModel(), history, { partition: false }).verdict,
      'violation',
    );
    // Linearizability is local, and rejects the history on a key of its own.
    assert.equal(checkLinearizability(kvModel(), history).verdict, 'violation');
  });

  it('uses the session of an operation as its process', () => {
    // Two processes of one session: their operations keep session order, so the read of
    // nil after the session's own put is a violation.
    const history = [
      ok('p1', 'put', 0, 1, { key: 'x', input: '1', session: 's' }),
      ok('p2', 'get', 2, 3, { key: 'x', output: '', session: 's' }),
    ];
    assert.equal(checkSequentialConsistency(kvModel(), history).verdict, 'violation');
    const apart = history.map(({ session: _session, ...operation }) => operation);
    assert.equal(checkSequentialConsistency(kvModel(), apart).verdict, 'ok');
  });
});

describe('operations of unknown outcome', () => {
  /** Process 0's write of 1 times out, then it writes 2; process 1 reads `outputs`. */
  const timedOutThenWrite = (outputs: readonly number[]): Operation[] => [
    unknown(0, 'write', 0, { input: 1 }),
    ok(0, 'write', 5, 6, { input: 2 }),
    ...outputs.map((output, index) => ok(1, 'read', 10 + 2 * index, 11 + 2 * index, { output })),
  ];

  it('may take effect late, after later operations of their own process', () => {
    const history = timedOutThenWrite([2, 1]);
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'ok');
  });

  it('take effect at most once', () => {
    const history = timedOutThenWrite([1, 2, 1]);
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'violation');
  });

  it('never take effect before the operations their process completed earlier', () => {
    const history = [
      ok(0, 'write', 0, 1, { input: 1 }),
      unknown(0, 'write', 2, { input: 2 }),
      ok(1, 'read', 10, 11, { output: 2 }),
      ok(1, 'read', 12, 13, { output: 1 }),
    ];
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'violation');
  });

  it('may never take effect, and failed operations are dropped', () => {
    const history = [
      unknown(0, 'write', 0, { input: 1 }),
      { ...ok(1, 'write', 0, 1, { input: 2 }), status: 'fail' as const },
      ok(2, 'read', 10, 11, { output: null }),
    ];
    const result = checkSequentialConsistency(registerModel(), history);
    assert.equal(result.verdict, 'ok');
    assert.equal(result.operationCount, 2);
  });
});

describe('regressions', () => {
  it('does not commit early to a write that leaves the state as it was', () => {
    // The only order: 2's write 1, 1's write 3, 0's write 1, 1's read 1. A write of 1 onto
    // 1 changes nothing where it is first tried, but it is needed later.
    const history = [
      ok(2, 'write', 0, 1, { input: 1 }),
      ok(0, 'write', 2, 3, { input: 1 }),
      ok(1, 'write', 4, 5, { input: 3 }),
      ok(1, 'read', 6, 7, { output: 1 }),
    ];
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'ok');
  });

  it('does not commit early to an unknown cas that fails where it is first tried', () => {
    // Found by the brute-force property (seed 1686762332): the cas must land after the
    // write of 1.
    const history = [
      unknown(0, 'cas', 1, { input: [1, 2] }),
      unknown(0, 'write', 2, { input: 1 }),
      ok(0, 'read', 3, 3, { output: 2 }),
    ];
    assert.equal(checkSequentialConsistency(casRegisterModel(), history).verdict, 'ok');
  });
});

describe('the linearizability search tried first', () => {
  it('accepts a linearizable history through it, with the steps counted', () => {
    const history = [
      ok(0, 'write', 0, 2, { input: 1 }),
      ok(1, 'read', 1, 3, { output: 1 }),
      ok(1, 'read', 4, 5, { output: 1 }),
    ];
    const result = checkSequentialConsistency(registerModel(), history);
    assert.equal(result.verdict, 'ok');
    assert.ok(result.stepCount >= 3);
  });

  it('is skipped when a process begins an operation at the instant its previous one completed', () => {
    // Linearizability takes the touching read and write as concurrent (write first);
    // program order puts the read first, where 1 was never written.
    const history = [ok(0, 'read', 0, 1, { output: 1 }), ok(0, 'write', 1, 2, { input: 1 })];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
    assert.equal(checkSequentialConsistency(registerModel(), history).verdict, 'violation');
  });
});

describe('bad input', () => {
  it('rejects a process running two operations at once, naming both', () => {
    const history = [ok(0, 'write', 0, 10, { input: 1 }), ok(0, 'read', 5, 6, { output: 1 })];
    assert.throws(
      () => checkSequentialConsistency(registerModel(), history),
      (error: unknown) =>
        isInvalidArgumentError(error) &&
        /process 0: write 1 -> ok and process 0: read -> 1 overlap in time/.test(error.message),
    );
    // An operation still running when the process's unknown one began, too.
    assert.throws(
      () =>
        checkSequentialConsistency(registerModel(), [
          ok(0, 'write', 0, 10, { input: 1 }),
          unknown(0, 'write', 5, { input: 2 }),
        ]),
      (error: unknown) =>
        isInvalidArgumentError(error) && /one operation at a time/.test(error.message),
    );
  });

  it('rejects bad options, models and operations with InvalidArgumentError', () => {
    const invalid = (error: unknown) => isInvalidArgumentError(error);
    assert.throws(
      () => checkSequentialConsistency(registerModel(), [], { stepCountMax: 0 }),
      invalid,
    );
    assert.throws(
      () => checkSequentialConsistency(registerModel(), [], { timeBudgetMs: 5 }),
      invalid,
    );
    assert.throws(
      () => checkSequentialConsistency({} as Model<unknown>, []),
      (error: unknown) =>
        isInvalidArgumentError(error) &&
        /checkSequentialConsistency needs a model/.test(error.message),
    );
    assert.throws(
      () => checkSequentialConsistency(registerModel(), 'history' as unknown as Operation[]),
      invalid,
    );
    assert.throws(
      () => checkSequentialConsistency(registerModel(), [ok(0, 'read', 5, 1, { output: null })]),
      invalid,
    );
    assert.throws(
      () => checkSequentialConsistency(registerModel(), [ok(0, 'cas', 0, 1, { input: [1, 2] })]),
      (error: unknown) => isInvalidArgumentError(error) && /no operation "cas"/.test(error.message),
    );
  });
});

/** Writers of distinct values, and a reader whose last read no order explains. */
function wideHistory(writerCount: number): Operation[] {
  const history: Operation[] = [];
  for (let index = 0; index < writerCount; index += 1) {
    history.push(ok(index, 'write', index, index + 1, { input: index }));
  }
  history.push(ok(writerCount, 'read', 2000, 2001, { output: 0 }));
  history.push(ok(writerCount, 'read', 2002, 2003, { output: -1 }));
  return history;
}

describe('budgets', () => {
  it('returns unknown when the step budget runs out, and decides with enough', () => {
    const result = checkSequentialConsistency(registerModel(), wideHistory(12), {
      stepCountMax: 50,
    });
    assert.equal(result.verdict, 'unknown');
    if (result.verdict === 'unknown') {
      assert.equal(result.reason, 'step-budget');
      assert.match(result.message, /stepCountMax/);
    }
    assert.equal(result.stepCount, 50);
    assert.equal(checkSequentialConsistency(registerModel(), wideHistory(12)).verdict, 'violation');
  });

  it('returns unknown when the time budget or the cache runs out', () => {
    const clock = new ManualClock();
    const tickingClock = {
      nowMs: () => {
        clock.advanceMs(10);
        return clock.nowMs();
      },
      wallMs: () => clock.wallMs(),
    };
    const timed = checkSequentialConsistency(registerModel(), wideHistory(12), {
      clock: tickingClock,
      timeBudgetMs: 25,
    });
    assert.equal(timed.verdict === 'unknown' && timed.reason, 'time-budget');
    const cached = checkSequentialConsistency(registerModel(), wideHistory(12), {
      cacheEntryCountMax: 20,
    });
    assert.equal(cached.verdict === 'unknown' && cached.reason, 'cache-limit');
  });
});

/**
 * The definition itself, by brute force over every order that keeps program order (an
 * unknown operation placed once after its process's earlier operations, or never), for
 * histories of a few operations.
 */
function bruteForceSequential<State>(model: Model<State>, history: readonly Operation[]): boolean {
  const kept = history.filter((operation) => operation.status !== 'fail');
  const byProcess = new Map<Process, Operation[]>();
  for (const operation of [...kept].sort((left, right) => left.invokeTime - right.invokeTime)) {
    const list = byProcess.get(operation.process) ?? [];
    list.push(operation);
    byProcess.set(operation.process, list);
  }
  // An ok operation comes after its process's earlier ok operations; an unknown one after
  // those that completed before it was invoked.
  const mayTake = (operation: Operation, placed: ReadonlySet<Operation>): boolean => {
    const own = byProcess.get(operation.process) ?? [];
    return own
      .slice(0, own.indexOf(operation))
      .every(
        (earlier) =>
          earlier.status !== 'ok' ||
          placed.has(earlier) ||
          (operation.status === 'unknown' && (earlier.returnTime as number) > operation.invokeTime),
      );
  };
  const explore = (state: State, placed: Set<Operation>): boolean => {
    if (kept.every((operation) => operation.status !== 'ok' || placed.has(operation))) {
      return true;
    }
    for (const operation of kept) {
      if (placed.has(operation) || !mayTake(operation, placed)) {
        continue;
      }
      const result = model.step(state, operation);
      if (result.legal) {
        placed.add(operation);
        const found = explore(result.state, placed);
        placed.delete(operation);
        if (found) {
          return true;
        }
      }
    }
    return false;
  };
  return explore(model.init(), new Set());
}

/** Small random register histories: few values, so many reads are impossible. */
const smallHistoryArbitrary = fc
  .array(
    fc.record({
      process: fc.integer({ min: 0, max: 2 }),
      kind: fc.constantFrom('read', 'write', 'cas'),
      value: fc.constantFrom(null, 1, 2),
      next: fc.constantFrom(1, 2),
      // Strictly after the process's previous operation: linearizability takes operations
      // that touch in time as concurrent, program order never does.
      gap: fc.integer({ min: 1, max: 3 }),
      length: fc.integer({ min: 0, max: 4 }),
      status: fc.constantFrom('ok', 'ok', 'ok', 'unknown', 'fail'),
    }),
    { maxLength: 7 },
  )
  .map((steps) => {
    const freeAt = [0, 0, 0];
    return steps.map((step): Operation => {
      const invokeTime = (freeAt[step.process] as number) + step.gap;
      const returnTime = invokeTime + step.length;
      freeAt[step.process] = returnTime;
      const base = { process: step.process, kind: step.kind, invokeTime };
      const fields =
        step.kind === 'read'
          ? { output: step.value }
          : step.kind === 'write'
            ? { input: step.next }
            : { input: [step.value, step.next] };
      return step.status === 'unknown'
        ? { ...base, ...fields, status: 'unknown' }
        : { ...base, ...fields, returnTime, status: step.status as 'ok' | 'fail' };
    });
  });

describe('sequential consistency properties', () => {
  it('agrees with the definition, by brute force, on small cas-register histories', () => {
    fc.assert(
      fc.property(smallHistoryArbitrary, (history) => {
        const expected = bruteForceSequential(casRegisterModel(), history);
        const result = checkSequentialConsistency(casRegisterModel(), history);
        assert.equal(result.verdict, expected ? 'ok' : 'violation', JSON.stringify(history));
        // Every linearizable history is sequentially consistent.
        if (checkLinearizability(casRegisterModel(), history).verdict === 'ok') {
          assert.equal(result.verdict, 'ok');
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('accepts any interleaving of per-process programs run on one register, whatever the times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 40 }),
        (seed, processCount, operationCount) => {
          const random = new SeededRandom({ seed });
          // Run the operations one at a time, in a random interleaving of the processes,
          // on one in-memory register...
          let value: unknown = null;
          const byProcess: Operation[][] = Array.from({ length: processCount }, () => []);
          for (let index = 0; index < operationCount; index += 1) {
            const process = random.integer(0, processCount - 1);
            const isWrite = random.boolean(0.4);
            if (isWrite) {
              value = index;
            }
            (byProcess[process] as Operation[]).push(
              isWrite
                ? { process, kind: 'write', input: index, invokeTime: 0, status: 'ok' }
                : { process, kind: 'read', output: value, invokeTime: 0, status: 'ok' },
            );
          }
          // ...then give each process's operations times of their own, unrelated to the
          // order they ran in: real time says nothing, program order is kept.
          const history = byProcess.flatMap((operations) => {
            let time = random.integer(0, 50);
            return operations.map((operation) => {
              const invokeTime = time + random.integer(1, 5);
              time = invokeTime + random.integer(0, 5);
              return { ...operation, invokeTime, returnTime: time };
            });
          });
          assert.equal(
            checkSequentialConsistency(registerModel(), random.shuffle(history)).verdict,
            'ok',
            `seed ${seed}`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts every history of a linearizable key-value store, which linearizability accepts too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 40 }),
        (seed, processCount, operationCount) => {
          const history = linearizableKvHistory(seed, processCount, operationCount);
          assert.equal(checkLinearizability(kvModel(), history).verdict, 'ok', `seed ${seed}`);
          assert.equal(
            checkSequentialConsistency(kvModel(), history).verdict,
            'ok',
            `seed ${seed}`,
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * Clients of a linearizable key-value store under random concurrency: each operation
 * takes effect at one random instant inside its interval; a put may time out (unknown),
 * after which it took effect or not and its client stops.
 */
function linearizableKvHistory(
  seed: number,
  processCount: number,
  operationCount: number,
): Operation[] {
  const random = new SeededRandom({ seed }).fork('sequential-kv');
  const clients = Array.from({ length: processCount }, () => ({ freeAt: 0, stopped: false }));
  const effects: { at: number; operation: { -readonly [K in keyof Operation]: Operation[K] } }[] =
    [];
  for (let index = 0; index < operationCount; index += 1) {
    const process = random.integer(0, processCount - 1);
    const client = clients[process] as { freeAt: number; stopped: boolean };
    if (client.stopped) {
      continue;
    }
    const invokeTime = client.freeAt + random.integer(0, 4);
    const returnTime = invokeTime + random.integer(1, 9);
    client.freeAt = returnTime + 1;
    const key = random.pick(['x', 'y', 'z']);
    const at = invokeTime + (returnTime - invokeTime) * (0.01 + 0.98 * random.float());
    if (random.boolean(0.45)) {
      const timedOut = random.boolean(0.1);
      client.stopped = timedOut;
      effects.push({
        at: timedOut && random.boolean() ? Number.POSITIVE_INFINITY : at,
        operation: timedOut
          ? { process, kind: 'put', key, input: `v${index}`, invokeTime, status: 'unknown' }
          : { process, kind: 'put', key, input: `v${index}`, invokeTime, returnTime, status: 'ok' },
      });
    } else {
      effects.push({
        at,
        operation: { process, kind: 'get', key, invokeTime, returnTime, status: 'ok' },
      });
    }
  }
  const store = new Map<string, string>();
  for (const { at, operation } of [...effects].sort((left, right) => left.at - right.at)) {
    if (at === Number.POSITIVE_INFINITY) {
      continue;
    }
    if (operation.kind === 'put') {
      store.set(operation.key as string, operation.input as string);
    } else {
      operation.output = store.get(operation.key as string) ?? '';
    }
  }
  return effects.map((effect) => effect.operation);
}
