import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cache, type InvalidationEvent, LocalInvalidationBus } from '../../src/cache/index.js';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';

function pair(bus = new LocalInvalidationBus()) {
  const a = new Cache<string, number>({ maxEntries: 100, invalidation: { bus, origin: 'a' } });
  const b = new Cache<string, number>({ maxEntries: 100, invalidation: { bus, origin: 'b' } });
  return { bus, a, b };
}

describe('invalidation across caches on one bus', () => {
  it("a write on one instance drops the other instance's copy, not its own", () => {
    const { a, b } = pair();
    a.set('x', 1);
    b.set('x', 2);
    assert.equal(a.has('x'), false, 'a dropped its stale copy');
    assert.equal(b.get('x'), 2, 'b ignored its own echo');
    assert.equal(a.stats().removals.invalidated, 1);
  });

  it('delete, tag, prefix and clear reach the other instance', () => {
    const { a, b } = pair();
    b.set('user:1', 1, { tags: ['users'] });
    b.set('user:2', 2);
    b.set('order:1', 3, { tags: ['orders'] });
    b.set('other', 4);
    a.delete('other');
    assert.deepEqual([...b.keys()].sort(), ['order:1', 'user:1', 'user:2']);
    a.invalidateTag('orders');
    assert.deepEqual([...b.keys()].sort(), ['user:1', 'user:2']);
    a.invalidatePrefix('user:');
    assert.equal(b.size, 0);
    b.set('z', 1);
    a.clear();
    assert.equal(b.size, 0);
    assert.equal(b.stats().removals.invalidated, 4);
  });

  it('number keys travel as strings and still find their entry', () => {
    const bus = new LocalInvalidationBus();
    const a = new Cache<number, string>({ maxEntries: 10, invalidation: { bus, origin: 'a' } });
    const b = new Cache<number, string>({ maxEntries: 10, invalidation: { bus, origin: 'b' } });
    b.set(42, 'old');
    const events: InvalidationEvent[] = [];
    bus.subscribe((event) => events.push(event));
    a.delete(42);
    assert.deepEqual(events, [{ kind: 'key', key: '42', origin: 'a' }]);
    assert.equal(b.has(42), false);
  });

  it('close() stops listening; the cache keeps working locally', () => {
    const { bus, a, b } = pair();
    assert.equal(bus.subscriberCount, 2);
    b.set('x', 1);
    b.close();
    assert.equal(bus.subscriberCount, 1);
    a.set('x', 2);
    assert.equal(b.get('x'), 1);
  });

  it('gives each instance a distinct random origin when none is given', () => {
    const bus = new LocalInvalidationBus();
    const random = new SeededRandom({ seed: 1 });
    const a = new Cache<string, number>({ maxEntries: 10, invalidation: { bus }, random });
    const b = new Cache<string, number>({ maxEntries: 10, invalidation: { bus }, random });
    assert.notEqual(a.origin, b.origin);
    b.set('k', 1);
    a.set('k', 2);
    assert.equal(b.has('k'), false);
    assert.equal(a.has('k'), true);
  });

  it('the local bus validates events', () => {
    const bus = new LocalInvalidationBus();
    for (const event of [
      null,
      { kind: 'key', origin: 'a' },
      { kind: 'tag', tag: '', origin: 'a' },
      { kind: 'nope', origin: 'a' },
      { kind: 'clear' },
    ]) {
      assert.throws(
        () => bus.publish(event as unknown as InvalidationEvent),
        isInvalidArgumentError,
      );
    }
  });
});
