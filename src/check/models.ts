/**
 * Sequential specifications for the linearizability checker. A model says, for one
 * operation applied to one state, whether the operation's recorded output is possible and
 * what the state becomes. The checker searches for an order of the history's operations,
 * consistent with real time, in which every step is legal.
 *
 * An operation whose status is `unknown` has no trustworthy output: its step must be
 * legal from every state (apply its effect if it has one, and ignore its output).
 *
 * @module
 */

import { InvalidArgumentError } from '../core/index.js';
import type { Operation } from './history.js';

/** The result of applying one operation to a state. */
export interface StepResult<State> {
  /** False when the operation's recorded output is impossible from the state. */
  readonly legal: boolean;
  /** The state after the operation; ignored when `legal` is false. */
  readonly state: State;
}

/** A value the checker can use as a memoisation key: equal states give equal keys. */
export type StateKey = string | number | boolean | null | undefined;

/** The operations of one independent key, checked on their own. */
export interface HistoryPartition {
  /** The key, for the explanation of a violation. */
  readonly key: string;
  /** Its operations. */
  readonly operations: readonly Operation[];
}

/** A sequential specification. */
export interface Model<State> {
  /** A name for people, for example `'cas-register'`. */
  readonly name: string;
  /** The state before any operation. */
  init(): State;
  /** Applies `operation` to `state`; never mutates `state`. */
  step(state: State, operation: Operation): StepResult<State>;
  /** A key equal for equal states and different for different states (memoisation). */
  stateKey(state: State): StateKey;
  /** Renders a state for people, in explanations. */
  describeState(state: State): string;
  /**
   * Splits a history into independent parts, each checked on its own, when the model's
   * keys do not interact (a key-value store). Absent: the history is one part.
   */
  partition?(operations: readonly Operation[]): readonly HistoryPartition[];
}

function unsupported(model: string, operation: Operation): never {
  throw new InvalidArgumentError(
    'operation.kind',
    `The ${model} model has no operation ${JSON.stringify(operation.kind)} (process ${String(operation.process)}); use a model that defines it or rename the kind.`,
  );
}

/** Equality of history values: identical primitives, or arrays and objects with the same JSON. */
export function valuesEqual(left: unknown, right: unknown): boolean {
  if (left === right) {
    return true;
  }
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) {
    return false;
  }
  return JSON.stringify(left) === JSON.stringify(right);
}

function primitiveKey(value: unknown): StateKey {
  if (
    value === null ||
    value === undefined ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  ) {
    return value;
  }
  if (typeof value === 'string') {
    return `s${value}`;
  }
  return `j${JSON.stringify(value)}`;
}

function describeRegisterValue(value: unknown): string {
  return value === null || value === undefined ? 'nil' : JSON.stringify(value);
}

/** Options for {@link registerModel} and {@link casRegisterModel}. */
export interface RegisterModelOptions {
  /** The value before the first write. Default `null` (absent; Jepsen's `nil`). */
  readonly initial?: unknown;
}

function makeRegister(name: string, withCas: boolean, initial: unknown): Model<unknown> {
  return {
    name,
    init: () => initial,
    step(state, operation) {
      switch (operation.kind) {
        case 'read':
          return {
            legal: operation.status === 'unknown' || valuesEqual(operation.output ?? null, state),
            state,
          };
        case 'write':
          return { legal: true, state: operation.input ?? null };
        case 'cas': {
          if (!withCas) {
            return unsupported(name, operation);
          }
          const pair = operation.input;
          if (!Array.isArray(pair) || pair.length !== 2) {
            throw new InvalidArgumentError(
              'operation.input',
              `A cas takes [expected, next]; process ${String(operation.process)} gave ${JSON.stringify(pair)}.`,
            );
          }
          const matches = valuesEqual(pair[0] ?? null, state);
          // An ok cas succeeded, so the register held the expected value; a cas of unknown
          // outcome is legal from any state and writes only where it would have succeeded.
          if (operation.status === 'unknown') {
            return { legal: true, state: matches ? (pair[1] ?? null) : state };
          }
          return { legal: matches, state: matches ? (pair[1] ?? null) : state };
        }
        default:
          return unsupported(name, operation);
      }
    },
    stateKey: primitiveKey,
    describeState: describeRegisterValue,
  };
}

/**
 * One register with `read` (output: the value read; `null` for absent) and `write`
 * (input: the value written). Values compare by identity for primitives and by JSON for
 * arrays and objects.
 */
export function registerModel(options: RegisterModelOptions = {}): Model<unknown> {
  return makeRegister('register', false, options.initial ?? null);
}

/**
 * One register with `read`, `write` and `cas` (compare-and-set; input `[expected, next]`;
 * an `ok` cas succeeded, a `fail` cas took no effect and is dropped). Starts absent
 * (`null`), like the register of Jepsen's etcd test.
 */
export function casRegisterModel(options: RegisterModelOptions = {}): Model<unknown> {
  return makeRegister('cas-register', true, options.initial ?? null);
}

/** The state of {@link kvModel}: the value of every key written so far. */
export type KvState = Readonly<Record<string, string>>;

/**
 * A key-value store of strings: `get` (output: the value; a missing key reads as `""`),
 * `put` (input: the new value) and `append` (input: the suffix), each on `operation.key`.
 * Keys are independent, so the model partitions a history per key and the checker
 * checks each alone (the state of a partition then holds one key).
 */
export function kvModel(): Model<KvState> {
  const valueAt = (state: KvState, key: string): string =>
    Object.hasOwn(state, key) ? (state[key] as string) : '';
  const withValue = (state: KvState, key: string, value: string): KvState => ({
    ...state,
    [key]: value,
  });
  return {
    name: 'kv',
    init: () => ({}),
    step(state, operation) {
      const key = operation.key ?? '';
      switch (operation.kind) {
        case 'get':
          return {
            legal:
              operation.status === 'unknown' || (operation.output ?? '') === valueAt(state, key),
            state,
          };
        case 'put':
          return { legal: true, state: withValue(state, key, String(operation.input ?? '')) };
        case 'append':
          return {
            legal: true,
            state: withValue(state, key, valueAt(state, key) + String(operation.input ?? '')),
          };
        default:
          return unsupported('kv', operation);
      }
    },
    stateKey(state) {
      const keys = Object.keys(state);
      if (keys.length === 1) {
        const only = keys[0] as string;
        return `${only.length}:${only}=${state[only] as string}`;
      }
      return JSON.stringify(keys.sort().map((key) => [key, state[key]]));
    },
    describeState(state) {
      const keys = Object.keys(state).sort();
      return keys.length === 1
        ? JSON.stringify(state[keys[0] as string])
        : `{${keys.map((key) => `${JSON.stringify(key)}: ${JSON.stringify(state[key])}`).join(', ')}}`;
    },
    partition(operations) {
      const byKey = new Map<string, Operation[]>();
      for (const operation of operations) {
        const key = operation.key ?? '';
        let list = byKey.get(key);
        if (list === undefined) {
          list = [];
          byKey.set(key, list);
        }
        list.push(operation);
      }
      return [...byKey.entries()]
        .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
        .map(([key, list]) => ({ key, operations: list }));
    },
  };
}

/** Options for {@link counterModel}. */
export interface CounterModelOptions {
  /** The value before the first operation. Default 0. */
  readonly initial?: number;
}

/**
 * A counter: `add` (input: the amount, default 1) and `read` (output: the value).
 */
export function counterModel(options: CounterModelOptions = {}): Model<number> {
  const initial = options.initial ?? 0;
  return {
    name: 'counter',
    init: () => initial,
    step(state, operation) {
      switch (operation.kind) {
        case 'add':
          return { legal: true, state: state + Number(operation.input ?? 1) };
        case 'read':
          return { legal: operation.status === 'unknown' || operation.output === state, state };
        default:
          return unsupported('counter', operation);
      }
    },
    stateKey: (state) => state,
    describeState: (state) => String(state),
  };
}

/**
 * A set: `add` and `remove` (input: the element) and `read` (output: an array of the
 * elements in any order). Elements compare by their JSON text.
 */
export function setModel(): Model<readonly string[]> {
  const normalise = (elements: readonly string[]): readonly string[] => [...elements].sort();
  return {
    name: 'set',
    init: () => [],
    step(state, operation) {
      switch (operation.kind) {
        case 'add': {
          const element = JSON.stringify(operation.input ?? null);
          return {
            legal: true,
            state: state.includes(element) ? state : normalise([...state, element]),
          };
        }
        case 'remove': {
          const element = JSON.stringify(operation.input ?? null);
          return { legal: true, state: state.filter((item) => item !== element) };
        }
        case 'read': {
          if (operation.status === 'unknown') {
            return { legal: true, state };
          }
          const output = operation.output;
          if (!Array.isArray(output)) {
            return { legal: false, state };
          }
          const read = normalise([...new Set(output.map((item) => JSON.stringify(item ?? null)))]);
          return {
            legal:
              read.length === state.length && read.every((item, index) => item === state[index]),
            state,
          };
        }
        default:
          return unsupported('set', operation);
      }
    },
    stateKey: (state) => state.join('\u0000'),
    describeState: (state) => `#{${state.join(' ')}}`,
  };
}
