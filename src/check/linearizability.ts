/**
 * The linearizability checker: a Wing-Gong search with Lowe's memoisation, over a
 * doubly linked list of call and return entries, without recursion.
 *
 * Each operation contributes a call entry at its invocation and a return entry at its
 * completion (+infinity for an unknown outcome), in time order. The search walks the
 * list: at a call entry it tries to linearize that operation next (the model's step must
 * be legal), and if so removes ("lifts") both of its entries and starts again from the
 * front; at a return entry it has met an operation that must already have taken effect
 * but has not, so it undoes the most recent choice and tries the next candidate. A cache
 * of (set of linearized operations, model state) prunes configurations already explored.
 *
 * @module
 */

import {
  type Clock,
  InvalidArgumentError,
  requireInteger,
  requireNumber,
  requireOptions,
} from '../core/index.js';
import { describeOperation, type Operation } from './history.js';
import type { HistoryPartition, Model, StateKey } from './models.js';

/** Options for {@link checkLinearizability}. */
export interface CheckOptions {
  /**
   * Most model steps the whole check may take before it gives up with verdict
   * `'unknown'`. Default 10,000,000 (a few seconds).
   */
  readonly stepCountMax?: number;
  /**
   * Most memoised configurations kept per partition before the check gives up with
   * `'unknown'`. Default 4,000,000.
   */
  readonly cacheEntryCountMax?: number;
  /** The clock that measures `timeBudgetMs`; required with it. */
  readonly clock?: Clock;
  /** Most time the check may take on `clock` before it gives up with `'unknown'`. */
  readonly timeBudgetMs?: number;
  /** Check each of the model's partitions alone when it defines them. Default true. */
  readonly partition?: boolean;
}

/** A step of the longest linearization found: the operation and the state after it. */
export interface LinearizedStep {
  /** The operation. */
  readonly operation: Operation;
  /** The model state after it, for people. */
  readonly stateAfter: string;
}

/** An operation that could have come next after the longest linearization, and whether it fits. */
export interface Candidate {
  /** The operation. */
  readonly operation: Operation;
  /** Whether the model accepts it from the state after the longest linearization. */
  readonly legal: boolean;
}

/** Why a history is not linearizable, in terms a person can follow. */
export interface ViolationExplanation {
  /** The partition's key, or `undefined` when the history was checked as one part. */
  readonly key: string | undefined;
  /** The longest prefix of a linearization found, in order. */
  readonly linearized: readonly LinearizedStep[];
  /** The model state after that prefix, for people. */
  readonly stateAfterLinearized: string;
  /**
   * The first operation (by completion time) left out of the longest prefix: it had
   * completed, so it must already have taken effect, but no order could place it.
   */
  readonly blocking: Operation;
  /** The operations invoked before `blocking` completed and not yet linearized. */
  readonly candidates: readonly Candidate[];
  /** The operations of the partition that no linearization found could place. */
  readonly unplaced: readonly Operation[];
  /** A paragraph saying all of the above. */
  readonly message: string;
}

/** Counts common to every verdict. */
export interface CheckStatistics {
  /** Model steps taken. */
  readonly stepCount: number;
  /** Partitions checked (1 when the model does not partition). */
  readonly partitionCount: number;
  /** Operations checked, after dropping failed ones. */
  readonly operationCount: number;
}

/** The history is linearizable. */
export interface CheckOk extends CheckStatistics {
  /** `'ok'`. */
  readonly verdict: 'ok';
}

/** The history is not linearizable. */
export interface CheckViolation extends CheckStatistics {
  /** `'violation'`. */
  readonly verdict: 'violation';
  /** What went wrong, and where. */
  readonly explanation: ViolationExplanation;
}

/** The check ran out of budget before it could decide. */
export interface CheckUnknown extends CheckStatistics {
  /** `'unknown'`. */
  readonly verdict: 'unknown';
  /** Which budget ran out. */
  readonly reason: 'step-budget' | 'time-budget' | 'cache-limit';
  /** The key of the partition being checked when it ran out; `undefined` for one part. */
  readonly key: string | undefined;
  /** What to do about it. */
  readonly message: string;
}

/** The verdict of {@link checkLinearizability}. */
export type CheckResult = CheckOk | CheckViolation | CheckUnknown;

const stepCountMaxDefault = 10_000_000;
const cacheEntryCountMaxDefault = 4_000_000;
/** How many steps pass between two readings of the clock. */
const clockCheckInterval = 1024;

interface Budget {
  stepCount: number;
  readonly stepCountMax: number;
  readonly cacheEntryCountMax: number;
  readonly clock: Clock | undefined;
  readonly deadlineMs: number;
}

type PartitionOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unknown'; readonly reason: CheckUnknown['reason'] }
  | { readonly kind: 'violation'; readonly build: () => ViolationExplanation };

/**
 * Checks whether `operations` is linearizable with respect to `model`: whether every
 * operation that completed `ok` can be given one instant between its invocation and its
 * completion such that applying them in that order to the model explains every output.
 * Failed operations are dropped; operations of unknown outcome may take effect at any
 * instant after their invocation, or never.
 *
 * Never runs forever: a step budget (and optionally a time budget on an injected clock)
 * ends the search with verdict `'unknown'`.
 *
 * @example
 * ```ts
 * const result = checkLinearizability(casRegisterModel(), parseJepsenLog(text));
 * if (result.verdict === 'violation') console.log(result.explanation.message);
 * ```
 */
export function checkLinearizability<State>(
  model: Model<State>,
  operations: readonly Operation[],
  options?: CheckOptions,
): CheckResult {
  const checked = requireOptions('checkLinearizability options', options);
  if (
    typeof model !== 'object' ||
    model === null ||
    typeof model.step !== 'function' ||
    typeof model.init !== 'function' ||
    typeof model.stateKey !== 'function'
  ) {
    throw new InvalidArgumentError(
      'model',
      'checkLinearizability needs a model with init, step and stateKey; use casRegisterModel(), kvModel(), ...',
    );
  }
  if (!Array.isArray(operations)) {
    throw new InvalidArgumentError('operations', 'operations must be an array of Operation.');
  }
  const stepCountMax = requireInteger(
    'checkLinearizability options.stepCountMax',
    checked.stepCountMax ?? stepCountMaxDefault,
    { min: 1 },
  );
  const cacheEntryCountMax = requireInteger(
    'checkLinearizability options.cacheEntryCountMax',
    checked.cacheEntryCountMax ?? cacheEntryCountMaxDefault,
    { min: 1 },
  );
  let deadlineMs = Number.POSITIVE_INFINITY;
  if (checked.timeBudgetMs !== undefined || checked.clock !== undefined) {
    if (checked.clock === undefined || checked.timeBudgetMs === undefined) {
      throw new InvalidArgumentError(
        'checkLinearizability options.clock',
        'options.clock and options.timeBudgetMs go together: pass both or neither.',
      );
    }
    const budgetMs = requireNumber(
      'checkLinearizability options.timeBudgetMs',
      checked.timeBudgetMs,
      { min: 0 },
    );
    deadlineMs = checked.clock.nowMs() + budgetMs;
  }
  const budget: Budget = {
    stepCount: 0,
    stepCountMax,
    cacheEntryCountMax,
    clock: checked.clock,
    deadlineMs,
  };

  const kept = operations.filter((operation, index) => {
    validateOperation(operation, index);
    return operation.status !== 'fail';
  });
  const partitions: readonly { key: string | undefined; operations: readonly Operation[] }[] =
    checked.partition !== false && model.partition !== undefined
      ? (model.partition(kept) as readonly HistoryPartition[])
      : [{ key: undefined, operations: kept }];

  let unknown: { reason: CheckUnknown['reason']; key: string | undefined } | undefined;
  const statistics = (): CheckStatistics => ({
    stepCount: budget.stepCount,
    partitionCount: partitions.length,
    operationCount: kept.length,
  });
  for (const part of partitions) {
    const outcome = searchPartition(model, part.key, part.operations, budget);
    if (outcome.kind === 'violation') {
      return { verdict: 'violation', explanation: outcome.build(), ...statistics() };
    }
    if (outcome.kind === 'unknown') {
      unknown = { reason: outcome.reason, key: part.key };
      // A step or time budget is shared: once spent, no later partition can finish.
      if (outcome.reason !== 'cache-limit') {
        break;
      }
    }
  }
  if (unknown !== undefined) {
    const where = unknown.key === undefined ? '' : ` (key ${JSON.stringify(unknown.key)})`;
    const advice =
      unknown.reason === 'step-budget'
        ? `raise options.stepCountMax (${stepCountMax})`
        : unknown.reason === 'time-budget'
          ? 'raise options.timeBudgetMs'
          : `raise options.cacheEntryCountMax (${cacheEntryCountMax})`;
    return {
      verdict: 'unknown',
      reason: unknown.reason,
      key: unknown.key,
      message: `The search ran out of its ${unknown.reason.replace('-', ' ')}${where} before it could decide; ${advice} or check a shorter history.`,
      ...statistics(),
    };
  }
  return { verdict: 'ok', ...statistics() };
}

function validateOperation(operation: Operation, index: number): void {
  const name = `operations[${index}]`;
  if (typeof operation !== 'object' || operation === null) {
    throw new InvalidArgumentError(name, `${name} must be an Operation object.`);
  }
  if (operation.status !== 'ok' && operation.status !== 'fail' && operation.status !== 'unknown') {
    throw new InvalidArgumentError(
      `${name}.status`,
      `${name}.status must be 'ok', 'fail' or 'unknown'.`,
    );
  }
  requireNumber(`${name}.invokeTime`, operation.invokeTime);
  if (operation.status === 'ok') {
    const returnTime = requireNumber(`${name}.returnTime`, operation.returnTime);
    if (returnTime < operation.invokeTime) {
      throw new InvalidArgumentError(
        `${name}.returnTime`,
        `${name} returns (${returnTime}) before it is invoked (${operation.invokeTime}).`,
      );
    }
  }
}

/** A deterministic 32-bit generator for the Zobrist codes of the cache's hash. */
function zobristCodes(count: number): Int32Array {
  const codes = new Int32Array(count);
  let x = 0x9e3779b9 | 0;
  for (let index = 0; index < count; index += 1) {
    // xorshift32: enough spread for hashing; the cache compares keys exactly anyway.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    codes[index] = x;
  }
  return codes;
}

function searchPartition<State>(
  model: Model<State>,
  key: string | undefined,
  partitionOperations: readonly Operation[],
  budget: Budget,
): PartitionOutcome {
  const operations = [...partitionOperations].sort(
    (left, right) => left.invokeTime - right.invokeTime,
  );
  const count = operations.length;
  if (count === 0) {
    return { kind: 'ok' };
  }
  const returnTimeOf = (operation: Operation): number =>
    operation.status === 'unknown' ? Number.POSITIVE_INFINITY : (operation.returnTime as number);

  // Entries 1..2n; entry 0 is the head of the list; -1 ends it.
  const entryCount = 2 * count;
  const order: number[] = [];
  for (let index = 0; index < entryCount; index += 1) {
    order.push(index);
  }
  const timeOfEntry = (entry: number): number => {
    const operation = operations[entry >> 1] as Operation;
    return (entry & 1) === 0 ? operation.invokeTime : returnTimeOf(operation);
  };
  // At equal times calls come first: operations that touch in time are taken as concurrent.
  order.sort((left, right) => {
    const difference = timeOfEntry(left) - timeOfEntry(right);
    if (difference !== 0 && !Number.isNaN(difference)) {
      return difference;
    }
    if ((left & 1) !== (right & 1)) {
      return (left & 1) - (right & 1);
    }
    return left - right;
  });
  const isCall = new Uint8Array(entryCount + 1);
  const operationOf = new Int32Array(entryCount + 1);
  const matchOf = new Int32Array(entryCount + 1);
  const next = new Int32Array(entryCount + 1);
  const previous = new Int32Array(entryCount + 1);
  const returnEntryOf = new Int32Array(count);
  order.forEach((raw, position) => {
    const entry = position + 1;
    operationOf[entry] = raw >> 1;
    if ((raw & 1) === 0) {
      isCall[entry] = 1;
    } else {
      returnEntryOf[raw >> 1] = entry;
    }
  });
  for (let entry = 1; entry <= entryCount; entry += 1) {
    if (isCall[entry] === 1) {
      matchOf[entry] = returnEntryOf[operationOf[entry] as number] as number;
    }
  }
  for (let entry = 0; entry <= entryCount; entry += 1) {
    next[entry] = entry === entryCount ? -1 : entry + 1;
    previous[entry] = entry - 1;
  }

  const lift = (call: number): void => {
    const ret = matchOf[call] as number;
    next[previous[call] as number] = next[call] as number;
    if ((next[call] as number) !== -1) {
      previous[next[call] as number] = previous[call] as number;
    }
    next[previous[ret] as number] = next[ret] as number;
    if ((next[ret] as number) !== -1) {
      previous[next[ret] as number] = previous[ret] as number;
    }
  };
  const unlift = (call: number): void => {
    const ret = matchOf[call] as number;
    next[previous[ret] as number] = ret;
    if ((next[ret] as number) !== -1) {
      previous[next[ret] as number] = ret;
    }
    next[previous[call] as number] = call;
    if ((next[call] as number) !== -1) {
      previous[next[call] as number] = call;
    }
  };

  const isDefinite = new Uint8Array(count);
  let definiteRemaining = 0;
  operations.forEach((operation, index) => {
    if (operation.status === 'ok') {
      isDefinite[index] = 1;
      definiteRemaining += 1;
    }
  });

  const wordCount = (count + 31) >>> 5;
  const bits = new Uint32Array(wordCount);
  const codes = zobristCodes(count);
  let hash = 0;
  // The cache of explored configurations, kept in flat arrays rather than an object and
  // a typed array per entry: an entry's bits live at `entry * wordCount` in `cacheBits`,
  // and entries with the same hash form a chain through `cacheNext`.
  const cacheHead = new Map<number, number>();
  let cacheBits = new Uint32Array(Math.max(1024, wordCount * 256));
  const cacheStateKeys: StateKey[] = [];
  const cacheNext: number[] = [];
  let cacheEntryCount = 0;
  const seenBefore = (nextHash: number, stateKey: StateKey): boolean => {
    let cached = cacheHead.get(nextHash) ?? -1;
    while (cached !== -1) {
      if (cacheStateKeys[cached] === stateKey) {
        const offset = cached * wordCount;
        let same = true;
        for (let word = 0; word < wordCount; word += 1) {
          if (cacheBits[offset + word] !== bits[word]) {
            same = false;
            break;
          }
        }
        if (same) {
          return true;
        }
      }
      cached = cacheNext[cached] as number;
    }
    return false;
  };
  const remember = (nextHash: number, stateKey: StateKey): void => {
    const offset = cacheEntryCount * wordCount;
    if (offset + wordCount > cacheBits.length) {
      const grown = new Uint32Array(cacheBits.length * 2);
      grown.set(cacheBits);
      cacheBits = grown;
    }
    cacheBits.set(bits, offset);
    cacheStateKeys.push(stateKey);
    cacheNext.push(cacheHead.get(nextHash) ?? -1);
    cacheHead.set(nextHash, cacheEntryCount);
    cacheEntryCount += 1;
  };

  const stackCall = new Int32Array(count);
  const stackState: State[] = new Array(count);
  let depth = 0;
  let state = model.init();

  let bestDepth = -1;
  let bestCalls: Int32Array = new Int32Array(0);
  const recordBest = (): void => {
    bestDepth = depth;
    bestCalls = stackCall.slice(0, depth);
  };
  recordBest();

  let entry = next[0] as number;
  for (;;) {
    if (definiteRemaining === 0) {
      return { kind: 'ok' };
    }
    if (entry !== -1 && isCall[entry] === 1) {
      if (budget.stepCount >= budget.stepCountMax) {
        return { kind: 'unknown', reason: 'step-budget' };
      }
      budget.stepCount += 1;
      if (
        budget.clock !== undefined &&
        budget.stepCount % clockCheckInterval === 0 &&
        budget.clock.nowMs() >= budget.deadlineMs
      ) {
        return { kind: 'unknown', reason: 'time-budget' };
      }
      const index = operationOf[entry] as number;
      const result = model.step(state, operations[index] as Operation);
      if (result.legal) {
        const word = index >>> 5;
        const mask = 1 << (index & 31);
        bits[word] = (bits[word] as number) | mask;
        const nextHash = hash ^ (codes[index] as number);
        const stateKey = model.stateKey(result.state);
        if (!seenBefore(nextHash, stateKey)) {
          if (cacheEntryCount >= budget.cacheEntryCountMax) {
            return { kind: 'unknown', reason: 'cache-limit' };
          }
          remember(nextHash, stateKey);
          stackCall[depth] = entry;
          stackState[depth] = state;
          depth += 1;
          hash = nextHash;
          state = result.state;
          lift(entry);
          if (isDefinite[index] === 1) {
            definiteRemaining -= 1;
          }
          if (depth > bestDepth) {
            recordBest();
          }
          entry = next[0] as number;
          continue;
        }
        bits[word] = (bits[word] as number) & ~mask;
      }
      entry = next[entry] as number;
      continue;
    }
    // A return entry (or the end): its operation must have taken effect already. Undo
    // the latest choice and try the candidate after it.
    if (depth === 0) {
      return {
        kind: 'violation',
        build: () => explain(model, key, operations, bestCalls, operationOf),
      };
    }
    depth -= 1;
    const call = stackCall[depth] as number;
    state = stackState[depth] as State;
    stackState[depth] = undefined as State;
    const index = operationOf[call] as number;
    bits[index >>> 5] = (bits[index >>> 5] as number) & ~(1 << (index & 31));
    hash ^= codes[index] as number;
    unlift(call);
    if (isDefinite[index] === 1) {
      definiteRemaining += 1;
    }
    entry = next[call] as number;
  }
}

function explain<State>(
  model: Model<State>,
  key: string | undefined,
  operations: readonly Operation[],
  bestCalls: Int32Array,
  operationOf: Int32Array,
): ViolationExplanation {
  const placed = new Set<number>();
  const linearized: LinearizedStep[] = [];
  let state = model.init();
  for (const call of bestCalls) {
    const index = operationOf[call] as number;
    const operation = operations[index] as Operation;
    placed.add(index);
    state = model.step(state, operation).state;
    linearized.push({ operation, stateAfter: model.describeState(state) });
  }
  const unplacedIndexes = operations
    .map((_operation, index) => index)
    .filter((index) => !placed.has(index));
  const returnTime = (operation: Operation): number =>
    operation.status === 'unknown' ? Number.POSITIVE_INFINITY : (operation.returnTime as number);
  let blockingIndex = unplacedIndexes[0] as number;
  for (const index of unplacedIndexes) {
    if (
      returnTime(operations[index] as Operation) <
      returnTime(operations[blockingIndex] as Operation)
    ) {
      blockingIndex = index;
    }
  }
  const blocking = operations[blockingIndex] as Operation;
  const candidates: Candidate[] = unplacedIndexes
    .map((index) => operations[index] as Operation)
    .filter((operation) => operation.invokeTime <= returnTime(blocking))
    .map((operation) => ({ operation, legal: model.step(state, operation).legal }));
  const unplaced = unplacedIndexes.map((index) => operations[index] as Operation);
  const stateText = model.describeState(state);
  const where = key === undefined ? '' : `key ${JSON.stringify(key)}: `;
  const candidateText = candidates
    .map(
      (candidate) =>
        `  - ${describeOperation(candidate.operation)}: ${candidate.legal ? 'fits, but leads to a dead end later' : 'impossible from this state'}`,
    )
    .join('\n');
  const message =
    `${where}not linearizable for the ${model.name} model. ` +
    `The longest order found places ${linearized.length} of ${operations.length} operations and leaves the state at ${stateText}. ` +
    `Then ${describeOperation(blocking)} has completed, so it must take effect before anything that starts later, ` +
    `but no order of the operations in flight places it:\n${candidateText}`;
  return {
    key,
    linearized,
    stateAfterLinearized: stateText,
    blocking,
    candidates,
    unplaced,
    message,
  };
}
