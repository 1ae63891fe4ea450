import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WriteThroughStore } from '../../src/cache/loading-cache.js';
import { isLoadingCacheClosedError } from '../../src/cache/loading-errors.js';
import {
  isWriteBehindClosedError,
  isWriteBehindFullError,
  type PendingWrite,
  WriteBehindWriter,
} from '../../src/cache/write-behind.js';
import { isAbortedError, isInvalidArgumentError, VirtualScheduler } from '../../src/core/index.js';
import { advance, flush, settle, setup } from './loading-support.js';

/** A backing store for write-through that takes `delayMs` per write and can fail. */
function backingStore(scheduler: VirtualScheduler, values: Map<string, number>) {
  const log: string[] = [];
  const control = { delayMs: 0, failing: false };
  const apply = (entry: string, change: () => void): Promise<void> | void => {
    const finish = (): void => {
      if (control.failing) {
        throw new Error(`store refused ${entry}`);
      }
      log.push(entry);
      change();
    };
    if (control.delayMs === 0) {
      return finish();
    }
    return new Promise<void>((resolve, reject) => {
      scheduler.schedule(control.delayMs, () => {
        try {
          finish();
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
  };
  const store: WriteThroughStore<string, number> = {
    write: (key, value) => apply(`${key}=${value}`, () => values.set(key, value)),
    delete: (key) => apply(`-${key}`, () => values.delete(key)),
  };
  return { store, log, control, values };
}

describe('LoadingCache write-through', () => {
  it('writes the store, then the cache', async () => {
    const scheduler = new VirtualScheduler();
    const values = new Map<string, number>();
    const through = backingStore(scheduler, values);
    const { loading, origin } = setup({ writeThrough: through.store }, scheduler);
    await loading.set('a', 1);
    assert.deepEqual(through.log, ['a=1']);
    assert.equal(values.get('a'), 1);
    assert.equal(loading.peek('a'), 1);
    assert.equal(await loading.get('a'), 1);
    assert.equal(origin.loads.length, 0);
    await loading.delete('a');
    assert.deepEqual(through.log, ['a=1', '-a']);
    assert.equal(values.has('a'), false);
    assert.equal(loading.peek('a'), undefined);
    assert.equal(loading.stats.writes, 2);
  });

  it('leaves the cache as it was when the store write fails', async () => {
    const scheduler = new VirtualScheduler();
    const through = backingStore(scheduler, new Map());
    const { loading, origin } = setup({ writeThrough: through.store }, scheduler);
    origin.values.set('a', 1);
    assert.equal(await loading.get('a'), 1);
    through.control.failing = true;
    await assert.rejects(loading.set('a', 2), /store refused a=2/);
    assert.equal(loading.peek('a'), 1, 'the old value stays');
    await assert.rejects(loading.delete('a'), /store refused -a/);
    assert.equal(loading.peek('a'), 1);
    await assert.rejects(loading.set('b', 2), /store refused/);
    assert.equal(loading.peek('b'), undefined, 'nothing new appears');
    assert.equal(loading.stats.writeFailures, 3);
    assert.equal(loading.stats.writes, 0);
  });

  it('does not let a load that read the origin before a write overwrite the written value', async () => {
    const scheduler = new VirtualScheduler();
    const through = backingStore(scheduler, new Map());
    const { loading, origin } = setup({ writeThrough: through.store }, scheduler);
    origin.values.set('a', 1);
    origin.loadDelayMs = 100;
    const reading = loading.get('a');
    await advance(scheduler, 10);
    await loading.set('a', 2);
    assert.equal(loading.peek('a'), 2);
    // The load started before the write and answers the old value at 100 ms.
    assert.equal(await settle(scheduler, reading), 1);
    assert.equal(loading.peek('a'), 2, 'the written value survives the older load');
    assert.equal(await loading.get('a'), 2);
  });

  it('does not store what a load read while a write of the key was running', async () => {
    const scheduler = new VirtualScheduler();
    const through = backingStore(scheduler, new Map());
    const { loading, origin } = setup({ writeThrough: through.store }, scheduler);
    origin.values.set('a', 1);
    origin.loadDelayMs = 100;
    through.control.delayMs = 50;
    const writing = loading.set('a', 2);
    await advance(scheduler, 10);
    // Began after the write, but read the origin before the write landed (at 50 ms).
    const reading = loading.get('a');
    await advance(scheduler, 40);
    await writing;
    assert.equal(loading.peek('a'), 2);
    assert.equal(await settle(scheduler, reading), 1);
    assert.equal(scheduler.clock.nowMs(), 110);
    assert.equal(loading.peek('a'), 2, 'the value read during the write was not stored');
  });

  it('runs overlapping writes of a key one after the other, so store and cache agree', async () => {
    const scheduler = new VirtualScheduler();
    const through = backingStore(scheduler, new Map());
    const { loading } = setup({ writeThrough: through.store }, scheduler);
    through.control.delayMs = 50;
    const first = loading.set('a', 1);
    await advance(scheduler, 20);
    through.control.delayMs = 10;
    const second = loading.set('a', 2);
    await settle(scheduler, Promise.all([first, second]));
    // Run side by side, the faster second write would reach the store first and the
    // slower first one last: the store would end with 1 while the cache held 2. The
    // second write waits for the first instead (50 ms, then 10 ms).
    assert.deepEqual(through.log, ['a=1', 'a=2']);
    assert.equal(scheduler.clock.nowMs(), 60);
    assert.equal(through.values.get('a'), 2);
    assert.equal(loading.peek('a'), 2);
  });

  it('refuses a write whose signal already aborted, and leaves the cache alone', async () => {
    const scheduler = new VirtualScheduler();
    const through = backingStore(scheduler, new Map());
    const { loading } = setup({ writeThrough: through.store }, scheduler);
    await assert.rejects(loading.set('a', 1, { signal: AbortSignal.abort() }), isAbortedError);
    assert.equal(loading.peek('a'), undefined);
    assert.deepEqual(through.log, []);
    assert.throws(() => loading.set('a', 1, { signal: 'no' as never }), isInvalidArgumentError);
  });
});

describe('LoadingCache write-behind', () => {
  it('acknowledges after queueing, caches at once, and flushes later in a batch', async () => {
    const batches: string[][] = [];
    const scheduler = new VirtualScheduler();
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: (writes: readonly PendingWrite<string, number>[]) => {
        batches.push(
          writes.map((write) =>
            write.kind === 'set' ? `${write.key}=${write.value}` : `-${write.key}`,
          ),
        );
      },
      flushIntervalMs: 500,
      scheduler,
    });
    const { loading, origin } = setup({ writeBehind: writer }, scheduler);
    await loading.set('a', 1);
    await loading.set('a', 2);
    await loading.delete('b');
    assert.equal(loading.peek('a'), 2);
    assert.deepEqual(batches, []);
    await advance(scheduler, 500);
    assert.deepEqual(batches, [['a=2', '-b']]);
    assert.equal(origin.loads.length, 0);
    assert.equal(loading.stats.writes, 3);
  });

  it('reads its own unflushed writes on a miss instead of the older origin value', async () => {
    const scheduler = new VirtualScheduler();
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: () => {},
      flushIntervalMs: 60_000,
      scheduler,
    });
    const { loading, origin } = setup({ writeBehind: writer }, scheduler);
    origin.values.set('a', 1);
    origin.values.set('b', 1);
    await loading.set('a', 2);
    await loading.delete('b');
    loading.invalidate('a');
    assert.equal(await loading.get('a'), 2);
    assert.equal(await loading.get('b'), undefined);
    assert.equal(origin.loads.length, 0, 'no load: the queue knew better');
  });

  it('rejects a write when the queue is full, leaving the cache as it was', async () => {
    const scheduler = new VirtualScheduler();
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: () => {},
      pendingCountMax: 1,
      scheduler,
    });
    const { loading } = setup({ writeBehind: writer }, scheduler);
    await loading.set('a', 1);
    await assert.rejects(loading.set('b', 1), isWriteBehindFullError);
    assert.equal(loading.peek('b'), undefined);
    assert.equal(loading.stats.writeFailures, 1);
  });

  it('close() flushes the writer; later writes are refused with LoadingCacheClosedError', async () => {
    const batches: number[] = [];
    const scheduler = new VirtualScheduler();
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: (writes) => {
        batches.push(writes.length);
      },
      flushIntervalMs: 60_000,
      scheduler,
    });
    const { loading } = setup({ writeBehind: writer }, scheduler);
    await loading.set('a', 1);
    await loading.set('b', 1);
    await loading.close();
    assert.deepEqual(batches, [2]);
    await assert.rejects(loading.set('c', 1), isLoadingCacheClosedError);
    await assert.rejects(writer.set('c', 1), isWriteBehindClosedError);
  });
});

describe('LoadingCache without a write strategy', () => {
  it('set caches the value; delete and invalidate drop it; a running load does not bring it back', async () => {
    const { scheduler, origin, loading } = setup();
    await loading.set('a', 1);
    assert.equal(await loading.get('a'), 1);
    assert.equal(origin.loads.length, 0);
    await loading.delete('a');
    assert.equal(loading.peek('a'), undefined);
    origin.values.set('b', 1);
    origin.loadDelayMs = 100;
    const reading = loading.get('b');
    await flush();
    origin.values.set('b', 2);
    loading.invalidate('b');
    assert.equal(await settle(scheduler, reading), 1);
    assert.equal(loading.peek('b'), undefined, 'the invalidated load did not store');
    origin.loadDelayMs = 0;
    assert.equal(await loading.get('b'), 2);
  });

  it('takes writeThrough or writeBehind, not both', () => {
    const scheduler = new VirtualScheduler();
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: () => {},
      scheduler,
    });
    assert.throws(
      () =>
        setup({
          writeBehind: writer,
          writeThrough: { write: () => {}, delete: () => {} },
        }),
      isInvalidArgumentError,
    );
  });
});
