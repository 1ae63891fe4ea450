/**
 * The benchmark harness behind `npm run bench` (rule 8 of the architecture brief:
 * performance is measured, not asserted).
 *
 * A bench file declares comparisons: a distkit case against zero or more peer cases doing
 * the same work. {@link runBenchmarks} measures every case with mitata in this one
 * process, prints a table per comparison and writes `bench/results/<module>.json`. The
 * format of that file is documented in `bench/README.md`; change both together.
 *
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { fileURLToPath } from 'node:url';
import { do_not_optimize, measure } from 'mitata';

/** One contender: a name and one iteration of its work. */
export interface BenchCase {
  /** Shown in the table and written to the JSON; unique within a comparison. */
  readonly name: string;
  /**
   * One iteration, sync or async. Return what the work produced (a drawn number, a count):
   * the harness consumes it, awaiting it first when it is a promise, so the JIT cannot
   * prove the work useless and drop it.
   */
  readonly run: () => unknown;
}

/**
 * The work unit of an iteration that does many of them, such as 100,000 deadlines
 * scheduled and cancelled: the table and the JSON then also show the cost per unit.
 */
export interface BenchUnit {
  /** Singular noun: `deadline`, `task`. */
  readonly name: string;
  /** How many units one iteration does. */
  readonly countPerIteration: number;
}

/** A distkit case measured side by side with its peers. */
export interface Comparison {
  /** A heading that says what one iteration does. */
  readonly title: string;
  readonly distkit: BenchCase;
  /** The alternatives; empty to measure distkit alone (no ratio). */
  readonly peers: readonly BenchCase[];
  /** Set when one iteration does many units of work. */
  readonly unit?: BenchUnit;
  /** Least measured time per case, over all its rounds, in milliseconds. Default 600. */
  readonly timeBudgetMs?: number;
  /** Least number of samples per case, over all its rounds. Default 12. */
  readonly sampleCountMin?: number;
  /**
   * How many times the cases take turns, in alternating order (distkit, peers, then
   * peers reversed, distkit, ...), each time with an equal share of the budget. Load from
   * other processes and drift of CPU clock or JIT state then spread over every case
   * instead of landing on one. Default 3.
   */
  readonly roundCount?: number;
  /**
   * Collect garbage before every sample, outside the timed region, when `node
   * --expose-gc` allows it: for iterations that allocate a lot, so each sample pays for
   * its own garbage and not for the previous case's. Default false.
   */
  readonly gcBeforeEachSample?: boolean;
}

/** What a bench file passes to {@link runBenchmarks}. */
export interface BenchModule {
  /** The distkit module under test; also names the results file. */
  readonly module: string;
  readonly comparisons: readonly Comparison[];
  /**
   * Where to write the results instead of `bench/results/<module>.json`: for a bench that
   * measures in several processes and writes the combined results itself.
   */
  readonly resultsPath?: URL;
}

/** The measurement of one case, as written to the JSON. */
export interface CaseResult {
  readonly name: string;
  readonly role: 'distkit' | 'peer';
  /** Iterations per second: 1e9 / meanNsPerOp. */
  readonly opsPerSecond: number;
  /** Mean wall time of one iteration, in nanoseconds, over all rounds. */
  readonly meanNsPerOp: number;
  /** Median of the samples, in nanoseconds per iteration: less moved by load spikes. */
  readonly medianNsPerOp: number;
  /** meanNsPerOp / unit.countPerIteration; null without a unit. */
  readonly meanNsPerUnit: number | null;
  /** The mean of each round, in nanoseconds per iteration, in the order they ran. */
  readonly roundMeansNsPerOp: readonly number[];
  /** How many samples were kept, over all rounds. */
  readonly sampleCount: number;
  /** How many iterations those samples timed. */
  readonly iterationCount: number;
}

/** distkit's throughput over one peer's. */
export interface RatioResult {
  readonly peer: string;
  /** distkit ops/s divided by the peer's ops/s; above 1 means distkit is faster. */
  readonly distkitOverPeer: number;
}

/** One comparison, as written to the JSON. */
export interface ComparisonResult {
  readonly title: string;
  readonly unit: BenchUnit | null;
  /** The distkit case first, then the peers in declaration order. */
  readonly cases: readonly CaseResult[];
  /** One per peer, in declaration order; empty when distkit runs alone. */
  readonly ratios: readonly RatioResult[];
}

/** Where and with what the figures were measured. */
export interface BenchEnvironment {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpuModel: string;
  /** Logical cores, as `os.cpus()` counts them. */
  readonly cpuCount: number;
  readonly mitata: string;
  /** Whether `--expose-gc` let mitata collect garbage between measurements. */
  readonly gcExposed: boolean;
}

/** The whole of `bench/results/<module>.json`. */
export interface BenchReport {
  /** Bumped when a field changes meaning or disappears. */
  readonly formatVersion: 1;
  readonly module: string;
  /** When the run started, ISO 8601 in UTC. */
  readonly date: string;
  readonly environment: BenchEnvironment;
  /**
   * Mean time of an iteration that does nothing: the harness's own cost, included in
   * every figure. Cases near it were probably optimised away.
   */
  readonly emptyIterationMeanNs: number;
  readonly comparisons: readonly ComparisonResult[];
}

const timeBudgetMsDefault = 600;
const sampleCountMinDefault = 12;
const roundCountDefault = 3;
const emptyTimeBudgetMs = 200;
/** Longest unrecorded warm-up per case, in milliseconds. */
const warmupTimeBudgetMs = 150;
/**
 * A case whose mean is within this factor of an empty case's probably had its work
 * removed by the JIT; the table marks it with `!`.
 */
const eliminatedWorkFactor = 1.5;
const resultsFolder = new URL('./results/', import.meta.url);
const modulePattern = /^[a-z][a-z0-9-]*$/;

/** The middle value of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/**
 * Stores `value` where the JIT must assume it is read, so the work that produced it is
 * kept. For loops inside an iteration, prefer folding the values into one result and
 * returning it.
 */
export function consume(value: unknown): void {
  do_not_optimize(value);
}

function consumeSettled(value: unknown): unknown {
  if (value instanceof Promise) {
    return value.then(consume);
  }
  consume(value);
  return undefined;
}

let compiledCount = 0;

/**
 * Wraps `run` so its result is consumed, in a function of its own source text. V8 shares
 * type feedback between closures of one function literal, and between functions compiled
 * from identical source, so a shared wrapper's call to `run` would turn polymorphic after a
 * few cases and later cases would be measured through slower code than earlier ones.
 */
function consuming(run: () => unknown): () => unknown {
  compiledCount += 1;
  const factory = new Function(
    'run',
    'consumeSettled',
    `return function iteration${compiledCount}() { return consumeSettled(run()); };`,
  ) as (body: () => unknown, settle: typeof consumeSettled) => () => unknown;
  return factory(run, consumeSettled);
}

/** Resolves after one turn of the event loop: timers that are due run before it does. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

function gcExposed(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** A case ready to measure, and what its rounds have measured so far. */
class CaseRunner {
  readonly iteration: () => unknown;
  /**
   * mitata compiles its timing loop from source text that includes `max_samples`; a value
   * of its own per case gives each case a loop with type feedback of its own as well.
   */
  readonly #sampleCountMax: number;
  #totalNs = 0;
  #iterationCount = 0;
  readonly #samplesNs: number[] = [];
  readonly roundMeansNs: number[] = [];

  constructor(run: () => unknown) {
    this.iteration = consuming(run);
    this.#sampleCountMax = 1e9 - compiledCount;
  }

  /** Runs the case through the same timing loop for `timeBudgetMs`, recording nothing. */
  async warmUp(timeBudgetMs: number, gcBeforeEachSample: boolean): Promise<void> {
    await this.#measure(timeBudgetMs, 1, gcBeforeEachSample);
  }

  async measureRound(
    timeBudgetMs: number,
    sampleCountMin: number,
    gcBeforeEachSample: boolean,
  ): Promise<void> {
    const stats = await this.#measure(timeBudgetMs, sampleCountMin, gcBeforeEachSample);
    // stats.avg is the mean of the samples, each already divided by its batch size, and
    // every sample of one round has the same batch size: avg * ticks is the round's time.
    this.#totalNs += stats.avg * stats.ticks;
    this.#iterationCount += stats.ticks;
    for (const sample of stats.samples) {
      this.#samplesNs.push(sample);
    }
    this.roundMeansNs.push(stats.avg);
  }

  async #measure(timeBudgetMs: number, sampleCountMin: number, gcBeforeEachSample: boolean) {
    // mitata's loop awaits only promises that are already settled, so without this the
    // event loop would not turn once during a whole bench file: no timer would fire (a
    // peer's window rotation or expiry, say) and the process would run as no server does.
    // One turn before each measurement, outside the timed region, lets due timers run.
    await yieldToEventLoop();
    const exposed = gcExposed();
    return await measure(this.iteration, {
      min_cpu_time: timeBudgetMs * 1e6,
      min_samples: sampleCountMin,
      max_samples: this.#sampleCountMax,
      // mitata collects through globalThis.gc when exposed; without it, it would force a
      // collection by allocating a 1 GiB buffer, so then it must not try at all.
      ...(exposed ? {} : { gc: false }),
      inner_gc: exposed && gcBeforeEachSample,
    });
  }

  get meanNs(): number {
    return this.#totalNs / this.#iterationCount;
  }

  get medianNs(): number {
    return median(this.#samplesNs);
  }

  get sampleCount(): number {
    return this.#samplesNs.length;
  }

  get iterationCount(): number {
    return this.#iterationCount;
  }

  /** (slowest round mean - fastest round mean) / overall mean. */
  get roundSpread(): number {
    return (Math.max(...this.roundMeansNs) - Math.min(...this.roundMeansNs)) / this.meanNs;
  }
}

function environment(): BenchEnvironment {
  const processors = cpus();
  const mitataManifest = JSON.parse(
    readFileSync(new URL(import.meta.resolve('mitata/package.json')), 'utf8'),
  ) as { version?: unknown };
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: platform(),
    arch: arch(),
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cpuCount: processors.length,
    mitata: String(mitataManifest.version ?? 'unknown'),
    gcExposed: gcExposed(),
  };
}

/** Rounds to 4 significant digits: more would be noise, and it keeps diffs readable. */
function significant(value: number): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(4)) : value;
}

function formatDuration(ns: number): string {
  if (ns < 1e3) {
    return `${ns.toFixed(2)} ns`;
  }
  if (ns < 1e6) {
    return `${(ns / 1e3).toFixed(2)} µs`;
  }
  if (ns < 1e9) {
    return `${(ns / 1e6).toFixed(2)} ms`;
  }
  return `${(ns / 1e9).toFixed(2)} s`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e9) {
    return `${(perSecond / 1e9).toFixed(2)} G`;
  }
  if (perSecond >= 1e6) {
    return `${(perSecond / 1e6).toFixed(2)} M`;
  }
  if (perSecond >= 1e3) {
    return `${(perSecond / 1e3).toFixed(2)} k`;
  }
  return perSecond.toFixed(2);
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  console.log(`  ${line(header)}`);
  for (const row of rows) {
    console.log(`  ${line(row)}`);
  }
}

function printComparison(
  result: ComparisonResult,
  runners: readonly CaseRunner[],
  eliminatedBelowNs: number,
): void {
  const { unit } = result;
  console.log(`\n${result.title}`);
  const header = ['case', 'ops/s', 'mean/op', 'median/op'];
  if (unit !== null) {
    header.push(`${unit.name}s/s`, `mean/${unit.name}`);
  }
  header.push('round spread');
  if (result.ratios.length > 0) {
    header.push('distkit/peer');
  }
  let eliminatedSuspected = false;
  const rows = result.cases.map((entry, index) => {
    const runner = runners[index] as CaseRunner;
    const suspect = runner.meanNs < eliminatedBelowNs;
    eliminatedSuspected ||= suspect;
    const row = [
      `${entry.name}${suspect ? ' !' : ''}`,
      formatRate(1e9 / runner.meanNs),
      formatDuration(runner.meanNs),
      formatDuration(runner.medianNs),
    ];
    if (unit !== null) {
      const meanNsPerUnit = runner.meanNs / unit.countPerIteration;
      row.push(formatRate(1e9 / meanNsPerUnit), formatDuration(meanNsPerUnit));
    }
    row.push(`${(runner.roundSpread * 100).toFixed(0)}%`);
    if (result.ratios.length > 0) {
      const ratio = result.ratios.find((candidate) => candidate.peer === entry.name);
      row.push(ratio === undefined ? '' : `${ratio.distkitOverPeer.toFixed(2)}x`);
    }
    return row;
  });
  printTable(header, rows);
  if (eliminatedSuspected) {
    console.log('  ! about as fast as an empty iteration: the work was probably optimised away');
  }
}

function checkDefinition(definition: BenchModule): void {
  if (!modulePattern.test(definition.module)) {
    throw new TypeError(
      `Bench module names are lower-case words like 'core'; got ${JSON.stringify(definition.module)}.`,
    );
  }
  for (const comparison of definition.comparisons) {
    const names = [comparison.distkit, ...comparison.peers].map((entry) => entry.name);
    if (new Set(names).size !== names.length) {
      throw new TypeError(`Comparison '${comparison.title}' has two cases with the same name.`);
    }
    const roundCount = comparison.roundCount ?? roundCountDefault;
    if (!(Number.isSafeInteger(roundCount) && roundCount > 0)) {
      throw new TypeError(`Comparison '${comparison.title}' needs roundCount >= 1.`);
    }
    const count = comparison.unit?.countPerIteration;
    if (count !== undefined && !(Number.isSafeInteger(count) && count > 0)) {
      throw new TypeError(
        `Comparison '${comparison.title}' needs unit.countPerIteration to be a positive integer.`,
      );
    }
  }
}

/**
 * Measures every comparison of a bench file in this process (each comparison's cases
 * warmed up once, then taking turns for `roundCount` rounds), prints a table per
 * comparison and writes `bench/results/<module>.json`.
 *
 * @example
 * ```ts
 * await runBenchmarks({
 *   module: 'core',
 *   comparisons: [
 *     {
 *       title: 'one float in [0, 1)',
 *       distkit: { name: 'SeededRandom.float()', run: () => random.float() },
 *       peers: [{ name: 'Math.random()', run: () => Math.random() }],
 *     },
 *   ],
 * });
 * ```
 */
export async function runBenchmarks(definition: BenchModule): Promise<BenchReport> {
  checkDefinition(definition);
  const date = new Date().toISOString();
  const env = environment();
  console.log(`bench ${definition.module}: ${date}`);
  console.log(
    `node ${env.node} (V8 ${env.v8}), ${env.platform}/${env.arch}, ` +
      `${env.cpuModel} x ${env.cpuCount}, mitata ${env.mitata}` +
      (env.gcExposed ? '' : ', no --expose-gc: garbage is collected whenever V8 likes'),
  );
  console.log('ratio distkit/peer = distkit ops/s / peer ops/s; above 1 means distkit is faster');

  const empty = new CaseRunner(() => undefined);
  await empty.warmUp(warmupTimeBudgetMs, false);
  await empty.measureRound(emptyTimeBudgetMs, sampleCountMinDefault, false);
  const eliminatedBelowNs = empty.meanNs * eliminatedWorkFactor;
  console.log(`empty iteration: ${formatDuration(empty.meanNs)} (harness overhead)`);

  const comparisons: ComparisonResult[] = [];
  for (const comparison of definition.comparisons) {
    comparisons.push(await runComparison(comparison, eliminatedBelowNs));
  }

  const report: BenchReport = {
    formatVersion: 1,
    module: definition.module,
    date,
    environment: env,
    emptyIterationMeanNs: significant(empty.meanNs),
    comparisons,
  };
  const path = definition.resultsPath ?? new URL(`${definition.module}.json`, resultsFolder);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `\nwrote ${definition.resultsPath === undefined ? `bench/results/${definition.module}.json` : fileURLToPath(path)}`,
  );
  return report;
}

async function runComparison(
  comparison: Comparison,
  eliminatedBelowNs: number,
): Promise<ComparisonResult> {
  const roundCount = comparison.roundCount ?? roundCountDefault;
  const roundBudgetMs = (comparison.timeBudgetMs ?? timeBudgetMsDefault) / roundCount;
  const roundSampleCountMin = Math.ceil(
    (comparison.sampleCountMin ?? sampleCountMinDefault) / roundCount,
  );
  const gcBeforeEachSample = comparison.gcBeforeEachSample ?? false;
  const entries = [comparison.distkit, ...comparison.peers];
  const runners = entries.map((entry) => new CaseRunner(entry.run));
  // mitata warms up with a call or two; give the JIT a round of its own to settle, unrecorded.
  for (const runner of runners) {
    await runner.warmUp(Math.min(roundBudgetMs, warmupTimeBudgetMs), gcBeforeEachSample);
  }
  for (let round = 0; round < roundCount; round += 1) {
    const order = round % 2 === 0 ? runners : [...runners].reverse();
    for (const runner of order) {
      await runner.measureRound(roundBudgetMs, roundSampleCountMin, gcBeforeEachSample);
    }
  }

  const unitCount = comparison.unit?.countPerIteration;
  const cases = entries.map((entry, index): CaseResult => {
    const runner = runners[index] as CaseRunner;
    return {
      name: entry.name,
      role: index === 0 ? 'distkit' : 'peer',
      opsPerSecond: significant(1e9 / runner.meanNs),
      meanNsPerOp: significant(runner.meanNs),
      medianNsPerOp: significant(runner.medianNs),
      meanNsPerUnit: unitCount === undefined ? null : significant(runner.meanNs / unitCount),
      roundMeansNsPerOp: runner.roundMeansNs.map(significant),
      sampleCount: runner.sampleCount,
      iterationCount: runner.iterationCount,
    };
  });
  const distkitMeanNs = (runners[0] as CaseRunner).meanNs;
  // From the unrounded means; a throughput ratio is the inverse ratio of the mean times.
  const ratios = runners.slice(1).map(
    (runner, index): RatioResult => ({
      peer: entries[index + 1]?.name ?? '',
      distkitOverPeer: significant(runner.meanNs / distkitMeanNs),
    }),
  );
  const result: ComparisonResult = {
    title: comparison.title,
    unit: comparison.unit ?? null,
    cases,
    ratios,
  };
  printComparison(result, runners, eliminatedBelowNs);
  return result;
}
