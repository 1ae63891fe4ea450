import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type LabCommandEnvironment,
  labExitCodes,
  parseLabArguments,
  runLabCommand,
} from '../../src/cli/lab-command.js';
import { ManualClock } from '../../src/core/index.js';
import { defaultLabTiming, quickLabTiming } from '../../src/lab/index.js';

interface Captured {
  readonly environment: LabCommandEnvironment;
  readonly out: string[];
  readonly err: string[];
  readonly progress: string[];
  readonly files: Map<string, string>;
  readonly folders: string[];
}

function capture(terminal: boolean, failWrites = false): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const files = new Map<string, string>();
  const folders: string[] = [];
  return {
    out,
    err,
    progress,
    files,
    folders,
    environment: {
      writeLine: (line) => out.push(line),
      writeErrorLine: (line) => err.push(line),
      writeProgress: (text) => progress.push(text),
      terminal,
      makeDirectory: (path) => folders.push(path),
      writeTextFile: (path, text) => {
        if (failWrites) {
          throw new Error('EACCES: permission denied');
        }
        files.set(path, text);
      },
      clock: new ManualClock({ wallMs: Date.UTC(2026, 0, 2) }),
    },
  };
}

describe('distkit lab: options', () => {
  it('parses every option, with defaults', () => {
    const defaults = parseLabArguments([]);
    assert.equal(defaults.options.seed, 1);
    assert.equal(defaults.options.timing, defaultLabTiming);
    assert.equal(defaults.outDirectory, 'lab-report');
    assert.equal(defaults.options.modes, undefined);
    const given = parseLabArguments([
      '--quick',
      '--seed',
      '42',
      '--modes',
      'raft,ll-1-1',
      '--scenarios=healthy,clock-skew',
      '--out',
      'out/lab',
    ]);
    assert.equal(given.quick, true);
    assert.equal(given.options.timing, quickLabTiming);
    assert.equal(given.options.seed, 42);
    assert.deepEqual(given.options.modes, ['raft', 'll-1-1']);
    assert.deepEqual(given.options.scenarios, ['healthy', 'clock-skew']);
    assert.equal(given.outDirectory, 'out/lab');
  });

  it('refuses bad command lines with exit 2 and says what is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['--seed', 'abc'], /--seed must be an integer/],
      [['--seed', '-3'], /--seed needs a value|--seed must be an integer/],
      [['--seed', '1.5'], /--seed must be an integer/],
      [['--seed'], /--seed needs a value/],
      [['--modes', 'raft,paxos'], /--modes: there is no "paxos"; choose from raft, /],
      [['--modes', 'raft,'], /without empty entries/],
      [['--scenarios', 'earthquake'], /--scenarios: there is no "earthquake"/],
      [['--out'], /--out needs a value/],
      [['--quick=yes'], /--quick takes no value/],
      [['--quick', '--quick'], /given twice/],
      [['--frobnicate'], /Unknown option --frobnicate/],
      [['extra'], /Unknown option extra/],
    ];
    for (const [args, message] of cases) {
      const captured = capture(false);
      const code = runLabCommand(args, captured.environment);
      assert.equal(code, labExitCodes.usage, args.join(' '));
      assert.match(captured.err.join('\n'), message, args.join(' '));
      assert.deepEqual(captured.out, [], args.join(' '));
      assert.equal(captured.files.size, 0);
    }
  });

  it('prints its usage for --help', () => {
    const captured = capture(false);
    assert.equal(runLabCommand(['--help'], captured.environment), labExitCodes.success);
    assert.match(captured.out.join('\n'), /^Usage: distkit lab /);
    assert.match(captured.out.join('\n'), /ll-sloppy/);
  });
});

describe('distkit lab: a run', () => {
  it('prints progress lines when not on a terminal, the table, and writes the report', () => {
    const captured = capture(false);
    const code = runLabCommand(
      ['--quick', '--modes', 'lf-sync', '--scenarios', 'healthy', '--out', 'somewhere'],
      captured.environment,
    );
    assert.equal(code, labExitCodes.success, captured.err.join('\n'));
    assert.deepEqual(captured.err, ['lab 1/1: lf-sync × healthy']);
    assert.deepEqual(captured.progress, []);
    assert.match(captured.out[0] ?? '', /^mode +scenario +avail/);
    assert.match(captured.out[2] ?? '', /^lf-sync +healthy +100%/);
    assert.deepEqual(captured.folders, ['somewhere']);
    const html = captured.files.get('somewhere/report.html') ?? '';
    assert.match(html, /2026-01-02T00:00:00.000Z/);
    assert.match(html, /distkit lab --quick --seed 1 --modes lf-sync --scenarios healthy/);
    assert.match(captured.out.at(-1) ?? '', /1 cells, seed 1, .* Report: somewhere\/report\.html/);
  });

  it('draws a bar that redraws itself on a terminal, and reports a report it cannot write', () => {
    const captured = capture(true, true);
    const code = runLabCommand(
      ['--quick', '--modes', 'll-2-2', '--scenarios', 'healthy'],
      captured.environment,
    );
    assert.equal(code, labExitCodes.usage);
    assert.match(captured.progress[0] ?? '', /^\r\[-+\] 0\/1 0\.0 s ll-2-2 × healthy/);
    assert.match(captured.progress.at(-2) ?? '', /^\r\[#+\] 1\/1 0\.0 s done/);
    assert.equal(captured.progress.at(-1), '\n');
    assert.match(captured.err.join('\n'), /cannot write lab-report\/report\.html \(EACCES/);
  });
});
