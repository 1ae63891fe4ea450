/**
 * `distkit lab`: runs the lab's matrix (replication modes × fault scenarios) in the
 * simulator, shows a progress bar on standard error while it runs (plain lines when
 * standard error is not a terminal), prints the table on standard output and writes the
 * self-contained HTML report.
 *
 * @module
 */

import { join } from 'node:path';
import type { Clock } from '../core/index.js';
import {
  defaultLabTiming,
  formatLabTable,
  type LabModeId,
  type LabOptions,
  type LabProgress,
  type LabScenarioId,
  labModeIds,
  labScenarioIds,
  quickLabCheckBudget,
  quickLabTiming,
  renderLabReportHtml,
  runLab,
} from '../lab/index.js';

/** Where `distkit lab` writes, and what it runs with. */
export interface LabCommandEnvironment {
  /** Receives the table and the summary, one call per line. */
  readonly writeLine: (line: string) => void;
  /** Receives errors and, when `terminal` is false, progress lines. */
  readonly writeErrorLine: (line: string) => void;
  /** Writes raw text to standard error (the progress bar redraws itself with `\r`). */
  readonly writeProgress: (text: string) => void;
  /** Whether standard error is a terminal: a redrawn bar, else one line per cell. */
  readonly terminal: boolean;
  /** Creates a folder and its parents; throws when it cannot. */
  readonly makeDirectory: (path: string) => void;
  /** Writes a UTF-8 text file, replacing it; throws when it cannot. */
  readonly writeTextFile: (path: string, text: string) => void;
  /** Measures the run and dates the report. */
  readonly clock: Clock;
}

/** The exit codes of {@link runLabCommand}. */
export const labExitCodes = {
  /** The matrix ran and the report was written. */
  success: 0,
  /** The command line was wrong, or the report could not be written. */
  usage: 2,
} as const;

/** What `distkit lab` was asked to do, from {@link parseLabArguments}. */
export interface LabArguments {
  /** The lab's options (seed, modes, scenarios, timing). */
  readonly options: LabOptions & { readonly seed: number };
  /** The report folder. */
  readonly outDirectory: string;
  /** `--quick`. */
  readonly quick: boolean;
  /** `--help`. */
  readonly help: boolean;
}

/** The usage text of `distkit lab`. */
export const labUsage = `Usage: distkit lab [--quick] [--seed N] [--modes a,b] [--scenarios x,y] [--out DIR]

Runs replication modes (rows) against fault scenarios (columns) in the deterministic
simulator and measures each cell from its history: availability during the fault window,
latency p50/p99, stale reads, acknowledged writes lost, writes overwritten by concurrent
writes, conflicts surfaced, and linearizability, read-your-writes and monotonic reads per
distkit/check. Prints the table and writes DIR/report.html (charts over time with the
fault window shaded, and each cell's first anomaly). See docs/lab.md.

Options:
  --quick          a shorter run of every cell (4 s on two idle cores; the default 18 s)
  --seed N         the seed of every cell (an integer, 0 or more; default 1)
  --modes a,b      rows: ${labModeIds.join(', ')}
  --scenarios x,y  columns: ${labScenarioIds.join(', ')}
  --out DIR        where report.html goes (default ./lab-report)
  -h, --help       show this help`;

/** Why the command line was refused. */
class LabUsageError extends Error {}

function list<T extends string>(name: string, value: string, known: readonly T[]): T[] {
  const ids = value.split(',').map((id) => id.trim());
  if (ids.some((id) => id === '')) {
    throw new LabUsageError(
      `--${name} takes a comma-separated list without empty entries; got "${value}".`,
    );
  }
  for (const id of ids) {
    if (!known.includes(id as T)) {
      throw new LabUsageError(
        `--${name}: there is no ${JSON.stringify(id)}; choose from ${known.join(', ')}.`,
      );
    }
  }
  return [...new Set(ids)] as T[];
}

/**
 * Parses the arguments after `distkit lab`; throws with a message for people when they are
 * wrong (an unknown option, a missing value, a bad seed, an unknown mode or scenario).
 */
export function parseLabArguments(args: readonly string[]): LabArguments {
  let quick = false;
  let help = false;
  let seed = 1;
  let modes: LabModeId[] | undefined;
  let scenarios: LabScenarioId[] | undefined;
  let outDirectory = 'lab-report';
  const seen = new Set<string>();
  for (let position = 0; position < args.length; position += 1) {
    const arg = args[position] as string;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (flag === '-h' || flag === '--help') {
      help = true;
      continue;
    }
    if (seen.has(flag)) {
      throw new LabUsageError(`${flag} is given twice.`);
    }
    seen.add(flag);
    if (flag === '--quick') {
      if (inline !== undefined) {
        throw new LabUsageError('--quick takes no value.');
      }
      quick = true;
      continue;
    }
    if (!['--seed', '--modes', '--scenarios', '--out'].includes(flag)) {
      throw new LabUsageError(`Unknown option ${arg}. Run distkit lab --help for the options.`);
    }
    let value = inline;
    if (value === undefined) {
      value = args[position + 1];
      position += 1;
    }
    if (value === undefined || value === '' || value.startsWith('--')) {
      throw new LabUsageError(`${flag} needs a value.`);
    }
    switch (flag) {
      case '--seed':
        if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
          throw new LabUsageError(`--seed must be an integer, 0 or more; got "${value}".`);
        }
        seed = Number(value);
        break;
      case '--modes':
        modes = list('modes', value, labModeIds);
        break;
      case '--scenarios':
        scenarios = list('scenarios', value, labScenarioIds);
        break;
      default:
        outDirectory = value;
    }
  }
  return {
    options: {
      seed,
      timing: quick ? quickLabTiming : defaultLabTiming,
      ...(quick ? { checkBudget: quickLabCheckBudget } : {}),
      ...(modes === undefined ? {} : { modes }),
      ...(scenarios === undefined ? {} : { scenarios }),
    },
    outDirectory,
    quick,
    help,
  };
}

const barWidth = 30;

function progressText(progress: LabProgress, elapsedMs: number): string {
  const filled = Math.round((progress.done / Math.max(1, progress.total)) * barWidth);
  const next =
    progress.next === undefined ? 'done' : `${progress.next.mode} × ${progress.next.scenario}`;
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${progress.done}/${progress.total} ${(elapsedMs / 1_000).toFixed(1)} s ${next}`;
}

/** The command line that reproduces a run, for the report. */
function commandLine(parsed: LabArguments): string {
  const parts = ['distkit lab'];
  if (parsed.quick) {
    parts.push('--quick');
  }
  parts.push(`--seed ${parsed.options.seed}`);
  if (parsed.options.modes !== undefined) {
    parts.push(`--modes ${parsed.options.modes.join(',')}`);
  }
  if (parsed.options.scenarios !== undefined) {
    parts.push(`--scenarios ${parsed.options.scenarios.join(',')}`);
  }
  return parts.join(' ');
}

/**
 * Runs `distkit lab` with `args` (the arguments after `lab`) and returns its exit code:
 * 0 when the matrix ran and the report was written, 2 for a usage error (the message on
 * standard error) or a report that could not be written.
 *
 * @example
 * ```ts
 * const code = runLabCommand(['--quick', '--modes', 'raft'], environment);
 * ```
 */
export function runLabCommand(args: readonly string[], environment: LabCommandEnvironment): number {
  let parsed: LabArguments;
  try {
    parsed = parseLabArguments(args);
  } catch (error) {
    if (error instanceof LabUsageError) {
      environment.writeErrorLine(`distkit lab: ${error.message}`);
      return labExitCodes.usage;
    }
    throw error;
  }
  if (parsed.help) {
    environment.writeLine(labUsage);
    return labExitCodes.success;
  }
  const reportPath = join(parsed.outDirectory, 'report.html');
  try {
    environment.makeDirectory(parsed.outDirectory);
  } catch (error) {
    environment.writeErrorLine(
      `distkit lab: cannot create ${parsed.outDirectory} (${(error as Error).message}); pass another --out DIR.`,
    );
    return labExitCodes.usage;
  }
  let lastLine = '';
  const startedMs = environment.clock.nowMs();
  const report = runLab({
    ...parsed.options,
    clock: environment.clock,
    onProgress: (progress) => {
      const text = progressText(progress, environment.clock.nowMs() - startedMs);
      if (environment.terminal) {
        environment.writeProgress(`\r${text.padEnd(lastLine.length)}`);
        lastLine = text;
        if (progress.next === undefined) {
          environment.writeProgress('\n');
        }
      } else if (progress.next !== undefined) {
        environment.writeErrorLine(
          `lab ${progress.done + 1}/${progress.total}: ${progress.next.mode} × ${progress.next.scenario}`,
        );
      }
    },
  });
  for (const line of formatLabTable(report)) {
    environment.writeLine(line);
  }
  const generatedAt = new Date(environment.clock.wallMs()).toISOString();
  try {
    environment.writeTextFile(
      reportPath,
      renderLabReportHtml(report, { generatedAt, command: commandLine(parsed) }),
    );
  } catch (error) {
    environment.writeErrorLine(
      `distkit lab: cannot write ${reportPath} (${(error as Error).message}); pass another --out DIR.`,
    );
    return labExitCodes.usage;
  }
  environment.writeLine('');
  environment.writeLine(
    `${report.cells.length} cells, seed ${report.seed}, ${((report.wallMs ?? 0) / 1_000).toFixed(1)} s. Report: ${reportPath}`,
  );
  return labExitCodes.success;
}
