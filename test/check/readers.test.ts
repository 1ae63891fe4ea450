import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  casRegisterModel,
  checkLinearizability,
  describeOperation,
  historyFromEvents,
  isHistoryFormatError,
  parseJepsenEdn,
  parseJepsenLog,
  parseJsonLinesHistory,
} from '../../src/check/index.js';
import { isDistkitError } from '../../src/core/index.js';

function throwsAtLine(run: () => unknown, line: number, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isHistoryFormatError(error), `expected a HistoryFormatError, got ${String(error)}`);
    assert.ok(isDistkitError(error));
    assert.equal(error.code, 'HISTORY_FORMAT');
    assert.equal(error.line, line);
    assert.match(error.message, new RegExp(`^line ${line}: `));
    if (pattern !== undefined) {
      assert.match(error.message, pattern);
    }
    return true;
  });
}

describe('parseJepsenLog', () => {
  const log = [
    'INFO  jepsen.util - 3\t:invoke\t:write\t4',
    'INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]',
    'INFO  jepsen.util - 3\t:ok\t:write\t4',
    'INFO  jepsen.util - 0   :invoke :read   nil',
    '',
    'INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]',
    'INFO  jepsen.util - 0\t:ok\t:read\t4',
    'INFO  jepsen.util - 1\t:invoke\t:write\t1',
    'INFO  jepsen.util - 1\t:info\t:write\t:timed-out',
    'INFO  jepsen.util - 4\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 4\t:fail\t:read\t:timed-out',
    'INFO  jepsen.util - 5\t:invoke\t:write\t2',
  ].join('\n');

  it('pairs invocations with completions, with tabs or spaces between fields', () => {
    const history = parseJepsenLog(log);
    assert.deepEqual(history, [
      {
        process: 3,
        kind: 'write',
        input: 4,
        output: 4,
        invokeTime: 0,
        returnTime: 2,
        status: 'ok',
        line: 1,
      },
      {
        process: 2,
        kind: 'cas',
        input: [3, 0],
        invokeTime: 1,
        returnTime: 4,
        status: 'fail',
        line: 2,
      },
      {
        process: 0,
        kind: 'read',
        input: null,
        output: 4,
        invokeTime: 3,
        returnTime: 5,
        status: 'ok',
        line: 4,
      },
      { process: 1, kind: 'write', input: 1, invokeTime: 6, status: 'unknown', line: 8 },
      { process: 4, kind: 'read', input: null, invokeTime: 8, status: 'unknown', line: 10 },
      { process: 5, kind: 'write', input: 2, invokeTime: 10, status: 'unknown', line: 12 },
    ]);
    assert.equal(checkLinearizability(casRegisterModel(), history).verdict, 'ok');
    assert.equal(describeOperation(history[1] as never), 'process 2: cas [3,0] -> fail (line 2)');
  });

  it('names the line of a malformed event', () => {
    throwsAtLine(() => parseJepsenLog('INFO  jepsen.util - 3\t:invoke\t:write\t4\nhello'), 2);
    throwsAtLine(
      () => parseJepsenLog('INFO  jepsen.util - 3\t:begin\t:write\t4'),
      1,
      /unknown event type :begin/,
    );
    throwsAtLine(
      () => parseJepsenLog('INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0'),
      1,
      /missing \]/,
    );
  });

  it('rejects a completion without an invocation, a second invocation, and a kind mismatch', () => {
    throwsAtLine(() => parseJepsenLog('INFO  jepsen.util - 3\t:ok\t:write\t4'), 1, /without/);
    throwsAtLine(
      () =>
        parseJepsenLog(
          'INFO  jepsen.util - 3\t:invoke\t:write\t4\nINFO  jepsen.util - 3\t:invoke\t:read\tnil',
        ),
      2,
      /one operation at a time/,
    );
    throwsAtLine(
      () =>
        parseJepsenLog(
          'INFO  jepsen.util - 3\t:invoke\t:write\t4\nINFO  jepsen.util - 3\t:ok\t:read\t4',
        ),
      2,
      /invoked write/,
    );
  });
});

describe('parseJepsenEdn', () => {
  it('reads event maps with keys, strings and nil, and skips the nemesis', () => {
    const text = [
      '{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}',
      '{:process :nemesis, :type :info, :f :start, :value nil}',
      '{:process 1, :type :invoke, :f :get, :key "0", :value nil}',
      '{:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}',
      '{:process 1, :type :ok, :f :get, :key "0", :value "x \\"9\\" 0 y"}',
    ].join('\n');
    assert.deepEqual(parseJepsenEdn(text), [
      {
        process: 9,
        kind: 'append',
        key: '0',
        input: 'x 9 0 y',
        output: 'x 9 0 y',
        invokeTime: 0,
        returnTime: 2,
        status: 'ok',
        line: 1,
      },
      {
        process: 1,
        kind: 'get',
        key: '0',
        input: null,
        output: 'x "9" 0 y',
        invokeTime: 1,
        returnTime: 3,
        status: 'ok',
        line: 3,
      },
    ]);
  });

  it('uses :time when present and names the line of a malformed map', () => {
    const timed = parseJepsenEdn(
      '{:process 0, :type :invoke, :f :get, :key "a", :time 100}\n{:process 0, :type :ok, :f :get, :key "a", :value "", :time 250}',
    );
    assert.equal(timed[0]?.invokeTime, 100);
    assert.equal(timed[0]?.returnTime, 250);
    throwsAtLine(() => parseJepsenEdn('\n{:process 0, :type :invoke :f}'), 2, /no value/);
    throwsAtLine(() => parseJepsenEdn('{:process 0, :type :begin, :f :get}'), 1, /:type/);
    throwsAtLine(() => parseJepsenEdn('[1 2]'), 1, /EDN map/);
    throwsAtLine(() => parseJepsenEdn('{:process "x", :type :invoke, :f :get}'), 1, /:process/);
    throwsAtLine(() => parseJepsenEdn(`{:value ${'['.repeat(40)}}`), 1, /nesting/);
  });
});

describe('parseJsonLinesHistory', () => {
  it('reads the documented schema', () => {
    const text = [
      '{"process": 0, "type": "invoke", "kind": "write", "key": "a", "value": 1, "time": 10}',
      '{"process": "client-b", "type": "invoke", "kind": "read", "key": "a", "time": 11}',
      '{"process": 0, "type": "ok", "kind": "write", "key": "a", "value": 1, "time": 12}',
      '{"process": "client-b", "type": "info", "kind": "read", "key": "a", "time": 13}',
    ].join('\n');
    assert.deepEqual(parseJsonLinesHistory(text), [
      {
        process: 0,
        kind: 'write',
        key: 'a',
        input: 1,
        output: 1,
        invokeTime: 10,
        returnTime: 12,
        status: 'ok',
        line: 1,
      },
      { process: 'client-b', kind: 'read', key: 'a', invokeTime: 11, status: 'unknown', line: 2 },
    ]);
  });

  it('names the line of malformed JSON or a missing field', () => {
    throwsAtLine(() => parseJsonLinesHistory('{"process": 0,'), 1, /not valid JSON/);
    throwsAtLine(() => parseJsonLinesHistory('\n{"process": 0, "type": "invoke"}'), 2, /"kind"/);
    throwsAtLine(
      () => parseJsonLinesHistory('{"process": 0, "type": "done", "kind": "read"}'),
      1,
      /"type"/,
    );
    throwsAtLine(
      () =>
        parseJsonLinesHistory(
          '{"process": 0, "type": "invoke", "kind": "read", "time": 5}\n{"process": 0, "type": "ok", "kind": "read", "time": 4}',
        ),
      2,
      /must not decrease/,
    );
  });
});

describe('historyFromEvents', () => {
  it('turns an invocation without completion into an unknown operation', () => {
    assert.deepEqual(historyFromEvents([{ process: 0, type: 'invoke', kind: 'write', value: 1 }]), [
      { process: 0, kind: 'write', input: 1, invokeTime: 0, status: 'unknown' },
    ]);
  });
});
