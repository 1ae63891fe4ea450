/**
 * `distkit check FILE --model NAME`: reads a recorded history, checks it for
 * linearizability, prints the verdict and how long it took, explains a violation, and
 * optionally writes an HTML timeline.
 *
 * @module
 */

import {
  type CheckResult,
  casRegisterModel,
  checkLinearizability,
  checkSequentialConsistency,
  counterModel,
  describeOperation,
  isHistoryFormatError,
  kvModel,
  type Model,
  type Operation,
  parseJepsenEdn,
  parseJepsenLog,
  parseJsonLinesHistory,
  registerModel,
  renderTimelineHtml,
  setModel,
} from '../check/index.js';
import { type Clock, isDistkitError } from '../core/index.js';

/** The history formats `distkit check` reads. */
export type HistoryFormat = 'jepsen' | 'edn' | 'jsonl';

/** The models `distkit check` checks against. */
export const checkModelNames = ['register', 'cas-register', 'kv', 'counter', 'set'] as const;

/** One of {@link checkModelNames}. */
export type CheckModelName = (typeof checkModelNames)[number];

const formats: readonly HistoryFormat[] = ['jepsen', 'edn', 'jsonl'];

/** What the `check` command needs from the world: files and a clock. */
export interface CheckEnvironment {
  /** Reads a whole file as UTF-8 text; throws when it cannot. */
  readonly readTextFile: (path: string) => string;
  /** Writes `text` to a file as UTF-8, replacing it; throws when it cannot. */
  readonly writeTextFile: (path: string, text: string) => void;
  /** Measures how long the check takes. */
  readonly clock: Clock;
}

/** Where the `check` command writes its report. */
export interface CheckOutput {
  /** Normal output, one call per line. */
  readonly writeLine: (line: string) => void;
  /** Error output, one call per line. */
  readonly writeErrorLine: (line: string) => void;
}

/** The exit codes of `distkit check`. */
export const checkExitCodes = {
  /** The history is linearizable. */
  ok: 0,
  /** The history is not linearizable. */
  violation: 1,
  /** The check ran out of budget, the input is malformed, or the command line is wrong. */
  undecided: 2,
} as const;

/** How many candidates the short explanation lists before it says how many more there are. */
const candidateLinesMax = 8;

function createModel(name: CheckModelName): Model<unknown> {
  switch (name) {
    case 'register':
      return registerModel();
    case 'cas-register':
      return casRegisterModel();
    case 'kv':
      return kvModel() as Model<unknown>;
    case 'counter':
      return counterModel() as Model<unknown>;
    case 'set':
      return setModel() as Model<unknown>;
  }
}

/**
 * Guesses a history's format: `.jsonl`, `.ndjson` and `.json` files are JSON Lines and
 * `.edn` files EDN; otherwise the first non-blank line decides: `{"` starts JSON Lines,
 * any other `{` starts EDN, and anything else is read as Jepsen log lines.
 */
export function guessHistoryFormat(path: string, text: string): HistoryFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) {
    return 'jsonl';
  }
  if (lower.endsWith('.edn')) {
    return 'edn';
  }
  const first = text.split('\n').find((line) => line.trim() !== '');
  const trimmed = first?.trim() ?? '';
  if (trimmed.startsWith('{')) {
    return /^\{\s*"/.test(trimmed) ? 'jsonl' : 'edn';
  }
  return 'jepsen';
}

function parseHistory(format: HistoryFormat, text: string): Operation[] {
  switch (format) {
    case 'jepsen':
      return parseJepsenLog(text);
    case 'edn':
      return parseJepsenEdn(text);
    case 'jsonl':
      return parseJsonLinesHistory(text);
  }
}

/** The consistency models `distkit check --consistency` can judge a history against. */
export const checkConsistencyNames = ['linearizable', 'sequential'] as const;

/** One of {@link checkConsistencyNames}. */
export type CheckConsistencyName = (typeof checkConsistencyNames)[number];

const consistencyWords: Record<CheckConsistencyName, string> = {
  linearizable: 'linearizable',
  sequential: 'sequentially consistent',
};

interface CheckArguments {
  readonly file: string;
  readonly model: CheckModelName;
  readonly consistency: CheckConsistencyName;
  readonly format: HistoryFormat | undefined;
  readonly html: string | undefined;
  readonly stepCountMax: number | undefined;
}

function parseArguments(args: readonly string[]): CheckArguments | string {
  let file: string | undefined;
  const values = new Map<string, string>();
  const known = new Set(['--model', '--consistency', '--format', '--html', '--step-count-max']);
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      const name = equals >= 0 ? arg.slice(0, equals) : arg;
      if (!known.has(name)) {
        return `unknown option ${arg}.`;
      }
      let value: string | undefined;
      if (equals >= 0) {
        value = arg.slice(equals + 1);
      } else {
        index += 1;
        value = args[index];
      }
      if (value === undefined || value === '') {
        return `${name} needs a value.`;
      }
      values.set(name, value);
    } else if (file === undefined) {
      file = arg;
    } else {
      return `one history file at a time; got ${file} and ${arg}.`;
    }
  }
  if (file === undefined) {
    return 'name the history file to check.';
  }
  const model = values.get('--model');
  if (model === undefined) {
    return `--model is required: one of ${checkModelNames.join(', ')}.`;
  }
  if (!(checkModelNames as readonly string[]).includes(model)) {
    return `unknown model ${model}; use one of ${checkModelNames.join(', ')}.`;
  }
  const consistency = values.get('--consistency') ?? 'linearizable';
  if (!(checkConsistencyNames as readonly string[]).includes(consistency)) {
    return `unknown consistency ${consistency}; use one of ${checkConsistencyNames.join(', ')}.`;
  }
  const format = values.get('--format');
  if (format !== undefined && !(formats as readonly string[]).includes(format)) {
    return `unknown format ${format}; use one of ${formats.join(', ')}, or leave it out to guess.`;
  }
  const steps = values.get('--step-count-max');
  let stepCountMax: number | undefined;
  if (steps !== undefined) {
    stepCountMax = Number(steps);
    if (!Number.isSafeInteger(stepCountMax) || stepCountMax < 1) {
      return `--step-count-max must be a positive integer; got ${steps}.`;
    }
  }
  return {
    file,
    model: model as CheckModelName,
    consistency: consistency as CheckConsistencyName,
    format: format as HistoryFormat | undefined,
    html: values.get('--html'),
    stepCountMax,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0);
}

function explainViolation(
  result: CheckResult & { verdict: 'violation' },
  consistency: CheckConsistencyName,
): string[] {
  const { explanation } = result;
  const lines: string[] = [];
  if (explanation.key !== undefined) {
    lines.push(`  key: ${JSON.stringify(explanation.key)}`);
  }
  const total = explanation.linearized.length + explanation.unplaced.length;
  lines.push(
    `  the longest order found places ${explanation.linearized.length} of ${total} operations and leaves the state at ${explanation.stateAfterLinearized}`,
  );
  lines.push(
    consistency === 'linearizable'
      ? `  then ${describeOperation(explanation.blocking)} has completed, so it must already have taken effect, but no order places it`
      : `  then ${describeOperation(explanation.blocking)} is next in its process's order, but no order places it`,
  );
  lines.push('  operations in flight that could not be placed next:');
  for (const candidate of explanation.candidates.slice(0, candidateLinesMax)) {
    lines.push(
      `    - ${describeOperation(candidate.operation)}: ${candidate.legal ? 'fits, but every continuation dead-ends later' : 'impossible from this state'}`,
    );
  }
  if (explanation.candidates.length > candidateLinesMax) {
    lines.push(`    ... and ${explanation.candidates.length - candidateLinesMax} more`);
  }
  return lines;
}

/**
 * Runs `distkit check` with the arguments after `check` and returns its exit code (see
 * {@link checkExitCodes}).
 */
export function runCheckCommand(
  args: readonly string[],
  output: CheckOutput,
  environment: CheckEnvironment,
): number {
  const parsed = parseArguments(args);
  if (typeof parsed === 'string') {
    output.writeErrorLine(`distkit check: ${parsed} Run distkit --help for the usage.`);
    return checkExitCodes.undecided;
  }
  let text: string;
  try {
    text = environment.readTextFile(parsed.file);
  } catch (error) {
    output.writeErrorLine(`distkit check: cannot read ${parsed.file}: ${errorText(error)}`);
    return checkExitCodes.undecided;
  }
  const format = parsed.format ?? guessHistoryFormat(parsed.file, text);
  const model = createModel(parsed.model);
  const { clock } = environment;

  let operations: Operation[];
  let result: CheckResult;
  const startMs = clock.nowMs();
  let parsedMs: number;
  try {
    operations = parseHistory(format, text);
    parsedMs = clock.nowMs();
    const budget = parsed.stepCountMax === undefined ? {} : { stepCountMax: parsed.stepCountMax };
    result =
      parsed.consistency === 'sequential'
        ? checkSequentialConsistency(model, operations, budget)
        : checkLinearizability(model, operations, budget);
  } catch (error) {
    if (isHistoryFormatError(error)) {
      const detail = error.message.replace(/^line \d+: /, '');
      output.writeErrorLine(
        `distkit check: ${parsed.file} is not a valid ${format} history at line ${error.line}: ${detail}`,
      );
      return checkExitCodes.undecided;
    }
    if (isDistkitError(error)) {
      output.writeErrorLine(
        `distkit check: ${parsed.file} cannot be checked against the ${parsed.model} model: ${error.message}`,
      );
      return checkExitCodes.undecided;
    }
    throw error;
  }
  const endMs = clock.nowMs();
  const timing = `read in ${formatMs(parsedMs - startMs)} ms, checked in ${formatMs(endMs - parsedMs)} ms`;
  const counts = `${result.operationCount} operations, ${result.partitionCount} ${result.partitionCount === 1 ? 'partition' : 'partitions'}, ${result.stepCount} steps`;
  const words = consistencyWords[parsed.consistency];
  let code: number;
  if (result.verdict === 'ok') {
    output.writeLine(
      `ok: ${parsed.file} is ${words} for the ${model.name} model (${counts}; ${timing})`,
    );
    code = checkExitCodes.ok;
  } else if (result.verdict === 'violation') {
    output.writeLine(
      `violation: ${parsed.file} is not ${words} for the ${model.name} model (${counts}; ${timing})`,
    );
    for (const line of explainViolation(result, parsed.consistency)) {
      output.writeLine(line);
    }
    code = checkExitCodes.violation;
  } else {
    output.writeLine(
      `unknown: ${parsed.file} could not be decided for the ${model.name} model (${counts}; ${timing})`,
    );
    output.writeLine(`  ${result.message}`);
    if (result.reason === 'step-budget') {
      output.writeLine('  (on the command line: --step-count-max N; the default is 10000000)');
    }
    code = checkExitCodes.undecided;
  }
  if (parsed.html !== undefined) {
    const html = renderTimelineHtml(operations, {
      result,
      title: parsed.file,
      modelName: model.name,
    });
    try {
      environment.writeTextFile(parsed.html, html);
    } catch (error) {
      output.writeErrorLine(`distkit check: cannot write ${parsed.html}: ${errorText(error)}`);
      return checkExitCodes.undecided;
    }
    output.writeLine(`timeline written to ${parsed.html}`);
  }
  return code;
}
