import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { SingleFlight } from '../../src/cache/single-flight.js';
import {
  DeadlineExceededError,
  isAbortedError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  isLimitExceededError,
} from '../../src/core/index.js';
import { flush } from './loading-support.js';

/** A promise and the functions that settle it. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('serves 1,000 concurrent misses on one key with exactly one load', async () => {
    const flights = new SingleFlight<string, number>();
    const origin = deferred<number>();
    let loadCount = 0;
    const calls: Promise<number>[] = [];
    for (let index = 0; index < 1_000; index += 1) {
      calls.push(
        flights.run('hot', () => {
          loadCount += 1;
          return origin.promise;
        }),
      );
    }
    assert.equal(flights.callerCountOf('hot'), 1_000);
    assert.equal(flights.flightCount, 1);
    origin.resolve(42);
    const values = await Promise.all(calls);
    assert.equal(loadCount, 1);
    assert.equal(flights.loadCount, 1);
    assert.equal(flights.joinCount, 999);
    assert.ok(values.every((value) => value === 42));
    assert.equal(flights.flightCount, 0);
    assert.equal(flights.has('hot'), false);
  });

  it('runs separate loads for separate keys, and a new load after one settles', async () => {
    const flights = new SingleFlight<string, string>();
    const loaded: string[] = [];
    const load = (key: string) => async () => {
      loaded.push(key);
      return key.toUpperCase();
    };
    const [a, b] = await Promise.all([flights.run('a', load('a')), flights.run('b', load('b'))]);
    assert.deepEqual([a, b], ['A', 'B']);
    assert.equal(await flights.run('a', load('a')), 'A');
    assert.deepEqual(loaded, ['a', 'b', 'a'], 'a settled value is not remembered');
  });

  it('accepts a load that returns a value or throws synchronously', async () => {
    const flights = new SingleFlight<string, number>();
    assert.equal(await flights.run('k', () => 7), 7);
    const failure = new Error('sync failure');
    await assert.rejects(
      flights.run('k', () => {
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.equal(flights.flightCount, 0);
  });

  it('rejects every waiting caller with a failed load, and loads again on the next call', async () => {
    const flights = new SingleFlight<string, number>();
    const origin = deferred<number>();
    let loadCount = 0;
    const load = () => {
      loadCount += 1;
      return origin.promise;
    };
    const first = flights.run('k', load);
    const second = flights.run('k', load);
    const failure = new Error('origin down');
    origin.reject(failure);
    await assert.rejects(first, (error) => error === failure);
    await assert.rejects(second, (error) => error === failure);
    assert.equal(flights.has('k'), false);
    assert.equal(await flights.run('k', () => 5), 5);
    assert.equal(loadCount, 1, 'the failed load ran once for both callers');
    assert.equal(flights.loadCount, 2);
  });

  it('rejects only the caller whose signal aborts; the load goes on for the others', async () => {
    const flights = new SingleFlight<string, number>();
    const origin = deferred<number>();
    let loadSignal: AbortSignal | undefined;
    const impatient = new AbortController();
    const patient = new AbortController();
    const first = flights.run(
      'k',
      (signal) => {
        loadSignal = signal;
        return origin.promise;
      },
      { signal: impatient.signal },
    );
    const second = flights.run('k', () => assert.fail('joined, not loaded'), {
      signal: patient.signal,
    });
    const third = flights.run('k', () => assert.fail('joined, not loaded'));
    impatient.abort();
    await assert.rejects(first, isAbortedError);
    assert.equal(loadSignal?.aborted, false);
    assert.equal(flights.callerCountOf('k'), 2);
    origin.resolve(9);
    assert.equal(await second, 9);
    assert.equal(await third, 9);
    assert.equal(getEventListeners(impatient.signal, 'abort').length, 0);
    assert.equal(getEventListeners(patient.signal, 'abort').length, 0);
  });

  it("rejects with the signal's distkit reason, such as a deadline", async () => {
    const flights = new SingleFlight<string, number>();
    const controller = new AbortController();
    const call = flights.run('k', () => new Promise<number>(() => {}), {
      signal: controller.signal,
    });
    controller.abort(new DeadlineExceededError(100));
    await assert.rejects(call, isDeadlineExceededError);
  });

  it('aborts the shared load when every caller has gone, and forgets it', async () => {
    const flights = new SingleFlight<string, number>();
    const origin = deferred<number>();
    let loadSignal: AbortSignal | undefined;
    const controllers = [new AbortController(), new AbortController()];
    const calls = controllers.map((controller) =>
      flights.run(
        'k',
        (signal) => {
          loadSignal = signal;
          return origin.promise;
        },
        { signal: controller.signal },
      ),
    );
    // Settled outcomes, so that the first rejection is handled while the test waits.
    const outcomes = calls.map((call) => call.then(undefined, (error: unknown) => error));
    (controllers[0] as AbortController).abort();
    await flush();
    assert.equal(loadSignal?.aborted, false, 'one caller still waits');
    (controllers[1] as AbortController).abort();
    for (const outcome of await Promise.all(outcomes)) {
      assert.ok(isAbortedError(outcome));
    }
    assert.equal(loadSignal?.aborted, true);
    assert.ok(isAbortedError(loadSignal?.reason));
    assert.equal(flights.has('k'), false);
    // The abandoned load settling later touches nothing; a new call loads afresh.
    const fresh = flights.run('k', () => 11);
    origin.resolve(10);
    assert.equal(await fresh, 11);
    await flush();
    assert.equal(flights.flightCount, 0);
  });

  it('rejects at once, without loading, when the signal has already aborted', async () => {
    const flights = new SingleFlight<string, number>();
    let loadCount = 0;
    await assert.rejects(
      flights.run(
        'k',
        () => {
          loadCount += 1;
          return 1;
        },
        { signal: AbortSignal.abort() },
      ),
      isAbortedError,
    );
    assert.equal(loadCount, 0);
    assert.equal(flights.flightCount, 0);
  });

  it('bounds the keys in flight and the callers per key', async () => {
    const flights = new SingleFlight<string, number>({ flightCountMax: 2, callerCountMax: 3 });
    const origin = deferred<number>();
    const pending = [
      flights.run('a', () => origin.promise),
      flights.run('b', () => origin.promise),
      flights.run('a', () => origin.promise),
      flights.run('a', () => origin.promise),
    ];
    await assert.rejects(
      flights.run('c', () => 1),
      isLimitExceededError,
    );
    await assert.rejects(
      flights.run('a', () => 1),
      isLimitExceededError,
    );
    origin.resolve(1);
    assert.deepEqual(await Promise.all(pending), [1, 1, 1, 1]);
    assert.equal(await flights.run('c', () => 3), 3);
  });

  it('rejects bad options and arguments with InvalidArgumentError', () => {
    assert.throws(() => new SingleFlight({ flightCountMax: 0 }), isInvalidArgumentError);
    assert.throws(() => new SingleFlight({ callerCountMax: 1.5 }), isInvalidArgumentError);
    assert.throws(() => new SingleFlight(null as never), isInvalidArgumentError);
    const flights = new SingleFlight<string, number>();
    assert.throws(() => flights.run('k', 'load' as never), isInvalidArgumentError);
    assert.throws(
      () => flights.run('k', () => 1, { signal: 'soon' as never }),
      isInvalidArgumentError,
    );
  });
});
