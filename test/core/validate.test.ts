import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeValue,
  InvalidArgumentError,
  isInvalidArgumentError,
  requireBoolean,
  requireFunction,
  requireInteger,
  requireNumber,
  requireOneOf,
  requireOptionalSignal,
  requireOptions,
  requireString,
} from '../../src/core/index.js';

/**
 * Runs `call`, which must throw an InvalidArgumentError for `name`, and checks that the
 * message names the argument, states the rule and shows the value received.
 */
function assertInvalid(call: () => unknown, name: string, rule: string, value: unknown): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, 'an InvalidArgumentError');
    assert.ok(isInvalidArgumentError(error));
    assert.equal(error.argument, name);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.ok(error.message.startsWith(`${name} must be `), `names the argument: ${error.message}`);
    assert.ok(error.message.includes(rule), `states the rule "${rule}": ${error.message}`);
    assert.ok(
      error.message.endsWith(`got ${describeValue(value)}.`),
      `shows the value received: ${error.message}`,
    );
    return true;
  });
}

describe('describeValue', () => {
  it('quotes short strings and measures long ones', () => {
    assert.equal(describeValue('abc'), '"abc"');
    assert.equal(describeValue(''), '""');
    assert.equal(describeValue('say "hi"'), '"say \\"hi\\""');
    assert.equal(describeValue('x'.repeat(40)), `"${'x'.repeat(40)}"`);
    assert.equal(describeValue('x'.repeat(41)), 'a string of length 41');
  });

  it('shows numbers, booleans and bigints with their type', () => {
    assert.equal(describeValue(1.5), 'number 1.5');
    assert.equal(describeValue(-0), 'number 0');
    assert.equal(describeValue(Number.NaN), 'number NaN');
    assert.equal(describeValue(Number.POSITIVE_INFINITY), 'number Infinity');
    assert.equal(describeValue(true), 'boolean true');
    assert.equal(describeValue(10n), 'bigint 10');
  });

  it('names null, undefined, arrays, objects, functions and symbols', () => {
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(undefined), 'undefined');
    assert.equal(describeValue([1, 2, 3]), 'an array of length 3');
    assert.equal(describeValue({ secret: 'not shown' }), 'an object');
    assert.equal(describeValue(new Map()), 'an object');
    assert.equal(
      describeValue(() => 1),
      'a function',
    );
    assert.equal(describeValue(Symbol('s')), 'a symbol');
  });

  it('never throws, even on hostile objects', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    assert.equal(describeValue(hostile), 'an object');
    assert.equal(describeValue(Object.create(null)), 'an object');
  });
});

describe('requireInteger', () => {
  it('returns safe integers within the bounds', () => {
    assert.equal(requireInteger('n', 0), 0);
    assert.equal(requireInteger('n', -7), -7);
    assert.equal(requireInteger('n', Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
    assert.equal(requireInteger('n', 1, { min: 1, max: 1 }), 1);
    assert.equal(requireInteger('n', 5, { min: 1 }), 5);
    assert.equal(requireInteger('n', -5, { max: 0 }), -5);
  });

  it('rejects non-integers, naming the argument, the rule and the value', () => {
    for (const value of [
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '1',
      null,
      undefined,
    ]) {
      assertInvalid(
        () => requireInteger('options.count', value),
        'options.count',
        'an integer',
        value,
      );
    }
  });

  it('states each kind of bound in the message', () => {
    assertInvalid(
      () => requireInteger('size', 0, { min: 1, max: 9 }),
      'size',
      'an integer from 1 to 9',
      0,
    );
    assertInvalid(() => requireInteger('size', 10, { min: 1, max: 9 }), 'size', 'from 1 to 9', 10);
    assertInvalid(() => requireInteger('size', -1, { min: 0 }), 'size', 'an integer >= 0', -1);
    assertInvalid(() => requireInteger('size', 3, { max: 2 }), 'size', 'an integer <= 2', 3);
  });
});

describe('requireNumber', () => {
  it('returns finite numbers within the bounds', () => {
    assert.equal(requireNumber('x', 1.5), 1.5);
    assert.equal(requireNumber('x', -1e300), -1e300);
    assert.equal(requireNumber('x', 0.5, { min: 0, max: 1 }), 0.5);
    assert.equal(requireNumber('x', 0, { min: 0 }), 0);
  });

  it('rejects non-finite numbers and other types', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '2', 2n]) {
      assertInvalid(() => requireNumber('delayMs', value), 'delayMs', 'a finite number', value);
    }
  });

  it('rejects values out of range', () => {
    assertInvalid(
      () => requireNumber('ratio', 1.01, { min: 0, max: 1 }),
      'ratio',
      'a finite number from 0 to 1',
      1.01,
    );
    assertInvalid(() => requireNumber('delayMs', -0.1, { min: 0 }), 'delayMs', '>= 0', -0.1);
  });
});

describe('requireFunction', () => {
  it('returns functions', () => {
    const callback = (): number => 3;
    assert.equal(requireFunction('callback', callback), callback);
    assert.equal(requireFunction('callback', class {}).name, '');
  });

  it('rejects anything else', () => {
    for (const value of [undefined, null, {}, 'f', 1]) {
      assertInvalid(() => requireFunction('callback', value), 'callback', 'a function', value);
    }
  });
});

describe('requireString', () => {
  it('returns non-empty strings, and empty ones only when allowed', () => {
    assert.equal(requireString('name', 'a'), 'a');
    assert.equal(requireString('name', '', true), '');
  });

  it('rejects empty strings by default and non-strings always', () => {
    assertInvalid(() => requireString('name', ''), 'name', 'a non-empty string', '');
    assertInvalid(() => requireString('name', 3), 'name', 'a non-empty string', 3);
    assertInvalid(() => requireString('name', null, true), 'name', 'must be a string', null);
  });
});

describe('requireBoolean', () => {
  it('returns booleans', () => {
    assert.equal(requireBoolean('flag', true), true);
    assert.equal(requireBoolean('flag', false), false);
  });

  it('rejects truthy and falsy non-booleans', () => {
    for (const value of [0, 1, 'true', null, undefined]) {
      assertInvalid(() => requireBoolean('flag', value), 'flag', 'a boolean', value);
    }
  });
});

describe('requireOptions', () => {
  it('returns the object, and an empty object for undefined', () => {
    const options = { capacity: 3 };
    assert.equal(requireOptions('options', options), options);
    assert.deepEqual(requireOptions<{ a?: number }>('options', undefined), {});
  });

  it('rejects null, arrays, primitives and functions', () => {
    for (const value of [null, [1], 3, 'x', () => 1]) {
      assertInvalid(
        () => requireOptions('Thing options', value as never),
        'Thing options',
        'an options object',
        value,
      );
    }
  });
});

describe('requireOptionalSignal', () => {
  it('returns a signal, and undefined for undefined', () => {
    const signal = new AbortController().signal;
    assert.equal(requireOptionalSignal('signal', signal), signal);
    assert.equal(requireOptionalSignal('signal', AbortSignal.abort())?.aborted, true);
    assert.equal(requireOptionalSignal('signal', undefined), undefined);
  });

  it('rejects things that are not signals', () => {
    for (const value of [
      null,
      {},
      { aborted: 'no', addEventListener() {} },
      { aborted: false },
      1,
    ]) {
      assertInvalid(
        () => requireOptionalSignal('options.signal', value),
        'options.signal',
        'an AbortSignal or undefined',
        value,
      );
    }
  });
});

describe('requireOneOf', () => {
  it('returns an allowed value', () => {
    assert.equal(requireOneOf('mode', 'b', ['a', 'b']), 'b');
  });

  it('rejects other values and lists the allowed ones', () => {
    assertInvalid(() => requireOneOf('mode', 'c', ['a', 'b']), 'mode', "one of 'a', 'b'", 'c');
    assertInvalid(() => requireOneOf('mode', 1, ['a']), 'mode', "one of 'a'", 1);
  });
});
