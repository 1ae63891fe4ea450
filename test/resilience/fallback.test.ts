import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AssertionError,
  isAbortedError,
  isAssertionError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  VirtualScheduler,
} from '../../src/core/index.js';
import { type FallbackEvent, FallbackPolicy } from '../../src/resilience/fallback.js';
import type { PolicyContext } from '../../src/resilience/policy.js';
import { TimeoutPolicy } from '../../src/resilience/timeout.js';

interface User {
  readonly name: string;
}

const guest: User = { name: 'guest' };

describe('FallbackPolicy', () => {
  it('passes a success through untouched and stays silent', async () => {
    const fallback = new FallbackPolicy<User>({ fallback: guest });
    const heard: FallbackEvent[] = [];
    fallback.onFallback((event) => heard.push(event));
    const ada = { name: 'ada' };
    assert.equal(await fallback.execute(async () => ada), ada);
    assert.equal(await fallback.execute(() => ada), ada, 'a plain value too');
    assert.deepEqual(heard, []);
  });

  it('answers a failure with the fallback value and reports the error', async () => {
    const fallback = new FallbackPolicy<User>({ fallback: guest });
    const heard: FallbackEvent[] = [];
    fallback.onFallback((event) => heard.push(event));
    const failure = new Error('user service down');
    const user: User = await fallback.execute(() => Promise.reject(failure));
    assert.equal(user, guest);
    assert.deepEqual(heard, [{ error: failure }]);
  });

  it('answers a synchronous throw too', async () => {
    const fallback = new FallbackPolicy({ fallback: 0 });
    const count = await fallback.execute((): number => {
      throw new Error('parse failed');
    });
    assert.equal(count, 0);
  });

  it('calls a fallback function with the error and the context the work ran under', async () => {
    let workContext: PolicyContext | undefined;
    let seen: { error: unknown; context: PolicyContext } | undefined;
    const fallback = new FallbackPolicy<User>({
      fallback: (error, context) => {
        seen = { error, context };
        return { name: `fallback for ${(error as Error).message}` };
      },
    });
    const user = await fallback.execute((context) => {
      workContext = context;
      return Promise.reject(new Error('timeout'));
    });
    assert.deepEqual(user, { name: 'fallback for timeout' });
    assert.equal(seen?.context, workContext);
    assert.equal(seen?.context.attempt, 1);
  });

  it('waits for an asynchronous fallback', async () => {
    const scheduler = new VirtualScheduler();
    const fallback = new FallbackPolicy({
      fallback: () =>
        new Promise<string>((resolve) => scheduler.schedule(10, () => resolve('cached'))),
    });
    const result = fallback.execute((): Promise<string> => Promise.reject(new Error('down')));
    await Promise.resolve();
    scheduler.advanceMs(10);
    assert.equal(await result, 'cached');
  });

  it('returns a function value when it is wrapped in a function', async () => {
    const handler = (): string => 'default handler';
    const fallback = new FallbackPolicy<() => string>({ fallback: () => handler });
    const chosen = await fallback.execute(() => Promise.reject(new Error('no handler')));
    assert.equal(chosen, handler);
  });

  it('accepts undefined as the fallback value', async () => {
    const fallback = new FallbackPolicy({ fallback: undefined });
    const result: string | undefined = await fallback.execute(
      (): Promise<string> => Promise.reject(new Error('missing')),
    );
    assert.equal(result, undefined);
  });

  it('lets failures that shouldFallback declines through as they are', async () => {
    const notFound = Object.assign(new Error('not found'), { status: 404 });
    const fallback = new FallbackPolicy<User>({
      fallback: guest,
      shouldFallback: (error) => (error as { status?: number }).status !== 404,
    });
    await assert.rejects(
      fallback.execute(() => Promise.reject(notFound)),
      (error) => error === notFound,
    );
    assert.equal(await fallback.execute(() => Promise.reject(new Error('503'))), guest);
  });

  it('never answers an AssertionError, whatever shouldFallback says', async () => {
    const fallback = new FallbackPolicy<User>({ fallback: guest, shouldFallback: () => true });
    const heard: FallbackEvent[] = [];
    fallback.onFallback((event) => heard.push(event));
    await assert.rejects(
      fallback.execute(() => Promise.reject(new AssertionError('a bug'))),
      isAssertionError,
    );
    await assert.rejects(
      fallback.execute(() => {
        throw new AssertionError('a synchronous bug');
      }),
      isAssertionError,
    );
    assert.deepEqual(heard, []);
  });

  it('does not hide a cancellation by the caller', async () => {
    const fallback = new FallbackPolicy<User>({ fallback: guest });
    const controller = new AbortController();
    const call = fallback.execute(
      ({ signal }) =>
        new Promise<User>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      controller.signal,
    );
    controller.abort('user left');
    await assert.rejects(call, (error) => error === 'user left');
  });

  it('rejects without running the work when the caller has already aborted', async () => {
    const fallback = new FallbackPolicy<User>({ fallback: guest });
    let ran = false;
    await assert.rejects(
      fallback.execute(() => {
        ran = true;
        return guest;
      }, AbortSignal.abort()),
      isAbortedError,
    );
    assert.equal(ran, false);
  });

  it('answers a timeout of a policy inside it, which is not the caller cancelling', async () => {
    const scheduler = new VirtualScheduler();
    const timeout = new TimeoutPolicy({ timeoutMs: 100, scheduler });
    const heard: unknown[] = [];
    const fallback = new FallbackPolicy<User>({ fallback: guest });
    fallback.onFallback(({ error }) => heard.push(error));
    const call = fallback.execute((context) =>
      timeout.execute(() => new Promise<User>(() => {}), context),
    );
    scheduler.advanceMs(100);
    assert.equal(await call, guest);
    assert.ok(isDeadlineExceededError(heard[0]));
  });

  it('rejects with what the fallback function throws or rejects with', async () => {
    const broken = new Error('cache down too');
    const throwing = new FallbackPolicy<User>({
      fallback: () => {
        throw broken;
      },
    });
    await assert.rejects(
      throwing.execute(() => Promise.reject(new Error('down'))),
      (error) => error === broken,
    );
    await assert.rejects(
      throwing.execute(() => {
        throw new Error('down');
      }),
      (error) => error === broken,
    );
    const rejecting = new FallbackPolicy<User>({ fallback: () => Promise.reject(broken) });
    await assert.rejects(
      rejecting.execute(() => Promise.reject(new Error('down'))),
      (error) => error === broken,
    );
  });

  it('types the result as the union of the work and the fallback', async () => {
    const users = new FallbackPolicy<User>({ fallback: guest });
    const user: User = await users.execute(async () => ({ name: 'ada' }));
    const numbers = new FallbackPolicy({ fallback: -1 });
    const mixed: string | number = await numbers.execute(async () => 'text');
    assert.equal(user.name, 'ada');
    assert.equal(mixed, 'text');
  });

  it('rejects bad options, naming the option', () => {
    const cases: [string, () => unknown][] = [
      ['fallback', () => new FallbackPolicy({} as never)],
      ['options', () => new FallbackPolicy(null as never)],
      [
        'shouldFallback',
        () => new FallbackPolicy({ fallback: 1, shouldFallback: 'no' as unknown as () => boolean }),
      ],
    ];
    for (const [option, make] of cases) {
      assert.throws(make, (error) => {
        assert.ok(isInvalidArgumentError(error));
        assert.match(error.argument, new RegExp(option));
        return true;
      });
    }
  });

  it('property: value on success, fallback on an accepted failure, the error otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        async (succeeds, synchronous, accepted, fallbackIsFunction, value) => {
          const failure = new Error('failed');
          const fallback = new FallbackPolicy<number>({
            fallback: fallbackIsFunction ? () => Promise.resolve(-value) : -value,
            shouldFallback: () => accepted,
          });
          let fellBack = 0;
          fallback.onFallback(() => {
            fellBack += 1;
          });
          const work = (): number | Promise<number> => {
            if (synchronous) {
              if (succeeds) {
                return value;
              }
              throw failure;
            }
            return succeeds ? Promise.resolve(value) : Promise.reject(failure);
          };
          const settled = await fallback.execute(work).then(
            (result) => ({ result }),
            (error: unknown) => ({ error }),
          );
          if (succeeds) {
            assert.deepEqual(settled, { result: value });
          } else if (accepted) {
            assert.deepEqual(settled, { result: -value });
          } else {
            assert.deepEqual(settled, { error: failure });
          }
          assert.equal(fellBack, !succeeds && accepted ? 1 : 0);
        },
      ),
    );
  });
});
