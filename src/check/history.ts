/**
 * The history model of the linearizability checker: what a client asked for, when, and
 * what it was told.
 *
 * An operation is an interval from its invocation to its completion. `ok` means it took
 * effect somewhere inside that interval; `fail` means it took no effect at all, so the
 * checker drops it; `unknown` (Jepsen's `:info`, a timeout, a crash, a missing
 * completion) means it may have taken effect at any point after its invocation, or
 * never, so its completion time is +infinity.
 *
 * @module
 */

import { DistkitError, type DistkitErrorOptions, errorGuard } from '../core/index.js';

/** How an operation ended. */
export type OperationStatus = 'ok' | 'fail' | 'unknown';

/** One client operation of a history. */
export interface Operation {
  /** The client (process, thread, session) that issued it; one operation at a time each. */
  readonly process: number | string;
  /** What it did, for example `'read'`, `'write'`, `'cas'`, `'get'`, `'put'`, `'append'`. */
  readonly kind: string;
  /** The key it touched, for models with independent keys; absent for one register. */
  readonly key?: string;
  /** The argument of the call: the value written, `[expected, next]` of a cas, ... */
  readonly input?: unknown;
  /** What the call returned when it completed `ok`: the value read, ... */
  readonly output?: unknown;
  /** When it was invoked, in any unit that orders events (an event index, milliseconds). */
  readonly invokeTime: number;
  /**
   * When it completed, in the unit of `invokeTime`. Ignored (treated as +infinity) when
   * `status` is `'unknown'`; required otherwise.
   */
  readonly returnTime?: number;
  /** How it ended; see {@link OperationStatus}. */
  readonly status: OperationStatus;
  /** The line of the source text it was read from, when it came from a reader. */
  readonly line?: number;
}

/** The type of one event of a history in event form. */
export type HistoryEventType = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * One event of a history in event form, as Jepsen records it: an invocation, then a
 * completion (`ok`, `fail` or `info`) from the same process. The readers produce these;
 * {@link historyFromEvents} pairs them into operations.
 */
export interface HistoryEvent {
  /** The process that issued the operation. */
  readonly process: number | string;
  /** What happened. */
  readonly type: HistoryEventType;
  /** The operation's kind (Jepsen's `:f`). */
  readonly kind: string;
  /** The key, for multi-key histories. */
  readonly key?: string;
  /** The invocation's argument or the completion's result. */
  readonly value?: unknown;
  /** When it happened; the event's position is used when absent. */
  readonly time?: number;
  /** The source line, for error messages. */
  readonly line?: number;
  /**
   * True for a completion that does not tell whether the operation took effect even
   * though its type is `fail` (Jepsen logs a timed-out read as `:fail ... :timed-out`).
   */
  readonly outcomeUnknown?: boolean;
}

/** A history text or event list is malformed. `line` is 1-based; 0 when not known. */
export class HistoryFormatError extends DistkitError {
  /** The 1-based line of the source text where the problem is; 0 when not known. */
  readonly line: number;

  constructor(line: number, message: string, options?: DistkitErrorOptions) {
    super('HISTORY_FORMAT', line > 0 ? `line ${line}: ${message}` : message, options);
    this.line = line;
  }
}

/** Brand guard for {@link HistoryFormatError}. */
export const isHistoryFormatError = errorGuard<HistoryFormatError>('HISTORY_FORMAT');

/**
 * Pairs invocations with their completions into operations. Each process has at most one
 * operation in flight: a second invocation before the first completes, a completion
 * without an invocation, or a completion of a different kind throws
 * {@link HistoryFormatError}. An invocation never completed becomes `unknown`.
 *
 * An `ok` completion's value is the operation's output; the invocation's value is its
 * input. An `info` completion, or a `fail` marked `outcomeUnknown`, makes it `unknown`.
 */
export function historyFromEvents(events: readonly HistoryEvent[]): Operation[] {
  interface Pending {
    readonly event: HistoryEvent;
    readonly time: number;
    readonly index: number;
  }
  const pending = new Map<number | string, Pending>();
  const slots: (Operation | undefined)[] = [];
  let previousTime = Number.NEGATIVE_INFINITY;
  events.forEach((event, position) => {
    const line = event.line ?? 0;
    const time = event.time ?? position;
    if (!Number.isFinite(time)) {
      throw new HistoryFormatError(line, `event time must be a finite number; got ${time}.`);
    }
    if (time < previousTime) {
      throw new HistoryFormatError(
        line,
        `event times must not decrease (${time} after ${previousTime}); list events in the order they happened.`,
      );
    }
    previousTime = time;
    const open = pending.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined) {
        throw new HistoryFormatError(
          line,
          `process ${String(event.process)} invokes ${event.kind} while its ${open.event.kind} from line ${open.event.line ?? '?'} is still in flight; a process runs one operation at a time.`,
        );
      }
      pending.set(event.process, { event, time, index: slots.length });
      slots.push(undefined);
      return;
    }
    if (open === undefined) {
      throw new HistoryFormatError(
        line,
        `process ${String(event.process)} completes ${event.kind} (${event.type}) without an invocation.`,
      );
    }
    if (open.event.kind !== event.kind) {
      throw new HistoryFormatError(
        line,
        `process ${String(event.process)} completes ${event.kind} but invoked ${open.event.kind} at line ${open.event.line ?? '?'}.`,
      );
    }
    pending.delete(event.process);
    const status: OperationStatus =
      event.type === 'ok'
        ? 'ok'
        : event.type === 'info' || event.outcomeUnknown === true
          ? 'unknown'
          : 'fail';
    slots[open.index] = makeOperation(open.event, open.time, status, event, time);
  });
  for (const open of pending.values()) {
    slots[open.index] = makeOperation(open.event, open.time, 'unknown', undefined, undefined);
  }
  return slots as Operation[];
}

function makeOperation(
  invoke: HistoryEvent,
  invokeTime: number,
  status: OperationStatus,
  completion: HistoryEvent | undefined,
  returnTime: number | undefined,
): Operation {
  const operation: {
    process: number | string;
    kind: string;
    key?: string;
    input?: unknown;
    output?: unknown;
    invokeTime: number;
    returnTime?: number;
    status: OperationStatus;
    line?: number;
  } = { process: invoke.process, kind: invoke.kind, invokeTime, status };
  if (invoke.key !== undefined) {
    operation.key = invoke.key;
  }
  if (invoke.value !== undefined) {
    operation.input = invoke.value;
  }
  if (status === 'ok' && completion !== undefined && completion.value !== undefined) {
    operation.output = completion.value;
  }
  if (status !== 'unknown' && returnTime !== undefined) {
    operation.returnTime = returnTime;
  }
  if (invoke.line !== undefined) {
    operation.line = invoke.line;
  }
  return operation;
}

/** A short description of an operation for people: `process 3: cas [1,2] -> ok`. */
export function describeOperation(operation: Operation): string {
  const key = operation.key === undefined ? '' : ` key ${JSON.stringify(operation.key)}`;
  const input =
    operation.input === undefined || operation.input === null
      ? ''
      : ` ${formatValue(operation.input)}`;
  const result =
    operation.status === 'unknown'
      ? 'unknown outcome'
      : operation.status === 'fail'
        ? 'fail'
        : operation.output === undefined
          ? 'ok'
          : formatValue(operation.output);
  const at = operation.line === undefined ? '' : ` (line ${operation.line})`;
  return `process ${String(operation.process)}: ${operation.kind}${key}${input} -> ${result}${at}`;
}

/** Renders a value of a history compactly; `null` reads as `nil`. */
export function formatValue(value: unknown): string {
  if (value === null) {
    return 'nil';
  }
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
