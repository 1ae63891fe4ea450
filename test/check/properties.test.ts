import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkLinearizability,
  kvModel,
  type Operation,
  registerModel,
} from '../../src/check/index.js';
import { SeededRandom } from '../../src/core/index.js';

interface Simulation {
  readonly history: Operation[];
  readonly seed: number;
}

/**
 * Runs clients against a correct in-memory register. Every operation takes effect at one
 * instant chosen at random between its invocation and its response, so the recorded
 * history is linearizable by construction. Writes carry distinct values. A write may end
 * with an unknown outcome (its client crashed), in which case it took effect or did not,
 * at random, and that client issues nothing more.
 */
function simulate(seed: number, processCount: number, operationCount: number): Simulation {
  const random = new SeededRandom({ seed });
  interface Planned {
    operation: { -readonly [K in keyof Operation]: Operation[K] };
    effectTime: number;
    takesEffect: boolean;
  }
  const planned: Planned[] = [];
  const freeAt = Array.from({ length: processCount }, () => random.integer(0, 5));
  const crashed = new Set<number>();
  let nextValue = 1;
  for (let index = 0; index < operationCount; index += 1) {
    const process = random.integer(0, processCount - 1);
    if (crashed.has(process)) {
      continue;
    }
    const invokeTime = (freeAt[process] as number) + random.integer(0, 3);
    const returnTime = invokeTime + random.integer(1, 12);
    // Distinct effect instants strictly inside the interval, so no two coincide.
    const effectTime = invokeTime + (returnTime - invokeTime) * (0.01 + 0.98 * random.float());
    freeAt[process] = returnTime + 1;
    const isWrite = random.float() < 0.5;
    const unknownOutcome = isWrite && random.float() < 0.1;
    const operation: Planned['operation'] = isWrite
      ? { process, kind: 'write', input: nextValue, invokeTime, status: 'ok' }
      : { process, kind: 'read', invokeTime, status: 'ok' };
    if (isWrite) {
      nextValue += 1;
    }
    if (unknownOutcome) {
      operation.status = 'unknown';
      crashed.add(process);
    } else {
      operation.returnTime = returnTime;
    }
    planned.push({ operation, effectTime, takesEffect: !unknownOutcome || random.float() < 0.5 });
  }
  let value: unknown = null;
  for (const step of [...planned].sort((left, right) => left.effectTime - right.effectTime)) {
    if (!step.takesEffect) {
      continue;
    }
    if (step.operation.kind === 'write') {
      value = step.operation.input;
    } else {
      step.operation.output = value;
    }
  }
  return { history: planned.map((step) => step.operation), seed };
}

/**
 * Adds one stale read: after a write w2 completed that was invoked after an earlier write
 * w1 completed, a read returns w1's value (overwritten in real time). Without such a pair,
 * the read returns the initial nil after a write completed. Both are violations.
 */
function withStaleRead(history: readonly Operation[]): Operation[] {
  const writes = history.filter(
    (operation) => operation.kind === 'write' && operation.status === 'ok',
  );
  let stale: { value: unknown; after: number } | undefined;
  for (const first of writes) {
    for (const second of writes) {
      if ((first.returnTime as number) < second.invokeTime) {
        stale = { value: first.input, after: second.returnTime as number };
        break;
      }
    }
    if (stale !== undefined) {
      break;
    }
  }
  if (stale === undefined) {
    const first = writes[0] as Operation;
    stale = { value: null, after: first.returnTime as number };
  }
  return [
    ...history,
    {
      process: 'stale-reader',
      kind: 'read',
      output: stale.value,
      invokeTime: stale.after + 0.5,
      returnTime: stale.after + 0.75,
      status: 'ok',
    },
  ];
}

const simulationArbitrary = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  processCount: fc.integer({ min: 1, max: 6 }),
  operationCount: fc.integer({ min: 1, max: 40 }),
});

describe('linearizability checker properties', () => {
  it('accepts every history of a correct register under random concurrency', () => {
    fc.assert(
      fc.property(simulationArbitrary, ({ seed, processCount, operationCount }) => {
        const { history } = simulate(seed, processCount, operationCount);
        const result = checkLinearizability(registerModel(), history);
        assert.equal(result.verdict, 'ok', `seed ${seed}: ${JSON.stringify(history)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects the same history with one injected stale read', () => {
    fc.assert(
      fc.property(simulationArbitrary, ({ seed, processCount, operationCount }) => {
        const { history } = simulate(seed, processCount, operationCount);
        fc.pre(
          history.some((operation) => operation.kind === 'write' && operation.status === 'ok'),
        );
        const result = checkLinearizability(registerModel(), withStaleRead(history));
        assert.equal(result.verdict, 'violation', `seed ${seed}`);
        if (result.verdict === 'violation') {
          assert.ok(result.explanation.unplaced.length > 0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Clients appending distinct suffixes to, and reading, a correct in-memory key-value
 * store; each operation takes effect at a random instant inside its interval.
 */
function simulateKv(seed: number, processCount: number, operationCount: number): Operation[] {
  const random = new SeededRandom({ seed }).fork('kv');
  const keys = ['a', 'b', 'c'];
  const freeAt = Array.from({ length: processCount }, () => 0);
  const planned: { operation: { -readonly [K in keyof Operation]: Operation[K] }; at: number }[] =
    [];
  for (let index = 0; index < operationCount; index += 1) {
    const process = random.integer(0, processCount - 1);
    const invokeTime = (freeAt[process] as number) + random.integer(0, 3);
    const returnTime = invokeTime + random.integer(1, 10);
    freeAt[process] = returnTime + 1;
    const key = random.pick(keys);
    const at = invokeTime + (returnTime - invokeTime) * (0.01 + 0.98 * random.float());
    const operation: (typeof planned)[number]['operation'] =
      random.float() < 0.5
        ? {
            process,
            kind: 'append',
            key,
            input: `(${index})`,
            invokeTime,
            returnTime,
            status: 'ok',
          }
        : { process, kind: 'get', key, invokeTime, returnTime, status: 'ok' };
    planned.push({ operation, at });
  }
  const store = new Map<string, string>();
  for (const { operation } of [...planned].sort((left, right) => left.at - right.at)) {
    const key = operation.key as string;
    if (operation.kind === 'append') {
      store.set(key, (store.get(key) ?? '') + String(operation.input));
    } else {
      operation.output = store.get(key) ?? '';
    }
  }
  return planned.map((step) => step.operation);
}

describe('linearizability checker properties, key-value store', () => {
  it('accepts every history of a correct store, per key, and rejects a get that misses a completed append', () => {
    fc.assert(
      fc.property(simulationArbitrary, ({ seed, processCount, operationCount }) => {
        const history = simulateKv(seed, processCount, operationCount);
        const result = checkLinearizability(kvModel(), history);
        assert.equal(result.verdict, 'ok', `seed ${seed}`);
        const append = history.find((operation) => operation.kind === 'append');
        fc.pre(append !== undefined);
        const after = (append?.returnTime as number) + 0.5;
        const stale: Operation = {
          process: 'stale-reader',
          kind: 'get',
          key: append?.key as string,
          output: '',
          invokeTime: after,
          returnTime: after + 0.25,
          status: 'ok',
        };
        const rejected = checkLinearizability(kvModel(), [...history, stale]);
        assert.equal(rejected.verdict, 'violation', `seed ${seed}`);
        if (rejected.verdict === 'violation') {
          assert.equal(rejected.explanation.key, append?.key);
        }
      }),
      { numRuns: 200 },
    );
  });
});
