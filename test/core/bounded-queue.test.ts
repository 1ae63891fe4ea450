import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BoundedQueue,
  DeadlineExceededError,
  isAbortedError,
  isDeadlineExceededError,
  isInvalidArgumentError,
  isLimitExceededError,
  isQueueClosedError,
  isQueueFullError,
  LimitExceededError,
  linkSignal,
  QueueFullError,
  type SignalScope,
  VirtualScheduler,
} from '../../src/core/index.js';

/** Lets every pending promise callback run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function abortListenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

/** Where a promise stands, read after {@link flush}. */
type Outcome =
  | { readonly state: 'pending' }
  | { readonly state: 'resolved'; readonly value: unknown }
  | { readonly state: 'rejected'; readonly code: string };

function track(promise: Promise<unknown>): { outcome: Outcome } {
  const tracked: { outcome: Outcome } = { outcome: { state: 'pending' } };
  promise.then(
    (value) => {
      tracked.outcome = { state: 'resolved', value };
    },
    (error: unknown) => {
      tracked.outcome = { state: 'rejected', code: (error as { code?: string }).code ?? '?' };
    },
  );
  return tracked;
}

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? '?';
  }
}

// The model: a plain array with a capacity, plus the two waiter lines.

type Operation =
  | { readonly kind: 'offer' }
  | { readonly kind: 'put' }
  | { readonly kind: 'poll' }
  | { readonly kind: 'take' }
  | { readonly kind: 'close' }
  | { readonly kind: 'abortPut'; readonly pick: number }
  | { readonly kind: 'abortTake'; readonly pick: number };

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Operation>({ kind: 'offer' }) },
  { weight: 5, arbitrary: fc.constant<Operation>({ kind: 'put' }) },
  { weight: 4, arbitrary: fc.constant<Operation>({ kind: 'poll' }) },
  { weight: 5, arbitrary: fc.constant<Operation>({ kind: 'take' }) },
  { weight: 1, arbitrary: fc.constant<Operation>({ kind: 'close' }) },
  {
    weight: 1,
    arbitrary: fc.nat(10).map((pick): Operation => ({ kind: 'abortPut', pick })),
  },
  {
    weight: 1,
    arbitrary: fc.nat(10).map((pick): Operation => ({ kind: 'abortTake', pick })),
  },
);

interface ModelWaiter {
  readonly id: number;
  readonly item: number;
}

class QueueModel {
  readonly items: number[] = [];
  readonly putters: ModelWaiter[] = [];
  readonly takers: ModelWaiter[] = [];
  closed = false;
  readonly expected = new Map<number, Outcome>();

  constructor(
    readonly capacity: number,
    readonly putWaiterCountMax: number,
    readonly takeWaiterCountMax: number,
  ) {}

  /** Hands `item` to the oldest waiting consumer, or stores it; false when full. */
  tryPut(item: number): boolean {
    const taker = this.takers.shift();
    if (taker !== undefined) {
      this.expected.set(taker.id, { state: 'resolved', value: item });
      return true;
    }
    if (this.items.length >= this.capacity) {
      return false;
    }
    this.items.push(item);
    return true;
  }

  removeHead(): number {
    const item = this.items.shift() as number;
    const putter = this.putters.shift();
    if (putter !== undefined) {
      this.items.push(putter.item);
      this.expected.set(putter.id, { state: 'resolved', value: undefined });
    }
    return item;
  }

  offer(item: number): string | undefined {
    if (this.closed) {
      return 'QUEUE_CLOSED';
    }
    return this.tryPut(item) ? undefined : 'QUEUE_FULL';
  }

  put(id: number, item: number): void {
    if (this.closed) {
      this.expected.set(id, { state: 'rejected', code: 'QUEUE_CLOSED' });
    } else if (this.tryPut(item)) {
      this.expected.set(id, { state: 'resolved', value: undefined });
    } else if (this.putters.length >= this.putWaiterCountMax) {
      this.expected.set(id, { state: 'rejected', code: 'LIMIT_EXCEEDED' });
    } else {
      this.putters.push({ id, item });
      this.expected.set(id, { state: 'pending' });
    }
  }

  poll(): number | undefined {
    return this.items.length === 0 ? undefined : this.removeHead();
  }

  take(id: number): void {
    if (this.items.length > 0) {
      this.expected.set(id, { state: 'resolved', value: this.removeHead() });
    } else if (this.closed) {
      this.expected.set(id, { state: 'rejected', code: 'QUEUE_CLOSED' });
    } else if (this.takers.length >= this.takeWaiterCountMax) {
      this.expected.set(id, { state: 'rejected', code: 'LIMIT_EXCEEDED' });
    } else {
      this.takers.push({ id, item: -1 });
      this.expected.set(id, { state: 'pending' });
    }
  }

  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const waiter of [...this.putters.splice(0), ...this.takers.splice(0)]) {
      this.expected.set(waiter.id, { state: 'rejected', code: 'QUEUE_CLOSED' });
    }
  }

  /** Aborts the waiter at `pick` (modulo the line's length); returns its id. */
  abort(line: ModelWaiter[], pick: number): number | undefined {
    if (line.length === 0) {
      return undefined;
    }
    const [waiter] = line.splice(pick % line.length, 1) as [ModelWaiter];
    this.expected.set(waiter.id, { state: 'rejected', code: 'ABORTED' });
    return waiter.id;
  }
}

async function runAgainstModel(
  capacity: number,
  putWaiterCountMax: number,
  takeWaiterCountMax: number,
  operations: readonly Operation[],
): Promise<void> {
  const queue = new BoundedQueue<number>({ capacity, putWaiterCountMax, takeWaiterCountMax });
  const model = new QueueModel(capacity, putWaiterCountMax, takeWaiterCountMax);
  const actual = new Map<number, { outcome: Outcome }>();
  const controllers = new Map<number, AbortController>();
  let nextItem = 0;
  let nextId = 0;

  for (const [step, operation] of operations.entries()) {
    const where = `step ${step} (${operation.kind})`;
    switch (operation.kind) {
      case 'offer': {
        const item = nextItem++;
        assert.equal(
          codeOf(() => queue.offer(item)),
          model.offer(item),
          where,
        );
        break;
      }
      case 'put': {
        const id = nextId++;
        const item = nextItem++;
        const controller = new AbortController();
        controllers.set(id, controller);
        actual.set(id, track(queue.put(item, { signal: controller.signal })));
        model.put(id, item);
        break;
      }
      case 'poll':
        assert.equal(queue.poll(), model.poll(), where);
        break;
      case 'take': {
        const id = nextId++;
        const controller = new AbortController();
        controllers.set(id, controller);
        actual.set(id, track(queue.take({ signal: controller.signal })));
        model.take(id);
        break;
      }
      case 'close':
        queue.close();
        model.close();
        break;
      case 'abortPut':
      case 'abortTake': {
        const line = operation.kind === 'abortPut' ? model.putters : model.takers;
        const id = model.abort(line, operation.pick);
        if (id !== undefined) {
          controllers.get(id)?.abort();
        }
        break;
      }
    }
    assert.equal(queue.size, model.items.length, `size after ${where}`);
    assert.ok(queue.size <= capacity, `size within capacity after ${where}`);
    assert.equal(queue.waitingPutCount, model.putters.length, `waitingPutCount after ${where}`);
    assert.equal(queue.waitingTakeCount, model.takers.length, `waitingTakeCount after ${where}`);
    assert.equal(queue.closed, model.closed, `closed after ${where}`);
  }

  await flush();
  for (const [id, tracked] of actual) {
    assert.deepEqual(tracked.outcome, model.expected.get(id), `outcome of call ${id}`);
  }
  for (const [id, controller] of controllers) {
    // A call that still waits holds one listener; a settled one must hold none.
    const stillWaiting = actual.get(id)?.outcome.state === 'pending' ? 1 : 0;
    assert.equal(abortListenerCount(controller.signal), stillWaiting, `listeners of call ${id}`);
  }
  // Whatever is still held comes out in the model's order.
  const rest: (number | undefined)[] = [];
  for (let item = queue.poll(); item !== undefined; item = queue.poll()) {
    rest.push(item);
  }
  const modelRest: (number | undefined)[] = [];
  for (let item = model.poll(); item !== undefined; item = model.poll()) {
    modelRest.push(item);
  }
  assert.deepEqual(rest, modelRest);
}

describe('BoundedQueue against an array model', () => {
  it('agrees with the model on every random sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(operationArbitrary, { maxLength: 60 }),
        async (capacity, putWaiterCountMax, takeWaiterCountMax, operations) => {
          await runAgainstModel(capacity, putWaiterCountMax, takeWaiterCountMax, operations);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps FIFO order through a wrap-around of the ring buffer', () => {
    const queue = new BoundedQueue<number>({ capacity: 3 });
    const out: (number | undefined)[] = [];
    for (let item = 0; item < 20; item += 1) {
      if (queue.size === queue.capacity) {
        out.push(queue.poll(), queue.poll());
      }
      queue.offer(item);
    }
    for (let item = queue.poll(); item !== undefined; item = queue.poll()) {
      out.push(item);
    }
    assert.deepEqual(
      out,
      Array.from({ length: 20 }, (_, item) => item),
    );
  });
});

describe('BoundedQueue backpressure', () => {
  it('keeps a put on a full queue pending until a take frees a slot', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    await queue.put('a');
    const second = track(queue.put('b'));
    await flush();
    assert.deepEqual(second.outcome, { state: 'pending' });
    assert.equal(queue.waitingPutCount, 1);
    assert.equal(queue.size, 1);

    assert.equal(await queue.take(), 'a');
    await flush();
    assert.deepEqual(second.outcome, { state: 'resolved', value: undefined });
    assert.equal(queue.waitingPutCount, 0);
    assert.equal(queue.size, 1);
    assert.equal(queue.poll(), 'b');
  });

  it('lets a poll free the slot for a waiting put as well', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    queue.offer('a');
    const waiting = track(queue.put('b'));
    assert.equal(queue.poll(), 'a');
    await flush();
    assert.equal(waiting.outcome.state, 'resolved');
    assert.equal(queue.poll(), 'b');
  });

  it('serves waiting producers in arrival order', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    queue.offer(0);
    queue.offer(1);
    const resolvedOrder: number[] = [];
    const puts = [2, 3, 4, 5, 6].map((item) =>
      queue.put(item).then(() => {
        resolvedOrder.push(item);
      }),
    );
    assert.equal(queue.waitingPutCount, 5);
    const taken: number[] = [];
    for (let index = 0; index < 7; index += 1) {
      taken.push(await queue.take());
      await flush();
      // Each freed slot goes to exactly one producer, the oldest.
      assert.deepEqual(resolvedOrder, [2, 3, 4, 5, 6].slice(0, Math.min(index + 1, 5)));
    }
    await Promise.all(puts);
    assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6]);
  });

  it('serves waiting consumers in arrival order', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    const takes = ['first', 'second', 'third'].map((name) =>
      queue.take().then((item) => `${name}<-${item}`),
    );
    assert.equal(queue.waitingTakeCount, 3);
    queue.offer('x');
    await queue.put('y');
    queue.offer('z');
    assert.equal(queue.size, 0, 'items went straight to the waiting consumers');
    assert.deepEqual(await Promise.all(takes), ['first<-x', 'second<-y', 'third<-z']);
  });
});

describe('BoundedQueue errors and closing', () => {
  it('offer on a full queue throws QueueFullError and keeps the queue as it was', () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    queue.offer(1);
    queue.offer(2);
    assert.throws(
      () => queue.offer(3),
      (error: unknown) =>
        isQueueFullError(error) && error instanceof QueueFullError && error.capacity === 2,
    );
    assert.equal(queue.size, 2);
    assert.deepEqual([queue.poll(), queue.poll(), queue.poll()], [1, 2, undefined]);
  });

  it('put and offer after close fail with QueueClosedError', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    queue.close();
    assert.equal(queue.closed, true);
    assert.throws(() => queue.offer(1), isQueueClosedError);
    await assert.rejects(queue.put(1), isQueueClosedError);
    assert.equal(queue.size, 0);
  });

  it('close rejects waiting producers, lets consumers drain, then take rejects', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    queue.offer('a');
    queue.offer('b');
    const blocked = [queue.put('c'), queue.put('d')];
    queue.close();
    queue.close();
    assert.equal(queue.waitingPutCount, 0);
    for (const put of blocked) {
      await assert.rejects(put, isQueueClosedError);
    }
    assert.equal(await queue.take(), 'a');
    assert.equal(queue.poll(), 'b');
    await assert.rejects(queue.take(), isQueueClosedError);
    assert.equal(queue.poll(), undefined);
  });

  it('close rejects waiting consumers', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    const waiting = [queue.take(), queue.take()];
    queue.close();
    assert.equal(queue.waitingTakeCount, 0);
    for (const take of waiting) {
      await assert.rejects(take, isQueueClosedError);
    }
  });

  it('for await drains the held items after close, then ends', async () => {
    const queue = new BoundedQueue<number>({ capacity: 5 });
    for (const item of [1, 2, 3]) {
      queue.offer(item);
    }
    queue.close();
    const seen: number[] = [];
    for await (const item of queue) {
      seen.push(item);
    }
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('for await follows a live producer until it closes the queue', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const consumed = (async () => {
      const seen: number[] = [];
      for await (const item of queue) {
        seen.push(item);
      }
      return seen;
    })();
    for (let item = 0; item < 10; item += 1) {
      await queue.put(item);
    }
    queue.close();
    assert.deepEqual(await consumed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('BoundedQueue cancellation', () => {
  it('an aborted waiting put rejects at once, leaves the queue, and its item is never delivered', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    queue.offer('held');
    const controller = new AbortController();
    const before = track(queue.put('before'));
    const aborted = queue.put('aborted', { signal: controller.signal });
    const after = track(queue.put('after'));
    assert.equal(queue.waitingPutCount, 3);
    controller.abort();
    assert.equal(queue.waitingPutCount, 2);
    await assert.rejects(aborted, (error: unknown) => {
      assert.ok(isAbortedError(error));
      assert.equal(error.cause, controller.signal.reason);
      return true;
    });
    assert.equal(abortListenerCount(controller.signal), 0);
    const taken = [await queue.take(), await queue.take(), await queue.take()];
    assert.deepEqual(taken, ['held', 'before', 'after']);
    await flush();
    assert.equal(before.outcome.state, 'resolved');
    assert.equal(after.outcome.state, 'resolved');
    assert.equal(queue.poll(), undefined);
  });

  it('an aborted waiting take rejects at once and leaves the queue', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    const controller = new AbortController();
    const aborted = queue.take({ signal: controller.signal });
    const next = queue.take();
    assert.equal(queue.waitingTakeCount, 2);
    controller.abort();
    assert.equal(queue.waitingTakeCount, 1);
    await assert.rejects(aborted, isAbortedError);
    queue.offer('item');
    assert.equal(await next, 'item', 'the item skips the aborted consumer');
    assert.equal(queue.size, 0);
  });

  it('rejects with the reason itself when it is a distkit error', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    queue.offer('full');
    const reason = new DeadlineExceededError(10);
    const putController = new AbortController();
    const put = queue.put('late', { signal: putController.signal });
    putController.abort(reason);
    await assert.rejects(put, (error: unknown) => error === reason);

    const empty = new BoundedQueue<string>({ capacity: 1 });
    const takeController = new AbortController();
    const take = empty.take({ signal: takeController.signal });
    takeController.abort(reason);
    await assert.rejects(take, (error: unknown) => error === reason);
  });

  it('rejects at the deadline of a linked signal with DeadlineExceededError', async () => {
    const scheduler = new VirtualScheduler();
    const queue = new BoundedQueue<string>({ capacity: 1 });
    const scope = linkSignal({ scheduler, timeoutMs: 25 });
    const take = queue.take({ signal: scope.signal });
    scheduler.advanceMs(25);
    await assert.rejects(take, isDeadlineExceededError);
    assert.equal(queue.waitingTakeCount, 0);
    scope.dispose();
  });

  it('rejects a pre-aborted call at once, without touching the queue', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    queue.offer('held');
    const signal = AbortSignal.abort();
    const put = track(queue.put('never', { signal }));
    const take = track(queue.take({ signal }));
    await flush();
    assert.deepEqual(put.outcome, { state: 'rejected', code: 'ABORTED' });
    assert.deepEqual(take.outcome, { state: 'rejected', code: 'ABORTED' });
    assert.equal(queue.size, 1);
    assert.equal(queue.poll(), 'held');
    assert.equal(queue.poll(), undefined);
    assert.equal(queue.waitingPutCount + queue.waitingTakeCount, 0);

    const deadline = new DeadlineExceededError(0);
    await assert.rejects(
      queue.take({ signal: AbortSignal.abort(deadline) }),
      (error) => error === deadline,
    );
  });

  it('rejects a non-signal with InvalidArgumentError instead of throwing', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    const put = queue.put('x', { signal: {} as AbortSignal });
    await assert.rejects(put, isInvalidArgumentError);
    await assert.rejects(queue.take({ signal: 'no' as never }), isInvalidArgumentError);
    assert.equal(queue.size, 0);
  });
});

describe('BoundedQueue abort listeners', () => {
  it('leaves no listener on a shared signal after 100,000 waits that settle normally', async () => {
    const shared = new AbortController().signal;
    // Many waiters at once are the point here, not a leak: silence Node's warning.
    setMaxListeners(0, shared);
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const batchSize = 100;
    let settledCount = 0;
    for (let round = 0; round < 500; round += 1) {
      // Producers wait on a full queue...
      queue.offer(-1);
      const puts: Promise<void>[] = [];
      for (let index = 0; index < batchSize; index += 1) {
        puts.push(queue.put(index, { signal: shared }));
      }
      assert.equal(abortListenerCount(shared), batchSize);
      for (let index = -1; index < batchSize; index += 1) {
        assert.equal(queue.poll(), index);
      }
      await Promise.all(puts);
      // ...and consumers wait on an empty one.
      const takes: Promise<number>[] = [];
      for (let index = 0; index < batchSize; index += 1) {
        takes.push(queue.take({ signal: shared }));
      }
      assert.equal(abortListenerCount(shared), batchSize);
      for (let index = 0; index < batchSize; index += 1) {
        queue.offer(index);
      }
      assert.deepEqual(
        await Promise.all(takes),
        Array.from({ length: batchSize }, (_, index) => index),
      );
      settledCount += 2 * batchSize;
      assert.equal(abortListenerCount(shared), 0);
    }
    assert.equal(settledCount, 100_000);
    assert.equal(abortListenerCount(shared), 0);
    assert.equal(queue.waitingPutCount + queue.waitingTakeCount + queue.size, 0);
  });

  it('leaves no listener on a shared signal after 100,000 waits that are aborted', async () => {
    const scheduler = new VirtualScheduler();
    const shared = new AbortController();
    setMaxListeners(0, shared.signal);
    const full = new BoundedQueue<number>({ capacity: 1 });
    full.offer(-1);
    const empty = new BoundedQueue<number>({ capacity: 1 });
    const batchSize = 500;
    const scopeCount = 50;
    let abortedCount = 0;

    // Each call waits on a scope of the shared signal, the way a request handler bounds
    // its waits, and the scope's deadline aborts it. A scope's calls are spread through
    // the waiting lines, so the aborts remove waiters from the middle.
    for (let round = 0; round < 180; round += 1) {
      const scopes: SignalScope[] = [];
      for (let index = 0; index < scopeCount; index += 1) {
        scopes.push(linkSignal({ scheduler, parentSignal: shared.signal, timeoutMs: 1 + index }));
      }
      const calls: Promise<unknown>[] = [];
      for (let index = 0; index < batchSize; index += 1) {
        const signal = (scopes[(index * 7) % scopeCount] as SignalScope).signal;
        calls.push(
          index % 2 === 0
            ? full.put(round * batchSize + index, { signal })
            : empty.take({ signal }),
        );
      }
      assert.equal(full.waitingPutCount + empty.waitingTakeCount, batchSize);
      scheduler.advanceMs(scopeCount / 2);
      assert.equal(full.waitingPutCount + empty.waitingTakeCount, batchSize / 2);
      scheduler.advanceMs(scopeCount / 2);
      assert.equal(full.waitingPutCount + empty.waitingTakeCount, 0);
      const results = await Promise.allSettled(calls);
      for (const result of results) {
        assert.ok(result.status === 'rejected' && isDeadlineExceededError(result.reason));
      }
      for (const scope of scopes) {
        assert.equal(abortListenerCount(scope.signal), 0);
        scope.dispose();
      }
      abortedCount += batchSize;
    }

    // The last 10,000 wait on the shared signal itself, which aborts at the very end.
    const last: Promise<unknown>[] = [];
    for (let index = 0; index < 10_000; index += 1) {
      last.push(
        index % 2 === 0
          ? full.put(-2, { signal: shared.signal })
          : empty.take({ signal: shared.signal }),
      );
    }
    assert.equal(abortListenerCount(shared.signal), 10_000);
    shared.abort();
    for (const result of await Promise.allSettled(last)) {
      assert.ok(result.status === 'rejected' && isAbortedError(result.reason));
    }
    abortedCount += last.length;

    assert.equal(abortedCount, 100_000);
    assert.equal(abortListenerCount(shared.signal), 0);
    assert.equal(scheduler.pendingCount, 0);
    assert.equal(full.waitingPutCount + empty.waitingTakeCount, 0);
    // No aborted put delivered its item: only the original one is held.
    assert.equal(full.size, 1);
    assert.equal(full.poll(), -1);
    assert.equal(full.poll(), undefined);
    assert.equal(empty.size, 0);
  });
});

describe('BoundedQueue limits and options', () => {
  it('rejects a producer beyond putWaiterCountMax with LimitExceededError', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1, putWaiterCountMax: 2 });
    queue.offer(0);
    const waiting = [track(queue.put(1)), track(queue.put(2))];
    await assert.rejects(
      queue.put(3),
      (error: unknown) =>
        isLimitExceededError(error) &&
        error instanceof LimitExceededError &&
        error.limit === 2 &&
        /putWaiterCountMax/.test(error.message),
    );
    assert.equal(queue.waitingPutCount, 2);
    queue.poll();
    await flush();
    assert.equal(waiting[0]?.outcome.state, 'resolved');
    // A slot in the waiting line opened again.
    const again = track(queue.put(4));
    await flush();
    assert.equal(again.outcome.state, 'pending');
  });

  it('rejects a consumer beyond takeWaiterCountMax with LimitExceededError', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1, takeWaiterCountMax: 1 });
    const waiting = queue.take();
    await assert.rejects(
      queue.take(),
      (error: unknown) =>
        isLimitExceededError(error) &&
        (error as LimitExceededError).limit === 1 &&
        /takeWaiterCountMax/.test((error as Error).message),
    );
    queue.offer(7);
    assert.equal(await waiting, 7);
  });

  it('with a waiter limit of 0 rejects every call that would wait, and only those', async () => {
    const queue = new BoundedQueue<number>({
      capacity: 1,
      putWaiterCountMax: 0,
      takeWaiterCountMax: 0,
    });
    await assert.rejects(queue.take(), isLimitExceededError);
    await queue.put(1);
    await assert.rejects(queue.put(2), isLimitExceededError);
    assert.equal(await queue.take(), 1);
  });

  it('rejects invalid options with InvalidArgumentError naming the option', () => {
    const badCapacities: unknown[] = [
      0,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '3',
      2 ** 32,
    ];
    for (const capacity of badCapacities) {
      assert.throws(
        () => new BoundedQueue({ capacity } as never),
        (error: unknown) =>
          isInvalidArgumentError(error) &&
          error.argument === 'BoundedQueue options.capacity' &&
          error.message.includes('BoundedQueue options.capacity'),
        `capacity ${String(capacity)}`,
      );
    }
    for (const options of [{}, undefined, null]) {
      assert.throws(
        () => new BoundedQueue(options as never),
        (error: unknown) =>
          isInvalidArgumentError(error) && error.argument === 'BoundedQueue options.capacity',
        'missing capacity',
      );
    }
    assert.throws(
      () => new BoundedQueue({ capacity: 1, putWaiterCountMax: -1 }),
      (error: unknown) =>
        isInvalidArgumentError(error) &&
        error.argument === 'BoundedQueue options.putWaiterCountMax',
    );
    assert.throws(
      () => new BoundedQueue({ capacity: 1, takeWaiterCountMax: 1.5 }),
      (error: unknown) =>
        isInvalidArgumentError(error) &&
        error.argument === 'BoundedQueue options.takeWaiterCountMax',
    );
  });

  it('accepts the largest capacity without allocating it up front', () => {
    const queue = new BoundedQueue<number>({ capacity: 2 ** 32 - 1 });
    queue.offer(1);
    assert.equal(queue.capacity, 2 ** 32 - 1);
    assert.equal(queue.poll(), 1);
  });
});
