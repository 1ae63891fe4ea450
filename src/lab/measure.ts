/**
 * The figures of one cell, computed from the recorded history and from what the replicas
 * hold at the end: nothing here is configured or written by hand.
 *
 * @module
 */

import {
  type CheckOptions,
  checkCausalConsistency,
  checkLinearizability,
  checkMonotonicReads,
  checkReadYourWrites,
  checkSequentialConsistency,
  describeOperation,
  kvModel,
  type Operation,
  type SessionOperation,
} from '../check/index.js';

/** A verdict of `distkit/check`: `unknown` when the search ran out of its step budget. */
export type LabVerdict = 'ok' | 'violation' | 'unknown';

/** One bucket of a cell's time series: the operations invoked in `[startMs, startMs + bucketMs)`. */
export interface LabTimeBucket {
  /** Start of the bucket, simulated ms. */
  readonly startMs: number;
  /** Operations invoked in the bucket that completed `ok`. */
  readonly ok: number;
  /** Operations invoked in the bucket that were refused (`fail`) or timed out (`unknown`). */
  readonly failed: number;
  /** Median latency of the bucket's `ok` operations, simulated ms; `undefined` without any. */
  readonly latencyP50Ms: number | undefined;
  /** 99th percentile of the same; `undefined` without any. */
  readonly latencyP99Ms: number | undefined;
}

/** The kind of an anomaly the lab reports. */
export type LabAnomalyKind =
  | 'stale-read'
  | 'lost-write'
  | 'not-linearizable'
  | 'not-sequential'
  | 'not-causal'
  | 'read-your-writes'
  | 'monotonic-reads';

/** The first anomaly of a cell: what broke, when, and the operations that show it. */
export interface LabAnomaly {
  /** What broke. */
  readonly kind: LabAnomalyKind;
  /** When it showed, simulated ms (the invocation of the operation that exposed it). */
  readonly timeMs: number;
  /** A sentence a person can follow. */
  readonly message: string;
  /** The operations involved, oldest first. */
  readonly operations: readonly Operation[];
}

/** The consistency models checked, each with its verdict. */
export interface LabConsistency {
  /** `checkLinearizability` with the key-value model (per key). */
  readonly linearizable: LabVerdict;
  /**
   * Sequential consistency, a process being one client. `ok` without a search when the
   * history is linearizable, `violation` without a search when it is not causally
   * consistent (sequential consistency implies causal consistency); otherwise
   * `checkSequentialConsistency` with the key-value model within its step budget.
   */
  readonly sequential: LabVerdict;
  /** `checkCausalConsistency`, sessions as for read-your-writes. */
  readonly causal: LabVerdict;
  /** `checkReadYourWrites`, a session being one client (across its process ids). */
  readonly readYourWrites: LabVerdict;
  /** `checkMonotonicReads`, sessions as above. */
  readonly monotonicReads: LabVerdict;
}

/** Step budgets of the checkers, so a cell never runs away. */
export interface LabCheckBudget {
  /** Steps of the linearizability search, all keys together. Default 10,000,000 (the checker's own default). */
  readonly linearizableStepCountMax?: number;
  /**
   * Steps of the sequential consistency search, run only when neither linearizability
   * nor a causal violation decides it. Default 500,000 (about half a second on a
   * history of the default run); the search is NP-complete and not local, so it often
   * ends `unknown`.
   */
  readonly sequentialStepCountMax?: number;
}

/** Nearest-rank percentile of ascending `sorted`; `undefined` when empty. */
export function percentile(sorted: readonly number[], fraction: number): number | undefined {
  if (sorted.length === 0) {
    return undefined;
  }
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

function latencyOf(operation: Operation): number {
  return (operation.returnTime as number) - operation.invokeTime;
}

function writeKey(key: string | undefined, value: unknown): string {
  return `${key ?? ''}\u0000${String(value)}`;
}

/** Completion time, +infinity for an unknown outcome. */
function returnOf(operation: Operation): number {
  return operation.status === 'ok' ? (operation.returnTime as number) : Number.POSITIVE_INFINITY;
}

/**
 * Stale reads: `ok` reads that return a value replaced before the read began. A read of
 * key k is stale when some `ok` write of k completed before the read was invoked, and the
 * write of the value read (or no write at all, for a read of nothing) completed before
 * that write was invoked: in real time, the value read had been overwritten already.
 */
export function staleReads(
  operations: readonly Operation[],
): { read: Operation; replacedBy: Operation; source: Operation | undefined }[] {
  const writesByKey = new Map<string, Operation[]>();
  const writeOf = new Map<string, Operation>();
  for (const operation of operations) {
    if (operation.kind === 'write') {
      writeOf.set(writeKey(operation.key, operation.input), operation);
      if (operation.status === 'ok') {
        const list = writesByKey.get(operation.key ?? '') ?? [];
        list.push(operation);
        writesByKey.set(operation.key ?? '', list);
      }
    }
  }
  const stale: { read: Operation; replacedBy: Operation; source: Operation | undefined }[] = [];
  for (const read of operations) {
    if (read.kind !== 'read' || read.status !== 'ok') {
      continue;
    }
    const source =
      read.output === null || read.output === undefined
        ? undefined
        : writeOf.get(writeKey(read.key, read.output));
    if (source !== undefined && source.status !== 'ok') {
      continue;
    }
    const sourceReturn = source === undefined ? Number.NEGATIVE_INFINITY : returnOf(source);
    const replacedBy = (writesByKey.get(read.key ?? '') ?? []).find(
      (write) =>
        write !== source &&
        (write.returnTime as number) < read.invokeTime &&
        sourceReturn < write.invokeTime,
    );
    if (replacedBy !== undefined) {
      stale.push({ read, replacedBy, source });
    }
  }
  return stale;
}

/** What {@link lostWrites} finds. */
export interface LostWrites {
  /**
   * Acknowledged writes lost: `ok` writes such that, at the end, no replica holds their
   * value nor the value of any write of their key that had not completed before they
   * began. The store went back in time past an acknowledged write.
   */
  readonly lost: readonly Operation[];
  /**
   * Acknowledged writes overwritten by a concurrent write: `ok` writes whose value no
   * replica holds at the end, not lost, and such that no write whose value survives began
   * after they completed: a conflict was resolved against them (one of two overlapping
   * writes must come last in any mode that keeps one value per key; siblings keep both).
   */
  readonly overwritten: readonly Operation[];
}

/**
 * Acknowledged writes lost and overwritten, from the history and `held` (every value any
 * replica holds per key at the end; see {@link LostWrites}).
 */
export function lostWrites(
  operations: readonly Operation[],
  held: ReadonlyMap<string, ReadonlySet<string>>,
): LostWrites {
  const writeOf = new Map<string, Operation>();
  for (const operation of operations) {
    if (operation.kind === 'write') {
      writeOf.set(writeKey(operation.key, operation.input), operation);
    }
  }
  const lost: Operation[] = [];
  const overwritten: Operation[] = [];
  for (const write of operations) {
    if (write.kind !== 'write' || write.status !== 'ok') {
      continue;
    }
    const values = held.get(write.key ?? '') ?? new Set<string>();
    if (values.has(String(write.input))) {
      continue;
    }
    const survivors = [...values].map((value) => writeOf.get(writeKey(write.key, value)));
    // A surviving value no write of the history wrote cannot be placed in time: no verdict.
    if (survivors.includes(undefined)) {
      continue;
    }
    const known = survivors as Operation[];
    if (known.every((survivor) => returnOf(survivor) < write.invokeTime)) {
      lost.push(write);
    } else if (known.every((survivor) => survivor.invokeTime <= (write.returnTime as number))) {
      overwritten.push(write);
    }
  }
  return { lost, overwritten };
}

/** The register history as the key-value model's (`get`/`put` of strings; absent is `""`). */
function asKeyValue(operations: readonly Operation[]): Operation[] {
  return operations.map((operation) => {
    if (operation.kind === 'read') {
      const { output, ...rest } = operation;
      return {
        ...rest,
        kind: 'get',
        ...(operation.status === 'ok'
          ? { output: output === null || output === undefined ? '' : String(output) }
          : {}),
      };
    }
    return { ...operation, kind: 'put', input: String(operation.input) };
  });
}

/**
 * Runs the checkers on `operations`; sessions are `process % clientCount` (a client goes on
 * under a new process id after a timeout, and its session with it). Also returns the
 * first violation each checker found, as an anomaly.
 */
export function checkConsistency(
  operations: readonly Operation[],
  clientCount: number,
  budget: LabCheckBudget = {},
): { consistency: LabConsistency; anomalies: LabAnomaly[] } {
  const keyValue = asKeyValue(operations);
  const anomalies: LabAnomaly[] = [];
  const linearizableOptions: CheckOptions = {
    stepCountMax: budget.linearizableStepCountMax ?? 10_000_000,
  };
  const linear = checkLinearizability(kvModel(), keyValue, linearizableOptions);
  if (linear.verdict === 'violation') {
    const explanation = linear.explanation;
    const involved = [...explanation.linearized.slice(-3).map((step) => step.operation)];
    involved.push(explanation.blocking);
    const blocking = original(operations, explanation.blocking);
    const last = explanation.linearized.at(-1);
    anomalies.push({
      kind: 'not-linearizable',
      timeMs: explanation.blocking.invokeTime,
      message: `key ${JSON.stringify(explanation.key ?? '')} is not linearizable: the longest order found places ${explanation.linearized.length} of its operations${last === undefined ? '' : `, the last ${describeOperation(original(operations, last.operation))}`}, leaving the value ${explanation.stateAfterLinearized}; then ${describeOperation(blocking)} had completed, so it must take effect next, but it cannot from that value, nor after any operation still in flight.`,
      operations: involved.map((operation) => original(operations, operation)),
    });
  }
  const sessions: SessionOperation[] = operations.map((operation) => ({
    ...operation,
    session: Number(operation.process) % clientCount,
  }));
  const session = (
    kind: 'read-your-writes' | 'monotonic-reads',
    check: typeof checkReadYourWrites,
  ): LabVerdict => {
    const result = check(sessions, { violationCountMax: 1 });
    if (result.verdict === 'violation') {
      const first = result.violations[0];
      if (first !== undefined) {
        const last = first.operations[first.operations.length - 1] as Operation;
        anomalies.push({
          kind,
          timeMs: last.invokeTime,
          message: first.message,
          operations: first.operations,
        });
      }
    }
    return result.verdict;
  };
  const causal = checkCausalConsistency(sessions, { violationCountMax: 1 });
  if (causal.verdict === 'violation') {
    const first = causal.violations[0];
    if (first !== undefined) {
      anomalies.push({
        kind: 'not-causal',
        timeMs: Math.max(...first.operations.map((operation) => operation.invokeTime)),
        message: first.message,
        operations: first.operations,
      });
    }
  }
  let sequential: LabVerdict;
  if (linear.verdict === 'ok') {
    sequential = 'ok';
  } else if (causal.verdict === 'violation') {
    sequential = 'violation';
  } else {
    const result = checkSequentialConsistency(
      kvModel(),
      keyValue.map((operation) => ({
        ...operation,
        session: Number(operation.process) % clientCount,
      })),
      { stepCountMax: budget.sequentialStepCountMax ?? 500_000 },
    );
    sequential = result.verdict;
    if (result.verdict === 'violation') {
      const blocking = original(operations, result.explanation.blocking);
      anomalies.push({
        kind: 'not-sequential',
        timeMs: blocking.invokeTime,
        message: result.explanation.message,
        operations: [
          ...result.explanation.linearized
            .slice(-3)
            .map((step) => original(operations, step.operation)),
          blocking,
        ],
      });
    }
  }
  return {
    consistency: {
      linearizable: linear.verdict,
      sequential,
      causal: causal.verdict,
      readYourWrites: session('read-your-writes', checkReadYourWrites),
      monotonicReads: session('monotonic-reads', checkMonotonicReads),
    },
    anomalies,
  };
}

/** The operation of `operations` that `converted` was made from (same process and times). */
function original(operations: readonly Operation[], converted: Operation): Operation {
  return (
    operations.find(
      (operation) =>
        operation.process === converted.process &&
        operation.invokeTime === converted.invokeTime &&
        operation.key === converted.key,
    ) ?? converted
  );
}

/** Anomalies of staleness and loss, as {@link LabAnomaly}s (the first of each). */
export function historyAnomalies(
  stale: ReturnType<typeof staleReads>,
  lost: readonly Operation[],
): LabAnomaly[] {
  const anomalies: LabAnomaly[] = [];
  const firstStale = [...stale].sort((a, b) => a.read.invokeTime - b.read.invokeTime)[0];
  if (firstStale !== undefined) {
    const { read, replacedBy, source } = firstStale;
    anomalies.push({
      kind: 'stale-read',
      timeMs: read.invokeTime,
      message: `${describeOperation(read)} returns ${source === undefined ? 'nothing' : `the value of ${describeOperation(source)}`}, although ${describeOperation(replacedBy)} had replaced it before the read began.`,
      operations: [...(source === undefined ? [] : [source]), replacedBy, read],
    });
  }
  const firstLost = [...lost].sort((a, b) => a.invokeTime - b.invokeTime)[0];
  if (firstLost !== undefined) {
    anomalies.push({
      kind: 'lost-write',
      timeMs: firstLost.invokeTime,
      message: `${describeOperation(firstLost)} was acknowledged, yet at the end no replica holds its value or any value written after it began.`,
      operations: [firstLost],
    });
  }
  return anomalies;
}

/** Buckets of `bucketMs` from 0 to `endMs`, by invocation time. */
export function timeSeries(
  operations: readonly Operation[],
  endMs: number,
  bucketMs: number,
): LabTimeBucket[] {
  const count = Math.max(1, Math.ceil(endMs / bucketMs));
  const ok = new Array<number>(count).fill(0);
  const failed = new Array<number>(count).fill(0);
  const latencies: number[][] = Array.from({ length: count }, () => []);
  for (const operation of operations) {
    const index = Math.min(count - 1, Math.floor(operation.invokeTime / bucketMs));
    if (operation.status === 'ok') {
      ok[index] = (ok[index] as number) + 1;
      (latencies[index] as number[]).push(latencyOf(operation));
    } else {
      failed[index] = (failed[index] as number) + 1;
    }
  }
  return latencies.map((list, index) => {
    const sorted = [...list].sort((a, b) => a - b);
    return {
      startMs: index * bucketMs,
      ok: ok[index] as number,
      failed: failed[index] as number,
      latencyP50Ms: percentile(sorted, 0.5),
      latencyP99Ms: percentile(sorted, 0.99),
    };
  });
}

/** Ascending latencies of the `ok` operations among `operations`. */
export function sortedLatencies(operations: readonly Operation[]): number[] {
  return operations
    .filter((operation) => operation.status === 'ok')
    .map(latencyOf)
    .sort((a, b) => a - b);
}
