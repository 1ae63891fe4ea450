import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import {
  InMemoryWriteBehindQueue,
  isWriteBehindClosedError,
  isWriteBehindFullError,
  type PendingWrite,
  type WriteBehindFlushEvent,
  type WriteBehindFlushFailureEvent,
  type WriteBehindOptions,
  type WriteBehindQueue,
  WriteBehindWriter,
} from '../../src/cache/write-behind.js';
import {
  isAbortedError,
  isInvalidArgumentError,
  SeededRandom,
  VirtualScheduler,
} from '../../src/core/index.js';
import { ConstantBackoff, isRetryExhaustedError, RetryPolicy } from '../../src/resilience/index.js';
import { advance, flush } from './loading-support.js';

type Write = PendingWrite<string, number>;

/** Renders a batch as `key=value` and `-key` for deletes. */
function render(batch: readonly Write[]): string[] {
  return batch.map((write) =>
    write.kind === 'set' ? `${write.key}=${write.value}` : `-${write.key}`,
  );
}

/** A store that records each batch it is given, at the virtual time it arrived. */
function recordingStore(scheduler: VirtualScheduler) {
  const batches: { atMs: number; writes: string[] }[] = [];
  let failuresLeft = 0;
  const store = {
    batches,
    failNext(count: number): void {
      failuresLeft = count;
    },
    writeBatch: (writes: readonly Write[]): void => {
      batches.push({ atMs: scheduler.clock.nowMs(), writes: render(writes) });
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('store unavailable');
      }
    },
  };
  return store;
}

function makeWriter(
  scheduler: VirtualScheduler,
  store: ReturnType<typeof recordingStore>,
  options: Partial<WriteBehindOptions<string, number>> = {},
): WriteBehindWriter<string, number> {
  return new WriteBehindWriter<string, number>({
    writeBatch: store.writeBatch,
    scheduler,
    retry: new RetryPolicy({
      attemptCountMax: 3,
      backoff: new ConstantBackoff({ delayMs: 50 }),
      scheduler,
      random: new SeededRandom({ seed: 1 }),
    }),
    ...options,
  });
}

describe('WriteBehindWriter batching', () => {
  it('coalesces writes per key and flushes flushIntervalMs after the first write', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { flushIntervalMs: 1_000 });
    await writer.set('a', 1);
    await advance(scheduler, 400);
    await writer.set('b', 1);
    await writer.set('a', 2);
    await writer.delete('c');
    assert.equal(writer.pendingCount, 3);
    assert.deepEqual(writer.pending('a'), { kind: 'set', key: 'a', value: 2 });
    await advance(scheduler, 599);
    assert.deepEqual(store.batches, [], 'nothing is written before the interval');
    await advance(scheduler, 1);
    // 'a' keeps the place of its first write.
    assert.deepEqual(store.batches, [{ atMs: 1_000, writes: ['a=2', 'b=1', '-c'] }]);
    assert.equal(writer.pendingCount, 0);
    assert.equal(writer.pending('a'), undefined);
    assert.deepEqual(writer.stats, {
      queuedCount: 4,
      coalescedCount: 1,
      rejectedCount: 0,
      flushedCount: 3,
      batchCount: 1,
      failedBatchCount: 0,
    });
    assert.equal(scheduler.pendingCount, 0, 'no timer while nothing waits');
  });

  it('flushes at once when batchSizeMax writes wait, in batches of at most batchSizeMax', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { batchSizeMax: 100, flushIntervalMs: 1_000 });
    for (let index = 0; index < 250; index += 1) {
      void writer.set(`k${index}`, index);
    }
    await flush();
    // The 100th write started a flush at time 0; writes 101-250 arrived before it ran and
    // are drained by the same cycle.
    assert.deepEqual(
      store.batches.map((batch) => [batch.atMs, batch.writes.length]),
      [
        [0, 100],
        [0, 100],
        [0, 50],
      ],
    );
    assert.deepEqual(store.batches[0]?.writes.slice(0, 2), ['k0=0', 'k1=1']);
    assert.equal(writer.pendingCount, 0);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('keeps a newer write of a key that was in flight, and writes it in the next batch', async () => {
    const scheduler = new VirtualScheduler();
    let release: (() => void) | undefined;
    const batches: string[][] = [];
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: (writes) => {
        batches.push(render(writes));
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
      scheduler,
      flushIntervalMs: 10,
    });
    await writer.set('a', 1);
    await advance(scheduler, 10);
    assert.deepEqual(batches, [['a=1']]);
    await writer.set('a', 2);
    release?.();
    await flush();
    assert.deepEqual(writer.pending('a'), { kind: 'set', key: 'a', value: 2 });
    await flush();
    release?.();
    await advance(scheduler, 10);
    assert.deepEqual(batches, [['a=1'], ['a=2']]);
    assert.equal(writer.pendingCount, 0);
  });

  it('rejects a write of a new key when pendingCountMax keys wait; a replacement still fits', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { pendingCountMax: 2 });
    await writer.set('a', 1);
    await writer.set('b', 1);
    await assert.rejects(writer.set('c', 1), isWriteBehindFullError);
    await assert.rejects(writer.delete('d'), isWriteBehindFullError);
    await writer.set('a', 2);
    assert.equal(writer.stats.rejectedCount, 2);
    await writer.flush();
    await writer.set('c', 1);
    assert.deepEqual(render([writer.pending('c') as Write]), ['c=1']);
  });
});

describe('WriteBehindWriter failures', () => {
  it('retries a failed batch through the retry policy', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { flushIntervalMs: 100 });
    const flushes: WriteBehindFlushEvent[] = [];
    writer.onFlush((event) => flushes.push(event));
    store.failNext(2);
    await writer.set('a', 1);
    await advance(scheduler, 200);
    assert.deepEqual(
      store.batches.map((batch) => batch.atMs),
      [100, 150, 200],
      'two retries 50 ms apart',
    );
    assert.equal(writer.pendingCount, 0);
    assert.deepEqual(flushes, [{ writeCount: 1, durationMs: 100 }]);
  });

  it('keeps a batch that fails after its retries, reports it, and tries again later', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { flushIntervalMs: 1_000 });
    const failures: WriteBehindFlushFailureEvent[] = [];
    writer.onFlushFailure((event) => failures.push(event));
    store.failNext(3);
    await writer.set('a', 1);
    await writer.set('b', 2);
    await advance(scheduler, 1_100);
    assert.equal(store.batches.length, 3, 'three attempts');
    assert.equal(failures.length, 1);
    assert.ok(isRetryExhaustedError(failures[0]?.error));
    assert.equal(writer.pendingCount, 2, 'the writes stay queued');
    assert.equal(writer.stats.failedBatchCount, 1);
    // The next flush is planned flushIntervalMs after the failure (at 1,100).
    await advance(scheduler, 999);
    assert.equal(store.batches.length, 3);
    await advance(scheduler, 1);
    assert.deepEqual(store.batches.at(-1), { atMs: 2_100, writes: ['a=1', 'b=2'] });
    assert.equal(writer.pendingCount, 0);
  });

  it('rejects flush() with the retry error when the batch still fails', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store);
    store.failNext(3);
    await writer.set('a', 1);
    const flushing = writer.flush();
    const outcome = flushing.then(undefined, (error: unknown) => error);
    await advance(scheduler, 100);
    assert.ok(isRetryExhaustedError(await outcome));
    assert.equal(writer.pendingCount, 1);
  });
});

describe('WriteBehindWriter close', () => {
  it('flushes what waits, then refuses writes', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { flushIntervalMs: 60_000 });
    await writer.set('a', 1);
    await writer.delete('b');
    const closing = writer.close();
    assert.equal(writer.closed, true);
    assert.equal(writer.close(), closing, 'a second close returns the first promise');
    await closing;
    assert.deepEqual(store.batches, [{ atMs: 0, writes: ['a=1', '-b'] }]);
    await assert.rejects(writer.set('c', 1), isWriteBehindClosedError);
    await assert.rejects(writer.delete('c'), isWriteBehindClosedError);
    assert.equal(scheduler.pendingCount, 0, 'the interval timer was cancelled');
  });

  it('waits for the flush in flight, then drains the rest', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store, { batchSizeMax: 2 });
    store.failNext(1);
    void writer.set('a', 1);
    void writer.set('b', 2);
    await flush();
    void writer.set('c', 3);
    const closing = writer.close();
    await advance(scheduler, 50);
    await closing;
    assert.deepEqual(
      store.batches.map((batch) => batch.writes),
      [['a=1', 'b=2'], ['a=1', 'b=2'], ['c=3']],
    );
  });

  it('rejects when the final flush fails, leaving the writes queued', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const writer = makeWriter(scheduler, store);
    store.failNext(3);
    await writer.set('a', 1);
    const outcome = writer.close().then(undefined, (error: unknown) => error);
    await advance(scheduler, 100);
    assert.ok(isRetryExhaustedError(await outcome));
    assert.equal(writer.pendingCount, 1);
    assert.equal(scheduler.pendingCount, 0, 'a closed writer plans no further flush');
    // The caller may flush again once the store is back.
    await writer.flush();
    assert.equal(writer.pendingCount, 0);
  });

  it('abandons the final flush when its signal aborts, aborting the batch in flight', async () => {
    const scheduler = new VirtualScheduler();
    let batchSignal: AbortSignal | undefined;
    const writer = new WriteBehindWriter<string, number>({
      writeBatch: (_writes, signal) => {
        batchSignal = signal;
        return new Promise<void>(() => {});
      },
      scheduler,
    });
    await writer.set('a', 1);
    const controller = new AbortController();
    const outcome = writer
      .close({ signal: controller.signal })
      .then(undefined, (error: unknown) => error);
    await flush();
    assert.equal(batchSignal?.aborted, false);
    controller.abort();
    assert.ok(isAbortedError(await outcome));
    assert.equal(batchSignal?.aborted, true);
    assert.equal(writer.pendingCount, 1, 'lost with the in-memory queue if the process exits');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});

/**
 * A queue over a "disk" that outlives the writer: a stand-in for a durable queue (a file
 * or a database table), with asynchronous put, peek and acknowledge.
 */
class DiskQueue implements WriteBehindQueue<string, number> {
  constructor(readonly disk: Map<string, Write>) {}

  get size(): number {
    return this.disk.size;
  }

  get(key: string): Write | undefined {
    return this.disk.get(key);
  }

  async put(write: Write): Promise<void> {
    this.disk.set(write.key, write);
    await Promise.resolve();
  }

  async peek(countMax: number): Promise<readonly Write[]> {
    await Promise.resolve();
    return [...this.disk.values()].slice(0, countMax);
  }

  async acknowledge(writes: readonly Write[]): Promise<void> {
    await Promise.resolve();
    for (const write of writes) {
      if (this.disk.get(write.key) === write) {
        this.disk.delete(write.key);
      }
    }
  }
}

describe('WriteBehindWriter queue port', () => {
  it('runs on a durable queue, whose writes survive a writer that died unflushed', async () => {
    const scheduler = new VirtualScheduler();
    const disk = new Map<string, Write>();
    const store = recordingStore(scheduler);
    const first = makeWriter(scheduler, store, { queue: new DiskQueue(disk) });
    await first.set('a', 1);
    await first.set('b', 2);
    // The process "dies": the writer is dropped without close(), nothing was flushed.
    assert.equal(store.batches.length, 0);
    const restarted = makeWriter(new VirtualScheduler(), store, { queue: new DiskQueue(disk) });
    assert.equal(restarted.pendingCount, 2);
    await restarted.flush();
    assert.deepEqual(
      store.batches.map((batch) => batch.writes),
      [['a=1', 'b=2']],
    );
    assert.equal(disk.size, 0);
  });

  it('loses unflushed writes with the in-memory queue when the writer dies', async () => {
    const scheduler = new VirtualScheduler();
    const store = recordingStore(scheduler);
    const first = makeWriter(scheduler, store);
    await first.set('a', 1);
    const restarted = makeWriter(new VirtualScheduler(), store);
    assert.equal(restarted.pendingCount, 0);
    await restarted.flush();
    assert.deepEqual(store.batches, []);
  });

  it('InMemoryWriteBehindQueue keeps a replaced key in place and acknowledges only what it gave', () => {
    const queue = new InMemoryWriteBehindQueue<string, number>();
    queue.put({ kind: 'set', key: 'a', value: 1 });
    queue.put({ kind: 'set', key: 'b', value: 1 });
    const batch = queue.peek(10);
    queue.put({ kind: 'set', key: 'a', value: 2 });
    queue.acknowledge(batch);
    assert.equal(queue.size, 1);
    assert.deepEqual(queue.get('a'), { kind: 'set', key: 'a', value: 2 });
    assert.deepEqual(queue.peek(0), []);
  });
});

describe('WriteBehindWriter validation', () => {
  it('rejects bad options and arguments with InvalidArgumentError', () => {
    const scheduler = new VirtualScheduler();
    const writeBatch = (): void => {};
    const bad: unknown[] = [
      undefined,
      {},
      { writeBatch: 'no' },
      { writeBatch, pendingCountMax: 0 },
      { writeBatch, batchSizeMax: 0.5 },
      { writeBatch, flushIntervalMs: 0 },
      { writeBatch, flushIntervalMs: Number.NaN },
      { writeBatch, queue: {} },
      { writeBatch, scheduler: {} },
      { writeBatch, retry: {} },
    ];
    for (const options of bad) {
      assert.throws(
        () => new WriteBehindWriter(options as never),
        isInvalidArgumentError,
        JSON.stringify(options),
      );
    }
    const writer = new WriteBehindWriter<string, number | undefined>({ writeBatch, scheduler });
    assert.throws(() => writer.set('a', undefined), isInvalidArgumentError);
    assert.throws(() => writer.close({ signal: 'x' as never }), isInvalidArgumentError);
  });
});
