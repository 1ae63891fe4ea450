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
   * completed, so it must already have taken effect, but no order could place it. For
   * `checkSequentialConsistency`: the `ok` operation at the head of its process
   * that the model rejects from that state (the earliest invoked when every one fits).
   */
  readonly blocking: Operation;
  /**
   * The operations invoked before `blocking` completed and not yet linearized; for
   * `checkSequentialConsistency`, the next operation of every process.
   */
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

/**
 * The limits of one check, shared by its partitions: a step or time budget once spent
 * ends the whole check.
 *
 * @internal
 */
export interface SearchBudget {
  /** Model steps taken so far. */
  stepCount: number;
  /** Most model steps. */
  readonly stepCountMax: number;
  /** Most memoised configurations per partition. */
  readonly cacheEntryCountMax: number;
  /** The clock of the time budget, if any. */
  readonly clock: Clock | undefined;
  /** When the time budget runs out on `clock`; +infinity without one. */
  readonly deadlineMs: number;
}

/**
 * A validated check: its budget and the operations left after dropping failed ones.
 *
 * @internal
 */
export interface PreparedCheck {
  /** The budget every partition draws on. */
  readonly budget: SearchBudget;
  /** The operations that did not fail, in the order given. */
  readonly kept: readonly Operation[];
}

/**
 * Validates the model, the operations and the options of a search-based checker
 * (`name` is the public function, for messages) and builds its budget.
 *
 * @internal
 */
export function prepareCheck<State>(
  name: string,
  model: Model<State>,
  operations: readonly Operation[],
  options: CheckOptions | undefined,
): PreparedCheck & { readonly options: CheckOptions } {
  const checked = requireOptions(`${name} options`, options);
  if (
    typeof model !== 'object' ||
    model === null ||
    typeof model.step !== 'function' ||
    typeof model.init !== 'function' ||
    typeof model.stateKey !== 'function'
  ) {
    throw new InvalidArgumentError(
      'model',
      `${name} needs a model with init, step and stateKey; use casRegisterModel(), kvModel(), ...`,
    );
  }
  if (!Array.isArray(operations)) {
    throw new InvalidArgumentError('operations', 'operations must be an array of Operation.');
  }
  const stepCountMax = requireInteger(
    `${name} options.stepCountMax`,
    checked.stepCountMax ?? stepCountMaxDefault,
    { min: 1 },
  );
  const cacheEntryCountMax = requireInteger(
    `${name} options.cacheEntryCountMax`,
    checked.cacheEntryCountMax ?? cacheEntryCountMaxDefault,
    { min: 1 },
  );
  let deadlineMs = Number.POSITIVE_INFINITY;
  if (checked.timeBudgetMs !== undefined || checked.clock !== undefined) {
    if (checked.clock === undefined || checked.timeBudgetMs === undefined) {
      throw new InvalidArgumentError(
        `${name} options.clock`,
        'options.clock and options.timeBudgetMs go together: pass both or neither.',
      );
    }
    const budgetMs = requireNumber(`${name} options.timeBudgetMs`, checked.timeBudgetMs, {
      min: 0,
    });
    deadlineMs = checked.clock.nowMs() + budgetMs;
  }
  const kept = operations.filter((operation, index) => {
    validateOperation(operation, index);
    return operation.status !== 'fail';
  });
  return {
    budget: { stepCount: 0, stepCountMax, cacheEntryCountMax, clock: checked.clock, deadlineMs },
    kept,
    options: checked,
  };
}

/**
 * One part of a history searched on its own, and how its search turned out.
 *
 * @internal
 */
export interface SearchPart {
  /** The key for explanations; `undefined` when the part is not one key. */
  readonly key: string | undefined;
  /** Searches the part. */
  readonly search: () => PartitionOutcome;
}

/**
 * Searches each part in turn and turns the outcomes into one verdict: the first
 * violation, else `'unknown'` when a budget ran out, else `'ok'`.
 *
 * @internal
 */
export function decideParts(prepared: PreparedCheck, parts: readonly SearchPart[]): CheckResult {
  const { budget } = prepared;
  let unknown: { reason: CheckUnknown['reason']; key: string | undefined } | undefined;
  const statistics = (): CheckStatistics => ({
    stepCount: budget.stepCount,
    partitionCount: parts.length,
    operationCount: prepared.kept.length,
  });
  for (const part of parts) {
    const outcome = part.search();
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
        ? `raise options.stepCountMax (${budget.stepCountMax})`
        : unknown.reason === 'time-budget'
          ? 'raise options.timeBudgetMs'
          : `raise options.cacheEntryCountMax (${budget.cacheEntryCountMax})`;
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

/**
 * How one part's search ended.
 *
 * @internal
 */
export type PartitionOutcome =
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
  const prepared = prepareCheck('checkLinearizability', model, operations, options);
  const partitions: readonly { key: string | undefined; operations: readonly Operation[] }[] =
    prepared.options.partition !== false && model.partition !== undefined
      ? (model.partition(prepared.kept) as readonly HistoryPartition[])
      : [{ key: undefined, operations: prepared.kept }];
  return decideParts(
    prepared,
    partitions.map((part) => ({
      key: part.key,
      search: () => searchPartition(model, part.key, part.operations, prepared.budget),
    })),
  );
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

/**
 * The precedence a search respects, as a set of operations that may come next. A cursor
 * names one of them; taking it places its operation, and restoring undoes the latest take.
 * Linearizability's is real time; sequential consistency's is each process's program
 * order.
 *
 * @internal
 */
export interface PlacementFrontier {
  /** The cursor of the first operation that may come next; -1 when none may. */
  first(): number;
  /** The cursor of the operation that may come next after `cursor`'s; -1 when none. */
  after(cursor: number): number;
  /** The index (in the part's operations) of `cursor`'s operation, while it is not taken. */
  operationAt(cursor: number): number;
  /** Places `cursor`'s operation. */
  take(cursor: number): void;
  /** Undoes the latest `take`, which took `cursor`. */
  restore(cursor: number): void;
}

/**
 * How a search ended: the order found, a budget that ran out, or the longest prefix of an
 * order (as cursors, in order) when no order exists.
 *
 * @internal
 */
export type SearchOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unknown'; readonly reason: CheckUnknown['reason'] }
  | { readonly kind: 'violation'; readonly bestCursors: Int32Array };

/**
 * The search shared by the checkers, without recursion: place an operation the frontier
 * offers when the model accepts it and the (placed set, state) configuration is new,
 * start again from the frontier's first cursor, and undo the latest placement when the
 * frontier offers nothing more. Done when every `ok` operation is placed.
 *
 * With `commitEarly`, a legal operation it accepts is placed without trying the
 * alternatives. Sound only for operations that never change the state (reads) and a
 * frontier that lets any operation it offers move to the front of every valid completion
 * (program order, not real time): then if any completion exists, one starts with it.
 *
 * @internal
 */
export function searchOrder<State>(
  model: Model<State>,
  operations: readonly Operation[],
  frontier: PlacementFrontier,
  budget: SearchBudget,
  commitEarly: ((operation: Operation) => boolean) | undefined,
): SearchOutcome {
  const count = operations.length;
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

  const stackCursor = new Int32Array(count);
  const stackCommitted = new Uint8Array(count);
  const stackState: State[] = new Array(count);
  let depth = 0;
  let state = model.init();

  let bestDepth = -1;
  let bestCursors: Int32Array = new Int32Array(0);
  const recordBest = (): void => {
    bestDepth = depth;
    bestCursors = stackCursor.slice(0, depth);
  };
  recordBest();

  let cursor = frontier.first();
  for (;;) {
    if (definiteRemaining === 0) {
      return { kind: 'ok' };
    }
    if (cursor !== -1) {
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
      const index = frontier.operationAt(cursor);
      const operation = operations[index] as Operation;
      const result = model.step(state, operation);
      if (result.legal) {
        const word = index >>> 5;
        const mask = 1 << (index & 31);
        bits[word] = (bits[word] as number) | mask;
        const nextHash = hash ^ (codes[index] as number);
        const nextStateKey = model.stateKey(result.state);
        const committed = commitEarly?.(operation) === true;
        if (!seenBefore(nextHash, nextStateKey)) {
          if (cacheEntryCount >= budget.cacheEntryCountMax) {
            return { kind: 'unknown', reason: 'cache-limit' };
          }
          remember(nextHash, nextStateKey);
          stackCursor[depth] = cursor;
          stackCommitted[depth] = committed ? 1 : 0;
          stackState[depth] = state;
          depth += 1;
          hash = nextHash;
          state = result.state;
          frontier.take(cursor);
          if (isDefinite[index] === 1) {
            definiteRemaining -= 1;
          }
          if (depth > bestDepth) {
            recordBest();
          }
          cursor = frontier.first();
          continue;
        }
        bits[word] = (bits[word] as number) & ~mask;
        // Every completion from here could start with this operation, and that
        // configuration failed before: so does this one.
        cursor = committed ? -1 : frontier.after(cursor);
        continue;
      }
      cursor = frontier.after(cursor);
      continue;
    }
    // Nothing more may come next, but an `ok` operation is left: undo the latest choice
    // and try the candidate after it.
    if (depth === 0) {
      return { kind: 'violation', bestCursors };
    }
    depth -= 1;
    const taken = stackCursor[depth] as number;
    state = stackState[depth] as State;
    stackState[depth] = undefined as State;
    frontier.restore(taken);
    const index = frontier.operationAt(taken);
    bits[index >>> 5] = (bits[index >>> 5] as number) & ~(1 << (index & 31));
    hash ^= codes[index] as number;
    if (isDefinite[index] === 1) {
      definiteRemaining += 1;
    }
    cursor = stackCommitted[depth] === 1 ? -1 : frontier.after(taken);
  }
}

/**
 * What a checker says about the longest prefix a search found: the operation that blocks
 * it, the operations that could have come next, and the paragraph for people.
 *
 * @internal
 */
export interface PrefixReading {
  /** The operation no order could place. */
  readonly blocking: Operation;
  /** The operations that could have come next, judged from the state after the prefix. */
  readonly next: readonly Operation[];
  /** The paragraph, given the state after the prefix and the lines listing the candidates. */
  readonly message: (stateText: string, candidateText: string) => string;
}

/**
 * Builds the explanation of a violation: replays the longest prefix a search found (as
 * cursors of `frontier`, which it leaves after the prefix), lets `read` say what blocks
 * it, and judges each candidate from the state after it.
 *
 * @internal
 */
export function explainPrefix<State>(
  model: Model<State>,
  key: string | undefined,
  operations: readonly Operation[],
  frontier: PlacementFrontier,
  bestCursors: Int32Array,
  read: (placed: Uint8Array, linearized: readonly LinearizedStep[], state: State) => PrefixReading,
): ViolationExplanation {
  const placed = new Uint8Array(operations.length);
  const linearized: LinearizedStep[] = [];
  let state = model.init();
  for (const cursor of bestCursors) {
    const index = frontier.operationAt(cursor);
    const operation = operations[index] as Operation;
    placed[index] = 1;
    state = model.step(state, operation).state;
    linearized.push({ operation, stateAfter: model.describeState(state) });
    frontier.take(cursor);
  }
  const reading = read(placed, linearized, state);
  const candidates = reading.next.map((operation) => ({
    operation,
    legal: model.step(state, operation).legal,
  }));
  const candidateText = candidates
    .map(
      (candidate) =>
        `  - ${describeOperation(candidate.operation)}: ${candidate.legal ? 'fits, but leads to a dead end later' : 'impossible from this state'}`,
    )
    .join('\n');
  const stateText = model.describeState(state);
  return {
    key,
    linearized,
    stateAfterLinearized: stateText,
    blocking: reading.blocking,
    candidates,
    unplaced: operations.filter((_operation, index) => placed[index] === 0),
    message: reading.message(stateText, candidateText),
  };
}

/** Real time as a frontier: Wing and Gong's doubly linked list of call and return entries. */
function realTimeFrontier(operations: readonly Operation[]): PlacementFrontier {
  const count = operations.length;
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
  // A return entry ends the candidates: its operation must have taken effect already.
  const after = (entry: number): number => {
    const following = next[entry] as number;
    return following !== -1 && isCall[following] === 1 ? following : -1;
  };
  return {
    first: () => after(0),
    after,
    operationAt: (entry) => operationOf[entry] as number,
    take(call) {
      const ret = matchOf[call] as number;
      next[previous[call] as number] = next[call] as number;
      if ((next[call] as number) !== -1) {
        previous[next[call] as number] = previous[call] as number;
      }
      next[previous[ret] as number] = next[ret] as number;
      if ((next[ret] as number) !== -1) {
        previous[next[ret] as number] = previous[ret] as number;
      }
    },
    restore(call) {
      const ret = matchOf[call] as number;
      next[previous[ret] as number] = ret;
      if ((next[ret] as number) !== -1) {
        previous[next[ret] as number] = ret;
      }
      next[previous[call] as number] = call;
      if ((next[call] as number) !== -1) {
        previous[next[call] as number] = call;
      }
    },
  };
}

/**
 * Searches one partition for a linearization.
 *
 * @internal
 */
export function searchPartition<State>(
  model: Model<State>,
  key: string | undefined,
  partitionOperations: readonly Operation[],
  budget: SearchBudget,
): PartitionOutcome {
  const operations = [...partitionOperations].sort(
    (left, right) => left.invokeTime - right.invokeTime,
  );
  if (operations.length === 0) {
    return { kind: 'ok' };
  }
  const frontier = realTimeFrontier(operations);
  const outcome = searchOrder(model, operations, frontier, budget, undefined);
  if (outcome.kind !== 'violation') {
    return outcome;
  }
  return {
    kind: 'violation',
    build: () => explain(model, key, operations, frontier, outcome.bestCursors),
  };
}

function explain<State>(
  model: Model<State>,
  key: string | undefined,
  operations: readonly Operation[],
  frontier: PlacementFrontier,
  bestCursors: Int32Array,
): ViolationExplanation {
  const returnTime = (operation: Operation): number =>
    operation.status === 'unknown' ? Number.POSITIVE_INFINITY : (operation.returnTime as number);
  return explainPrefix(model, key, operations, frontier, bestCursors, (placed, linearized) => {
    const unplaced = operations.filter((_operation, index) => placed[index] === 0);
    let blocking = unplaced[0] as Operation;
    for (const operation of unplaced) {
      if (returnTime(operation) < returnTime(blocking)) {
        blocking = operation;
      }
    }
    const where = key === undefined ? '' : `key ${JSON.stringify(key)}: `;
    return {
      blocking,
      next: unplaced.filter((operation) => operation.invokeTime <= returnTime(blocking)),
      message: (stateText, candidateText) =>
        `${where}not linearizable for the ${model.name} model. ` +
        `The longest order found places ${linearized.length} of ${operations.length} operations and leaves the state at ${stateText}. ` +
        `Then ${describeOperation(blocking)} has completed, so it must take effect before anything that starts later, ` +
        `but no order of the operations in flight places it:\n${candidateText}`,
    };
  });
}
