import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  casRegisterModel,
  checkLinearizability,
  checkMonotonicReads,
  checkReadYourWrites,
  counterModel,
  kvModel,
  type Model,
  type Operation,
  parseJsonLinesHistory,
  registerModel,
  setModel,
  valuesEqual,
} from '../../src/check/index.js';
import { isInvalidArgumentError, isLimitExceededError, ManualClock } from '../../src/core/index.js';
import {
  type CompleteOperation,
  HistoryRecorder,
  isSimulationError,
  type NodeHost,
  type NodeProgram,
  Simulation,
  Workload,
  type WorkloadClient,
  type WorkloadModel,
  type WorkloadOperation,
  type WorkloadOptions,
} from '../../src/sim/index.js';

interface Request {
  readonly id: number;
  readonly kind: string;
  readonly key: string | null;
  readonly input: unknown;
}

/** A correct server for every workload model: each request takes effect when it arrives. */
class AtomicServer implements NodeProgram {
  readonly #state = new Map<string, unknown>();

  constructor(
    readonly host: NodeHost,
    readonly model: WorkloadModel,
    /** Extra time before replying to these kinds (to provoke timeouts). */
    readonly slowKinds: ReadonlySet<string> = new Set(),
  ) {}

  onMessage(from: string, message: unknown): void {
    const request = message as Request;
    const key = request.key ?? '';
    const current = this.#state.get(key);
    let status: 'ok' | 'fail' = 'ok';
    let output: unknown;
    switch (`${this.model}:${request.kind}`) {
      case 'register:read':
      case 'cas-register:read':
        output = current ?? null;
        break;
      case 'register:write':
      case 'cas-register:write':
      case 'kv:put':
        this.#state.set(key, request.input);
        break;
      case 'cas-register:cas': {
        const [expected, next] = request.input as [unknown, unknown];
        if (valuesEqual(expected, current ?? null)) {
          this.#state.set(key, next);
        } else {
          status = 'fail';
        }
        break;
      }
      case 'kv:get':
        output = current ?? '';
        break;
      case 'kv:append':
        this.#state.set(key, `${(current as string | undefined) ?? ''}${request.input as string}`);
        break;
      case 'counter:add':
        this.#state.set(key, ((current as number | undefined) ?? 0) + (request.input as number));
        break;
      case 'counter:read':
        output = current ?? 0;
        break;
      case 'set:add':
        this.#state.set(key, [...((current as unknown[] | undefined) ?? []), request.input]);
        break;
      case 'set:read':
        output = current ?? [];
        break;
      default:
        throw new Error(`unexpected ${this.model} operation ${request.kind}`);
    }
    const reply = { id: request.id, status, output };
    if (this.slowKinds.has(request.kind)) {
      this.host.scheduler.schedule(50, () => this.host.send(from, reply));
    } else {
      this.host.send(from, reply);
    }
  }
}

/**
 * Sends each operation to `server` and completes it with the matching reply. Deliberately
 * also completes operations whose reply comes late: the workload must ignore those calls.
 */
class RequestClient implements WorkloadClient {
  #nextId = 1;
  readonly #completes = new Map<number, CompleteOperation>();
  readonly timedOut: WorkloadOperation[] = [];

  constructor(readonly host: NodeHost) {}

  invoke(operation: WorkloadOperation, complete: CompleteOperation): void {
    const id = this.#nextId;
    this.#nextId += 1;
    this.#completes.set(id, complete);
    const request: Request = {
      id,
      kind: operation.kind,
      key: operation.key ?? null,
      input: operation.input ?? null,
    };
    this.host.send('server', request);
  }

  onMessage(_from: string, message: unknown): void {
    const reply = message as { id: number; status: 'ok' | 'fail'; output?: unknown };
    const complete = this.#completes.get(reply.id);
    this.#completes.delete(reply.id);
    complete?.(reply.status === 'ok' ? { status: 'ok', output: reply.output } : { status: 'fail' });
  }

  onTimeout(operation: WorkloadOperation): void {
    this.timedOut.push(operation);
  }
}

function runWorkload(
  seed: number,
  model: WorkloadModel,
  options: Partial<WorkloadOptions> = {},
  slowKinds: ReadonlySet<string> = new Set(),
) {
  const simulation = new Simulation({ seed });
  simulation.addNode({ id: 'server', program: (host) => new AtomicServer(host, model, slowKinds) });
  const adapters: RequestClient[] = [];
  const workload = new Workload(simulation, {
    model,
    clientCount: 3,
    operationCountMax: 60,
    operationTimeoutMs: 20,
    client: (host) => {
      const adapter = new RequestClient(host);
      adapters.push(adapter);
      return adapter;
    },
    ...options,
  });
  assert.ok(simulation.runUntil(() => workload.done, { timeoutMs: 60_000 }));
  return { simulation, workload, adapters, operations: workload.history.operations() };
}

const checkModels: Record<WorkloadModel, () => Model<unknown>> = {
  register: () => registerModel(),
  'cas-register': () => casRegisterModel(),
  kv: () => kvModel() as Model<unknown>,
  counter: () => counterModel() as Model<unknown>,
  set: () => setModel() as Model<unknown>,
};

const expectedKinds: Record<WorkloadModel, readonly string[]> = {
  register: ['read', 'write'],
  'cas-register': ['cas', 'read', 'write'],
  kv: ['append', 'get', 'put'],
  counter: ['add', 'read'],
  set: ['add', 'read'],
};

function byKey(operations: readonly Operation[]): Map<string, Operation[]> {
  const groups = new Map<string, Operation[]>();
  for (const operation of operations) {
    const key = operation.key ?? '';
    groups.set(key, [...(groups.get(key) ?? []), operation]);
  }
  return groups;
}

describe('Workload', () => {
  for (const model of Object.keys(expectedKinds) as WorkloadModel[]) {
    it(`generates ${model} operations the ${model} check model accepts from a correct server`, () => {
      const { operations, workload } = runWorkload(7, model, model === 'kv' ? { keyCount: 3 } : {});
      assert.equal(operations.length, 60);
      assert.deepEqual([...new Set(operations.map((operation) => operation.kind))].sort(), [
        ...expectedKinds[model],
      ]);
      assert.equal(workload.statistics.unknownCount, 0);
      assert.equal(workload.statistics.okCount + workload.statistics.failCount, 60);
      for (const operation of operations) {
        assert.equal(operation.key !== undefined, model === 'kv', 'keys only for kv by default');
        if (model === 'kv') {
          assert.match(operation.key ?? '', /^k[0-2]$/);
        }
        if (operation.kind === 'cas') {
          assert.ok(Array.isArray(operation.input) && operation.input.length === 2);
        }
        if (model === 'kv' && operation.kind !== 'get') {
          assert.equal(typeof operation.input, 'string');
        }
      }
      const check = checkLinearizability(checkModels[model](), operations);
      assert.equal(check.verdict, 'ok');
    });
  }

  it('writes unique values, so the session checkers apply', () => {
    const { operations } = runWorkload(3, 'register', { operationCountMax: 80 });
    const written = operations
      .filter((operation) => operation.kind === 'write')
      .map((operation) => operation.input);
    assert.equal(new Set(written).size, written.length);
    assert.equal(checkReadYourWrites(operations).verdict, 'ok');
    assert.equal(checkMonotonicReads(operations).verdict, 'ok');
    const { operations: kv } = runWorkload(3, 'kv', { mix: { get: 1, put: 1 }, keyCount: 3 });
    const puts = kv.filter((operation) => operation.kind === 'put').map((o) => o.input);
    assert.equal(new Set(puts).size, puts.length);
    assert.equal(checkReadYourWrites(kv).verdict, 'ok');
  });

  it('cas operations sometimes succeed: their expected values come from recent reads and writes', () => {
    const { operations } = runWorkload(5, 'cas-register', { operationCountMax: 150 });
    const cas = operations.filter((operation) => operation.kind === 'cas');
    assert.ok(cas.some((operation) => operation.status === 'ok'));
    assert.ok(cas.some((operation) => operation.status === 'fail'));
  });

  it('follows the mix: a kind of weight 0 never appears', () => {
    const { operations } = runWorkload(2, 'cas-register', { mix: { read: 3, cas: 1 } });
    const kinds = operations.map((operation) => operation.kind);
    assert.ok(!kinds.includes('write'));
    assert.ok(kinds.filter((kind) => kind === 'read').length > kinds.length / 2);
  });

  it('spreads keys uniformly or by Zipf; with several keys each register is checked on its own', () => {
    const count = (keyChoice: 'uniform' | 'zipf') => {
      const { operations } = runWorkload(4, 'register', {
        keyCount: 10,
        keyChoice,
        zipfExponent: 1.5,
        operationCountMax: 300,
      });
      for (const [, group] of byKey(operations)) {
        assert.equal(checkLinearizability(registerModel(), group).verdict, 'ok');
      }
      return byKey(operations);
    };
    const uniform = count('uniform');
    const zipf = count('zipf');
    assert.equal(uniform.size, 10);
    const hottest = (groups: Map<string, Operation[]>) =>
      Math.max(...[...groups.values()].map((group) => group.length));
    assert.ok((zipf.get('k0')?.length ?? 0) === hottest(zipf), 'k0 is the most popular Zipf key');
    assert.ok(hottest(zipf) > 2 * hottest(uniform));
  });

  it('records a timeout as info, ignores the late reply and continues under process + clientCount', () => {
    const { operations, workload, adapters } = runWorkload(9, 'register', {}, new Set(['write']));
    const writes = operations.filter((operation) => operation.kind === 'write');
    assert.ok(writes.length > 0);
    assert.ok(writes.every((operation) => operation.status === 'unknown'));
    assert.equal(workload.statistics.unknownCount, writes.length);
    assert.ok(workload.statistics.lateCompletionCount > 0, 'late replies arrived and were ignored');
    assert.equal(
      adapters.reduce((sum, adapter) => sum + adapter.timedOut.length, 0),
      writes.length,
    );
    // Each client's processes: 0, 3, 6, ... for client 0; a process never runs two operations at once.
    const processes = new Set(operations.map((operation) => operation.process));
    for (const process of processes) {
      const mine = operations.filter((operation) => operation.process === process);
      const unknown = mine.filter((operation) => operation.status === 'unknown');
      assert.ok(unknown.length <= 1, `process ${process} went on after an unknown outcome`);
      if (unknown.length === 1) {
        assert.equal(mine.at(-1), unknown[0], 'the unknown operation is the last of its process');
        const next = (process as number) + 3;
        const successor = operations.find((operation) => operation.process === next);
        if (successor !== undefined) {
          assert.ok(successor.invokeTime >= (unknown[0] as Operation).invokeTime);
        }
      }
    }
    assert.equal(checkLinearizability(registerModel(), operations).verdict, 'ok');
  });

  it('stops invoking at endTimeMs and lets operations in flight finish', () => {
    const { operations, simulation } = runWorkload(1, 'counter', {
      operationCountMax: undefined as unknown as number,
      endTimeMs: 100,
    });
    assert.ok(operations.length > 10);
    assert.ok(operations.every((operation) => operation.invokeTime < 100));
    assert.ok(operations.every((operation) => operation.status === 'ok'));
    assert.ok(
      operations.some((operation) => operation.invokeTime > 80),
      'it ran until near the end',
    );
    assert.ok(simulation.nowMs() >= 100);
  });

  it('accepts an adapter that completes inside invoke', () => {
    const simulation = new Simulation({ seed: 1 });
    let value: unknown = null;
    const workload = new Workload(simulation, {
      model: 'register',
      clientCount: 2,
      operationCountMax: 20,
      thinkTime: { kind: 'constant', delayMs: 1 },
      client: () => ({
        invoke(operation, complete) {
          if (operation.kind === 'write') {
            value = operation.input;
            complete({ status: 'ok' });
          } else {
            complete({ status: 'ok', output: value });
          }
        },
        onMessage() {},
      }),
    });
    assert.ok(simulation.runUntil(() => workload.done, { timeoutMs: 1_000 }));
    assert.equal(workload.statistics.okCount, 20);
    assert.equal(
      checkLinearizability(registerModel(), workload.history.operations()).verdict,
      'ok',
    );
  });

  it('records the operation in flight of a client that crashed as unknown when it restarts', () => {
    const simulation = new Simulation({ seed: 4 });
    simulation.addNode({
      id: 'server',
      program: (host) => new AtomicServer(host, 'register', new Set(['read', 'write'])),
    });
    const workload = new Workload(simulation, {
      model: 'register',
      clientCount: 1,
      operationCountMax: 3,
      operationTimeoutMs: 100,
      thinkTime: { kind: 'constant', delayMs: 0 },
      client: (host) => new RequestClient(host),
    });
    const client = workload.clients[0];
    assert.ok(client !== undefined);
    simulation.at(10, () => client.crash());
    simulation.at(20, () => client.restart());
    assert.ok(simulation.runUntil(() => workload.done, { timeoutMs: 1_000 }));
    const operations = workload.history.operations();
    assert.equal(operations[0]?.status, 'unknown');
    assert.equal(operations[0]?.process, 0);
    assert.deepEqual(
      operations.slice(1).map((operation) => [operation.process, operation.status]),
      [
        [1, 'ok'],
        [1, 'ok'],
      ],
    );
  });

  it('fails the run when an adapter reports a malformed outcome', () => {
    const simulation = new Simulation({ seed: 1, replayCommand: 'replay me' });
    new Workload(simulation, {
      model: 'register',
      clientCount: 1,
      operationCountMax: 1,
      client: () => ({
        invoke(_operation, complete) {
          complete({ status: 'done' } as never);
        },
        onMessage() {},
      }),
    });
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) =>
        isSimulationError(error) &&
        isInvalidArgumentError(error.cause) &&
        error.message.includes('replay me'),
    );
  });

  it('validates every option with InvalidArgumentError naming it', () => {
    const base: WorkloadOptions = {
      model: 'register',
      clientCount: 1,
      operationCountMax: 1,
      client: (host) => new RequestClient(host),
    };
    const cases: [Partial<Record<keyof WorkloadOptions, unknown>>, string][] = [
      [{ model: 'queue' }, 'Workload options.model'],
      [{ clientCount: 0 }, 'Workload options.clientCount'],
      [{ clientCount: 1.5 }, 'Workload options.clientCount'],
      [{ client: 'nope' }, 'Workload options.client'],
      [{ clientIdPrefix: '' }, 'Workload options.clientIdPrefix'],
      [{ operationCountMax: undefined }, 'Workload options.operationCountMax'],
      [{ operationCountMax: 0 }, 'Workload options.operationCountMax'],
      [{ endTimeMs: Number.NaN }, 'Workload options.endTimeMs'],
      [{ operationTimeoutMs: 0 }, 'Workload options.operationTimeoutMs'],
      [{ thinkTime: { kind: 'gaussian' } }, 'Workload options.thinkTime.kind'],
      [{ thinkTime: { kind: 'constant', delayMs: -1 } }, 'Workload options.thinkTime.delayMs'],
      [{ keyCount: 0 }, 'Workload options.keyCount'],
      [{ keyChoice: 'hot' }, 'Workload options.keyChoice'],
      [{ zipfExponent: 0 }, 'Workload options.zipfExponent'],
      [{ mix: { cas: 1 } }, 'Workload options.mix.cas'],
      [{ mix: { read: -1 } }, 'Workload options.mix.read'],
      [{ mix: { read: 0, write: 0 } }, 'Workload options.mix'],
      [{ mix: 'reads' }, 'Workload options.mix'],
      [{ historyEventCountMax: 0 }, 'HistoryRecorder options.eventCountMax'],
      [{ traceOperations: 'yes' }, 'Workload options.traceOperations'],
    ];
    for (const [change, argument] of cases) {
      const simulation = new Simulation({ seed: 1 });
      assert.throws(
        () => new Workload(simulation, { ...base, ...change } as WorkloadOptions),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        `${JSON.stringify(change)} should be rejected naming ${argument}`,
      );
    }
    assert.throws(
      () => new Workload(undefined as unknown as Simulation, base),
      (error: unknown) => isInvalidArgumentError(error) && error.argument === 'Workload simulation',
    );
    const simulation = new Simulation({ seed: 1 });
    new Workload(simulation, { ...base, client: () => ({}) as WorkloadClient });
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) => isSimulationError(error) && isInvalidArgumentError(error.cause),
    );
  });

  it('stops the run with LimitExceededError when the history is full', () => {
    const simulation = new Simulation({ seed: 1 });
    simulation.addNode({ id: 'server', program: (host) => new AtomicServer(host, 'register') });
    new Workload(simulation, {
      model: 'register',
      clientCount: 1,
      operationCountMax: 10,
      historyEventCountMax: 5,
      client: (host) => new RequestClient(host),
    });
    assert.throws(
      () => simulation.runUntilIdle(),
      (error: unknown) => isSimulationError(error) && isLimitExceededError(error.cause),
    );
  });
});

describe('HistoryRecorder', () => {
  it('stamps events with the clock and pairs them into operations', () => {
    const clock = new ManualClock();
    const history = new HistoryRecorder({ clock });
    history.invoke(0, 'write', undefined, 1);
    clock.advanceMs(2);
    history.invoke('b', 'cas', 'x', [1, 2]);
    clock.advanceMs(1.5);
    history.ok(0, 'write');
    history.fail('b', 'cas', 'x');
    history.invoke(0, 'read');
    clock.advanceMs(1);
    history.info(0, 'read');
    assert.equal(history.eventCount, 6);
    assert.deepEqual(history.operations(), [
      {
        process: 0,
        kind: 'write',
        input: 1,
        invokeTime: 0,
        returnTime: 3.5,
        status: 'ok',
        line: 1,
      },
      {
        process: 'b',
        kind: 'cas',
        key: 'x',
        input: [1, 2],
        invokeTime: 2,
        returnTime: 3.5,
        status: 'fail',
        line: 2,
      },
      { process: 0, kind: 'read', invokeTime: 3.5, status: 'unknown', line: 5 },
    ]);
    assert.equal(
      history.toJsonLines().split('\n')[1],
      '{"process":"b","type":"invoke","kind":"cas","key":"x","value":[1,2],"time":2}',
    );
  });

  it('copies values, so mutating one later does not rewrite history', () => {
    const history = new HistoryRecorder({ clock: new ManualClock() });
    const value = { list: [1, 2] };
    history.invoke(0, 'put', 'k', value);
    value.list.push(3);
    assert.deepEqual(history.events()[0]?.value, { list: [1, 2] });
    assert.ok(Object.isFrozen(history.events()[0]));
  });

  it('rejects malformed events and values that are not JSON', () => {
    const history = new HistoryRecorder({ clock: new ManualClock() });
    const bad: [unknown, string][] = [
      [{ process: 1.5, type: 'invoke', kind: 'read' }, 'HistoryRecorder.record event.process'],
      [{ process: '', type: 'invoke', kind: 'read' }, 'HistoryRecorder.record event.process'],
      [{ process: 0, type: 'done', kind: 'read' }, 'HistoryRecorder.record event.type'],
      [{ process: 0, type: 'invoke', kind: '' }, 'HistoryRecorder.record event.kind'],
      [{ process: 0, type: 'invoke', kind: 'read', key: 3 }, 'HistoryRecorder.record event.key'],
      ...[Number.NaN, Number.POSITIVE_INFINITY, 1n, () => 1, [undefined], { a: new Date(0) }].map(
        (value): [unknown, string] => [
          { process: 0, type: 'invoke', kind: 'write', value },
          'HistoryRecorder.record event.value',
        ],
      ),
    ];
    for (const [event, argument] of bad) {
      assert.throws(
        () => history.record(event as never),
        (error: unknown) => isInvalidArgumentError(error) && error.argument === argument,
        argument,
      );
    }
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    assert.throws(() => history.invoke(0, 'write', undefined, cyclic), isInvalidArgumentError);
    assert.equal(history.eventCount, 0);
    assert.throws(
      () => new HistoryRecorder({ clock: {} as never }),
      (error: unknown) =>
        isInvalidArgumentError(error) && error.argument === 'HistoryRecorder options.clock',
    );
    const small = new HistoryRecorder({ clock: new ManualClock(), eventCountMax: 1 });
    small.invoke(0, 'read');
    assert.throws(() => small.ok(0, 'read', undefined, 1), isLimitExceededError);
  });

  it('round-trips through JSON Lines: parseJsonLinesHistory reads back identical operations', () => {
    const valueArbitrary = fc.oneof(
      fc.constant(null),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string(),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.string(), { maxKeys: 3 }),
    );
    const stepArbitrary = fc.record({
      process: fc.oneof(fc.nat(4), fc.constantFrom('a', 'b', 'nemesis "x"')),
      kind: fc.constantFrom('read', 'write', 'cas', 'get', 'put'),
      key: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
      value: fc.option(valueArbitrary, { nil: undefined }),
      completion: fc.constantFrom('ok', 'fail', 'info', 'none'),
      advanceMs: fc.double({ min: 0, max: 100, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 30 }), (steps) => {
        const clock = new ManualClock();
        const history = new HistoryRecorder({ clock });
        const open = new Map<number | string, { kind: string; key: string | undefined }>();
        for (const step of steps) {
          clock.advanceMs(step.advanceMs);
          const pending = open.get(step.process);
          if (pending === undefined) {
            history.invoke(step.process, step.kind, step.key, step.value);
            open.set(step.process, { kind: step.kind, key: step.key });
          } else if (step.completion !== 'none') {
            open.delete(step.process);
            if (step.completion === 'ok') {
              history.ok(step.process, pending.kind, pending.key, step.value);
            } else if (step.completion === 'fail') {
              history.fail(step.process, pending.kind, pending.key);
            } else {
              history.info(step.process, pending.kind, pending.key);
            }
          }
        }
        const text = history.toJsonLines();
        assert.deepEqual(parseJsonLinesHistory(text), history.operations());
        assert.equal(text.split('\n').length, history.eventCount + 1);
      }),
    );
  });
});
