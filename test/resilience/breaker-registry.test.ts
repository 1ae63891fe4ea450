import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isInvalidArgumentError,
  isLimitExceededError,
  VirtualScheduler,
} from '../../src/core/index.js';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.js';
import { CircuitBreakerPolicy, isBreakerOpenError } from '../../src/resilience/circuit-breaker.js';

function registry(
  scheduler: VirtualScheduler,
  keyCountMax: number,
  evictionQuietMs?: number,
): { breakers: BreakerRegistry<string>; created: string[] } {
  const created: string[] = [];
  const breakers = new BreakerRegistry<string>({
    keyCountMax,
    ...(evictionQuietMs === undefined ? {} : { evictionQuietMs }),
    create: (key) => {
      created.push(key);
      return new CircuitBreakerPolicy({
        name: key,
        strategy: { kind: 'consecutive-failures', failureCountThreshold: 2 },
        breakDurationMs: 1_000,
        scheduler,
      });
    },
  });
  return { breakers, created };
}

const boom = (): Promise<never> => Promise.reject(new Error('boom'));

describe('BreakerRegistry', () => {
  it('validates its options', () => {
    const create = (): CircuitBreakerPolicy =>
      new CircuitBreakerPolicy({
        strategy: { kind: 'consecutive-failures', failureCountThreshold: 1 },
        breakDurationMs: 1,
      });
    for (const options of [
      { create, keyCountMax: 0 },
      { create, keyCountMax: 1.5 },
      { create, keyCountMax: 10, evictionQuietMs: -1 },
      { create: 'nope', keyCountMax: 10 },
      { create },
    ]) {
      assert.throws(() => new BreakerRegistry(options as never), isInvalidArgumentError);
    }
    const bad = new BreakerRegistry<string>({ keyCountMax: 2, create: () => ({}) as never });
    assert.throws(() => bad.get('a'), isInvalidArgumentError);
  });

  it('makes one breaker per key on first use and returns it after', () => {
    const { breakers, created } = registry(new VirtualScheduler(), 10);
    const a = breakers.get('a');
    assert.equal(breakers.get('a'), a);
    assert.notEqual(breakers.get('b'), a);
    assert.deepEqual(created, ['a', 'b']);
    assert.equal(breakers.size, 2);
    assert.equal(breakers.peek('c'), undefined);
    assert.equal(breakers.size, 2, 'peek makes nothing');
  });

  it('isolates failures per key: one host opens, the others stay closed', async () => {
    const { breakers } = registry(new VirtualScheduler(), 10);
    await assert.rejects(breakers.execute('down.example', boom));
    await assert.rejects(breakers.execute('down.example', boom));
    await assert.rejects(
      breakers.execute('down.example', () => 'never runs'),
      (error) => isBreakerOpenError(error) && error.breakerName === 'down.example',
    );
    assert.equal(await breakers.execute('up.example', () => 'fine'), 'fine');
    assert.equal(breakers.peek('down.example')?.state, 'open');
    assert.equal(breakers.peek('up.example')?.state, 'closed');
  });

  it('evicts the least recently used quiet closed breaker when full', () => {
    const scheduler = new VirtualScheduler();
    const { breakers } = registry(scheduler, 3);
    const evicted: string[] = [];
    breakers.onEvict(({ key }) => evicted.push(key));
    breakers.get('a');
    breakers.get('b');
    breakers.get('c');
    breakers.get('a'); // a is now the most recently used
    breakers.get('d');
    assert.deepEqual(evicted, ['b']);
    assert.deepEqual(
      [...breakers.entries()].map(([key]) => key),
      ['c', 'a', 'd'],
    );
  });

  it('never evicts an open or recently failing breaker, and rejects when none can go', async () => {
    const scheduler = new VirtualScheduler();
    const { breakers } = registry(scheduler, 2, 500);
    await assert.rejects(breakers.execute('open', boom));
    await assert.rejects(breakers.execute('open', boom));
    await assert.rejects(breakers.execute('failing', boom));
    assert.equal(breakers.peek('open')?.state, 'open');
    assert.throws(
      () => breakers.get('new'),
      (error) => isLimitExceededError(error) && error.limit === 2,
    );
    await assert.rejects(
      breakers.execute('new', () => 'x'),
      isLimitExceededError,
    );
    scheduler.advanceMs(500);
    breakers.get('new');
    assert.equal(breakers.peek('failing'), undefined, 'quiet for 500 ms: evictable');
    assert.equal(breakers.peek('open')?.state, 'open', 'still open: kept');
  });

  it('delete forgets a breaker', () => {
    const { breakers, created } = registry(new VirtualScheduler(), 2);
    breakers.get('a');
    assert.equal(breakers.delete('a'), true);
    assert.equal(breakers.delete('a'), false);
    breakers.get('a');
    assert.deepEqual(created, ['a', 'a']);
  });

  it('never holds more than keyCountMax breakers (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 60 }),
        (keyCountMax, keys) => {
          const { breakers } = registry(new VirtualScheduler(), keyCountMax);
          const order: number[] = [];
          for (const key of keys) {
            breakers.get(String(key));
            const position = order.indexOf(key);
            if (position >= 0) {
              order.splice(position, 1);
            } else if (order.length === keyCountMax) {
              order.shift();
            }
            order.push(key);
            assert.ok(breakers.size <= keyCountMax);
          }
          // All breakers are closed and quiet, so the registry is an exact LRU cache.
          assert.deepEqual(
            [...breakers.entries()].map(([key]) => Number(key)),
            order,
          );
        },
      ),
    );
  });
});
