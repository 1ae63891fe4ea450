/**
 * The sequential consistency checker: the search of the linearizability checker with the
 * real-time order between processes taken away.
 *
 * A history is sequentially consistent (Lamport, 1979) when one total order of its
 * operations explains every output and keeps each process's operations in the order the
 * process issued them. Nothing else constrains the order: an operation that completed
 * before another process's operation began may still take effect after it. So the
 * frontier of the search is the next operation of each process, not the operations in
 * flight.
 *
 * Sequential consistency is not local: a history can be sequentially consistent on each
 * key alone and not as a whole (process A writes x then reads y = nil, process B writes y
 * then reads x = nil: each key alone has an order, both keys together have none). So a
 * history is not split per key. It is split only into parts that share no process (or
 * session): no program order connects two such parts, and the keys of a model that
 * partitions never interact, so any order of each part interleaves into one order of
 * the whole.
 *
 * @module
 */

import { InvalidArgumentError } from '../core/index.js';
import { describeOperation, type Operation } from './history.js';
import {
  type CheckOptions,
  type CheckResult,
  decideParts,
  explainPrefix,
  type PartitionOutcome,
  type PlacementFrontier,
  prepareCheck,
  type SearchBudget,
  searchOrder,
  searchPartition,
  type ViolationExplanation,
} from './linearizability.js';
import type { HistoryPartition, Model } from './models.js';
import type { SessionOperation } from './sessions.js';

/** Operations connected through their processes, with the keys they touch. */
interface ConnectedPart {
  readonly key: string | undefined;
  readonly keys: readonly string[];
  readonly operations: readonly SessionOperation[];
}

function sessionOf(operation: SessionOperation): number | string {
  return operation.session ?? operation.process;
}

/**
 * Merges the model's partitions that share a process (session): the parts left share
 * none, so each may be checked alone.
 */
function connectedParts(partitions: readonly HistoryPartition[]): ConnectedPart[] {
  const parent = partitions.map((_partition, index) => index);
  const find = (index: number): number => {
    let root = index;
    while (parent[root] !== root) {
      parent[root] = parent[parent[root] as number] as number;
      root = parent[root] as number;
    }
    return root;
  };
  const firstPartOf = new Map<number | string, number>();
  partitions.forEach((partition, index) => {
    for (const operation of partition.operations) {
      const session = sessionOf(operation);
      const first = firstPartOf.get(session);
      if (first === undefined) {
        firstPartOf.set(session, index);
      } else {
        const left = find(first);
        const right = find(index);
        if (left !== right) {
          parent[Math.max(left, right)] = Math.min(left, right);
        }
      }
    }
  });
  const grouped = new Map<number, { keys: string[]; operations: SessionOperation[] }>();
  partitions.forEach((partition, index) => {
    const root = find(index);
    let group = grouped.get(root);
    if (group === undefined) {
      group = { keys: [], operations: [] };
      grouped.set(root, group);
    }
    group.keys.push(partition.key);
    group.operations.push(...partition.operations);
  });
  return [...grouped.values()].map((group) => ({
    key: group.keys.length === 1 ? group.keys[0] : undefined,
    keys: group.keys,
    operations: group.operations,
  }));
}

/**
 * Checks whether `operations` is sequentially consistent with respect to `model`: whether
 * one order of all of them, keeping each process's operations in the order the process
 * issued them, explains every output. Unlike {@link checkLinearizability}, an operation
 * may take effect after an operation of another process that began after it completed:
 * a stale read is allowed as long as the reader's own history stays consistent with it.
 *
 * A process is an operation's `session` when it has one ({@link SessionOperation}),
 * otherwise its `process`. Its `ok` operations must not overlap in time (a process runs
 * one operation at a time), else {@link InvalidArgumentError}. Failed operations are
 * dropped. An operation of unknown outcome may take effect at any point after the
 * process's operations that completed before it was invoked, or never; it does not
 * precede the process's later operations (a process that issues more after a timeout is
 * accepted, and its timed-out write may land later).
 *
 * The models, options, budgets and results are those of {@link checkLinearizability}.
 * With `options.partition` (default true) and a model that partitions (`kvModel`), the
 * history is split only into parts that share no process: sequential consistency is not
 * local, so keys that one process touches together are checked together. A violation's
 * `explanation.key` is `undefined` when its part spans several keys (they are named in
 * the message); its `blocking` operation is an `ok` operation at the head of its
 * process that no order can place next, and its `candidates` are the next operation of
 * every process.
 *
 * Each part is first searched for a linearization (per key, as linearizability is
 * local), which keeps program order unless a process begins an operation at the instant
 * its previous one completed; only when there is none does the program-order search run,
 * trying operations in invocation order. Both draw on one step budget. The problem is
 * NP-complete: expect `'unknown'` sooner than from {@link checkLinearizability}.
 *
 * @example
 * ```ts
 * const result = checkSequentialConsistency(registerModel(), operations);
 * if (result.verdict === 'violation') console.log(result.explanation.message);
 * ```
 */
export function checkSequentialConsistency<State>(
  model: Model<State>,
  operations: readonly SessionOperation[],
  options?: CheckOptions,
): CheckResult {
  const prepared = prepareCheck('checkSequentialConsistency', model, operations, options);
  const parts: readonly ConnectedPart[] =
    prepared.options.partition !== false && model.partition !== undefined
      ? connectedParts(model.partition(prepared.kept))
      : [{ key: undefined, keys: [], operations: prepared.kept }];
  return decideParts(
    prepared,
    parts.map((part) => ({
      key: part.key,
      search: () => searchSequential(model, part, prepared.budget),
    })),
  );
}

/**
 * Program order as a frontier. A chain is a list of operations taken in order: one per
 * process with its `ok` operations, and one per operation of unknown outcome, which may
 * be taken once its process's chain has reached it.
 */
function programOrderFrontier(operations: readonly SessionOperation[]): PlacementFrontier {
  const bySession = new Map<number | string, number[]>();
  operations.forEach((operation, index) => {
    const session = sessionOf(operation);
    const list = bySession.get(session);
    if (list === undefined) {
      bySession.set(session, [index]);
    } else {
      list.push(index);
    }
  });
  const members: number[] = [];
  const starts: number[] = [];
  const lengths: number[] = [];
  const requiredChain: number[] = [];
  const requiredPosition: number[] = [];
  const pending: { index: number; chain: number; position: number }[] = [];
  const overlap = (first: Operation, second: Operation): never => {
    throw new InvalidArgumentError(
      'operations',
      `${describeOperation(first)} and ${describeOperation(second)} overlap in time, but a process runs one operation at a time; sequential consistency needs each process's (session's) operations in one program order. Give concurrent clients different processes or sessions.`,
    );
  };
  for (const indexes of bySession.values()) {
    const chain = starts.length;
    const definite = indexes.filter((index) => operations[index]?.status === 'ok');
    for (let position = 1; position < definite.length; position += 1) {
      const previous = operations[definite[position - 1] as number] as Operation;
      const current = operations[definite[position] as number] as Operation;
      if ((previous.returnTime as number) > current.invokeTime) {
        overlap(previous, current);
      }
    }
    starts.push(members.length);
    lengths.push(definite.length);
    requiredChain.push(-1);
    requiredPosition.push(0);
    members.push(...definite);
    let completed = 0;
    for (const index of indexes) {
      const operation = operations[index] as Operation;
      if (operation.status !== 'unknown') {
        continue;
      }
      while (
        completed < definite.length &&
        (operations[definite[completed] as number]?.returnTime as number) <= operation.invokeTime
      ) {
        completed += 1;
      }
      const running = definite[completed];
      if (
        running !== undefined &&
        (operations[running] as Operation).invokeTime < operation.invokeTime
      ) {
        overlap(operations[running] as Operation, operation);
      }
      pending.push({ index, chain, position: completed });
    }
  }
  for (const { index, chain, position } of pending) {
    starts.push(members.length);
    lengths.push(1);
    requiredChain.push(chain);
    requiredPosition.push(position);
    members.push(index);
  }
  const chainCount = starts.length;
  const positions = new Int32Array(chainCount);
  const headOf = (chain: number): number =>
    members[(starts[chain] as number) + (positions[chain] as number)] as number;
  // Candidates in the order their operations were invoked (operations are sorted by
  // invocation, so an operation's index orders them): the first order tried is the
  // real-time one, which most histories of real systems come close to.
  const next = (after: number): number => {
    let best = -1;
    let bestHead = Number.POSITIVE_INFINITY;
    for (let chain = 0; chain < chainCount; chain += 1) {
      if ((positions[chain] as number) >= (lengths[chain] as number)) {
        continue;
      }
      const required = requiredChain[chain] as number;
      if (
        required !== -1 &&
        (positions[required] as number) < (requiredPosition[chain] as number)
      ) {
        continue;
      }
      const head = headOf(chain);
      if (head > after && head < bestHead) {
        best = chain;
        bestHead = head;
      }
    }
    return best;
  };
  return {
    first: () => next(-1),
    after: (chain) => next(headOf(chain)),
    operationAt: headOf,
    take(chain) {
      positions[chain] = (positions[chain] as number) + 1;
    },
    restore(chain) {
      positions[chain] = (positions[chain] as number) - 1;
    },
  };
}

/** Whether an operation begins at the instant an `ok` operation of its session completed. */
function touchesInSession(operations: readonly SessionOperation[]): boolean {
  const returnTimes = new Map<number | string, Set<number>>();
  for (const operation of operations) {
    if (operation.status === 'ok') {
      const session = sessionOf(operation);
      const times = returnTimes.get(session) ?? new Set<number>();
      times.add(operation.returnTime as number);
      returnTimes.set(session, times);
    }
  }
  return operations.some(
    (operation) => returnTimes.get(sessionOf(operation))?.has(operation.invokeTime) === true,
  );
}

/** The operation kind that never changes the state, per built-in model. */
const builtInReadKinds: ReadonlyMap<string, string> = new Map([
  ['register', 'read'],
  ['cas-register', 'read'],
  ['counter', 'read'],
  ['set', 'read'],
  ['kv', 'get'],
]);

function searchSequential<State>(
  model: Model<State>,
  part: ConnectedPart,
  budget: SearchBudget,
): PartitionOutcome {
  const operations = [...part.operations].sort((left, right) => left.invokeTime - right.invokeTime);
  if (operations.length === 0) {
    return { kind: 'ok' };
  }
  const frontier = programOrderFrontier(operations);
  // A linearization keeps program order when no process has an operation begin at the
  // instant its previous one completed (linearizability takes those as concurrent). The
  // search for one is much better guided, and linearizability is local, so try it first.
  if (!touchesInSession(operations)) {
    const pieces = model.partition?.(operations) ?? [{ key: undefined, operations }];
    let linearizable = true;
    for (const piece of pieces) {
      const outcome = searchPartition(model, piece.key, piece.operations, budget);
      if (outcome.kind === 'unknown' && outcome.reason !== 'cache-limit') {
        return outcome;
      }
      if (outcome.kind !== 'ok') {
        linearizable = false;
        break;
      }
    }
    if (linearizable) {
      return { kind: 'ok' };
    }
  }
  // Program order lets any operation at the head of its process move to the front of
  // every valid completion; a read changes nothing, so a read that fits now can be
  // committed to without trying the others. Only the reads of the built-in models are
  // known to change nothing; another model's search tries every order.
  const readKind = builtInReadKinds.get(model.name);
  const outcome = searchOrder(
    model,
    operations,
    frontier,
    budget,
    readKind === undefined ? undefined : (operation) => operation.kind === readKind,
  );
  if (outcome.kind !== 'violation') {
    return outcome;
  }
  return {
    kind: 'violation',
    build: () => explain(model, part, operations, frontier, outcome.bestCursors),
  };
}

function explain<State>(
  model: Model<State>,
  part: ConnectedPart,
  operations: readonly Operation[],
  frontier: PlacementFrontier,
  bestCursors: Int32Array,
): ViolationExplanation {
  const where =
    part.key !== undefined
      ? `key ${JSON.stringify(part.key)}: `
      : part.keys.length > 1
        ? `keys ${part.keys.map((key) => JSON.stringify(key)).join(', ')} (connected by the processes that use them): `
        : '';
  return explainPrefix(
    model,
    part.key,
    operations,
    frontier,
    bestCursors,
    (_placed, linearized, state) => {
      // After the prefix, the frontier offers the next operation of every process.
      const next: Operation[] = [];
      for (let cursor = frontier.first(); cursor !== -1; cursor = frontier.after(cursor)) {
        next.push(operations[frontier.operationAt(cursor)] as Operation);
      }
      const definite = next.filter((operation) => operation.status === 'ok');
      // Some process has an ok operation left (else the search would have succeeded), and
      // its next one is ok: a process's unknown operations are chains of their own.
      const blocking = (definite.find((operation) => !model.step(state, operation).legal) ??
        definite[0]) as Operation;
      return {
        blocking,
        next,
        message: (stateText, candidateText) =>
          `${where}not sequentially consistent for the ${model.name} model. ` +
          `The longest order found that keeps each process's operations in program order places ${linearized.length} of ${operations.length} operations and leaves the state at ${stateText}. ` +
          `Then ${describeOperation(blocking)} completed, so it must take effect, but no process can go on: ` +
          `the next operation of each process is\n${candidateText}`,
      };
    },
  );
}
