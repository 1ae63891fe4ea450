/**
 * The lab's matrix runner: each cell is one seeded simulation of a mode (a row) under a
 * scenario (a column), measured from its history and from what the replicas hold at the
 * end.
 *
 * @module
 */

import type { Operation } from '../check/index.js';
import { type Clock, InvalidArgumentError, requireInteger, requireOptions } from '../core/index.js';
import type { ReplicaCore, ReplicaReply } from '../replication/index.js';
import { describeFault, type FaultLogEntry } from '../sim/index.js';
import {
  checkConsistency,
  historyAnomalies,
  type LabAnomaly,
  type LabCheckBudget,
  type LabConsistency,
  type LabTimeBucket,
  lostWrites,
  percentile,
  sortedLatencies,
  staleReads,
  timeSeries,
} from './measure.js';
import { type LabMode, type LabModeId, labModeIds, labModes } from './modes.js';
import { runReplicationScenario } from './replica-program.js';
import { type LabScenario, type LabScenarioId, labScenarioIds, labScenarios } from './scenarios.js';

/** The shape of every cell's run: the cluster, the workload and the fault window. */
export interface LabTiming {
  /** Replicas of every mode (leaderless: N=3 of them own each key). */
  readonly replicaCount: number;
  /** Concurrent clients; each sends every operation to a replica chosen at random. */
  readonly clientCount: number;
  /** Keys the register operations spread over. */
  readonly keyCount: number;
  /** Clients invoke operations from 0 until this simulated time. */
  readonly durationMs: number;
  /** The fault window opens here... */
  readonly faultStartMs: number;
  /** ...and lasts this long. */
  readonly faultWindowMs: number;
  /** Simulated time after the last operation before the replicas' state is read. */
  readonly settleMs: number;
  /** A client's pause before each operation is uniform in `[0, thinkTimeMsMax]`. */
  readonly thinkTimeMsMax: number;
  /** A client gives up on an operation (outcome unknown) after this long. */
  readonly operationTimeoutMs: number;
  /** Width of a time-series bucket. */
  readonly bucketMs: number;
}

/** The timing of the default run (under two minutes for the whole matrix on two cores). */
export const defaultLabTiming: LabTiming = {
  replicaCount: 5,
  clientCount: 5,
  keyCount: 3,
  durationMs: 10_000,
  faultStartMs: 3_000,
  faultWindowMs: 4_000,
  settleMs: 2_000,
  thinkTimeMsMax: 40,
  operationTimeoutMs: 500,
  bucketMs: 100,
};

/** The timing of `--quick` (about twenty seconds for the whole matrix). */
export const quickLabTiming: LabTiming = {
  ...defaultLabTiming,
  durationMs: 4_000,
  faultStartMs: 1_000,
  faultWindowMs: 1_500,
  settleMs: 1_500,
};

/**
 * The checkers' budgets of `--quick`: the sequential consistency search gets 50,000 steps
 * (a tenth of the default), as its undecided cells otherwise take most of a quick run.
 */
export const quickLabCheckBudget: LabCheckBudget = { sequentialStepCountMax: 50_000 };

/** Options of {@link runLab}. */
export interface LabOptions {
  /** The seed of every cell (the same for all, so rows face the same workload draws). Default 1. */
  readonly seed?: number;
  /** The rows, by id, in the table's order. Default every mode. */
  readonly modes?: readonly LabModeId[];
  /** The columns, by id. Default every scenario. */
  readonly scenarios?: readonly LabScenarioId[];
  /** The run's shape; fields left out come from {@link defaultLabTiming}. */
  readonly timing?: Partial<LabTiming>;
  /**
   * Options merged into a mode's own, per mode id: `{ 'll-1-1': { readRepair: false } }`.
   * The theory tests switch mechanisms off with it.
   */
  readonly modeOptions?: Readonly<Partial<Record<LabModeId, Readonly<Record<string, unknown>>>>>;
  /** Step budgets of the checkers. */
  readonly checkBudget?: LabCheckBudget;
  /** Called before each cell runs and once at the end (`done === total`). */
  readonly onProgress?: (progress: LabProgress) => void;
  /** Measures each cell's wall time (the CLI passes the system clock). Default: not measured. */
  readonly clock?: Clock;
}

/** Where the matrix stands, for a progress bar. */
export interface LabProgress {
  /** Cells finished. */
  readonly done: number;
  /** Cells in all. */
  readonly total: number;
  /** The cell about to run; `undefined` at the end. */
  readonly next: { readonly mode: LabModeId; readonly scenario: LabScenarioId } | undefined;
}

/** Counters a mode reports about itself (summed over the replicas), when it has them. */
export interface LabModeCounters {
  /** `acknowledgedWritesLost` (leader-follower): acknowledged writes a replica discarded. */
  readonly acknowledgedWritesLost: number | undefined;
  /** `concurrentWritesOverwritten` (multi-leader LWW). */
  readonly concurrentWritesOverwritten: number | undefined;
  /** `conflictsSurfaced` (multi-leader): reads that returned two or more siblings. */
  readonly conflictsSurfaced: number | undefined;
}

/** One cell of the matrix: a mode under a scenario, measured. */
export interface LabCell {
  /** The row. */
  readonly mode: LabModeId;
  /** The column. */
  readonly scenario: LabScenarioId;
  /** The seed of the run. */
  readonly seed: number;
  /** The fault window, simulated ms: `[startMs, endMs)`. */
  readonly window: { readonly startMs: number; readonly endMs: number };
  /** The faults the nemesis applied, as its log. */
  readonly faultLog: readonly string[];
  /** Operations invoked (all), and how they ended. */
  readonly operations: {
    readonly invoked: number;
    readonly ok: number;
    readonly failed: number;
    readonly unknown: number;
  };
  /** Share of the operations invoked during the window that completed `ok`, 0 to 1. */
  readonly availability: number;
  /** The same over the whole run. */
  readonly availabilityOverall: number;
  /** Median latency of the `ok` operations invoked during the window, simulated ms. */
  readonly latencyP50Ms: number | undefined;
  /** 99th percentile of the same. */
  readonly latencyP99Ms: number | undefined;
  /** `ok` reads that returned a value replaced before the read began (whole run). */
  readonly staleReads: number;
  /** `ok` reads in all. */
  readonly reads: number;
  /** Acknowledged writes lost, from the history and the final state (see `lostWrites`). */
  readonly acknowledgedWritesLost: number;
  /** Acknowledged writes overwritten by a concurrent write (see `lostWrites`). */
  readonly concurrentWritesOverwritten: number;
  /** `ok` reads whose reply carried two or more siblings. */
  readonly conflictsSurfaced: number;
  /**
   * Keys on which, after the settle time, two replicas that hold a value for the key hold
   * different values (replicas holding nothing for it, such as non-owners, are left out).
   */
  readonly divergedKeys: number;
  /** What the mode counted itself. */
  readonly modeCounters: LabModeCounters;
  /** Verdicts of `distkit/check`. */
  readonly consistency: LabConsistency;
  /** Operations per bucket, and latency. */
  readonly timeSeries: readonly LabTimeBucket[];
  /** The earliest anomaly, if any. */
  readonly firstAnomaly: LabAnomaly | undefined;
  /** The history (for the report's timeline). */
  readonly history: readonly Operation[];
  /** Wall time the cell took (run and checks), ms; `undefined` without a clock. */
  readonly wallMs: number | undefined;
}

/** The whole matrix. */
export interface LabReport {
  /** The seed of every cell. */
  readonly seed: number;
  /** The timing used. */
  readonly timing: LabTiming;
  /** The rows run, in order. */
  readonly modes: readonly LabMode[];
  /** The columns run, in order. */
  readonly scenarios: readonly LabScenario[];
  /** Every cell, row by row. */
  readonly cells: readonly LabCell[];
  /** Wall time of the whole run, ms; `undefined` without a clock. */
  readonly wallMs: number | undefined;
}

function sumMetric(cores: Iterable<ReplicaCore>, name: string): number | undefined {
  let total: number | undefined;
  for (const core of cores) {
    const value = core.metrics()[name];
    if (typeof value === 'number') {
      total = (total ?? 0) + value;
    }
  }
  return total;
}

function requireTiming(timing: Partial<LabTiming> | undefined): LabTiming {
  const given = { ...defaultLabTiming, ...requireOptions('LabOptions.timing', timing) };
  const positive = (name: keyof LabTiming, min = 1): number =>
    requireInteger(`LabOptions.timing.${name}`, given[name], { min });
  positive('replicaCount', 3);
  positive('clientCount');
  positive('keyCount');
  positive('durationMs');
  positive('faultStartMs', 0);
  positive('faultWindowMs');
  positive('settleMs', 0);
  positive('thinkTimeMsMax', 0);
  positive('operationTimeoutMs');
  positive('bucketMs');
  if (given.faultStartMs + given.faultWindowMs > given.durationMs) {
    throw new InvalidArgumentError(
      'LabOptions.timing',
      `the fault window (${given.faultStartMs} + ${given.faultWindowMs} ms) must end by durationMs (${given.durationMs}), so operations run before, during and after it.`,
    );
  }
  return given;
}

function pickById<T extends { readonly id: string }>(
  name: string,
  all: readonly T[],
  ids: readonly string[] | undefined,
): T[] {
  if (ids === undefined) {
    return [...all];
  }
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new InvalidArgumentError(name, `${name} must list at least one id.`);
  }
  return ids.map((id) => {
    const found = all.find((entry) => entry.id === id);
    if (found === undefined) {
      throw new InvalidArgumentError(
        name,
        `${name}: there is no ${JSON.stringify(id)}; choose from ${all.map((entry) => entry.id).join(', ')}.`,
      );
    }
    return found;
  });
}

/** Runs one cell: `mode` under `scenario` with `seed`. */
export function runLabCell(
  mode: LabMode,
  scenario: LabScenario,
  seed: number,
  timing: LabTiming,
  options: Pick<LabOptions, 'modeOptions' | 'checkBudget' | 'clock'> = {},
): LabCell {
  const startedMs = options.clock?.nowMs();
  const replicas = Array.from({ length: timing.replicaCount }, (_, index) => `r${index + 1}`);
  const keys = Array.from({ length: timing.keyCount }, (_, index) => `k${index}`);
  let siblingReads = 0;
  const observe = (_operation: unknown, reply: ReplicaReply): void => {
    if (reply.status === 'ok' && (reply.siblings?.length ?? 0) >= 2) {
      siblingReads += 1;
    }
  };
  const windowStart = timing.faultStartMs;
  const windowEnd = timing.faultStartMs + timing.faultWindowMs;
  const result = runReplicationScenario({
    seed,
    factory: mode.factory(options.modeOptions?.[mode.id]),
    replicaCount: timing.replicaCount,
    clientCount: timing.clientCount,
    keyCount: timing.keyCount,
    endTimeMs: timing.durationMs,
    operationTimeoutMs: timing.operationTimeoutMs,
    thinkTime: { kind: 'uniform', delayMsMin: 0, delayMsMax: timing.thinkTimeMsMax },
    client: {
      observe,
      ...(mode.readSettings === undefined
        ? {}
        : {
            settings: (operation) => (operation.kind === 'read' ? mode.readSettings : undefined),
          }),
    },
    faultStartMs: windowStart,
    faultPhaseMs: timing.faultWindowMs + 1,
    script: (programs) => {
      const cores = new Map([...programs].map(([id, program]) => [id, program.core]));
      const target = (mode.leaderBased ? mode.leaderOf(cores) : undefined) ?? replicas[0];
      return scenario.faults({
        replicas,
        target: target as string,
        windowMs: timing.faultWindowMs,
      });
    },
    settleMs: timing.settleMs,
  });
  // Without the history's line numbers: messages name operations by process and value.
  const operations = result.workload.history.operations().map(({ line: _line, ...rest }) => rest);
  const cores = [...result.programs.values()].map((program) => program.core);
  const modeCounters: LabModeCounters = {
    acknowledgedWritesLost: sumMetric(cores, 'acknowledgedWritesLost'),
    concurrentWritesOverwritten: sumMetric(cores, 'concurrentWritesOverwritten'),
    conflictsSurfaced: sumMetric(cores, 'conflictsSurfaced'),
  };
  const held = new Map<string, Set<string>>(keys.map((key) => [key, new Set<string>()]));
  const statesByKey = new Map<string, Set<string>>(keys.map((key) => [key, new Set<string>()]));
  for (const core of cores) {
    for (const [key, values] of mode.heldValues(core, keys)) {
      for (const value of values) {
        held.get(key)?.add(value);
      }
      if (values.length > 0) {
        statesByKey.get(key)?.add(JSON.stringify([...values].sort()));
      }
    }
  }
  const divergedKeys = [...statesByKey.values()].filter((states) => states.size > 1).length;
  const inWindow = operations.filter(
    (operation) => operation.invokeTime >= windowStart && operation.invokeTime < windowEnd,
  );
  const latencies = sortedLatencies(inWindow);
  const stale = staleReads(operations);
  const { lost, overwritten } = lostWrites(operations, held);
  const checked = checkConsistency(operations, timing.clientCount, options.checkBudget);
  const anomalies = [...historyAnomalies(stale, lost), ...checked.anomalies].sort(
    (a, b) => a.timeMs - b.timeMs,
  );
  const statistics = result.workload.statistics;
  const okShare = (list: readonly Operation[]): number =>
    list.length === 0
      ? 1
      : list.filter((operation) => operation.status === 'ok').length / list.length;
  const faultLog = (result.nemesis?.log ?? []).map(
    (entry: FaultLogEntry) =>
      `${entry.timeMs.toFixed(0)} ms ${entry.event} ${entry.fault === undefined ? entry.description : describeFault(entry.fault)}`,
  );
  return {
    mode: mode.id,
    scenario: scenario.id,
    seed,
    window: { startMs: windowStart, endMs: windowEnd },
    faultLog,
    operations: {
      invoked: statistics.invokedCount,
      ok: statistics.okCount,
      failed: statistics.failCount,
      unknown: statistics.unknownCount,
    },
    availability: okShare(inWindow),
    availabilityOverall: okShare(operations),
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    staleReads: stale.length,
    reads: operations.filter((operation) => operation.kind === 'read' && operation.status === 'ok')
      .length,
    acknowledgedWritesLost: lost.length,
    concurrentWritesOverwritten: overwritten.length,
    conflictsSurfaced: siblingReads,
    divergedKeys,
    modeCounters,
    consistency: checked.consistency,
    timeSeries: timeSeries(
      operations,
      timing.durationMs + timing.operationTimeoutMs,
      timing.bucketMs,
    ),
    firstAnomaly: anomalies[0],
    history: operations,
    wallMs:
      startedMs === undefined || options.clock === undefined
        ? undefined
        : options.clock.nowMs() - startedMs,
  };
}

/**
 * Runs the matrix: every chosen mode under every chosen scenario, one seeded simulation
 * per cell, and measures each. Deterministic: the same options give the same figures.
 * Throws `InvalidArgumentError` for an unknown mode or scenario id or a bad timing.
 *
 * @example
 * ```ts
 * const report = runLab({ modes: ['lf-async'], scenarios: ['leader-crash'], timing: quickLabTiming });
 * console.log(formatLabTable(report).join('\n'));
 * ```
 */
export function runLab(options: LabOptions = {}): LabReport {
  const settings = requireOptions('LabOptions', options);
  const seed = requireInteger('LabOptions.seed', settings.seed ?? 1, { min: 0 });
  const modes = pickById('LabOptions.modes', labModes, settings.modes);
  const scenarios = pickById('LabOptions.scenarios', labScenarios, settings.scenarios);
  const timing = requireTiming(settings.timing);
  const startedMs = settings.clock?.nowMs();
  const total = modes.length * scenarios.length;
  const cells: LabCell[] = [];
  for (const mode of modes) {
    for (const scenario of scenarios) {
      settings.onProgress?.({
        done: cells.length,
        total,
        next: { mode: mode.id, scenario: scenario.id },
      });
      cells.push(runLabCell(mode, scenario, seed, timing, settings));
    }
  }
  settings.onProgress?.({ done: total, total, next: undefined });
  return {
    seed,
    timing,
    modes,
    scenarios,
    cells,
    wallMs:
      startedMs === undefined || settings.clock === undefined
        ? undefined
        : settings.clock.nowMs() - startedMs,
  };
}

/** `✓` ok, `✗` violation, `?` undecided (the checker's step budget ran out). */
export function verdictMark(verdict: LabConsistency[keyof LabConsistency]): string {
  return verdict === 'ok' ? '✓' : verdict === 'violation' ? '✗' : '?';
}

function milliseconds(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(0);
}

function withModeCount(history: number, mode: number | undefined): string {
  return mode === undefined ? String(history) : `${history} (${mode})`;
}

/** The column headers of {@link formatLabTable}. */
export const labTableHeaders: readonly string[] = [
  'mode',
  'scenario',
  'avail',
  'p50 ms',
  'p99 ms',
  'stale',
  'lost',
  'overwr',
  'confl',
  'diverged',
  'lin',
  'seq',
  'causal',
  'ryw',
  'mr',
];

/** Each cell as the row of {@link formatLabTable}, as strings. */
export function labTableRows(report: LabReport): string[][] {
  return report.cells.map((cell) => {
    const mode = report.modes.find((entry) => entry.id === cell.mode);
    return [
      mode?.id ?? cell.mode,
      cell.scenario,
      `${(cell.availability * 100).toFixed(0)}%`,
      milliseconds(cell.latencyP50Ms),
      milliseconds(cell.latencyP99Ms),
      String(cell.staleReads),
      withModeCount(cell.acknowledgedWritesLost, cell.modeCounters.acknowledgedWritesLost),
      withModeCount(
        cell.concurrentWritesOverwritten,
        cell.modeCounters.concurrentWritesOverwritten,
      ),
      String(cell.conflictsSurfaced),
      String(cell.divergedKeys),
      verdictMark(cell.consistency.linearizable),
      verdictMark(cell.consistency.sequential),
      verdictMark(cell.consistency.causal),
      verdictMark(cell.consistency.readYourWrites),
      verdictMark(cell.consistency.monotonicReads),
    ];
  });
}

/** The table as aligned text lines (a header, a rule, one line per cell). */
export function formatLabTable(report: LabReport): string[] {
  const rows = [labTableHeaders as string[], ...labTableRows(report)];
  const widths = labTableHeaders.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] as string).length)),
  );
  const line = (row: readonly string[]): string =>
    row
      .map((cell, column) =>
        column < 2
          ? cell.padEnd(widths[column] as number)
          : cell.padStart(widths[column] as number),
      )
      .join('  ')
      .trimEnd();
  return [
    line(rows[0] as string[]),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...rows.slice(1).map(line),
  ];
}

/** The ids `--modes` and `--scenarios` accept. */
export const labIds = { modes: labModeIds, scenarios: labScenarioIds } as const;
