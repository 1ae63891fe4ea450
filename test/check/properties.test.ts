import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkLinearizability, type Operation, registerModel } from '../../src/check/index.js';
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
