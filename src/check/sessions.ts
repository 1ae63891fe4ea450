/**
 * Checkers for the session guarantees (read-your-writes, monotonic reads, monotonic
 * writes, writes-follow-reads), bounded staleness and convergence after quiescence, on
 * register and key-value histories whose written values are unique per key.
 *
 * Unique values let every read name the one write it observed. Which write is newer than
 * which is the real-time order: a write that completed before another was invoked is
 * older; writes that overlap in time are unordered, and neither is ever judged stale
 * against the other. So a verdict of violation never depends on a guess about how
 * concurrent writes were ordered.
 *
 * @module
 */

import {
  DistkitError,
  type DistkitErrorOptions,
  errorGuard,
  InvalidArgumentError,
  requireInteger,
  requireNumber,
  requireOptions,
} from '../core/index.js';
import { describeOperation, formatValue, type Operation } from './history.js';

/** An operation that may name its session explicitly; without `session`, its process is its session. */
export interface SessionOperation extends Operation {
  /** The session it belongs to; defaults to `process`. */
  readonly session?: number | string;
}

/** The guarantees the checkers of this file judge. */
export type SessionGuarantee =
  | 'read-your-writes'
  | 'monotonic-reads'
  | 'monotonic-writes'
  | 'writes-follow-reads'
  | 'bounded-staleness'
  | 'convergence';

/** Why a history cannot be judged by the session checkers. */
export type SessionHistoryProblem =
  | 'unsupported-kind'
  | 'duplicate-value'
  | 'unexplained-read'
  | 'ineligible-history';

/**
 * The history breaks a precondition of the session checkers, so it is rejected rather
 * than judged: an operation other than `read`/`get` and `write`/`put`, a value written
 * twice to one key (or the initial value written), a read of a value no write wrote, or,
 * for bounded staleness, writes of one key that overlap in time.
 */
export class SessionHistoryError extends DistkitError {
  /** Which precondition failed. */
  readonly problem: SessionHistoryProblem;
  /** The operations that show it. */
  readonly operations: readonly Operation[];

  constructor(
    problem: SessionHistoryProblem,
    operations: readonly Operation[],
    message: string,
    options?: DistkitErrorOptions,
  ) {
    super('SESSION_HISTORY', message, options);
    this.problem = problem;
    this.operations = operations;
  }
}

/** Brand guard for {@link SessionHistoryError}. */
export const isSessionHistoryError = errorGuard<SessionHistoryError>('SESSION_HISTORY');

/** One breach of a guarantee, in terms a person can follow. */
export interface SessionViolation {
  /** The guarantee broken. */
  readonly guarantee: SessionGuarantee;
  /** The session whose guarantee was broken (the reader's session). */
  readonly session: number | string;
  /** The key, or `undefined` for a register history without keys. */
  readonly key: string | undefined;
  /** The operations involved, oldest first; the last is the read that broke it. */
  readonly operations: readonly Operation[];
  /** Which operations, which guarantee and why, as a sentence. */
  readonly message: string;
}

/** The history satisfies the guarantee. */
export interface SessionCheckOk {
  /** `'ok'`. */
  readonly verdict: 'ok';
  /** The guarantee checked. */
  readonly guarantee: SessionGuarantee;
  /** Reads judged (completed `ok`). */
  readonly readCount: number;
}

/** The history breaks the guarantee at least once. */
export interface SessionCheckViolation {
  /** `'violation'`. */
  readonly verdict: 'violation';
  /** The guarantee checked. */
  readonly guarantee: SessionGuarantee;
  /** Reads judged (completed `ok`). */
  readonly readCount: number;
  /** The violations found, in the order of the reads, at most `violationCountMax`. */
  readonly violations: readonly SessionViolation[];
  /** All violations found, including those beyond `violationCountMax`. */
  readonly violationCount: number;
  /** The first violation's message, with the count. */
  readonly message: string;
}

/** The verdict of a session checker. */
export type SessionCheckResult = SessionCheckOk | SessionCheckViolation;

/** Options every session checker accepts. */
export interface SessionCheckOptions {
  /** Most violations kept in the result (all are counted). Default 100. */
  readonly violationCountMax?: number;
}

/** Options for {@link checkBoundedStaleness}; give `staleMsMax`, `versionCountMax` or both. */
export interface BoundedStalenessOptions extends SessionCheckOptions {
  /**
   * A read must see every write that completed more than this long before the read was
   * invoked (or a newer one), in the unit of the history's times.
   */
  readonly staleMsMax?: number;
  /** A read may miss at most this many writes that completed before it was invoked. */
  readonly versionCountMax?: number;
}

/** Options for {@link checkConvergence}. */
export interface ConvergenceOptions extends SessionCheckOptions {
  /**
   * How long after the last write of a key completes before every read of it must agree,
   * in the unit of the history's times. Required; 0 or more.
   */
  readonly settleMs: number;
}

const violationCountMaxDefault = 100;

/**
 * A write of an indexed history.
 *
 * @internal
 */
export interface Write {
  /** The operation. */
  readonly operation: Operation;
  /** Its session. */
  readonly session: number | string;
  /** When it was invoked. */
  readonly invokeTime: number;
  /** +infinity for an unknown outcome. */
  readonly returnTime: number;
}

/**
 * A read of an indexed history that completed `ok`.
 *
 * @internal
 */
export interface Read {
  /** The operation. */
  readonly operation: Operation;
  /** Its session. */
  readonly session: number | string;
  /** Its key (`""` for a register). */
  readonly key: string;
  /** The write it observed; `undefined` for the initial (absent) value. */
  readonly observed: Write | undefined;
  /** When it was invoked. */
  readonly invokeTime: number;
  /** When it completed. */
  readonly returnTime: number;
}

/**
 * A history whose reads name the writes they observed, checked against the
 * preconditions of the session checkers.
 *
 * @internal
 */
export interface Indexed {
  /** The reads that completed `ok`, in the order of the history. */
  readonly reads: readonly Read[];
  /** The writes that did not fail, per key, in the order of the history. */
  readonly writesByKey: ReadonlyMap<string, readonly Write[]>;
  /** Every session's ok reads and non-failed writes, in invocation order. */
  readonly sessions: ReadonlyMap<number | string, readonly (Read | Write)[]>;
}

function sessionOf(operation: SessionOperation): number | string {
  return operation.session ?? operation.process;
}

function isReadKind(kind: string): boolean {
  return kind === 'read' || kind === 'get';
}

function isWriteKind(kind: string): boolean {
  return kind === 'write' || kind === 'put';
}

function isInitialValue(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

function valueIdentity(value: unknown): string {
  return `${typeof value}:${formatValue(value)}`;
}

/** `older` completed before `newer` was invoked: the real-time version order. */
function precedes(older: Write, newer: Write): boolean {
  return older.returnTime < newer.invokeTime;
}

function keyOf(operation: Operation): string {
  return operation.key ?? '';
}

function publicKey(operation: Operation): string | undefined {
  return operation.key;
}

/**
 * Validates `operations` against the preconditions of the checkers of unique-value
 * histories (`checker` names them in messages) and names the write every read observed.
 * Throws {@link SessionHistoryError} or `InvalidArgumentError`.
 *
 * @internal
 */
export function indexHistory(
  operations: readonly SessionOperation[],
  checker = 'the session checkers',
): Indexed {
  if (!Array.isArray(operations)) {
    throw new InvalidArgumentError('operations', 'operations must be an array of Operation.');
  }
  const writesByKey = new Map<string, Write[]>();
  const byValue = new Map<string, Write>();
  const pendingReads: SessionOperation[] = [];
  operations.forEach((operation, position) => {
    const name = `operations[${position}]`;
    if (typeof operation !== 'object' || operation === null) {
      throw new InvalidArgumentError(name, `${name} must be an Operation object.`);
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
    } else if (operation.status !== 'fail' && operation.status !== 'unknown') {
      throw new InvalidArgumentError(
        `${name}.status`,
        `${name}.status must be 'ok', 'fail' or 'unknown'.`,
      );
    }
    if (!isReadKind(operation.kind) && !isWriteKind(operation.kind)) {
      throw new SessionHistoryError(
        'unsupported-kind',
        [operation],
        `${describeOperation(operation)}: ${checker} can judge only read/get and write/put; a history with ${JSON.stringify(operation.kind)} needs another checker (checkLinearizability).`,
      );
    }
    if (operation.status === 'fail') {
      return;
    }
    if (isReadKind(operation.kind)) {
      if (operation.status === 'ok') {
        pendingReads.push(operation);
      }
      return;
    }
    const write: Write = {
      operation,
      session: sessionOf(operation),
      invokeTime: operation.invokeTime,
      returnTime:
        operation.status === 'ok' ? (operation.returnTime as number) : Number.POSITIVE_INFINITY,
    };
    if (isInitialValue(operation.input)) {
      throw new SessionHistoryError(
        'duplicate-value',
        [operation],
        `${describeOperation(operation)} writes the initial value (nil or ""), so a read of it could not name its write; every write must write a value of its own.`,
      );
    }
    const identity = `${keyOf(operation).length}:${keyOf(operation)}=${valueIdentity(operation.input)}`;
    const earlier = byValue.get(identity);
    if (earlier !== undefined) {
      throw new SessionHistoryError(
        'duplicate-value',
        [earlier.operation, operation],
        `${describeOperation(earlier.operation)} and ${describeOperation(operation)} write the same value to one key; every written value must be unique per key for ${checker}, so that a read names the one write it saw.`,
      );
    }
    byValue.set(identity, write);
    let list = writesByKey.get(keyOf(operation));
    if (list === undefined) {
      list = [];
      writesByKey.set(keyOf(operation), list);
    }
    list.push(write);
  });
  const reads: Read[] = pendingReads.map((operation) => {
    let observed: Write | undefined;
    if (!isInitialValue(operation.output)) {
      observed = byValue.get(
        `${keyOf(operation).length}:${keyOf(operation)}=${valueIdentity(operation.output)}`,
      );
      if (observed === undefined) {
        throw new SessionHistoryError(
          'unexplained-read',
          [operation],
          `${describeOperation(operation)} returns a value no write of the history (other than a failed one) wrote to that key; ${checker} cannot judge it (checkLinearizability can).`,
        );
      }
    }
    return {
      operation,
      session: sessionOf(operation),
      key: keyOf(operation),
      observed,
      invokeTime: operation.invokeTime,
      returnTime: operation.returnTime as number,
    };
  });
  const sessions = new Map<number | string, (Read | Write)[]>();
  const add = (entry: Read | Write): void => {
    let list = sessions.get(entry.session);
    if (list === undefined) {
      list = [];
      sessions.set(entry.session, list);
    }
    list.push(entry);
  };
  for (const list of writesByKey.values()) {
    list.forEach(add);
  }
  reads.forEach(add);
  for (const list of sessions.values()) {
    list.sort((left, right) => left.invokeTime - right.invokeTime);
  }
  return { reads, writesByKey, sessions };
}

function isRead(entry: Read | Write): entry is Read {
  return 'observed' in entry;
}

/** `first` completed no later than `second` was invoked: the order of one session. */
function before(first: Read | Write, second: Read | Write): boolean {
  return first.returnTime <= second.invokeTime;
}

/**
 * What a read returned, for people: the initial value or the value of its write.
 *
 * @internal
 */
export function observedText(read: Read): string {
  return read.observed === undefined
    ? 'the initial value (no write at all)'
    : `the value of ${describeOperation(read.observed.operation)}`;
}

class Collector {
  readonly violations: SessionViolation[] = [];
  count = 0;

  constructor(
    readonly guarantee: SessionGuarantee,
    readonly countMax: number,
  ) {}

  add(read: Read, involved: readonly Operation[], message: string): void {
    this.count += 1;
    if (this.violations.length < this.countMax) {
      this.violations.push({
        guarantee: this.guarantee,
        session: read.session,
        key: publicKey(read.operation),
        operations: [...involved, read.operation],
        message,
      });
    }
  }

  result(readCount: number): SessionCheckResult {
    const first = this.violations[0];
    if (first === undefined) {
      return { verdict: 'ok', guarantee: this.guarantee, readCount };
    }
    const more = this.count > 1 ? ` (and ${this.count - 1} more violation(s))` : '';
    return {
      verdict: 'violation',
      guarantee: this.guarantee,
      readCount,
      violations: this.violations,
      violationCount: this.count,
      message: `${first.message}${more}`,
    };
  }
}

function collector(
  guarantee: SessionGuarantee,
  name: string,
  options: SessionCheckOptions | undefined,
): Collector {
  const checked = requireOptions(`${name} options`, options);
  const countMax = requireInteger(
    `${name} options.violationCountMax`,
    checked.violationCountMax ?? violationCountMaxDefault,
    { min: 1 },
  );
  return new Collector(guarantee, countMax);
}

/**
 * A session for people: `session 3`.
 *
 * @internal
 */
export function sessionText(session: number | string): string {
  return `session ${String(session)}`;
}

/**
 * Read-your-writes: a read sees every write its own session completed before it, or a
 * newer write. A violation is a read that returns the initial value, or a write older
 * (in real time) than one of the session's own earlier writes of that key.
 *
 * Throws {@link SessionHistoryError} for a history outside the checkers' preconditions.
 */
export function checkReadYourWrites(
  operations: readonly SessionOperation[],
  options?: SessionCheckOptions,
): SessionCheckResult {
  const found = collector('read-your-writes', 'checkReadYourWrites', options);
  const history = indexHistory(operations);
  for (const [session, entries] of history.sessions) {
    const own = new Map<string, Write[]>();
    for (const entry of entries) {
      if (!isRead(entry)) {
        const key = keyOf(entry.operation);
        const list = own.get(key);
        if (list === undefined) {
          own.set(key, [entry]);
        } else {
          list.push(entry);
        }
        continue;
      }
      for (const write of own.get(entry.key) ?? []) {
        if (!before(write, entry) || entry.observed === write) {
          continue;
        }
        if (entry.observed === undefined || precedes(entry.observed, write)) {
          found.add(
            entry,
            entry.observed === undefined
              ? [write.operation]
              : [entry.observed.operation, write.operation],
            `read-your-writes broken in ${sessionText(session)}: ${describeOperation(entry.operation)} returns ${observedText(entry)}, although the same session's ${describeOperation(write.operation)} completed before the read began${entry.observed === undefined ? '' : ' and that value was written before it'}; the read missed its own session's write.`,
          );
          break;
        }
      }
    }
  }
  return found.result(history.reads.length);
}

/**
 * Monotonic reads: once a session has read a write, its later reads of that key never
 * return the initial value or a write older (in real time) than it.
 *
 * Throws {@link SessionHistoryError} for a history outside the checkers' preconditions.
 */
export function checkMonotonicReads(
  operations: readonly SessionOperation[],
  options?: SessionCheckOptions,
): SessionCheckResult {
  const found = collector('monotonic-reads', 'checkMonotonicReads', options);
  const history = indexHistory(operations);
  for (const [session, entries] of history.sessions) {
    const seen = new Map<string, Read[]>();
    for (const entry of entries) {
      if (!isRead(entry)) {
        continue;
      }
      for (const earlier of seen.get(entry.key) ?? []) {
        const earlierWrite = earlier.observed;
        if (earlierWrite === undefined || !before(earlier, entry)) {
          continue;
        }
        if (entry.observed === undefined || precedes(entry.observed, earlierWrite)) {
          found.add(
            entry,
            entry.observed === undefined
              ? [earlierWrite.operation, earlier.operation]
              : [entry.observed.operation, earlierWrite.operation, earlier.operation],
            `monotonic reads broken in ${sessionText(session)}: ${describeOperation(earlier.operation)} saw ${describeOperation(earlierWrite.operation)}, then ${describeOperation(entry.operation)} returns ${observedText(entry)}${entry.observed === undefined ? '' : ', which was written before it'}; the session's reads went back in time.`,
          );
          break;
        }
      }
      if (entry.observed !== undefined) {
        const list = seen.get(entry.key);
        if (list === undefined) {
          seen.set(entry.key, [entry]);
        } else {
          list.push(entry);
        }
      }
    }
  }
  return found.result(history.reads.length);
}

interface Obligation {
  /** The write that must be visible... */
  readonly required: Write;
  /** ...because this write, which depends on it, was read... */
  readonly because: Write;
  /** ...by this read. */
  readonly seenBy: Read;
}

/**
 * The shared walk of monotonic writes and writes-follow-reads: once a session has read a
 * write `w`, its later reads of the key of any write `w` depends on must not return the
 * initial value or an older write (and, on `w`'s own key, not the dependency itself).
 */
function checkDependencies(
  found: Collector,
  history: Indexed,
  dependenciesOf: (write: Write) => readonly Write[],
  describe: (obligation: Obligation, read: Read) => string,
): SessionCheckResult {
  const cache = new Map<Write, readonly Write[]>();
  for (const entries of history.sessions.values()) {
    const obligations = new Map<string, Obligation[]>();
    const added = new Set<Write>();
    for (const entry of entries) {
      if (!isRead(entry)) {
        continue;
      }
      for (const obligation of obligations.get(entry.key) ?? []) {
        if (!before(obligation.seenBy, entry)) {
          continue;
        }
        const required = obligation.required;
        const observed = entry.observed;
        const sameKey = keyOf(obligation.because.operation) === entry.key;
        if (
          observed === undefined ||
          precedes(observed, required) ||
          (sameKey && observed === required)
        ) {
          const involved = [
            required.operation,
            obligation.because.operation,
            obligation.seenBy.operation,
          ];
          if (observed !== undefined && observed !== required) {
            involved.unshift(observed.operation);
          }
          found.add(entry, involved, describe(obligation, entry));
          break;
        }
      }
      const write = entry.observed;
      if (write !== undefined && !added.has(write)) {
        added.add(write);
        let dependencies = cache.get(write);
        if (dependencies === undefined) {
          dependencies = dependenciesOf(write);
          cache.set(write, dependencies);
        }
        for (const required of dependencies) {
          const key = keyOf(required.operation);
          const obligation = { required, because: write, seenBy: entry };
          const list = obligations.get(key);
          if (list === undefined) {
            obligations.set(key, [obligation]);
          } else {
            list.push(obligation);
          }
        }
      }
    }
  }
  return found.result(history.reads.length);
}

/**
 * Monotonic writes, as other sessions observe it: the writes of one session take effect
 * in session order everywhere. A violation is a session that reads a write `w2` and later
 * reads, on the key of an earlier write `w1` of `w2`'s session, the initial value, a write
 * older than `w1`, or (when `w1` and `w2` share a key) `w1` itself: `w2` was applied
 * without, or before, `w1`.
 *
 * Throws {@link SessionHistoryError} for a history outside the checkers' preconditions.
 */
export function checkMonotonicWrites(
  operations: readonly SessionOperation[],
  options?: SessionCheckOptions,
): SessionCheckResult {
  const found = collector('monotonic-writes', 'checkMonotonicWrites', options);
  const history = indexHistory(operations);
  return checkDependencies(
    found,
    history,
    (write) =>
      (history.sessions.get(write.session) ?? []).filter(
        (entry): entry is Write =>
          !isRead(entry) && entry.operation.status === 'ok' && before(entry, write),
      ),
    (obligation, read) =>
      `monotonic writes broken, seen by ${sessionText(read.session)}: ${describeOperation(obligation.because.operation)} follows ${describeOperation(obligation.required.operation)} in ${sessionText(obligation.because.session)}; ${describeOperation(obligation.seenBy.operation)} saw the later write, then ${describeOperation(read.operation)} returns ${observedText(read)}, so the later write was applied without the earlier one, or before it.`,
  );
}

/**
 * Writes-follow-reads: a write is ordered after every write its session had read before
 * issuing it. A violation is a session that reads such a write `w` and later reads, on the
 * key of a write `r` that `w`'s session had read before writing `w`, the initial value, a
 * write older than `r`, or (on `w`'s own key) `r` itself: the effect was visible without
 * its cause.
 *
 * Throws {@link SessionHistoryError} for a history outside the checkers' preconditions.
 */
export function checkWritesFollowReads(
  operations: readonly SessionOperation[],
  options?: SessionCheckOptions,
): SessionCheckResult {
  const found = collector('writes-follow-reads', 'checkWritesFollowReads', options);
  const history = indexHistory(operations);
  return checkDependencies(
    found,
    history,
    (write) => {
      const causes: Write[] = [];
      for (const entry of history.sessions.get(write.session) ?? []) {
        if (isRead(entry) && entry.observed !== undefined && before(entry, write)) {
          if (!causes.includes(entry.observed)) {
            causes.push(entry.observed);
          }
        }
      }
      return causes;
    },
    (obligation, read) =>
      `writes-follow-reads broken, seen by ${sessionText(read.session)}: ${sessionText(obligation.because.session)} read ${describeOperation(obligation.required.operation)} before it issued ${describeOperation(obligation.because.operation)}; ${describeOperation(obligation.seenBy.operation)} saw that write, then ${describeOperation(read.operation)} returns ${observedText(read)}, so the write became visible before the write it followed (a causality inversion).`,
  );
}

/**
 * Bounded staleness. Eligible histories: for every key, no two writes overlap in time (a
 * write of unknown outcome counts as never completing, so it must be the key's last), so
 * real time orders each key's writes totally; a single writer per key that waits for each
 * write is the common case. Other histories throw {@link SessionHistoryError} with
 * problem `'ineligible-history'`.
 *
 * With `staleMsMax`, a read must return the newest write that completed more than
 * `staleMsMax` before the read was invoked, or a newer one. With `versionCountMax`, at
 * most that many writes that completed before the read was invoked may be newer than the
 * one it returns.
 */
export function checkBoundedStaleness(
  operations: readonly SessionOperation[],
  options: BoundedStalenessOptions,
): SessionCheckResult {
  const checked = requireOptions('checkBoundedStaleness options', options);
  const found = collector('bounded-staleness', 'checkBoundedStaleness', checked);
  const staleMsMax =
    checked.staleMsMax === undefined
      ? undefined
      : requireNumber('checkBoundedStaleness options.staleMsMax', checked.staleMsMax, { min: 0 });
  const versionCountMax =
    checked.versionCountMax === undefined
      ? undefined
      : requireInteger('checkBoundedStaleness options.versionCountMax', checked.versionCountMax, {
          min: 0,
        });
  if (staleMsMax === undefined && versionCountMax === undefined) {
    throw new InvalidArgumentError(
      'checkBoundedStaleness options',
      'checkBoundedStaleness needs options.staleMsMax, options.versionCountMax or both.',
    );
  }
  const history = indexHistory(operations);
  const ordered = new Map<string, Write[]>();
  for (const [key, writes] of history.writesByKey) {
    const sorted = [...writes].sort((left, right) => left.invokeTime - right.invokeTime);
    for (let position = 1; position < sorted.length; position += 1) {
      const previous = sorted[position - 1] as Write;
      const current = sorted[position] as Write;
      if (!precedes(previous, current)) {
        throw new SessionHistoryError(
          'ineligible-history',
          [previous.operation, current.operation],
          `${describeOperation(previous.operation)} and ${describeOperation(current.operation)} overlap in time, so real time does not order the writes of key ${JSON.stringify(key)}; bounded staleness is checked only when each key's writes never overlap.`,
        );
      }
    }
    ordered.set(key, sorted);
  }
  for (const read of history.reads) {
    const writes = ordered.get(read.key) ?? [];
    const observedPosition = read.observed === undefined ? -1 : writes.indexOf(read.observed);
    const completed = writes.filter((write) => write.returnTime < read.invokeTime);
    if (staleMsMax !== undefined) {
      const due = completed.filter((write) => write.returnTime < read.invokeTime - staleMsMax);
      const newestDue = due[due.length - 1];
      if (newestDue !== undefined && writes.indexOf(newestDue) > observedPosition) {
        found.add(
          read,
          read.observed === undefined
            ? [newestDue.operation]
            : [read.observed.operation, newestDue.operation],
          `bounded staleness (${staleMsMax} time units) broken in ${sessionText(read.session)}: ${describeOperation(read.operation)} returns ${observedText(read)}, but ${describeOperation(newestDue.operation)} completed at ${newestDue.returnTime}, more than ${staleMsMax} before the read began at ${read.invokeTime}.`,
        );
        continue;
      }
    }
    if (versionCountMax !== undefined) {
      const missed = completed.filter((write) => writes.indexOf(write) > observedPosition);
      if (missed.length > versionCountMax) {
        found.add(
          read,
          missed.map((write) => write.operation),
          `bounded staleness (${versionCountMax} versions) broken in ${sessionText(read.session)}: ${describeOperation(read.operation)} returns ${observedText(read)}, missing ${missed.length} newer writes that completed before it began: ${missed.map((write) => describeOperation(write.operation)).join('; ')}.`,
        );
      }
    }
  }
  return found.result(history.reads.length);
}

/**
 * Convergence after quiescence: for each key, every read invoked at least `settleMs`
 * after the last write of that key completed returns the same value, whichever session
 * reads it. A write of unknown outcome never completes, so its key never quiesces and is
 * not judged.
 */
export function checkConvergence(
  operations: readonly SessionOperation[],
  options: ConvergenceOptions,
): SessionCheckResult {
  const checked = requireOptions('checkConvergence options', options);
  const found = collector('convergence', 'checkConvergence', checked);
  const settleMs = requireNumber('checkConvergence options.settleMs', checked.settleMs, {
    min: 0,
  });
  const history = indexHistory(operations);
  const quietFrom = new Map<string, number>();
  for (const [key, writes] of history.writesByKey) {
    quietFrom.set(key, Math.max(...writes.map((write) => write.returnTime)) + settleMs);
  }
  const firstByKey = new Map<string, Read>();
  const quiet = history.reads
    .filter((read) => read.invokeTime >= (quietFrom.get(read.key) ?? settleMs))
    .sort((left, right) => left.invokeTime - right.invokeTime);
  for (const read of quiet) {
    const first = firstByKey.get(read.key);
    if (first === undefined) {
      firstByKey.set(read.key, read);
      continue;
    }
    if (first.observed !== read.observed) {
      found.add(
        read,
        [first.operation],
        `no convergence on key ${JSON.stringify(read.key)}: after the last write completed and ${settleMs} more time units passed, ${describeOperation(first.operation)} returns ${observedText(first)} but ${describeOperation(read.operation)} returns ${observedText(read)}.`,
      );
    }
  }
  return found.result(quiet.length);
}

/** The verdicts of {@link checkSessionGuarantees}, one per session guarantee. */
export interface SessionGuaranteesResult {
  /** {@link checkReadYourWrites}. */
  readonly readYourWrites: SessionCheckResult;
  /** {@link checkMonotonicReads}. */
  readonly monotonicReads: SessionCheckResult;
  /** {@link checkMonotonicWrites}. */
  readonly monotonicWrites: SessionCheckResult;
  /** {@link checkWritesFollowReads}. */
  readonly writesFollowReads: SessionCheckResult;
}

/** Runs the four session-guarantee checkers on one history. */
export function checkSessionGuarantees(
  operations: readonly SessionOperation[],
  options?: SessionCheckOptions,
): SessionGuaranteesResult {
  return {
    readYourWrites: checkReadYourWrites(operations, options),
    monotonicReads: checkMonotonicReads(operations, options),
    monotonicWrites: checkMonotonicWrites(operations, options),
    writesFollowReads: checkWritesFollowReads(operations, options),
  };
}
