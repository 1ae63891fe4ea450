import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortedError,
  AssertionError,
  abortError,
  causeChain,
  DeadlineExceededError,
  DistkitError,
  assert as distkitAssert,
  errorGuard,
  hasErrorCode,
  InvalidArgumentError,
  isAbortedError,
  isAssertionError,
  isDeadlineExceededError,
  isDistkitError,
  isInvalidArgumentError,
  isLimitExceededError,
  LimitExceededError,
} from '../../src/core/index.js';

type ErrorsModule = typeof import('../../src/core/errors.js');

/**
 * Loads `src/core/errors.ts` again as a separate module instance, standing in for a
 * second copy of distkit in the same program. The query string gives the module a
 * different URL, so the ESM loader evaluates it afresh with its own classes.
 */
async function loadSecondCopy(): Promise<ErrorsModule> {
  const url = new URL('../../src/core/errors.ts?copy=2', import.meta.url);
  return (await import(url.href)) as ErrorsModule;
}

describe('DistkitError', () => {
  it('carries a code, a message, a name and an optional cause', () => {
    const cause = new Error('socket closed');
    const error = new DistkitError('SOMETHING_FAILED', 'Something failed; retry later.', {
      cause,
    });
    assert.ok(error instanceof Error);
    assert.equal(error.code, 'SOMETHING_FAILED');
    assert.equal(error.message, 'Something failed; retry later.');
    assert.equal(error.name, 'DistkitError');
    assert.equal(error.cause, cause);
    assert.ok(typeof error.stack === 'string' && error.stack.includes('Something failed'));
  });

  it('has no cause property when none is given', () => {
    const error = new DistkitError('X', 'x');
    assert.equal('cause' in error, false);
    assert.equal('cause' in new DistkitError('X', 'x', {}), false);
  });

  it('keeps a falsy cause', () => {
    assert.equal(new DistkitError('X', 'x', { cause: 0 }).cause, 0);
    assert.equal(new DistkitError('X', 'x', { cause: null }).cause, null);
  });

  it('names each subclass after itself and gives it its stable code', () => {
    const cases: [DistkitError, string, string, (value: unknown) => boolean][] = [
      [
        new InvalidArgumentError('options.a', 'bad a'),
        'InvalidArgumentError',
        'INVALID_ARGUMENT',
        isInvalidArgumentError,
      ],
      [
        new DeadlineExceededError(250),
        'DeadlineExceededError',
        'DEADLINE_EXCEEDED',
        isDeadlineExceededError,
      ],
      [new AbortedError(), 'AbortedError', 'ABORTED', isAbortedError],
      [
        new LimitExceededError(3, 'full'),
        'LimitExceededError',
        'LIMIT_EXCEEDED',
        isLimitExceededError,
      ],
    ];
    for (const [error, name, code, guard] of cases) {
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.ok(isDistkitError(error), name);
      assert.ok(guard(error), name);
      for (const [other, otherName, , otherGuard] of cases) {
        if (other !== error) {
          assert.equal(otherGuard(error), false, `${otherName} guard rejects ${name}`);
        }
      }
    }
  });

  it('gives the subclasses their extra fields and helpful default messages', () => {
    const invalid = new InvalidArgumentError('options.capacity', 'capacity must be >= 1');
    assert.equal(invalid.argument, 'options.capacity');
    const deadline = new DeadlineExceededError(1234);
    assert.equal(deadline.deadlineMs, 1234);
    assert.match(deadline.message, /1234 ms/);
    assert.match(deadline.message, /allow more time/);
    assert.equal(new DeadlineExceededError(1, 'custom').message, 'custom');
    assert.equal(new LimitExceededError(7, 'seven').limit, 7);
    assert.match(new AbortedError().message, /AbortSignal/);
    const reason = new Error('user');
    assert.equal(new AbortedError(undefined, { cause: reason }).cause, reason);
  });
});

describe('brand guards', () => {
  it('reject values that are not distkit errors', () => {
    const lookalike = Object.assign(new Error('x'), { code: 'ABORTED' });
    for (const value of [undefined, null, 0, 'ABORTED', {}, { code: 'ABORTED' }, lookalike]) {
      assert.equal(isDistkitError(value), false);
      assert.equal(isAbortedError(value), false);
      assert.equal(hasErrorCode(value, 'ABORTED'), false);
    }
  });

  it('require a string code next to the brand', () => {
    const branded = { [Symbol.for('distkit.error')]: true, code: 42 };
    assert.equal(isDistkitError(branded), false);
  });

  it('work across a duplicated copy of the module, where instanceof fails', async () => {
    const copy = await loadSecondCopy();
    // The test is only meaningful when the copy really is a second instance.
    assert.notEqual(copy.DistkitError, DistkitError);
    assert.notEqual(copy.isDistkitError, isDistkitError);

    const fromCopy = new copy.DeadlineExceededError(99);
    assert.equal(fromCopy instanceof DistkitError, false);
    assert.equal(fromCopy instanceof DeadlineExceededError, false);
    assert.ok(isDistkitError(fromCopy));
    assert.ok(isDeadlineExceededError(fromCopy));
    assert.equal(isAbortedError(fromCopy), false);
    assert.ok(hasErrorCode(fromCopy, 'DEADLINE_EXCEEDED'));

    const fromHere = new LimitExceededError(1, 'one');
    assert.equal(fromHere instanceof copy.DistkitError, false);
    assert.ok(copy.isDistkitError(fromHere));
    assert.ok(copy.isLimitExceededError(fromHere));

    const copyAssertion = new copy.AssertionError('broken');
    assert.equal(copyAssertion instanceof AssertionError, false);
    assert.ok(isAssertionError(copyAssertion));
    assert.equal(isDistkitError(copyAssertion), false);

    // abortError passes a distkit reason from the other copy through unchanged.
    const controller = new AbortController();
    controller.abort(fromCopy);
    assert.equal(abortError(controller.signal), fromCopy);
  });
});

describe('errorGuard and hasErrorCode', () => {
  it('build guards for one code', () => {
    const isBreakerOpen = errorGuard('BREAKER_OPEN');
    assert.ok(isBreakerOpen(new DistkitError('BREAKER_OPEN', 'open')));
    assert.equal(isBreakerOpen(new DistkitError('BREAKER_CLOSED', 'closed')), false);
    assert.equal(isBreakerOpen(new Error('BREAKER_OPEN')), false);
    assert.ok(hasErrorCode(new AbortedError(), 'ABORTED'));
    assert.equal(hasErrorCode(new AbortedError(), 'aborted'), false);
  });
});

describe('AssertionError and assert', () => {
  it('AssertionError is not a DistkitError, and isAssertionError recognises it', () => {
    const error = new AssertionError('invariant broken');
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'AssertionError');
    assert.equal(error.code, 'ASSERTION_FAILED');
    assert.equal(error.message, 'invariant broken');
    assert.ok(isAssertionError(error));
    assert.equal(isDistkitError(error), false);
    assert.equal(isAssertionError(new DistkitError('ASSERTION_FAILED', 'x')), false);
    assert.equal(isAssertionError(new Error('x')), false);
    assert.equal(isAssertionError(null), false);
  });

  it('assert passes on truthy conditions and throws AssertionError otherwise', () => {
    distkitAssert(true, 'never');
    distkitAssert(1, 'never');
    distkitAssert({}, 'never');
    for (const falsy of [false, 0, '', null, undefined, Number.NaN]) {
      assert.throws(
        () => distkitAssert(falsy, 'size <= capacity'),
        (error: unknown) => isAssertionError(error) && error.message === 'size <= capacity',
      );
    }
  });

  it('calls a lazy message function only on failure', () => {
    let callCount = 0;
    const message = (): string => {
      callCount += 1;
      return `computed ${callCount}`;
    };
    for (let index = 0; index < 10; index += 1) {
      distkitAssert(index < 10, message);
    }
    assert.equal(callCount, 0);
    assert.throws(
      () => distkitAssert(false, message),
      (error: unknown) => isAssertionError(error) && error.message === 'computed 1',
    );
    assert.equal(callCount, 1);
  });
});

describe('causeChain', () => {
  it('walks from the error through its causes', () => {
    const root = new Error('disk full');
    const middle = new DistkitError('WRITE_FAILED', 'write failed', { cause: root });
    const top = new DistkitError('SAVE_FAILED', 'save failed', { cause: middle });
    assert.deepEqual([...causeChain(top)], [top, middle, root]);
  });

  it('yields a non-error cause and stops there', () => {
    const error = new Error('x', { cause: 'a string reason' });
    assert.deepEqual([...causeChain(error)], [error, 'a string reason']);
    assert.deepEqual([...causeChain('plain')], ['plain']);
    assert.deepEqual([...causeChain(undefined)], []);
  });

  it('stops on a cycle, yielding each error once', () => {
    const first = new Error('first');
    const second = new Error('second', { cause: first });
    (first as { cause?: unknown }).cause = second;
    // Compared by message: a failure report holding the cyclic errors themselves could
    // not be passed back from the test process.
    const messages = (error: unknown): string[] =>
      [...causeChain(error)].map((link) => (link as Error).message);
    assert.deepEqual(messages(first), ['first', 'second']);
    assert.deepEqual(messages(second), ['second', 'first']);

    const self = new Error('self');
    (self as { cause?: unknown }).cause = self;
    assert.deepEqual(messages(self), ['self']);

    const into = new Error('into the loop', { cause: first });
    assert.deepEqual(messages(into), ['into the loop', 'first', 'second']);
  });

  it('stops after depthMax links on a long chain', () => {
    let error = new Error('0');
    for (let index = 1; index < 200; index += 1) {
      error = new Error(String(index), { cause: error });
    }
    assert.equal([...causeChain(error)].length, 64);
    const shallow = [...causeChain(error, 3)] as Error[];
    assert.deepEqual(
      shallow.map((link) => link.message),
      ['199', '198', '197'],
    );
  });

  it('finds a coded error anywhere in the chain', () => {
    const deadline = new DeadlineExceededError(10);
    const wrapped = new Error('request failed', {
      cause: new Error('retry gave up', { cause: deadline }),
    });
    assert.ok([...causeChain(wrapped)].some(isDeadlineExceededError));
  });
});

describe('abortError', () => {
  it('returns a distkit reason itself', () => {
    const reason = new DeadlineExceededError(5);
    const controller = new AbortController();
    controller.abort(reason);
    assert.equal(abortError(controller.signal), reason);
  });

  it('wraps any other reason in an AbortedError whose cause is the reason', () => {
    const controller = new AbortController();
    controller.abort();
    const defaultReason: unknown = controller.signal.reason;
    const wrapped = abortError(controller.signal);
    assert.ok(isAbortedError(wrapped));
    assert.ok(wrapped instanceof AbortedError);
    assert.equal(wrapped.cause, defaultReason);
    assert.equal((defaultReason as Error).name, 'AbortError');

    const custom = new AbortController();
    custom.abort('shutting down');
    const fromString = abortError(custom.signal);
    assert.ok(isAbortedError(fromString));
    assert.equal(fromString.cause, 'shutting down');

    const plainError = new Error('user cancelled');
    assert.equal(abortError(AbortSignal.abort(plainError)).cause, plainError);
  });
});
