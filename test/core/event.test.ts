import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Disposable,
  Emitter,
  type Event,
  isInvalidArgumentError,
  isLimitExceededError,
  LimitExceededError,
} from '../../src/core/index.js';

describe('Emitter', () => {
  it('delivers emitted values to a subscriber until it is disposed', () => {
    const emitter = new Emitter<number>();
    const heard: number[] = [];
    const subscription = emitter.event((value) => heard.push(value));
    emitter.emit(1);
    emitter.emit(2);
    subscription.dispose();
    emitter.emit(3);
    assert.deepEqual(heard, [1, 2]);
  });

  it('emits with no listeners without effect', () => {
    const emitter = new Emitter<string>();
    emitter.emit('nobody listens');
    assert.equal(emitter.listenerCount, 0);
  });

  it('hands out the event function, which is all a consumer needs', () => {
    const emitter = new Emitter<string>();
    const event: Event<string> = emitter.event;
    const heard: string[] = [];
    event((value) => heard.push(value));
    emitter.emit('ready');
    assert.deepEqual(heard, ['ready']);
  });

  it('calls listeners in subscription order', () => {
    const emitter = new Emitter<string>();
    const heard: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      emitter.event((value) => heard.push(`${name}:${value}`));
    }
    emitter.emit('x');
    assert.deepEqual(heard, ['a:x', 'b:x', 'c:x', 'd:x']);
  });

  it('keeps the order of the others when one in the middle is disposed', () => {
    const emitter = new Emitter<number>();
    const heard: string[] = [];
    emitter.event(() => heard.push('a'));
    const middle = emitter.event(() => heard.push('b'));
    emitter.event(() => heard.push('c'));
    middle.dispose();
    emitter.emit(0);
    assert.deepEqual(heard, ['a', 'c']);
  });

  it('treats each subscription of the same function on its own', () => {
    const emitter = new Emitter<number>();
    const heard: string[] = [];
    const shared = (): void => {
      heard.push('shared');
    };
    emitter.event(shared);
    emitter.event(() => heard.push('other'));
    const second = emitter.event(shared);
    assert.equal(emitter.listenerCount, 3);
    second.dispose();
    second.dispose();
    emitter.emit(0);
    // Disposing the later subscription must leave the earlier one where it was.
    assert.deepEqual(heard, ['shared', 'other']);
    assert.equal(emitter.listenerCount, 2);
  });

  it('makes a second dispose harmless', () => {
    const emitter = new Emitter<number>();
    const heard: string[] = [];
    const first = emitter.event(() => heard.push('first'));
    emitter.event(() => heard.push('second'));
    first.dispose();
    first.dispose();
    assert.equal(emitter.listenerCount, 1);
    emitter.emit(0);
    assert.deepEqual(heard, ['second']);
  });

  it('lets a listener added during an emit hear only the next emit', () => {
    const emitter = new Emitter<number>();
    const heard: string[] = [];
    let added = false;
    emitter.event((value) => {
      heard.push(`outer:${value}`);
      if (!added) {
        added = true;
        emitter.event((inner) => heard.push(`inner:${inner}`));
      }
    });
    emitter.emit(1);
    assert.deepEqual(heard, ['outer:1']);
    emitter.emit(2);
    assert.deepEqual(heard, ['outer:1', 'outer:2', 'inner:2']);
  });

  it('lets a listener removed during an emit still hear the current one', () => {
    const emitter = new Emitter<number>();
    const heard: string[] = [];
    let later: Disposable | undefined;
    emitter.event((value) => {
      heard.push(`remover:${value}`);
      later?.dispose();
    });
    later = emitter.event((value) => heard.push(`later:${value}`));
    emitter.emit(1);
    assert.deepEqual(heard, ['remover:1', 'later:1']);
    emitter.emit(2);
    assert.deepEqual(heard, ['remover:1', 'later:1', 'remover:2']);
  });

  it('lets a listener dispose itself during an emit', () => {
    const emitter = new Emitter<number>();
    const heard: number[] = [];
    const once: Disposable = emitter.event((value) => {
      heard.push(value);
      once.dispose();
    });
    emitter.emit(1);
    emitter.emit(2);
    assert.deepEqual(heard, [1]);
    assert.equal(emitter.listenerCount, 0);
  });

  it('sends what a listener throws to onListenerError and still calls the others', () => {
    const failures: unknown[] = [];
    const emitter = new Emitter<number>({ onListenerError: (error) => failures.push(error) });
    const heard: string[] = [];
    const boom = new Error('listener bug');
    emitter.event(() => heard.push('before'));
    emitter.event(() => {
      throw boom;
    });
    emitter.event(() => heard.push('after'));
    emitter.emit(1);
    emitter.emit(2);
    assert.deepEqual(heard, ['before', 'after', 'before', 'after']);
    assert.deepEqual(failures, [boom, boom]);
  });

  it('rejects a listener beyond listenerCountMax with LimitExceededError', () => {
    const emitter = new Emitter<number>({ listenerCountMax: 2 });
    const first = emitter.event(() => {});
    emitter.event(() => {});
    assert.throws(
      () => emitter.event(() => {}),
      (error: unknown) =>
        isLimitExceededError(error) &&
        error instanceof LimitExceededError &&
        error.limit === 2 &&
        /listenerCountMax/.test(error.message),
    );
    assert.equal(emitter.listenerCount, 2);
    first.dispose();
    emitter.event(() => {});
    assert.equal(emitter.listenerCount, 2);
  });

  it('has the documented default limit of 1,000 listeners', () => {
    const emitter = new Emitter<number>();
    for (let index = 0; index < 1_000; index += 1) {
      emitter.event(() => {});
    }
    assert.throws(() => emitter.event(() => {}), isLimitExceededError);
  });

  it('returns listenerCount to 0 once every subscription is disposed', () => {
    const emitter = new Emitter<number>();
    const subscriptions: Disposable[] = [];
    for (let index = 0; index < 50; index += 1) {
      subscriptions.push(emitter.event(() => {}));
    }
    assert.equal(emitter.listenerCount, 50);
    // Dispose out of order, and some twice.
    for (let index = 0; index < 50; index += 2) {
      subscriptions[index]?.dispose();
    }
    assert.equal(emitter.listenerCount, 25);
    for (const subscription of subscriptions) {
      subscription.dispose();
    }
    assert.equal(emitter.listenerCount, 0);
    let heard = 0;
    emitter.event(() => {
      heard += 1;
    });
    emitter.emit(0);
    assert.equal(heard, 1);
  });

  it('rejects invalid options and listeners with InvalidArgumentError', () => {
    for (const listenerCountMax of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new Emitter({ listenerCountMax }),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === 'Emitter options.listenerCountMax',
      );
    }
    assert.throws(
      () => new Emitter({ onListenerError: 'log' as never }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'Emitter options.onListenerError',
    );
    const emitter = new Emitter<number>();
    assert.throws(() => emitter.event(undefined as never), isInvalidArgumentError);
    assert.equal(emitter.listenerCount, 0);
  });
});
