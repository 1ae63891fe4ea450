import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CausalCheckResult,
  checkCausalConsistency,
  checkSequentialConsistency,
  isSessionHistoryError,
  kvModel,
  type Operation,
  type SessionOperation,
} from '../../src/check/index.js';
import { isInvalidArgumentError, SeededRandom } from '../../src/core/index.js';

type Client = number | string;

/** A put of `value` to `key` by `process` that completed over [time, time + 1]. */
function put(process: Client, key: string, value: string, time: number): SessionOperation {
  return {
    process,
    kind: 'put',
    key,
    input: value,
    invokeTime: time,
    returnTime: time + 1,
    status: 'ok',
  };
}

/** A get of `key` returning `value` ('' for the initial value) over [time, time + 1]. */
function get(process: Client, key: string, value: string, time: number): SessionOperation {
  return {
    process,
    kind: 'get',
    key,
    output: value,
    invokeTime: time,
    returnTime: time + 1,
    status: 'ok',
  };
}

function violations(result: CausalCheckResult) {
  assert.equal(result.verdict, 'violation', 'expected a violation');
  if (result.verdict !== 'violation') {
    throw new Error('unreachable');
  }
  return result;
}

describe('checkCausalConsistency', () => {
  it('accepts concurrent writes seen in different orders by different sessions', () => {
    // Causal consistency lets replicas disagree on concurrent writes (sequential
    // consistency does not).
    const history = [
      put('A', 'x', '1', 0),
      put('B', 'x', '2', 0),
      get('C', 'x', '1', 2),
      get('C', 'x', '2', 4),
      get('D', 'x', '2', 2),
      get('D', 'x', '1', 4),
    ];
    const result = checkCausalConsistency(history);
    assert.deepEqual(result, { verdict: 'ok', operationCount: 6, readCount: 4, writeCount: 2 });
    assert.equal(checkSequentialConsistency(kvModel(), history).verdict, 'violation');
    assert.equal(checkCausalConsistency([]).verdict, 'ok');
  });

  it('rejects a causality inversion: an effect seen without its cause (WriteCOInitRead)', () => {
    // A writes x; B reads it and writes y; C reads y, then reads x as never written.
    const history = [
      put('A', 'x', '1', 0),
      get('B', 'x', '1', 2),
      put('B', 'y', '2', 4),
      get('C', 'y', '2', 6),
      get('C', 'x', '', 8),
    ];
    const result = violations(checkCausalConsistency(history));
    assert.equal(result.violationCount, 1);
    const [violation] = result.violations;
    assert.equal(violation?.pattern, 'write-causal-order-initial-read');
    assert.equal(violation?.session, 'C');
    assert.equal(violation?.key, 'x');
    assert.deepEqual(violation?.operations, [history[0], history[4]]);
    assert.deepEqual(
      violation?.links.map((link) => [link.from, link.relation, link.to]),
      [
        [history[0], 'reads-from', history[1]],
        [history[1], 'session-order', history[2]],
        [history[2], 'reads-from', history[3]],
        [history[3], 'session-order', history[4]],
      ],
    );
    assert.match(result.message, /WriteCOInitRead\) in session C/);
    assert.match(result.message, /process A: put key "x" "1" -> ok causally precedes the read/);
    // Without C's last read, it is fine.
    assert.equal(checkCausalConsistency(history.slice(0, 4)).verdict, 'ok');
  });

  it('rejects a read going back in time within a session (WriteCORead)', () => {
    const history = [
      put('A', 'x', '1', 0),
      put('A', 'x', '2', 2),
      get('B', 'x', '2', 4),
      get('B', 'x', '1', 6),
    ];
    const [violation] = violations(checkCausalConsistency(history)).violations;
    assert.equal(violation?.pattern, 'write-causal-order-read');
    assert.deepEqual(violation?.operations, [history[0], history[1], history[3]]);
    assert.deepEqual(
      violation?.links.map((link) => link.relation),
      ['session-order', 'reads-from', 'session-order'],
    );
    assert.match(violation?.message ?? '', /causality inversion\) in session B/);
    assert.match(violation?.message ?? '', /overwrote key "x" after that write in causal order/);
  });

  it('rejects a write that overtakes the write it was based on (WriteCORead through another session)', () => {
    // B read x = 1 and then overwrote it with 2; C sees 2, then 1 again.
    const history = [
      put('A', 'x', '1', 0),
      get('B', 'x', '1', 2),
      put('B', 'x', '2', 4),
      get('C', 'x', '2', 6),
      get('C', 'x', '1', 8),
    ];
    const [violation] = violations(checkCausalConsistency(history)).violations;
    assert.equal(violation?.pattern, 'write-causal-order-read');
    assert.equal(violation?.session, 'C');
  });

  it('rejects a read that observes a write from its own future (CyclicCO)', () => {
    const history = [
      { process: 1, kind: 'read', output: 7, invokeTime: 0, returnTime: 1, status: 'ok' as const },
      { process: 1, kind: 'write', input: 7, invokeTime: 2, returnTime: 3, status: 'ok' as const },
    ];
    const result = violations(checkCausalConsistency(history));
    const [violation] = result.violations;
    assert.equal(violation?.pattern, 'cyclic-causal-order');
    assert.equal(violation?.key, undefined);
    assert.deepEqual(violation?.operations, [history[0], history[1]]);
    assert.deepEqual(
      violation?.links.map((link) => link.relation),
      ['session-order', 'reads-from'],
    );
    assert.match(result.message, /CyclicCO/);
  });

  it('reports a cycle through two sessions, starting at an operation', () => {
    // Each session reads the value the other writes only after that read.
    const history = [
      get('A', 'x', '1', 0),
      get('B', 'x', '2', 0),
      put('B', 'x', '1', 2),
      put('A', 'x', '2', 2),
    ];
    const [violation] = violations(checkCausalConsistency(history)).violations;
    assert.equal(violation?.pattern, 'cyclic-causal-order');
    assert.equal(violation?.operations.length, 4);
    assert.equal(violation?.links.at(-1)?.to, violation?.links[0]?.from);
  });

  it('checks a register history without keys, and read-your-writes as a special case', () => {
    const register = (process: Client, kind: string, value: number | null, time: number) =>
      kind === 'write'
        ? {
            process,
            kind,
            input: value,
            invokeTime: time,
            returnTime: time + 1,
            status: 'ok' as const,
          }
        : {
            process,
            kind,
            output: value,
            invokeTime: time,
            returnTime: time + 1,
            status: 'ok' as const,
          };
    const history = [register(1, 'write', 1, 0), register(1, 'read', null, 2)];
    const [violation] = violations(checkCausalConsistency(history)).violations;
    assert.equal(violation?.pattern, 'write-causal-order-initial-read');
    assert.match(violation?.message ?? '', /initial value of the register/);
    assert.equal(
      checkCausalConsistency([register(1, 'write', 1, 0), register(2, 'read', null, 2)]).verdict,
      'ok',
    );
  });

  it('uses sessions, and leaves operations of one session that overlap in time unordered', () => {
    const history = [
      { ...put('p1', 'x', '1', 0), session: 's' },
      { ...get('p2', 'x', '', 2), session: 's' },
    ];
    assert.equal(checkCausalConsistency(history).verdict, 'violation');
    const overlapping = [
      { ...put('p1', 'x', '1', 0), returnTime: 5, session: 's' },
      { ...get('p2', 'x', '', 2), session: 's' },
    ];
    assert.equal(checkCausalConsistency(overlapping).verdict, 'ok');
  });

  it('treats a write of unknown outcome as possibly applied later, and drops failed operations', () => {
    const lost: SessionOperation = {
      process: 'A',
      kind: 'put',
      key: 'x',
      input: '1',
      invokeTime: 0,
      status: 'unknown',
    };
    // The write timed out: its own session may not see it, and another may.
    assert.equal(
      checkCausalConsistency([lost, get('A', 'x', '', 2), get('B', 'x', '1', 2)]).verdict,
      'ok',
    );
    const failed: SessionOperation = { ...put('A', 'x', '1', 0), status: 'fail' };
    const result = checkCausalConsistency([failed, get('A', 'x', '', 2)]);
    assert.deepEqual(result, { verdict: 'ok', operationCount: 2, readCount: 1, writeCount: 0 });
  });

  it('counts every violation and keeps violationCountMax of them', () => {
    const history = [
      put('A', 'x', '1', 0),
      get('A', 'x', '', 2),
      get('A', 'x', '', 4),
      get('A', 'x', '', 6),
    ];
    const result = violations(checkCausalConsistency(history, { violationCountMax: 2 }));
    assert.equal(result.violationCount, 3);
    assert.equal(result.violations.length, 2);
    assert.match(result.message, /and 2 more violation\(s\)/);
  });
});

describe('checkCausalConsistency on bad input', () => {
  it('rejects histories outside the preconditions with SessionHistoryError', () => {
    const problem = (expected: string) => (error: unknown) =>
      isSessionHistoryError(error) &&
      error.problem === expected &&
      /the causal checker/.test(error.message);
    assert.throws(
      () =>
        checkCausalConsistency([
          { process: 1, kind: 'cas', input: [1, 2], invokeTime: 0, returnTime: 1, status: 'ok' },
        ]),
      problem('unsupported-kind'),
    );
    assert.throws(
      () => checkCausalConsistency([put('A', 'x', '1', 0), put('B', 'x', '1', 2)]),
      problem('duplicate-value'),
    );
    // ThinAirRead: a value no write wrote.
    assert.throws(
      () => checkCausalConsistency([get('A', 'x', '9', 0)]),
      (error: unknown) => isSessionHistoryError(error) && error.problem === 'unexplained-read',
    );
  });

  it('rejects bad options and operations with InvalidArgumentError', () => {
    assert.throws(
      () => checkCausalConsistency([], { operationCountMax: 0 }),
      isInvalidArgumentError,
    );
    assert.throws(
      () => checkCausalConsistency([], { violationCountMax: 0 }),
      isInvalidArgumentError,
    );
    assert.throws(
      () => checkCausalConsistency('history' as unknown as Operation[]),
      isInvalidArgumentError,
    );
    assert.throws(
      () => checkCausalConsistency([{ ...get('A', 'x', '', 5), returnTime: 1 }]),
      isInvalidArgumentError,
    );
  });

  it('returns unknown for a history longer than operationCountMax', () => {
    const history = [put('A', 'x', '1', 0), get('A', 'x', '1', 2), get('A', 'x', '1', 4)];
    const result = checkCausalConsistency(history, { operationCountMax: 2 });
    assert.equal(result.verdict, 'unknown');
    if (result.verdict === 'unknown') {
      assert.equal(result.reason, 'operation-limit');
      assert.match(result.message, /operationCountMax \(2\)/);
    }
  });

  it('checks thousands of operations (the graph is linear, the bitsets quadratic in bits)', () => {
    const history = causalStoreHistory(7, 8, 6000);
    const result = checkCausalConsistency(history);
    assert.equal(result.verdict, 'ok');
    assert.ok(result.operationCount > 3000);
  });
});

/**
 * Clients of a causally consistent toy store: each client has its own replica, applies its
 * writes at once and sends them to the other replicas, which apply a write only when they
 * have applied everything its writer had (vector clocks), after a random delay. Reads
 * return the local replica's value. Every client is one session; an operation completes
 * within one step.
 */
function causalStoreHistory(
  seed: number,
  clientCount: number,
  stepCount: number,
): SessionOperation[] {
  const random = new SeededRandom({ seed }).fork('causal-store');
  interface Message {
    readonly origin: number;
    readonly clock: readonly number[];
    readonly key: string;
    readonly value: string;
  }
  const replicas = Array.from({ length: clientCount }, () => ({
    values: new Map<string, string>(),
    clock: Array.from({ length: clientCount }, () => 0),
    inbox: [] as Message[],
  }));
  const history: SessionOperation[] = [];
  for (let step = 0; step < stepCount; step += 1) {
    const client = random.integer(0, clientCount - 1);
    const replica = replicas[client] as (typeof replicas)[number];
    if (random.boolean(0.4)) {
      const ready = replica.inbox.filter(
        (message) =>
          replica.clock[message.origin] === (message.clock[message.origin] as number) - 1 &&
          message.clock.every(
            (count, origin) =>
              origin === message.origin || count <= (replica.clock[origin] as number),
          ),
      );
      if (ready.length > 0) {
        const message = random.pick(ready);
        replica.inbox.splice(replica.inbox.indexOf(message), 1);
        replica.values.set(message.key, message.value);
        replica.clock[message.origin] = message.clock[message.origin] as number;
      }
      continue;
    }
    const key = random.pick(['x', 'y', 'z']);
    if (random.boolean(0.4)) {
      const value = `v${step}`;
      replica.clock[client] = (replica.clock[client] as number) + 1;
      replica.values.set(key, value);
      replicas.forEach((other, index) => {
        if (index !== client) {
          other.inbox.push({ origin: client, clock: [...replica.clock], key, value });
        }
      });
      history.push(put(client, key, value, step));
    } else {
      history.push(get(client, key, replica.values.get(key) ?? '', step));
    }
  }
  return history;
}

const storeArbitrary = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  clientCount: fc.integer({ min: 1, max: 5 }),
  stepCount: fc.integer({ min: 1, max: 120 }),
});

describe('causal consistency properties', () => {
  it('accepts every history of a causally consistent store, and rejects it with an injected inversion', () => {
    fc.assert(
      fc.property(storeArbitrary, ({ seed, clientCount, stepCount }) => {
        const history = causalStoreHistory(seed, clientCount, stepCount);
        assert.equal(checkCausalConsistency(history).verdict, 'ok', `seed ${seed}`);
        const end = stepCount + 10;
        // A read that saw a write, then a later read of its session that misses it.
        const seen = history.find(
          (operation) => operation.kind === 'get' && operation.output !== '',
        );
        fc.pre(seen !== undefined);
        const missed = get(seen?.process as Client, seen?.key as string, '', end);
        const inverted = violations(checkCausalConsistency([...history, missed]));
        assert.equal(
          inverted.violations.at(-1)?.pattern,
          'write-causal-order-initial-read',
          `seed ${seed}`,
        );
        // A read of a write its session had seen overwritten by the writer's next write.
        for (const newer of history) {
          const older = history.find(
            (operation) =>
              operation.kind === 'put' &&
              operation.process === newer.process &&
              operation.key === newer.key &&
              operation.invokeTime < newer.invokeTime,
          );
          const reader = history.find(
            (operation) => operation.kind === 'get' && operation.output === newer.input,
          );
          if (newer.kind !== 'put' || older === undefined || reader === undefined) {
            continue;
          }
          const stale = get(reader.process, newer.key as string, older.input as string, end);
          const result = violations(checkCausalConsistency([...history, stale]));
          assert.equal(
            result.violations.at(-1)?.pattern,
            'write-causal-order-read',
            `seed ${seed}`,
          );
          break;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts every sequentially consistent history of unique writes', () => {
    const operationArbitrary = fc.record({
      process: fc.integer({ min: 0, max: 2 }),
      isWrite: fc.boolean(),
      key: fc.constantFrom('x', 'y'),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(operationArbitrary, { maxLength: 9 }), (steps) => {
        // Reads return the initial value or any value written to their key, even one
        // written later: causal order may then have a cycle.
        const written: Record<string, string[]> = { x: [''], y: [''] };
        steps.forEach((step, index) => {
          if (step.isWrite) {
            written[step.key]?.push(`v${index}`);
          }
        });
        const history = steps.map((step, index) => {
          const values = written[step.key] as string[];
          return step.isWrite
            ? put(step.process, step.key, `v${index}`, 2 * index)
            : get(step.process, step.key, values[step.pick % values.length] as string, 2 * index);
        });
        if (checkSequentialConsistency(kvModel(), history).verdict === 'ok') {
          assert.equal(checkCausalConsistency(history).verdict, 'ok', JSON.stringify(history));
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('finds exactly the patterns a naive transitive closure finds, on small histories', () => {
    const operationArbitrary = fc.record({
      process: fc.integer({ min: 0, max: 3 }),
      // Processes 2 and 3 share a session, so its operations may overlap in time.
      isWrite: fc.boolean(),
      key: fc.constantFrom('x', 'y'),
      pick: fc.nat(),
      start: fc.integer({ min: 0, max: 30 }),
      length: fc.integer({ min: 1, max: 6 }),
      status: fc.constantFrom('ok', 'ok', 'ok', 'unknown', 'fail'),
    });
    fc.assert(
      fc.property(fc.array(operationArbitrary, { maxLength: 10 }), (steps) => {
        const freeAt = [0, 0, 0, 0];
        const written: Record<string, string[]> = { x: [''], y: [''] };
        steps.forEach((step, index) => {
          if (step.isWrite && step.status !== 'fail') {
            written[step.key]?.push(`v${index}`);
          }
        });
        const history: SessionOperation[] = steps.map((step, index) => {
          const invokeTime = (freeAt[step.process] as number) + step.start;
          freeAt[step.process] = invokeTime + step.length + 1;
          const values = written[step.key] as string[];
          const base = step.isWrite
            ? put(step.process, step.key, `v${index}`, invokeTime)
            : get(step.process, step.key, values[step.pick % values.length] as string, invokeTime);
          const session = step.process >= 2 ? { session: 'shared' } : {};
          const ended = { ...base, ...session, returnTime: invokeTime + step.length };
          if (step.status === 'unknown') {
            const { returnTime: _returnTime, output: _output, ...open } = ended;
            return { ...open, status: 'unknown' };
          }
          return { ...ended, status: step.status as 'ok' | 'fail' };
        });
        const expected = naiveCausalPatterns(history);
        const result = checkCausalConsistency(history);
        if (expected.cyclic) {
          assert.equal(result.verdict, 'violation');
          if (result.verdict === 'violation') {
            const links = result.violations[0]?.links ?? [];
            assert.equal(result.violations[0]?.pattern, 'cyclic-causal-order');
            assert.equal(links.at(-1)?.to, links[0]?.from, 'the cycle closes');
          }
          return;
        }
        const found =
          result.verdict === 'violation'
            ? result.violations.map(
                (violation) =>
                  `${violation.pattern} ${JSON.stringify(violation.operations.at(-1))}`,
              )
            : [];
        assert.deepEqual(found, expected.patterns, JSON.stringify(history));
        for (const violation of result.verdict === 'violation' ? result.violations : []) {
          violation.links.slice(1).forEach((link, index) => {
            const previous = violation.links[index];
            assert.equal(previous?.to, link.from, 'the links form one chain');
          });
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

/**
 * The bad patterns by their definition, over an explicit transitive closure of session
 * order and reads-from: what the checker computes with join nodes and bitsets.
 */
function naiveCausalPatterns(history: readonly SessionOperation[]): {
  cyclic: boolean;
  patterns: string[];
} {
  const kept = history.filter(
    (operation) =>
      operation.status !== 'fail' && (operation.kind === 'put' || operation.status === 'ok'),
  );
  const count = kept.length;
  const reach = kept.map(() => kept.map(() => false));
  const end = (operation: Operation) =>
    operation.status === 'ok' ? (operation.returnTime as number) : Number.POSITIVE_INFINITY;
  kept.forEach((from, i) => {
    kept.forEach((to, j) => {
      const sameSession = (from.session ?? from.process) === (to.session ?? to.process);
      const sessionOrder = i !== j && sameSession && end(from) <= to.invokeTime;
      const readsFrom =
        from.kind === 'put' && to.kind === 'get' && from.key === to.key && from.input === to.output;
      (reach[i] as boolean[])[j] = sessionOrder || readsFrom;
    });
  });
  for (let k = 0; k < count; k += 1) {
    for (let i = 0; i < count; i += 1) {
      for (let j = 0; j < count; j += 1) {
        if (reach[i]?.[k] && reach[k]?.[j]) {
          (reach[i] as boolean[])[j] = true;
        }
      }
    }
  }
  if (kept.some((_operation, i) => reach[i]?.[i])) {
    return { cyclic: true, patterns: [] };
  }
  const patterns: string[] = [];
  kept.forEach((read, r) => {
    if (read.kind !== 'get') {
      return;
    }
    const writes = kept
      .map((write, w) => ({ write, w }))
      .filter(({ write }) => write.kind === 'put' && write.key === read.key);
    const source = writes.find(({ write }) => write.input === read.output);
    if (source === undefined) {
      if (writes.some(({ w }) => reach[w]?.[r])) {
        patterns.push(`write-causal-order-initial-read ${JSON.stringify(read)}`);
      }
    } else if (writes.some(({ w }) => w !== source.w && reach[source.w]?.[w] && reach[w]?.[r])) {
      patterns.push(`write-causal-order-read ${JSON.stringify(read)}`);
    }
  });
  return { cyclic: false, patterns };
}
