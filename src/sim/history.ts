/**
 * A history recorder for simulated runs: every client operation as an invocation and a
 * completion (`ok`, `fail`, or `info` for an unknown outcome), stamped with simulated true
 * time, ready for the checkers of `distkit/check` and writable as the JSON Lines that
 * `parseJsonLinesHistory` reads back.
 *
 * @module
 */

import {
  type HistoryEvent,
  type HistoryEventType,
  historyFromEvents,
  type Operation,
} from '../check/index.js';
import {
  type Clock,
  describeValue,
  InvalidArgumentError,
  LimitExceededError,
  requireInteger,
  requireOneOf,
  requireOptions,
  requireString,
} from '../core/index.js';

/** Options for {@link HistoryRecorder}. */
export interface HistoryRecorderOptions {
  /**
   * The clock that stamps each event: in a simulation, `simulation.clock` (simulated true
   * time, which no node's own clock is guaranteed to read). Required.
   */
  readonly clock: Clock;
  /**
   * Most events the recorder keeps; one more throws {@link LimitExceededError}. Default
   * 1,000,000 (about half a million operations).
   */
  readonly eventCountMax?: number;
}

/** What {@link HistoryRecorder.record} takes: an event without its time, which the clock supplies. */
export interface HistoryEventInput {
  /** The process (client) that issued the operation: a safe integer or a non-empty string. */
  readonly process: number | string;
  /** `'invoke'`, `'ok'`, `'fail'` or `'info'` (outcome unknown). */
  readonly type: HistoryEventType;
  /** The operation's kind as the check model names it (`'read'`, `'cas'`, `'put'`, ...). */
  readonly kind: string;
  /** The key, for multi-key histories. */
  readonly key?: string;
  /** The invocation's argument or the completion's result; a JSON value. */
  readonly value?: unknown;
}

const eventTypes: readonly HistoryEventType[] = ['invoke', 'ok', 'fail', 'info'];

/** Most nodes (array elements, object members, scalars) one recorded value may have. */
const valueNodeCountMax = 100_000;

/**
 * Records a history as events. Values are copied when recorded (a JSON round trip), so a
 * caller mutating its value afterwards does not rewrite history, and the JSON Lines form
 * reads back into exactly the same operations.
 *
 * @example
 * ```ts
 * const simulation = new Simulation({ seed: 1 });
 * const history = new HistoryRecorder({ clock: simulation.clock });
 * history.record({ process: 0, type: 'invoke', kind: 'write', value: 1 });
 * history.record({ process: 0, type: 'ok', kind: 'write', value: 1 });
 * checkLinearizability(registerModel(), history.operations());
 * ```
 */
export class HistoryRecorder {
  readonly #clock: Clock;
  readonly #eventCountMax: number;
  readonly #events: HistoryEvent[] = [];
  #previousTimeMs = Number.NEGATIVE_INFINITY;

  constructor(options: HistoryRecorderOptions) {
    const settings = requireOptions('HistoryRecorder options', options);
    const clock = settings.clock;
    if (typeof clock !== 'object' || clock === null || typeof clock.nowMs !== 'function') {
      throw new InvalidArgumentError(
        'HistoryRecorder options.clock',
        `HistoryRecorder options.clock must be a Clock (in a simulation, simulation.clock); got ${describeValue(clock)}.`,
      );
    }
    this.#clock = clock;
    this.#eventCountMax = requireInteger(
      'HistoryRecorder options.eventCountMax',
      settings.eventCountMax ?? 1_000_000,
      { min: 1 },
    );
  }

  /**
   * Appends one event stamped with the clock's time and returns it as stored. Throws
   * {@link InvalidArgumentError} for a malformed event (the value must be JSON: null,
   * booleans, finite numbers, strings, arrays and plain objects) and
   * {@link LimitExceededError} past `eventCountMax`.
   */
  record(event: HistoryEventInput): HistoryEvent {
    const input = requireOptions('HistoryRecorder.record event', event);
    const process = input.process;
    if (
      !(typeof process === 'string' && process !== '') &&
      !(typeof process === 'number' && Number.isSafeInteger(process))
    ) {
      throw new InvalidArgumentError(
        'HistoryRecorder.record event.process',
        `HistoryRecorder.record event.process must be a safe integer or a non-empty string; got ${describeValue(process)}.`,
      );
    }
    const type = requireOneOf('HistoryRecorder.record event.type', input.type, eventTypes);
    const kind = requireString('HistoryRecorder.record event.kind', input.kind);
    const key =
      input.key === undefined
        ? undefined
        : requireString('HistoryRecorder.record event.key', input.key, true);
    const value =
      input.value === undefined
        ? undefined
        : copyJsonValue('HistoryRecorder.record event.value', input.value);
    if (this.#events.length >= this.#eventCountMax) {
      throw new LimitExceededError(
        this.#eventCountMax,
        `the history holds ${this.#eventCountMax} events, its eventCountMax; record fewer operations or raise eventCountMax.`,
      );
    }
    const time = this.#clock.nowMs();
    if (!Number.isFinite(time) || time < this.#previousTimeMs) {
      throw new InvalidArgumentError(
        'HistoryRecorder options.clock',
        `the history's clock read ${time} ms after ${this.#previousTimeMs} ms; it must be finite and never go back (use simulated true time, not a node's clock).`,
      );
    }
    this.#previousTimeMs = time;
    const stored: { -readonly [K in keyof HistoryEvent]: HistoryEvent[K] } = {
      process,
      type,
      kind,
    };
    if (key !== undefined) {
      stored.key = key;
    }
    if (value !== undefined) {
      stored.value = value;
    }
    stored.time = time;
    const frozen = Object.freeze(stored);
    this.#events.push(frozen);
    return frozen;
  }

  /** Records an invocation; see {@link HistoryRecorder.record}. */
  invoke(process: number | string, kind: string, key?: string, value?: unknown): HistoryEvent {
    return this.record(eventInput(process, 'invoke', kind, key, value));
  }

  /** Records a completion that took effect, with its result; see {@link HistoryRecorder.record}. */
  ok(process: number | string, kind: string, key?: string, value?: unknown): HistoryEvent {
    return this.record(eventInput(process, 'ok', kind, key, value));
  }

  /** Records a completion that took no effect; see {@link HistoryRecorder.record}. */
  fail(process: number | string, kind: string, key?: string): HistoryEvent {
    return this.record(eventInput(process, 'fail', kind, key, undefined));
  }

  /**
   * Records a completion whose outcome is unknown (a timeout): it may have taken effect
   * or not. The process must not invoke again; continue under a new process id.
   */
  info(process: number | string, kind: string, key?: string): HistoryEvent {
    return this.record(eventInput(process, 'info', kind, key, undefined));
  }

  /** How many events are recorded. */
  get eventCount(): number {
    return this.#events.length;
  }

  /** The events so far, oldest first (frozen; the list is a copy). */
  events(): HistoryEvent[] {
    return [...this.#events];
  }

  /**
   * The events paired into operations by `historyFromEvents`, ready for
   * `checkLinearizability` and the session checkers. Each operation's `line` is the line of
   * its invocation in {@link HistoryRecorder.toJsonLines}, so
   * `parseJsonLinesHistory(recorder.toJsonLines())` returns an identical list.
   */
  operations(): Operation[] {
    return historyFromEvents(this.#events.map((event, index) => ({ ...event, line: index + 1 })));
  }

  /**
   * The history as JSON Lines, one event per line in the schema `parseJsonLinesHistory`
   * reads (`process`, `type`, `kind`, then `key`, `value` and `time` when present), each line
   * ending in a newline.
   */
  toJsonLines(): string {
    let text = '';
    for (const event of this.#events) {
      text += `${JSON.stringify(event)}\n`;
    }
    return text;
  }
}

function eventInput(
  process: number | string,
  type: HistoryEventType,
  kind: string,
  key: string | undefined,
  value: unknown,
): HistoryEventInput {
  const input: { -readonly [K in keyof HistoryEventInput]: HistoryEventInput[K] } = {
    process,
    type,
    kind,
  };
  if (key !== undefined) {
    input.key = key;
  }
  if (value !== undefined) {
    input.value = value;
  }
  return input;
}

/**
 * Checks that `value` is a JSON value, without recursion and within
 * {@link valueNodeCountMax} nodes, and returns a copy that survives a JSON round trip
 * unchanged (`-0` becomes `0`).
 */
function copyJsonValue(name: string, value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw notJson(name, value);
    }
    return value === 0 ? 0 : value;
  }
  const stack: unknown[] = [value];
  const seen = new Set<object>();
  let nodeCount = 0;
  while (stack.length > 0) {
    const item = stack.pop();
    nodeCount += 1;
    if (nodeCount > valueNodeCountMax) {
      throw new InvalidArgumentError(
        name,
        `${name} has more than ${valueNodeCountMax} elements; record smaller values.`,
      );
    }
    if (item === null || typeof item === 'string' || typeof item === 'boolean') {
      continue;
    }
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) {
        throw notJson(name, item);
      }
      continue;
    }
    if (typeof item !== 'object') {
      throw notJson(name, item);
    }
    if (seen.has(item)) {
      throw new InvalidArgumentError(
        name,
        `${name} refers to one object twice (or to itself); record a tree of JSON values.`,
      );
    }
    seen.add(item);
    if (Array.isArray(item)) {
      for (const element of item) {
        stack.push(element);
      }
      continue;
    }
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype !== Object.prototype && prototype !== null) {
      throw notJson(name, item);
    }
    for (const member of Object.values(item)) {
      stack.push(member);
    }
  }
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function notJson(name: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    name,
    `${name} must be a JSON value (null, a boolean, a finite number, a string, or arrays and plain objects of them); it contains ${describeValue(value)}.`,
  );
}
