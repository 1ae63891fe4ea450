import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  casRegisterModel,
  checkLinearizability,
  counterModel,
  kvModel,
  type Operation,
  registerModel,
  setModel,
} from '../../src/check/index.js';
import { isInvalidArgumentError, ManualClock } from '../../src/core/index.js';

/** An operation that completed ok between `invokeTime` and `returnTime`. */
function ok(
  process: number,
  kind: string,
  invokeTime: number,
  returnTime: number,
  fields: { input?: unknown; output?: unknown; key?: string } = {},
): Operation {
  return { process, kind, invokeTime, returnTime, status: 'ok', ...fields };
}

/** An operation whose outcome is unknown. */
function unknown(
  process: number,
  kind: string,
  invokeTime: number,
  fields: { input?: unknown; key?: string } = {},
): Operation {
  return { process, kind, invokeTime, status: 'unknown', ...fields };
}

describe('checkLinearizability on a register', () => {
  it('accepts an empty history and a sequential one', () => {
    assert.equal(checkLinearizability(registerModel(), []).verdict, 'ok');
    const history = [
      ok(0, 'read', 0, 1, { output: null }),
      ok(0, 'write', 2, 3, { input: 1 }),
      ok(1, 'read', 4, 5, { output: 1 }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });

  it('rejects a stale read after a completed write, and explains it', () => {
    const history = [
      ok(0, 'write', 0, 1, { input: 1 }),
      ok(0, 'write', 2, 3, { input: 2 }),
      ok(1, 'read', 4, 5, { output: 1 }),
    ];
    const result = checkLinearizability(registerModel(), history);
    assert.equal(result.verdict, 'violation');
    if (result.verdict !== 'violation') {
      return;
    }
    const { explanation } = result;
    assert.equal(explanation.key, undefined);
    assert.deepEqual(
      explanation.linearized.map((step) => step.operation),
      [history[0], history[1]],
    );
    assert.equal(explanation.stateAfterLinearized, '2');
    assert.equal(explanation.blocking, history[2]);
    assert.deepEqual(explanation.unplaced, [history[2]]);
    assert.deepEqual(explanation.candidates, [{ operation: history[2], legal: false }]);
    assert.match(explanation.message, /places 2 of 3 operations/);
    assert.match(explanation.message, /process 1: read -> 1/);
  });

  it('rejects a read going back in time', () => {
    const history = [
      ok(0, 'write', 0, 10, { input: 1 }),
      ok(1, 'read', 1, 2, { output: 1 }),
      ok(2, 'read', 3, 4, { output: null }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'violation');
  });

  it('accepts concurrent overlapping operations that have a valid order', () => {
    // The write overlaps both reads: the first read sees the old value, the second the new.
    const history = [
      ok(0, 'write', 0, 10, { input: 1 }),
      ok(1, 'read', 1, 3, { output: null }),
      ok(2, 'read', 4, 6, { output: 1 }),
      ok(1, 'read', 7, 9, { output: 1 }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });

  it('takes operations that touch in time as concurrent', () => {
    const history = [ok(0, 'write', 0, 5, { input: 1 }), ok(1, 'read', 5, 6, { output: null })];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });

  it('drops failed operations', () => {
    const history: Operation[] = [
      ok(0, 'write', 0, 1, { input: 1 }),
      { process: 1, kind: 'write', input: 2, invokeTime: 2, returnTime: 3, status: 'fail' },
      ok(0, 'read', 4, 5, { output: 1 }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });
});

describe('operations of unknown outcome', () => {
  it('may have taken effect: a later read sees the write', () => {
    const history = [unknown(0, 'write', 0, { input: 1 }), ok(1, 'read', 5, 6, { output: 1 })];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });

  it('may never have taken effect: a later read sees the old value', () => {
    const history = [unknown(0, 'write', 0, { input: 1 }), ok(1, 'read', 5, 6, { output: null })];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'ok');
  });

  it('take effect at one instant: once seen, the value cannot disappear again', () => {
    const history = [
      unknown(0, 'write', 0, { input: 1 }),
      ok(1, 'read', 5, 6, { output: 1 }),
      ok(1, 'read', 7, 8, { output: null }),
    ];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'violation');
  });

  it('cannot take effect before their invocation', () => {
    const history = [ok(1, 'read', 0, 1, { output: 1 }), unknown(0, 'write', 2, { input: 1 })];
    assert.equal(checkLinearizability(registerModel(), history).verdict, 'violation');
  });

  it('an unknown cas takes effect only where it would have succeeded', () => {
    const model = casRegisterModel();
    const wrote = [
      ok(0, 'write', 0, 1, { input: 0 }),
      unknown(1, 'cas', 2, { input: [0, 5] }),
      ok(2, 'read', 3, 4, { output: 5 }),
    ];
    assert.equal(checkLinearizability(model, wrote).verdict, 'ok');
    const couldNot = [
      ok(0, 'write', 0, 1, { input: 3 }),
      unknown(1, 'cas', 2, { input: [0, 5] }),
      ok(2, 'read', 3, 4, { output: 5 }),
    ];
    assert.equal(checkLinearizability(model, couldNot).verdict, 'violation');
  });
});

describe('models', () => {
  it('cas-register: a lost update (two cas from the same value both succeed) is rejected', () => {
    const history = [
      ok(0, 'write', 0, 1, { input: 0 }),
      ok(1, 'cas', 2, 5, { input: [0, 1] }),
      ok(2, 'cas', 3, 6, { input: [0, 2] }),
    ];
    assert.equal(checkLinearizability(casRegisterModel(), history).verdict, 'violation');
  });

  it('cas-register starts absent (nil) unless told otherwise', () => {
    const history = [ok(0, 'cas', 0, 1, { input: [null, 1] }), ok(0, 'read', 2, 3, { output: 1 })];
    assert.equal(checkLinearizability(casRegisterModel(), history).verdict, 'ok');
    assert.equal(
      checkLinearizability(casRegisterModel({ initial: 0 }), history).verdict,
      'violation',
    );
  });

  it('register rejects a cas as an unknown operation kind', () => {
    assert.throws(
      () => checkLinearizability(registerModel(), [ok(0, 'cas', 0, 1, { input: [null, 1] })]),
      (error: unknown) => isInvalidArgumentError(error) && /no operation "cas"/.test(error.message),
    );
  });

  it('kv: a lost append is rejected on its key; other keys are checked alone', () => {
    const history = [
      ok(0, 'append', 0, 1, { key: 'a', input: 'x' }),
      ok(1, 'append', 2, 3, { key: 'a', input: 'y' }),
      ok(2, 'get', 4, 5, { key: 'a', output: 'y' }),
      ok(0, 'put', 0, 1, { key: 'b', input: 'z' }),
      ok(1, 'get', 2, 3, { key: 'b', output: 'z' }),
      ok(1, 'get', 6, 7, { key: 'c', output: '' }),
    ];
    const result = checkLinearizability(kvModel(), history);
    assert.equal(result.verdict, 'violation');
    assert.equal(result.partitionCount, 3);
    if (result.verdict === 'violation') {
      assert.equal(result.explanation.key, 'a');
      assert.equal(result.explanation.stateAfterLinearized, '"xy"');
    }
    const unpartitioned = checkLinearizability(kvModel(), history, { partition: false });
    assert.equal(unpartitioned.verdict, 'violation');
    assert.equal(unpartitioned.partitionCount, 1);
  });

  it('kv: a missing key reads as the empty string', () => {
    const history = [ok(0, 'get', 0, 1, { key: 'k', output: '' })];
    assert.equal(checkLinearizability(kvModel(), history).verdict, 'ok');
  });

  it('counter: concurrent adds in either order; a read of an impossible sum is rejected', () => {
    const good = [
      ok(0, 'add', 0, 4, { input: 2 }),
      ok(1, 'add', 1, 5, { input: 3 }),
      ok(2, 'read', 2, 3, { output: 3 }),
      ok(2, 'read', 6, 7, { output: 5 }),
    ];
    assert.equal(checkLinearizability(counterModel(), good).verdict, 'ok');
    const bad = [...good.slice(0, 3), ok(2, 'read', 6, 7, { output: 4 })];
    assert.equal(checkLinearizability(counterModel(), bad).verdict, 'violation');
  });

  it('set: reads compare as sets; a removed element must not come back', () => {
    const good = [
      ok(0, 'add', 0, 1, { input: 'a' }),
      ok(1, 'add', 2, 3, { input: 'b' }),
      ok(2, 'read', 4, 5, { output: ['b', 'a'] }),
      ok(0, 'remove', 6, 7, { input: 'a' }),
      ok(2, 'read', 8, 9, { output: ['b'] }),
    ];
    assert.equal(checkLinearizability(setModel(), good).verdict, 'ok');
    const bad = [...good, ok(1, 'read', 10, 11, { output: ['a', 'b'] })];
    assert.equal(checkLinearizability(setModel(), bad).verdict, 'violation');
  });
});

/** n writers of distinct values, all concurrent, then a read of the first: many orders to try. */
function wideHistory(writerCount: number): Operation[] {
  const history: Operation[] = [];
  for (let index = 0; index < writerCount; index += 1) {
    history.push(ok(index, 'write', index, 1000 + index, { input: index }));
  }
  // Reads that only a very particular order explains, followed by an impossible one.
  history.push(ok(writerCount, 'read', 2000, 2001, { output: 0 }));
  history.push(ok(writerCount, 'read', 2002, 2003, { output: -1 }));
  return history;
}

describe('budgets', () => {
  it('returns unknown when the step budget runs out', () => {
    const result = checkLinearizability(registerModel(), wideHistory(12), { stepCountMax: 50 });
    assert.equal(result.verdict, 'unknown');
    if (result.verdict === 'unknown') {
      assert.equal(result.reason, 'step-budget');
      assert.match(result.message, /stepCountMax/);
    }
    assert.equal(result.stepCount, 50);
  });

  it('returns unknown when the time budget on the injected clock runs out', () => {
    const clock = new ManualClock();
    let readCount = 0;
    const tickingClock = {
      nowMs: () => {
        readCount += 1;
        clock.advanceMs(10);
        return clock.nowMs();
      },
      wallMs: () => clock.wallMs(),
    };
    const result = checkLinearizability(registerModel(), wideHistory(12), {
      clock: tickingClock,
      timeBudgetMs: 25,
    });
    assert.equal(result.verdict, 'unknown');
    if (result.verdict === 'unknown') {
      assert.equal(result.reason, 'time-budget');
    }
    assert.ok(readCount >= 3);
  });

  it('returns unknown when the memoisation cache is full', () => {
    const result = checkLinearizability(registerModel(), wideHistory(12), {
      cacheEntryCountMax: 20,
    });
    assert.equal(result.verdict, 'unknown');
    if (result.verdict === 'unknown') {
      assert.equal(result.reason, 'cache-limit');
    }
  });

  it('decides the same history when the budget is enough', () => {
    assert.equal(checkLinearizability(registerModel(), wideHistory(12)).verdict, 'violation');
  });

  it('rejects bad options and operations with InvalidArgumentError', () => {
    const invalid = (error: unknown) => isInvalidArgumentError(error);
    assert.throws(() => checkLinearizability(registerModel(), [], { stepCountMax: 0 }), invalid);
    assert.throws(() => checkLinearizability(registerModel(), [], { timeBudgetMs: 5 }), invalid);
    assert.throws(
      () => checkLinearizability(registerModel(), [ok(0, 'read', 5, 1, { output: null })]),
      invalid,
    );
    assert.throws(
      () =>
        checkLinearizability(registerModel(), [
          { process: 0, kind: 'read', invokeTime: 0, status: 'ok' },
        ]),
      invalid,
    );
  });
});
